//! The Kafka-layout suite, run against every backend (see also zookeeper_tests.rs).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::embedded::EmbeddedStore;
use super::layout::{paths, BrokerInfo, KafkaLayout, LayoutError, PartitionState};
use super::store::{MetadataStore, NodeKind, StoreError};

async fn raw(store: &dyn MetadataStore, path: &str) -> Vec<u8> {
    store
        .get(path)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{path} missing"))
        .0
}

async fn raw_keys(store: &dyn MetadataStore, path: &str) -> Vec<String> {
    let value: Value = serde_json::from_slice(&raw(store, path).await).unwrap();
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// Expects a fresh, empty namespace.
pub(crate) async fn run_layout_suite(store: Arc<dyn MetadataStore>) {
    let layout = KafkaLayout::new(Arc::clone(&store));
    let store = store.as_ref();

    layout.ensure_persistent_paths().await.unwrap();
    layout.ensure_persistent_paths().await.unwrap();
    for path in paths::PERSISTENT {
        assert_eq!(raw(store, path).await, b"", "{path}");
    }

    // brokers
    layout
        .register_broker(1, &[("PLAINTEXT", "h1", 9092)], None)
        .await
        .unwrap();
    layout
        .register_broker(2, &[("SSL", "h2", 9093), ("PLAINTEXT", "h2", 9094)], Some("r1"))
        .await
        .unwrap();
    assert!(matches!(
        layout.register_broker(1, &[("PLAINTEXT", "other", 1)], None).await,
        Err(LayoutError::BrokerIdInUse(1))
    ));
    assert_eq!(
        raw_keys(store, "/brokers/ids/1").await,
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
    store
        .create(
            "/brokers/ids/3",
            br#"{"version":1,"host":"old","port":1234,"jmx_port":-1,"timestamp":"1"}"#,
            NodeKind::Persistent,
        )
        .await
        .unwrap();
    store
        .create("/brokers/ids/4", b"not json", NodeKind::Persistent)
        .await
        .unwrap();
    store
        .create("/brokers/ids/junk", b"{}", NodeKind::Persistent)
        .await
        .unwrap();
    let brokers = layout.live_brokers().await.unwrap();
    assert_eq!(brokers.iter().map(|b| b.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(
        brokers[1],
        BrokerInfo {
            id: 2,
            host: "h2".into(),
            port: 9094,
            rack: Some("r1".into()),
            endpoints: vec!["SSL://h2:9093".into(), "PLAINTEXT://h2:9094".into()],
        }
    );
    assert!(matches!(layout.broker(4).await, Err(LayoutError::Malformed { .. })));
    layout.unregister_broker(2).await.unwrap();
    assert_eq!(layout.broker(2).await.unwrap(), None);

    // controller
    assert_eq!(layout.controller_id().await.unwrap(), None);
    assert!(layout.elect_controller(1).await.unwrap());
    assert!(!layout.elect_controller(2).await.unwrap());
    assert!(
        layout.elect_controller(1).await.unwrap(),
        "our own /controller is still ours"
    );
    assert_eq!(layout.controller_id().await.unwrap(), Some(1));
    assert_eq!(layout.controller_epoch().await.unwrap(), Some(1));
    assert_eq!(raw(store, "/controller_epoch").await, b"1");
    assert_eq!(
        raw_keys(store, "/controller").await,
        ["brokerid", "timestamp", "version"]
    );
    layout.resign_controller(2).await.unwrap();
    assert_eq!(
        layout.controller_id().await.unwrap(),
        Some(1),
        "only the controller itself resigns"
    );
    layout.resign_controller(1).await.unwrap();
    assert!(layout.elect_controller(2).await.unwrap());
    assert_eq!(layout.controller_epoch().await.unwrap(), Some(2));

    // cluster id
    let cluster_id = layout.get_or_create_cluster_id().await.unwrap();
    assert_eq!(cluster_id.len(), 22);
    assert!(
        cluster_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{cluster_id}"
    );
    assert_eq!(layout.get_or_create_cluster_id().await.unwrap(), cluster_id);
    let cluster_json: Value = serde_json::from_slice(&raw(store, "/cluster/id").await).unwrap();
    assert_eq!(cluster_json, serde_json::json!({"version": "1", "id": cluster_id}));

    // topics
    let assignment = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 1])]);
    let config = BTreeMap::from([("retention.ms".to_owned(), "1000".to_owned())]);
    layout.create_topic("t1", &assignment, &config).await.unwrap();
    layout
        .create_topic("t2", &BTreeMap::from([(0, vec![1])]), &BTreeMap::new())
        .await
        .unwrap();
    assert!(matches!(
        layout.create_topic("t1", &assignment, &config).await,
        Err(LayoutError::TopicExists(_))
    ));
    assert!(matches!(
        layout.create_topic("a/b", &assignment, &config).await,
        Err(LayoutError::InvalidName { .. })
    ));
    let gap = BTreeMap::from([(0, vec![1]), (2, vec![1])]);
    assert!(matches!(
        layout.create_topic("t3", &gap, &config).await,
        Err(LayoutError::InvalidArgument(_))
    ));
    assert_eq!(layout.list_topics().await.unwrap(), ["t1", "t2"]);
    assert_eq!(layout.topic_assignment("t1").await.unwrap(), Some(assignment.clone()));
    assert_eq!(layout.topic_assignment("nope").await.unwrap(), None);
    assert_eq!(layout.topic_config("t1").await.unwrap(), Some(config.clone()));
    assert_eq!(layout.topic_config("t2").await.unwrap(), Some(BTreeMap::new()));
    assert_eq!(raw_keys(store, "/brokers/topics/t1").await, ["partitions", "version"]);
    assert_eq!(raw_keys(store, "/config/topics/t1").await, ["config", "version"]);
    let mut grown = assignment.clone();
    grown.insert(2, vec![1, 2]);
    layout.set_topic_assignment("t1", &grown).await.unwrap();
    assert_eq!(layout.topic_assignment("t1").await.unwrap(), Some(grown));
    assert!(matches!(
        layout.set_topic_assignment("nope", &assignment).await,
        Err(LayoutError::UnknownTopic(_))
    ));

    // partition state
    let state = PartitionState {
        leader: 1,
        leader_epoch: 0,
        isr: vec![1, 2],
        controller_epoch: 2,
    };
    assert_eq!(layout.write_partition_state("t1", 0, &state, None).await.unwrap(), 0);
    assert_eq!(layout.partition_state("t1", 0).await.unwrap(), Some((state.clone(), 0)));
    assert_eq!(
        raw_keys(store, "/brokers/topics/t1/partitions/0/state").await,
        ["controller_epoch", "isr", "leader", "leader_epoch", "version"]
    );
    let shrunk = PartitionState {
        isr: vec![1],
        ..state.clone()
    };
    assert_eq!(
        layout.write_partition_state("t1", 0, &shrunk, Some(0)).await.unwrap(),
        1
    );
    assert!(matches!(
        layout.write_partition_state("t1", 0, &state, Some(0)).await,
        Err(LayoutError::Store(StoreError::BadVersion(_)))
    ));
    assert_eq!(layout.partition_state("t1", 0).await.unwrap(), Some((shrunk, 1)));
    assert_eq!(layout.partition_state("t1", 1).await.unwrap(), None);
    assert!(matches!(
        layout.write_partition_state("nope", 0, &state, None).await,
        Err(LayoutError::UnknownTopic(_))
    ));
    assert_eq!(store.get("/brokers/topics/nope").await.unwrap(), None);
    // The assignment is still readable with partition children present.
    assert_eq!(layout.topic_assignment("t1").await.unwrap().map(|a| a.len()), Some(3));

    // deletion
    assert!(layout.mark_topic_for_deletion("t1").await.unwrap());
    assert!(!layout.mark_topic_for_deletion("t1").await.unwrap());
    assert_eq!(layout.topics_marked_for_deletion().await.unwrap(), ["t1"]);
    assert_eq!(raw(store, "/admin/delete_topics/t1").await, b"");
    layout.delete_topic_znodes("t1").await.unwrap();
    assert_eq!(layout.list_topics().await.unwrap(), ["t2"]);
    assert!(layout.topics_marked_for_deletion().await.unwrap().is_empty());
    assert_eq!(layout.topic_config("t1").await.unwrap(), None);
    layout.delete_topic_znodes("t1").await.unwrap();

    // consumer offsets
    assert_eq!(layout.fetch_offset("g1", "t2", 0).await.unwrap(), None);
    layout.commit_offset("g1", "t2", 0, 42).await.unwrap();
    assert_eq!(raw(store, "/consumers/g1/offsets/t2/0").await, b"42");
    layout.commit_offset("g1", "t2", 0, 43).await.unwrap();
    assert_eq!(layout.fetch_offset("g1", "t2", 0).await.unwrap(), Some(43));
    store
        .create_with_parents("/consumers/g2/offsets/t2/0", b"garbage", NodeKind::Persistent)
        .await
        .unwrap();
    assert_eq!(layout.fetch_offset("g2", "t2", 0).await.unwrap(), None);
    assert_eq!(layout.list_groups().await.unwrap(), ["g1", "g2"]);
    assert!(matches!(
        layout.commit_offset("a/b", "t2", 0, 1).await,
        Err(LayoutError::InvalidName { .. })
    ));

    // producer id blocks
    assert_eq!(layout.next_producer_id_block(1).await.unwrap(), (0, 999));
    assert_eq!(layout.next_producer_id_block(2).await.unwrap(), (1000, 1999));
    let block: Value = serde_json::from_slice(&raw(store, "/latest_producer_id_block").await).unwrap();
    assert_eq!(
        block,
        serde_json::json!({"version":1,"broker":2,"block_start":"1000","block_end":"1999"})
    );
    let (a, b) = tokio::join!(layout.next_producer_id_block(1), layout.next_producer_id_block(2));
    let mut starts = [a.unwrap().0, b.unwrap().0];
    starts.sort_unstable();
    assert_eq!(starts, [2000, 3000], "concurrent claims get distinct blocks");
}

#[tokio::test]
async fn layout_suite_on_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    run_layout_suite(Arc::new(EmbeddedStore::open(dir.path()).unwrap())).await;
}

#[tokio::test]
async fn layout_survives_embedded_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let layout = KafkaLayout::new(Arc::new(EmbeddedStore::open(dir.path()).unwrap()));
        layout.ensure_persistent_paths().await.unwrap();
        layout
            .register_broker(1, &[("PLAINTEXT", "h", 9092)], None)
            .await
            .unwrap();
        assert!(layout.elect_controller(1).await.unwrap());
        layout.commit_offset("g", "t", 0, 7).await.unwrap();
        assert_eq!(layout.next_producer_id_block(1).await.unwrap(), (0, 999));
    }
    let layout = KafkaLayout::new(Arc::new(EmbeddedStore::open(dir.path()).unwrap()));
    assert!(
        layout.live_brokers().await.unwrap().is_empty(),
        "registrations are ephemeral"
    );
    assert_eq!(layout.controller_id().await.unwrap(), None);
    assert!(layout.elect_controller(1).await.unwrap());
    assert_eq!(layout.controller_epoch().await.unwrap(), Some(2));
    assert_eq!(layout.fetch_offset("g", "t", 0).await.unwrap(), Some(7));
    assert_eq!(layout.next_producer_id_block(1).await.unwrap(), (1000, 1999));
}

#[tokio::test]
async fn open_store_without_zookeeper_is_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let metadata_dir = dir.path().join("__krab_metadata");
    let store = super::open_store(Some("  "), std::time::Duration::from_secs(6), &metadata_dir)
        .await
        .unwrap();
    assert_eq!(store.describe(), format!("embedded {}", metadata_dir.display()));
    assert!(metadata_dir.join("snapshot.json").exists());
}
