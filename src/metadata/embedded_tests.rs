use std::io::Write as _;
use std::sync::Arc;

use super::disk::SNAPSHOT_FILE;
use super::*;
use crate::metadata::store::conformance;

fn journal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(JOURNAL_FILE)).map(|m| m.len()).unwrap_or(0)
}

fn append_raw(dir: &Path, bytes: &[u8]) {
    let mut journal = OpenOptions::new().append(true).open(dir.join(JOURNAL_FILE)).unwrap();
    journal.write_all(bytes).unwrap();
}

#[tokio::test]
async fn conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    conformance::run(&store, "/conformance").await;
    assert_eq!(store.describe(), format!("embedded {}", dir.path().display()));
}

#[tokio::test]
async fn reopen_restores_data_versions_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .create_with_parents("/consumers/g/offsets/t/0", b"1", NodeKind::Persistent)
            .await
            .unwrap();
        store.set("/consumers/g/offsets/t/0", b"2", None).await.unwrap();
        store.set("/consumers/g/offsets/t/0", b"42", Some(1)).await.unwrap();
        store
            .create("/binary", &[0xff, 0x00, 0xfe], NodeKind::Persistent)
            .await
            .unwrap();
        store
            .create_with_parents("/gone/child", b"", NodeKind::Persistent)
            .await
            .unwrap();
        store.delete("/gone", true).await.unwrap();
        before = store.get("/consumers/g/offsets/t/0").await.unwrap().unwrap();
        assert!(journal_len(dir.path()) > 0, "writes go to the journal");
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.get("/consumers/g/offsets/t/0").await.unwrap().unwrap(), before);
    assert_eq!(before.1.version, 2);
    assert_eq!(store.get("/binary").await.unwrap().unwrap().0, vec![0xff, 0x00, 0xfe]);
    assert_eq!(store.get("/gone").await.unwrap(), None);
    assert_eq!(
        store.children("/").await.unwrap(),
        Some(vec!["binary".into(), "consumers".into()])
    );
    assert_eq!(
        journal_len(dir.path()),
        0,
        "open folds the journal into a fresh snapshot"
    );
    // Versions continue where they were.
    assert_eq!(
        store
            .set("/consumers/g/offsets/t/0", b"43", Some(2))
            .await
            .unwrap()
            .version,
        3
    );
}

#[tokio::test]
async fn torn_last_journal_line_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create("/a", b"kept", NodeKind::Persistent).await.unwrap();
    }
    append_raw(dir.path(), br#"{"op":"create","zxid":99,"path":"/torn","da"#);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.get("/a").await.unwrap().unwrap().0, b"kept");
    assert_eq!(store.get("/torn").await.unwrap(), None);
    // New writes after the recovery land on a clean journal.
    store.create("/b", b"", NodeKind::Persistent).await.unwrap();
    drop(store);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(store.get("/b").await.unwrap().is_some());
}

#[tokio::test]
async fn corrupt_files_are_reported_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create("/a", b"", NodeKind::Persistent).await.unwrap();
    }
    // A bad line followed by a good one is corruption, not a torn write.
    append_raw(dir.path(), b"garbage\n{\"op\":\"zxid\",\"zxid\":1000}\n");
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Invalid(message)) => assert!(message.contains(JOURNAL_FILE), "{message}"),
        other => panic!("expected Invalid, got {:?}", other.map(|_| ())),
    }
    std::fs::write(dir.path().join(JOURNAL_FILE), b"").unwrap();
    std::fs::write(dir.path().join(SNAPSHOT_FILE), b"{\"format\":1,\"last_zxid\":").unwrap();
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Invalid(message)) => assert!(message.contains(SNAPSHOT_FILE), "{message}"),
        other => panic!("expected Invalid, got {:?}", other.map(|_| ())),
    }
    // A journal entry that does not fit the tree is corruption as well.
    std::fs::remove_file(dir.path().join(SNAPSHOT_FILE)).unwrap();
    std::fs::write(dir.path().join(JOURNAL_FILE), b"{\"op\":\"set\",\"zxid\":5,\"path\":\"/x\",\"data\":\"1\",\"mtime\":1,\"version\":1}\n{\"op\":\"zxid\",\"zxid\":6}\n").unwrap();
    assert!(matches!(EmbeddedStore::open(dir.path()), Err(StoreError::Invalid(_))));
}

#[tokio::test]
async fn ephemerals_vanish_on_reopen_but_czxid_keeps_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let first_czxid;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .create_with_parents("/brokers/ids/1", b"{}", NodeKind::Ephemeral)
            .await
            .unwrap();
        store.set("/brokers/ids/1", b"{\"v\":2}", None).await.unwrap();
        first_czxid = store.get("/brokers/ids/1").await.unwrap().unwrap().1.czxid;
        assert!(matches!(
            store.create("/brokers/ids/1/child", b"", NodeKind::Persistent).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.get("/brokers/ids/1").await.unwrap(), None);
    assert_eq!(
        store.children("/brokers/ids").await.unwrap(),
        Some(vec![]),
        "parents were persistent"
    );
    store
        .create("/brokers/ids/1", b"{}", NodeKind::Ephemeral)
        .await
        .unwrap();
    let second_czxid = store.get("/brokers/ids/1").await.unwrap().unwrap().1.czxid;
    assert!(second_czxid > first_czxid, "broker epoch must grow across restarts");
}

#[tokio::test]
async fn sequential_counter_survives_reopen_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create("/changes", b"", NodeKind::Persistent).await.unwrap();
        for expected in ["/changes/config_change_0000000000", "/changes/config_change_0000000001"] {
            let created = store
                .create("/changes/config_change_", b"{}", NodeKind::PersistentSequential)
                .await
                .unwrap();
            assert_eq!(created, expected);
        }
        store.delete("/changes/config_change_0000000001", false).await.unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let created = store
        .create("/changes/config_change_", b"{}", NodeKind::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(created, "/changes/config_change_0000000002");
    // Top-level sequential nodes count on the root.
    assert_eq!(
        store.create("/s-", b"", NodeKind::PersistentSequential).await.unwrap(),
        "/s-0000000000"
    );
}

#[tokio::test]
async fn recursive_delete_removes_the_subtree_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    for path in ["/t/a/1", "/t/a/2/x", "/t/ab", "/t/a-b"] {
        store
            .create_with_parents(path, b"", NodeKind::Persistent)
            .await
            .unwrap();
    }
    store.delete("/t/a", true).await.unwrap();
    assert_eq!(
        store.children("/t").await.unwrap(),
        Some(vec!["a-b".into(), "ab".into()])
    );
    assert_eq!(store.get("/t/a/2/x").await.unwrap(), None);
    assert!(matches!(store.delete("/", true).await, Err(StoreError::Invalid(_))));
    drop(store);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(
        store.children("/t").await.unwrap(),
        Some(vec!["a-b".into(), "ab".into()])
    );
}

#[tokio::test]
async fn periodic_snapshots_compact_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open_with_snapshot_interval(dir.path(), 10).unwrap();
        store.create("/offset", b"0", NodeKind::Persistent).await.unwrap();
        for offset in 1..=25 {
            store.set("/offset", offset.to_string().as_bytes(), None).await.unwrap();
        }
        // 26 entries: snapshots after the 10th and 20th, 6 lines left in the journal.
        let journal = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), 6, "{journal}");
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let (data, stat) = store.get("/offset").await.unwrap().unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"25"[..], 25));
}

#[tokio::test]
async fn stale_journal_entries_already_in_the_snapshot_are_skipped() {
    // Simulates a crash after the snapshot rename but before the journal truncation.
    let dir = tempfile::tempdir().unwrap();
    let journal_copy;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create("/a", b"1", NodeKind::Persistent).await.unwrap();
        store.set("/a", b"2", None).await.unwrap();
        journal_copy = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    }
    {
        let _reopened = EmbeddedStore::open(dir.path()).unwrap();
    }
    std::fs::write(dir.path().join(JOURNAL_FILE), &journal_copy).unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let (data, stat) = store.get("/a").await.unwrap().unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"2"[..], 1));
}

#[tokio::test]
async fn a_directory_can_only_be_open_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert!(matches!(
        EmbeddedStore::open(dir.path()),
        Err(StoreError::Unavailable(_))
    ));
    drop(store);
    EmbeddedStore::open(dir.path()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_offset_commits_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for partition in 0..8 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let path = format!("/consumers/g/offsets/t/{partition}");
                store
                    .create_with_parents(&path, b"0", NodeKind::Persistent)
                    .await
                    .unwrap();
                for offset in 1..=200 {
                    store.set(&path, offset.to_string().as_bytes(), None).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    for partition in 0..8 {
        let (data, stat) = store
            .get(&format!("/consumers/g/offsets/t/{partition}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((data.as_slice(), stat.version), (&b"200"[..], 200));
    }
}

#[tokio::test]
async fn child_watches_wake_only_for_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.create("/watched", b"", NodeKind::Persistent).await.unwrap();
    store.create("/other", b"", NodeKind::Persistent).await.unwrap();
    let short = std::time::Duration::from_millis(100);

    let watch = store.children_changed("/watched");
    store.create("/other/x", b"", NodeKind::Persistent).await.unwrap();
    store.set("/watched", b"data", None).await.unwrap();
    assert!(
        tokio::time::timeout(short, watch).await.is_err(),
        "no child of /watched changed"
    );

    let watch = store.children_changed("/watched");
    store.create("/watched/a", b"", NodeKind::Persistent).await.unwrap();
    tokio::time::timeout(short, watch)
        .await
        .expect("a child was created")
        .unwrap();

    let watch = store.children_changed("/watched");
    store.delete("/watched/a", false).await.unwrap();
    tokio::time::timeout(short, watch)
        .await
        .expect("a child was deleted")
        .unwrap();
}

#[tokio::test]
async fn data_watches_fire_on_their_own_node_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    store.create("/t", b"1", NodeKind::Persistent).await.unwrap();
    store.create("/t/child", b"", NodeKind::Persistent).await.unwrap();
    store.create("/tt", b"", NodeKind::Persistent).await.unwrap();
    let short = std::time::Duration::from_millis(100);

    assert!(matches!(
        store.data_changed("/missing").await,
        Err(StoreError::NoNode(_))
    ));

    let watch = store.data_changed("/t");
    store.set("/t/child", b"x", None).await.unwrap();
    store.set("/tt", b"x", None).await.unwrap();
    store.create("/t/other", b"", NodeKind::Persistent).await.unwrap();
    assert!(
        tokio::time::timeout(short, watch).await.is_err(),
        "/t's own data did not change"
    );

    let watch = store.data_changed("/t");
    store.set("/t", b"2", None).await.unwrap();
    tokio::time::timeout(short, watch).await.expect("set fires").unwrap();

    let watch = store.data_changed("/t/child");
    store.delete("/t", true).await.unwrap();
    tokio::time::timeout(short, watch)
        .await
        .expect("a recursive delete fires")
        .unwrap();
}
