//! Tests for the ZooKeeper paths, ACL JSON and change-notification payloads.

use super::*;

fn alice_read() -> AccessControlEntry {
    AccessControlEntry::new("User:alice", "*", AclOperation::Read, PermissionType::Allow)
}

#[test]
fn resource_paths_follow_zk_acl_store() {
    let p = |t, name: &str, pt| resource_path(&ResourcePattern::new(t, name, pt));
    assert_eq!(
        p(ResourceType::Topic, "foo", PatternType::Literal).as_deref(),
        Some("/kafka-acl/Topic/foo")
    );
    assert_eq!(
        p(ResourceType::Topic, "*", PatternType::Literal).as_deref(),
        Some("/kafka-acl/Topic/*")
    );
    assert_eq!(
        resource_path(&ResourcePattern::cluster()).as_deref(),
        Some("/kafka-acl/Cluster/kafka-cluster")
    );
    assert_eq!(
        p(ResourceType::TransactionalId, "tx-", PatternType::Prefixed).as_deref(),
        Some("/kafka-acl-extended/prefixed/TransactionalId/tx-")
    );
    assert_eq!(
        type_path(PatternType::Prefixed, ResourceType::DelegationToken).as_deref(),
        Some("/kafka-acl-extended/prefixed/DelegationToken")
    );
    assert_eq!(p(ResourceType::Topic, "foo", PatternType::Match), None);
    assert_eq!(p(ResourceType::Any, "foo", PatternType::Literal), None);
    assert_eq!(store_path(PatternType::Any), None);
}

#[test]
fn type_dirs_parse_like_security_utils() {
    assert_eq!(parse_type_dir("Topic"), Some(ResourceType::Topic));
    assert_eq!(parse_type_dir("TRANSACTIONALID"), Some(ResourceType::TransactionalId));
    assert_eq!(parse_type_dir("Any"), None);
    assert_eq!(parse_type_dir("Broker"), None);
}

#[test]
fn paths_to_create_cover_both_stores_and_change_paths() {
    let paths = paths_to_create();
    assert_eq!(paths.len(), 14);
    assert_eq!(paths[0], "/kafka-acl");
    assert_eq!(paths[1], "/kafka-acl/Topic");
    assert!(paths.contains(&"/kafka-acl-extended/prefixed/Group".to_string()));
    assert_eq!(
        paths[12..],
        [
            "/kafka-acl-changes".to_string(),
            "/kafka-acl-extended-changes".to_string()
        ]
    );
}

#[test]
fn encodes_kafka_json_exactly() {
    let deny = AccessControlEntry::new(
        "User:bob",
        "10.0.0.1",
        AclOperation::IdempotentWrite,
        PermissionType::Deny,
    );
    let json = String::from_utf8(encode_acls(&[alice_read(), deny])).unwrap();
    assert_eq!(
        json,
        r#"{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"},{"principal":"User:bob","permissionType":"Deny","operation":"IdempotentWrite","host":"10.0.0.1"}]}"#
    );
    assert_eq!(encode_acls(&[]), br#"{"version":1,"acls":[]}"#);
}

#[test]
fn decode_round_trips_and_accepts_kafka_variants() {
    let acls = vec![
        alice_read(),
        AccessControlEntry::new("User:CN=a,O=\"b\"", "h", AclOperation::All, PermissionType::Deny),
    ];
    assert_eq!(decode_acls(&encode_acls(&acls)), Ok(acls));
    assert_eq!(decode_acls(b""), Ok(vec![]));
    // Kafka's own pretty-printed example, upper-case names and extra keys are fine.
    let doc = br#"{ "version": 1, "acls": [ { "host":"host1", "permissionType": "DENY",
        "operation": "DESCRIBECONFIGS", "principal": "User:alice", "extra": 1 } ], "x": null }"#;
    assert_eq!(
        decode_acls(doc),
        Ok(vec![AccessControlEntry::new(
            "User:alice",
            "host1",
            AclOperation::DescribeConfigs,
            PermissionType::Deny
        )])
    );
}

#[test]
fn decode_reports_malformed_documents() {
    let bad: &[&[u8]] = &[
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        br#"{"acls":[]}"#,
        br#"{"version":2,"acls":[]}"#,
        br#"{"version":"1","acls":[]}"#,
        br#"{"version":1.0,"acls":[]}"#,
        br#"{"version":1}"#,
        br#"{"version":1,"acls":{}}"#,
        br#"{"version":1,"acls":[1]}"#,
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Read"}]}"#,
        br#"{"version":1,"acls":[{"principal":"alice","permissionType":"Allow","operation":"Read","host":"*"}]}"#,
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Fly","host":"*"}]}"#,
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Any","host":"*"}]}"#,
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Maybe","operation":"Read","host":"*"}]}"#,
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"READ","host":7}]}"#,
    ];
    for doc in bad {
        assert!(decode_acls(doc).is_err(), "accepted {:?}", String::from_utf8_lossy(doc));
    }
    let err = decode_acls(
        br#"{"version":1,"acls":[{"principal":"User:a","permissionType":"Allow","operation":"Fly","host":"*"}]}"#,
    );
    assert_eq!(err, Err("invalid operation \"Fly\"".into()));
}

#[test]
fn literal_change_nodes_use_the_2_4_form_and_decode_both_forms() {
    let pattern = ResourcePattern::literal(ResourceType::TransactionalId, "tx:1");
    let (path, data) = change_notification(&pattern).unwrap();
    assert_eq!(path, "/kafka-acl-changes/acl_changes_");
    assert_eq!(data, b"TRANSACTIONAL_ID:tx:1");
    assert_eq!(decode_change(&data), Some(pattern));
    assert_eq!(
        decode_change(b"Topic:foo"),
        Some(ResourcePattern::literal(ResourceType::Topic, "foo"))
    );
    assert_eq!(
        decode_change(b"TOPIC:foo"),
        Some(ResourcePattern::literal(ResourceType::Topic, "foo"))
    );
    assert_eq!(
        decode_change(b"TransactionalId:t"),
        Some(ResourcePattern::literal(ResourceType::TransactionalId, "t"))
    );
    assert_eq!(
        decode_change(b"Cluster:kafka-cluster"),
        Some(ResourcePattern::cluster())
    );
    assert_eq!(
        decode_change(b"Topic:"),
        Some(ResourcePattern::literal(ResourceType::Topic, ""))
    );
    for bad in [&b"Topic"[..], b"", b"Broker:1", b"Any:x", b"{\"version\":1}"] {
        assert_eq!(decode_change(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn extended_change_nodes_are_kafka_json() {
    let pattern = ResourcePattern::prefixed(ResourceType::Topic, "foo");
    let (path, data) = change_notification(&pattern).unwrap();
    assert_eq!(path, "/kafka-acl-extended-changes/acl_changes_");
    assert_eq!(
        data,
        br#"{"version":1,"resourceType":"TOPIC","name":"foo","patternType":"PREFIXED"}"#
    );
    assert_eq!(decode_change(&data), Some(pattern));
    let group = br#"{"patternType":"PREFIXED","name":"g","resourceType":"GROUP","version":1}"#;
    assert_eq!(
        decode_change(group),
        Some(ResourcePattern::prefixed(ResourceType::Group, "g"))
    );
    for bad in [
        &br#"{"version":2,"resourceType":"TOPIC","name":"foo","patternType":"PREFIXED"}"#[..],
        br#"{"version":1,"resourceType":"TOPIC","name":"foo","patternType":"MATCH"}"#,
        br#"{"version":1,"resourceType":"TOPIC","patternType":"PREFIXED"}"#,
        br#"{"version":1,"resourceType":"BROKER","name":"foo","patternType":"PREFIXED"}"#,
        br#"{"version":1,"#,
    ] {
        assert_eq!(decode_change(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    let match_pattern = ResourcePattern::new(ResourceType::Topic, "x", PatternType::Match);
    assert_eq!(change_notification(&match_pattern), None);
}
