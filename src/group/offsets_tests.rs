//! Commits with leader epochs and metadata on the embedded store: kept
//! beside the plain-decimal offset, paired by offset, removed with it.

use std::sync::Arc;

use super::offsets::{Commit, OffsetStore};
use crate::metadata::layout::paths;
use crate::metadata::layout_groups::offset_details_path;
use crate::metadata::{EmbeddedStore, KafkaLayout, MetadataStore};

fn key(p: i32) -> (String, String, i32) {
    ("g".to_string(), "t".to_string(), p)
}

fn commit(offset: i64, leader_epoch: i32, metadata: &str) -> Commit {
    Commit {
        offset,
        leader_epoch,
        metadata: metadata.to_string(),
    }
}

fn setup() -> (tempfile::TempDir, Arc<dyn MetadataStore>, Arc<OffsetStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetadataStore> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let offsets = OffsetStore::new(KafkaLayout::new(Arc::clone(&store)));
    (dir, store, offsets)
}

#[tokio::test]
async fn epoch_and_metadata_are_kept_beside_a_plain_decimal() {
    let (_dir, store, offsets) = setup();
    offsets.commit(key(0), commit(5, 1, "five")).await.unwrap();
    let got = offsets.fetch("g", "t", 0).await.unwrap();
    assert_eq!(
        (got.offset, got.leader_epoch, got.metadata.as_str()),
        (Some(5), 1, "five")
    );
    let (raw, _) = store.get(&paths::consumer_offset("g", "t", 0)).await.unwrap().unwrap();
    assert_eq!(raw, b"5", "the offset znode stays a plain decimal");

    // A hand-edited offset does not inherit the old epoch.
    store
        .set(&paths::consumer_offset("g", "t", 0), b"9", None)
        .await
        .unwrap();
    let got = offsets.fetch("g", "t", 0).await.unwrap();
    assert_eq!((got.offset, got.leader_epoch, got.metadata.as_str()), (Some(9), -1, ""));
}

#[tokio::test]
async fn a_plain_commit_removes_stale_details() {
    let (_dir, store, offsets) = setup();
    offsets.commit(key(0), commit(5, 2, "")).await.unwrap();
    // Same offset without an epoch (e.g. an old client): the epoch must not survive.
    offsets.commit(key(0), commit(5, -1, "")).await.unwrap();
    let got = offsets.fetch("g", "t", 0).await.unwrap();
    assert_eq!((got.offset, got.leader_epoch), (Some(5), -1));
    assert!(store.get(&offset_details_path("g", "t", 0)).await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_an_offset_takes_its_details_and_empty_directories() {
    let (_dir, store, offsets) = setup();
    offsets.commit(key(0), commit(5, 1, "m")).await.unwrap();
    offsets.commit(key(1), commit(6, 1, "")).await.unwrap();
    assert!(offsets.delete(&key(0)).await.unwrap());
    assert!(!offsets.delete(&key(0)).await.unwrap(), "already gone");
    assert!(store.get(&offset_details_path("g", "t", 0)).await.unwrap().is_none());
    assert_eq!(offsets.fetch("g", "t", 0).await.unwrap().offset, None);
    assert_eq!(offsets.fetch("g", "t", 1).await.unwrap().leader_epoch, 1);
    assert!(offsets.delete(&key(1)).await.unwrap());
    assert!(store.get("/consumers/g/offsets/t").await.unwrap().is_none());
    assert!(store.get("/consumers/g/krab/offsets/t").await.unwrap().is_none());
}
