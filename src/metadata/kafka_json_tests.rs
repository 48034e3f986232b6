use super::*;

fn keys(data: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(data).expect("valid JSON");
    let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn value(data: &[u8]) -> Value {
    serde_json::from_slice(data).unwrap()
}

#[test]
fn broker_registration_is_kafka_v4() {
    let data = broker_registration(&[("PLAINTEXT", "h1", 9092)], None, 1234).unwrap();
    assert_eq!(
        keys(&data),
        [
            "endpoints",
            "host",
            "jmx_port",
            "listener_security_protocol_map",
            "port",
            "timestamp",
            "version"
        ]
    );
    assert_eq!(
        value(&data),
        json!({"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h1:9092"],
               "jmx_port":-1,"host":"h1","timestamp":"1234","port":9092,"version":4})
    );
    let with_rack = broker_registration(&[("SSL", "s", 9093), ("INTERNAL", "::1", 9094)], Some("r1"), 1).unwrap();
    let parsed = value(&with_rack);
    assert_eq!(parsed["rack"], "r1");
    assert_eq!(
        parsed["listener_security_protocol_map"],
        json!({"SSL":"SSL","INTERNAL":"PLAINTEXT"})
    );
    assert_eq!(parsed["endpoints"], json!(["SSL://s:9093", "INTERNAL://[::1]:9094"]));
    // Top-level host/port come from the plaintext listener even when it is not first.
    assert_eq!(
        (parsed["host"].clone(), parsed["port"].clone()),
        (json!("::1"), json!(9094))
    );
    assert!(broker_registration(&[], None, 1).is_err());
}

#[test]
fn broker_parsing_is_lenient_across_versions() {
    let ours = broker_registration(&[("PLAINTEXT", "h1", 9092)], Some("dc1"), 5).unwrap();
    let info = parse_broker(1, &ours).unwrap();
    assert_eq!(
        info,
        BrokerInfo {
            id: 1,
            host: "h1".into(),
            port: 9092,
            rack: Some("dc1".into()),
            endpoints: vec!["PLAINTEXT://h1:9092".into()]
        }
    );

    let v1 = br#"{"jmx_port":-1,"timestamp":"1","host":"old","version":1,"port":1234}"#;
    assert_eq!(parse_broker(7, v1).unwrap().host, "old");

    // Kafka 2.7+ v5 with only custom listeners: host null / port -1 at the top level.
    let v5 = br#"{"features":{},"listener_security_protocol_map":{"CLIENT":"PLAINTEXT","SEC":"SSL"},
        "endpoints":["SEC://s:9093","CLIENT://[fe80::1]:9092"],"jmx_port":-1,"host":null,"timestamp":"1","port":-1,"version":5,"extra":true}"#;
    let info = parse_broker(2, v5).unwrap();
    assert_eq!((info.host.as_str(), info.port), ("fe80::1", 9092));

    for bad in [
        &b"not json"[..],
        b"[]",
        br#"{"version":0,"host":"h","port":1}"#,
        br#"{"version":4}"#,
        b"",
    ] {
        assert!(parse_broker(1, bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn controller_and_cluster_id() {
    let data = controller(3, 99);
    assert_eq!(keys(&data), ["brokerid", "timestamp", "version"]);
    assert_eq!(value(&data), json!({"version":1,"brokerid":3,"timestamp":"99"}));
    assert_eq!(parse_controller(&data), Ok(3));
    assert_eq!(parse_controller(b"5"), Ok(5));
    assert!(parse_controller(b"{\"version\":1}").is_err());

    let data = cluster_id("abc");
    assert_eq!(value(&data), json!({"version":"1","id":"abc"}));
    assert_eq!(parse_cluster_id(&data).unwrap(), "abc");
    assert_eq!(parse_cluster_id(br#"{"version":1,"id":"x","more":[]}"#).unwrap(), "x");
    assert!(parse_cluster_id(b"{}").is_err());
}

#[test]
fn topic_assignment_and_config() {
    let assignment = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 1]), (10, vec![1])]);
    let data = topic_assignment(&assignment);
    assert_eq!(
        value(&data),
        json!({"version":1,"partitions":{"0":[1,2],"1":[2,1],"10":[1]}})
    );
    assert_eq!(parse_topic_assignment(&data).unwrap(), assignment);

    // Kafka 2.8 writes version 3 with extra keys; they survive a partition change.
    let kafka28 = br#"{"version":3,"topic_id":"AAAAAAAAAAAAAAAAAAAAAA","partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{}}"#;
    assert_eq!(parse_topic_assignment(kafka28).unwrap(), BTreeMap::from([(0, vec![1])]));
    let grown = replace_partitions(kafka28, &BTreeMap::from([(0, vec![1]), (1, vec![1])]));
    assert_eq!(
        keys(&grown),
        [
            "adding_replicas",
            "partitions",
            "removing_replicas",
            "topic_id",
            "version"
        ]
    );
    assert_eq!(value(&grown)["partitions"], json!({"0":[1],"1":[1]}));

    assert!(parse_topic_assignment(br#"{"partitions":{"x":[1]}}"#).is_err());
    assert!(parse_topic_assignment(br#"{"partitions":{"0":["a"]}}"#).is_err());
    assert!(parse_topic_assignment(br#"{"version":1}"#).is_err());

    let config = BTreeMap::from([("retention.ms".to_owned(), "1000".to_owned())]);
    let data = entity_config(&config);
    assert_eq!(value(&data), json!({"version":1,"config":{"retention.ms":"1000"}}));
    assert_eq!(parse_entity_config(&data).unwrap(), config);
    assert_eq!(
        parse_entity_config(br#"{"version":1,"config":{"a":5}}"#).unwrap()["a"],
        "5"
    );
    assert_eq!(parse_entity_config(br#"{"version":1}"#).unwrap(), BTreeMap::new());
}

#[test]
fn partition_state_and_producer_ids() {
    let state = PartitionState {
        leader: 1,
        leader_epoch: 0,
        isr: vec![1, 2],
        controller_epoch: 3,
    };
    let data = partition_state(&state);
    assert_eq!(
        keys(&data),
        ["controller_epoch", "isr", "leader", "leader_epoch", "version"]
    );
    assert_eq!(
        value(&data),
        json!({"controller_epoch":3,"leader":1,"version":1,"leader_epoch":0,"isr":[1,2]})
    );
    assert_eq!(parse_partition_state(&data).unwrap(), state);
    let newer =
        br#"{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":4,"isr":[],"leader_recovery_state":0}"#;
    assert_eq!(parse_partition_state(newer).unwrap().leader, -1);
    assert!(parse_partition_state(br#"{"leader":1}"#).is_err());

    let data = producer_id_block(2, 1000, 1999);
    assert_eq!(
        value(&data),
        json!({"version":1,"broker":2,"block_start":"1000","block_end":"1999"})
    );
    assert_eq!(parse_producer_id_block_end(&data), Ok(1999));
    assert!(parse_producer_id_block_end(b"{}").is_err());
}

#[test]
fn decimals_and_endpoints() {
    assert_eq!(parse_decimal(b"42"), Ok(42));
    assert_eq!(parse_decimal(b" 7\n"), Ok(7));
    assert!(parse_decimal(b"4x").is_err());
    assert!(parse_decimal(&[0xff]).is_err());
    assert_eq!(parse_endpoint("PLAINTEXT://h:1"), Some(("PLAINTEXT", "h", 1)));
    assert_eq!(parse_endpoint("X://[::1]:9092"), Some(("X", "::1", 9092)));
    assert_eq!(parse_endpoint("nonsense"), None);
}
