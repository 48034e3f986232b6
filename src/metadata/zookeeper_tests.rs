//! Against a real ZooKeeper server (see test_zookeeper.rs); no mocks.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::metadata::layout::{KafkaLayout, LayoutError};
use crate::metadata::layout_tests::run_layout_suite;
use crate::metadata::store::conformance;
use crate::metadata::test_zookeeper::{CuttableProxy, TestZooKeeper};

const SESSION_TIMEOUT: Duration = Duration::from_secs(4);

#[test]
fn connect_string_parsing() {
    assert_eq!(split_connect_string("h:1").unwrap(), ("h:1".into(), None));
    assert_eq!(
        split_connect_string("h:1,g:2/kafka/a/").unwrap(),
        ("h:1,g:2".into(), Some("/kafka/a".into()))
    );
    assert_eq!(split_connect_string("h:1/").unwrap(), ("h:1".into(), None));
    assert!(split_connect_string("/chroot").is_err());
    assert!(split_connect_string("h:1/a//b").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_store_and_layout_suites_against_real_zookeeper() {
    let Some(server) = TestZooKeeper::start("zk_store_and_layout_suites_against_real_zookeeper") else {
        return;
    };

    // Store conformance, in a chroot that does not exist yet (created on connect).
    let connect = format!("{}/krab/conformance", server.hosts());
    let store = ZkStore::connect(&connect, SESSION_TIMEOUT).await.expect("connect");
    assert_eq!(store.describe(), format!("zookeeper {connect}"));
    conformance::run(&store, "/suite").await;

    // The chroot is really a subtree of the server's namespace.
    let root = ZkStore::connect(&server.hosts(), SESSION_TIMEOUT).await.unwrap();
    store.create("/visible", b"x", NodeKind::Persistent).await.unwrap();
    assert_eq!(root.get("/krab/conformance/visible").await.unwrap().unwrap().0, b"x");

    // Kafka layout on a fresh chroot.
    let layout_store = ZkStore::connect(&format!("{}/krab/layout", server.hosts()), SESSION_TIMEOUT)
        .await
        .unwrap();
    run_layout_suite(Arc::new(layout_store)).await;

    // Two sessions = two brokers: ids and controllership are exclusive while a session lives.
    let connect = format!("{}/krab/brokers", server.hosts());
    let broker1 = KafkaLayout::new(Arc::new(ZkStore::connect(&connect, SESSION_TIMEOUT).await.unwrap()));
    let broker2 = KafkaLayout::new(Arc::new(ZkStore::connect(&connect, SESSION_TIMEOUT).await.unwrap()));
    broker1.ensure_persistent_paths().await.unwrap();
    broker1
        .register_broker(1, &[("PLAINTEXT", "h1", 9092)], None)
        .await
        .unwrap();
    assert!(matches!(
        broker2.register_broker(1, &[("PLAINTEXT", "h2", 9092)], None).await,
        Err(LayoutError::BrokerIdInUse(1))
    ));
    broker2
        .register_broker(2, &[("PLAINTEXT", "h2", 9092)], None)
        .await
        .unwrap();
    assert!(broker1.elect_controller(1).await.unwrap());
    assert!(!broker2.elect_controller(2).await.unwrap());
    assert_eq!(broker2.live_brokers().await.unwrap().len(), 2);
    drop(broker1); // closes the session: its ephemerals go at once
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while broker2.controller_id().await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ephemerals of a closed session must vanish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(broker2.elect_controller(2).await.unwrap());
    assert_eq!(broker2.controller_epoch().await.unwrap(), Some(2));
    assert_eq!(
        broker2
            .live_brokers()
            .await
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect::<Vec<_>>(),
        [2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_session_expiry_recreates_ephemerals_against_real_zookeeper() {
    let Some(server) = TestZooKeeper::start("zk_session_expiry_recreates_ephemerals_against_real_zookeeper") else {
        return;
    };
    let proxy = CuttableProxy::start(server.port()).await;
    let session_timeout = Duration::from_secs(2);
    let store = ZkStore::connect(&format!("{}/expiry", proxy.hosts()), session_timeout)
        .await
        .unwrap();
    let mut events = store.session_events();
    store
        .create_with_parents("/brokers/ids/1", b"v1", NodeKind::Ephemeral)
        .await
        .unwrap();
    store.set("/brokers/ids/1", b"v2", None).await.unwrap();
    store.create("/gone", b"", NodeKind::Ephemeral).await.unwrap();
    store.delete("/gone", false).await.unwrap();
    let old_czxid = store.get("/brokers/ids/1").await.unwrap().unwrap().1.czxid;
    let old_session = store.session_info().id();

    // Partition the store from ZooKeeper for well over the session timeout.
    proxy.set_cut(true);
    let observer = ZkStore::connect(&format!("{}/expiry", server.hosts()), SESSION_TIMEOUT)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while observer.get("/brokers/ids/1").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server must expire the partitioned session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(
        store.get("/brokers/ids/1").await,
        Err(StoreError::Unavailable(_))
    ));
    proxy.set_cut(false);

    let mut seen = Vec::new();
    let event = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await.expect("event channel open") {
                event @ SessionEvent::NewSession { .. } => break event,
                other => seen.push(other),
            }
        }
    })
    .await
    .expect("a new session within 60s");
    assert!(seen.contains(&SessionEvent::Disconnected), "{seen:?}");
    assert_eq!(
        event,
        SessionEvent::NewSession {
            recreated: vec!["/brokers/ids/1".into()],
            lost: vec![]
        }
    );
    assert_ne!(store.session_info().id(), old_session);
    let (data, stat) = store.get("/brokers/ids/1").await.unwrap().expect("re-created");
    assert_eq!(data, b"v2", "the latest data is re-created");
    assert!(stat.czxid > old_czxid);
    assert!(
        observer.get("/brokers/ids/1").await.unwrap().is_some(),
        "visible to other sessions"
    );
    assert_eq!(
        store.get("/gone").await.unwrap(),
        None,
        "deleted ephemerals are forgotten"
    );
    store.create("/after", b"ok", NodeKind::Persistent).await.unwrap();
    assert_eq!(store.get("/after").await.unwrap().unwrap().0, b"ok");

    // Closing the store closes its session: the re-created ephemeral goes away.
    drop(store);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while observer.get("/brokers/ids/1").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dropping the store must close its session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn zk_connect_to_a_dead_port_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    match ZkStore::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(
                !message.contains("features"),
                "zookeeper-client lacks its tokio feature: {message}"
            )
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to a closed port"),
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}
