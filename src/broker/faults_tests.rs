use super::*;

fn spec(api: Option<&str>, action: FaultAction) -> FaultSpec {
    FaultSpec {
        api: api.map(str::to_string),
        topic: None,
        partition: None,
        client_id: None,
        action,
        count: None,
        duration_ms: None,
    }
}

#[test]
fn names_and_codes_parse() {
    assert_eq!(parse_api("Produce"), Ok(ApiKey::Produce));
    assert_eq!(parse_api("list_offsets"), Ok(ApiKey::ListOffsets));
    assert_eq!(parse_api("1"), Ok(ApiKey::Fetch));
    assert!(parse_api("Frobnicate").is_err());
    assert!(parse_api("9999").is_err());
    assert_eq!(parse_error_code("NOT_LEADER_OR_FOLLOWER"), Ok(6));
    assert_eq!(parse_error_code("request_timed_out"), Ok(7));
    assert_eq!(parse_error_code("KAFKA_STORAGE_ERROR"), Ok(56));
    assert_eq!(parse_error_code("6"), Ok(6));
    assert!(parse_error_code("0").is_err());
    assert!(parse_error_code("31000").is_err());
    assert!(parse_error_code("NO_SUCH_ERROR").is_err());
}

#[test]
fn bad_faults_are_refused_and_nothing_registered() {
    let faults = FaultRegistry::default();
    assert!(
        faults.add(spec(None, FaultAction::Error(6))).is_err(),
        "error without API"
    );
    assert!(faults.add(spec(Some("DeleteTopics"), FaultAction::Error(6))).is_err());
    assert!(faults.add(spec(Some("Produce"), FaultAction::Error(12345))).is_err());
    assert!(
        faults.add(spec(None, FaultAction::StallFetch)).is_err(),
        "stall without topic"
    );
    let mut bad = spec(Some("Produce"), FaultAction::Close);
    bad.partition = Some(0);
    assert!(faults.add(bad).is_err(), "partition without topic");
    assert!(faults.list().is_empty());
}

#[test]
fn count_limits_firing_and_retires_the_fault() {
    let faults = FaultRegistry::default();
    let mut s = spec(Some("Produce"), FaultAction::Error(6));
    s.count = Some(2);
    faults.add(s).unwrap();
    let none = Vec::new;
    assert_eq!(
        faults.on_request(ApiKey::Fetch, None, none).error,
        None,
        "other APIs untouched"
    );
    for _ in 0..2 {
        let hit = faults.on_request(ApiKey::Produce, None, none).error.unwrap();
        assert_eq!(hit.for_partition("t", 0), Some(6));
    }
    assert_eq!(faults.on_request(ApiKey::Produce, None, none), Injection::default());
    assert!(faults.list().is_empty());
    assert_eq!(faults.fired.error.load(Ordering::Relaxed), 2);
}

#[test]
fn topic_and_client_filters() {
    let faults = FaultRegistry::default();
    let mut s = spec(Some("Produce"), FaultAction::Error(7));
    s.topic = Some("a".into());
    s.partition = Some(1);
    s.client_id = Some("app".into());
    faults.add(s).unwrap();
    let touched = || vec![("a".to_string(), 0), ("a".to_string(), 1)];
    assert_eq!(faults.on_request(ApiKey::Produce, Some("other"), touched).error, None);
    assert_eq!(
        faults
            .on_request(ApiKey::Produce, Some("app"), || vec![("a".into(), 0)])
            .error,
        None
    );
    let hit = faults.on_request(ApiKey::Produce, Some("app"), touched).error.unwrap();
    assert_eq!(hit.for_partition("a", 0), None);
    assert_eq!(hit.for_partition("a", 1), Some(7));
}

#[test]
fn latency_close_duration_and_removal() {
    let faults = FaultRegistry::default();
    let latency = faults.add(spec(None, FaultAction::LatencyMs(30))).unwrap();
    let mut short = spec(Some("Metadata"), FaultAction::Close);
    short.duration_ms = Some(1);
    faults.add(short).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let injection = faults.on_request(ApiKey::Metadata, None, Vec::new);
    assert_eq!(injection.latency, Duration::from_millis(30));
    assert!(!injection.close, "the close fault expired");
    assert_eq!(faults.list().len(), 1);
    assert!(faults.remove(latency));
    assert!(!faults.remove(latency));
    assert_eq!(
        faults.on_request(ApiKey::Metadata, None, Vec::new),
        Injection::default()
    );
}

#[test]
fn stall_and_disk_full_match_partitions() {
    let faults = FaultRegistry::default();
    let mut stall = spec(None, FaultAction::StallFetch);
    stall.topic = Some("t".into());
    stall.partition = Some(0);
    faults.add(stall).unwrap();
    assert!(faults.fetch_stalled("t", 0));
    assert!(!faults.fetch_stalled("t", 1));
    assert!(!faults.disk_full("t", 0));
    faults.add(spec(None, FaultAction::DiskFull)).unwrap();
    assert!(faults.disk_full("anything", 3));
    assert_eq!(faults.clear(), 2);
    assert!(!faults.disk_full("anything", 3));
}

#[test]
fn specs_round_trip_as_json() {
    let json = r#"{"api":"Produce","topic":"t","action":{"error":6},"count":3}"#;
    let parsed: FaultSpec = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.action, FaultAction::Error(6));
    assert_eq!(parsed.count, Some(3));
    let stall: FaultSpec = serde_json::from_str(r#"{"topic":"t","action":"stall_fetch"}"#).unwrap();
    assert_eq!(stall.action, FaultAction::StallFetch);
    let latency: FaultSpec = serde_json::from_str(r#"{"action":{"latency_ms":50}}"#).unwrap();
    assert_eq!(latency.action, FaultAction::LatencyMs(50));
}

#[test]
fn isolation_is_broker_wide_and_refuses_filters() {
    let faults = FaultRegistry::default();
    let mut scoped = spec(None, FaultAction::Isolate);
    scoped.topic = Some("t".into());
    assert!(faults.add(scoped).is_err());
    assert!(faults.add(spec(Some("Fetch"), FaultAction::Isolate)).is_err());
    assert!(!faults.isolated());
    let id = faults.add(spec(None, FaultAction::Isolate)).unwrap();
    assert!(faults.isolated());
    assert_eq!(
        faults.on_request(ApiKey::Fetch, None, Vec::new),
        Injection::default(),
        "not a request fault"
    );
    faults.remove(id);
    assert!(!faults.isolated());
}

#[test]
fn close_fires_alone_and_filters_are_checked() {
    let faults = FaultRegistry::default();
    let mut error = spec(Some("Produce"), FaultAction::Error(6));
    error.count = Some(1);
    faults.add(error).unwrap();
    let mut close = spec(Some("Produce"), FaultAction::Close);
    close.count = Some(1);
    faults.add(close).unwrap();
    let first = faults.on_request(ApiKey::Produce, None, Vec::new);
    assert!(first.close && first.error.is_none(), "{first:?}");
    let second = faults.on_request(ApiKey::Produce, None, Vec::new);
    assert_eq!(
        second.error.map(|e| e.code),
        Some(6),
        "the error was not spent on the closed request"
    );

    let mut topic_on_metadata = spec(Some("Metadata"), FaultAction::LatencyMs(5));
    topic_on_metadata.topic = Some("t".into());
    assert!(
        faults.add(topic_on_metadata).is_err(),
        "Metadata has no partitions to match"
    );
    let mut counted_stall = spec(None, FaultAction::StallFetch);
    counted_stall.topic = Some("t".into());
    counted_stall.count = Some(3);
    assert!(faults.add(counted_stall).is_err());
    let mut client_disk = spec(None, FaultAction::DiskFull);
    client_disk.client_id = Some("app".into());
    assert!(faults.add(client_disk).is_err());
}
