//! The znode-store abstraction both metadata backends implement.
//!
//! Semantics follow ZooKeeper: absolute slash-separated paths, a data version
//! bumped by every `set`, persistent / ephemeral / persistent-sequential nodes,
//! ephemeral nodes cannot have children.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future; keeps [`MetadataStore`] dyn-compatible without `async-trait`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A node's data and stat, as returned by [`MetadataStore::get`].
pub type NodeData = (Vec<u8>, NodeStat);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    /// Lives as long as the store's session (embedded: the process).
    Ephemeral,
    /// Persistent, with a 10-digit zero-padded counter appended to the name.
    PersistentSequential,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NodeStat {
    /// Number of `set`s since creation (ZooKeeper's data version).
    pub version: i32,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
    /// Transaction id of the creation; Kafka uses it as the broker epoch.
    pub czxid: i64,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("no node {0}")]
    NoNode(String),
    #[error("node {0} already exists")]
    NodeExists(String),
    #[error("bad version for {0}")]
    BadVersion(String),
    #[error("node {0} has children")]
    NotEmpty(String),
    /// Connection loss, session expiry, I/O failure: the operation may be retried later.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// Bad path or argument, or corrupt persisted data.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Session changes of a store with sessions (ZooKeeper). The embedded store never emits any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The connection dropped; the session (and its ephemerals) may still be alive.
    Disconnected,
    /// Reconnected within the same session; ephemerals are intact.
    Reconnected,
    /// The old session expired and a new one was established. Ephemerals this store had
    /// created were written again (`recreated`) or could not be because the path now
    /// exists under someone else's session (`lost`, e.g. another broker took /controller).
    NewSession { recreated: Vec<String>, lost: Vec<String> },
}

pub trait MetadataStore: Send + Sync {
    /// Creates a node; the parent must exist. Returns the created path (with the
    /// sequential suffix for [`NodeKind::PersistentSequential`]).
    fn create(&self, path: &str, data: &[u8], kind: NodeKind) -> BoxFuture<'_, Result<String, StoreError>>;

    /// Like [`create`](Self::create) but first creates missing ancestors as empty persistent nodes.
    fn create_with_parents(&self, path: &str, data: &[u8], kind: NodeKind)
        -> BoxFuture<'_, Result<String, StoreError>>;

    /// Data and stat, or `None` if the node does not exist.
    fn get(&self, path: &str) -> BoxFuture<'_, Result<Option<NodeData>, StoreError>>;

    /// Replaces the data; with `expected_version` the write only happens if the current
    /// version matches (otherwise [`StoreError::BadVersion`]). `Some(-1)` means any version.
    fn set(
        &self,
        path: &str,
        data: &[u8],
        expected_version: Option<i32>,
    ) -> BoxFuture<'_, Result<NodeStat, StoreError>>;

    /// Sorted child names, or `None` if the node does not exist.
    fn children(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<String>>, StoreError>>;

    /// Deletes a node (and with `recursive` its whole subtree). A missing node is not an error.
    fn delete(&self, path: &str, recursive: bool) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Human-readable location, e.g. "zookeeper 127.0.0.1:2181/kafka" or "embedded /var/krab/__krab_metadata".
    fn describe(&self) -> String;

    /// Resolves once the children of `path` change after this call (a
    /// ZooKeeper child watch; the embedded store's own change notice). An
    /// error means no watch could be set (the node is missing, the session is
    /// away): callers fall back to polling. The default never resolves.
    fn children_changed(&self, _path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    /// Resolves once the data of `path` changes, or the node is deleted,
    /// after this call (a ZooKeeper data watch; the embedded store's own
    /// notice). An error means no watch could be set (a missing node, the
    /// session away). The default never resolves.
    fn data_changed(&self, _path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        Box::pin(std::future::pending())
    }

    /// Session changes the broker may react to (re-register, resign as controller).
    /// The default is a channel that is already closed: no sessions, no events.
    fn session_events(&self) -> tokio::sync::broadcast::Receiver<SessionEvent> {
        tokio::sync::broadcast::channel(1).1
    }
}

/// Checks ZooKeeper path syntax: absolute, no empty / "." / ".." segments, no trailing
/// slash (except the root), no control characters.
pub fn validate_path(path: &str) -> Result<(), StoreError> {
    let invalid = |why: &str| Err(StoreError::Invalid(format!("path {path:?}: {why}")));
    if !path.starts_with('/') {
        return invalid("must start with '/'");
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return invalid("must not end with '/'");
    }
    for segment in path[1..].split('/') {
        if segment.is_empty() {
            return invalid("empty segment");
        }
        if segment == "." || segment == ".." {
            return invalid("relative segment");
        }
        if segment.chars().any(|c| c.is_control()) {
            return invalid("control character");
        }
    }
    Ok(())
}

/// The parent of a validated non-root path ("/a/b" → "/a", "/a" → "/").
pub fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Joins a parent path and a child name ("/" + "a" → "/a", "/a" + "b" → "/a/b").
pub fn child_path(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// ZooKeeper's sequential suffix: the counter as ten zero-padded digits.
pub fn sequential_name(path: &str, counter: i64) -> String {
    format!("{path}{counter:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_validation() {
        for good in ["/", "/a", "/a/b", "/brokers/ids/1", "/a.b/c-d_e"] {
            assert_eq!(validate_path(good), Ok(()), "{good}");
        }
        for bad in ["", "a", "/a/", "//", "/a//b", "/a/./b", "/..", "/a\0b", "/a\nb"] {
            assert!(matches!(validate_path(bad), Err(StoreError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent_path("/a"), "/");
        assert_eq!(parent_path("/a/b/c"), "/a/b");
        assert_eq!(child_path("/", "a"), "/a");
        assert_eq!(child_path("/a", "b"), "/a/b");
        assert_eq!(sequential_name("/q/item-", 7), "/q/item-0000000007");
    }
}

/// One behavioural suite run against every backend, so they cannot drift apart.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;

    pub(crate) async fn run(store: &dyn MetadataStore, root: &str) {
        let p = |suffix: &str| format!("{root}{suffix}");
        store
            .create_with_parents(&p(""), b"", NodeKind::Persistent)
            .await
            .expect("root");

        // create / get / versions
        assert_eq!(
            store.create(&p("/a"), b"one", NodeKind::Persistent).await.unwrap(),
            p("/a")
        );
        let (data, stat) = store.get(&p("/a")).await.unwrap().expect("exists");
        assert_eq!((data.as_slice(), stat.version), (&b"one"[..], 0));
        assert!(stat.ctime_ms > 0 && stat.ctime_ms == stat.mtime_ms && stat.czxid > 0);
        assert_eq!(
            store.create(&p("/a"), b"x", NodeKind::Persistent).await,
            Err(StoreError::NodeExists(p("/a")))
        );
        assert_eq!(
            store.create(&p("/missing/child"), b"", NodeKind::Persistent).await,
            Err(StoreError::NoNode(p("/missing/child")))
        );
        assert_eq!(store.get(&p("/nope")).await.unwrap(), None);

        let stat1 = store.set(&p("/a"), b"two", None).await.unwrap();
        assert_eq!(stat1.version, 1);
        assert_eq!(stat1.czxid, stat.czxid);
        let stat2 = store.set(&p("/a"), b"three", Some(1)).await.unwrap();
        assert_eq!(stat2.version, 2);
        assert_eq!(
            store.set(&p("/a"), b"four", Some(1)).await,
            Err(StoreError::BadVersion(p("/a")))
        );
        assert_eq!(store.set(&p("/a"), b"five", Some(-1)).await.unwrap().version, 3);
        assert_eq!(store.get(&p("/a")).await.unwrap().unwrap().0, b"five");
        assert_eq!(
            store.set(&p("/nope"), b"", None).await,
            Err(StoreError::NoNode(p("/nope")))
        );

        // parents, children
        store
            .create_with_parents(&p("/x/y/z"), b"deep", NodeKind::Persistent)
            .await
            .unwrap();
        assert_eq!(store.get(&p("/x/y")).await.unwrap().unwrap().0, b"");
        store.create(&p("/x/b"), b"", NodeKind::Persistent).await.unwrap();
        store.create(&p("/x/a"), b"", NodeKind::Persistent).await.unwrap();
        assert_eq!(
            store.children(&p("/x")).await.unwrap(),
            Some(vec!["a".into(), "b".into(), "y".into()])
        );
        assert_eq!(store.children(&p("/x/y/z")).await.unwrap(), Some(vec![]));
        assert_eq!(store.children(&p("/nope")).await.unwrap(), None);

        // sequential
        store.create(&p("/seq"), b"", NodeKind::Persistent).await.unwrap();
        let first = store
            .create(&p("/seq/n-"), b"1", NodeKind::PersistentSequential)
            .await
            .unwrap();
        let second = store
            .create(&p("/seq/n-"), b"2", NodeKind::PersistentSequential)
            .await
            .unwrap();
        let counter = |created: &str| -> i64 {
            let suffix = created.strip_prefix(&p("/seq/n-")).expect("prefix");
            assert_eq!(suffix.len(), 10, "{created}");
            suffix.parse().expect("digits")
        };
        assert!(counter(&second) > counter(&first));
        assert_eq!(store.get(&second).await.unwrap().unwrap().0, b"2");

        // ephemerals cannot have children
        store.create(&p("/eph"), b"e", NodeKind::Ephemeral).await.unwrap();
        assert!(store.create(&p("/eph/child"), b"", NodeKind::Persistent).await.is_err());

        // delete
        assert_eq!(store.delete(&p("/x"), false).await, Err(StoreError::NotEmpty(p("/x"))));
        store.delete(&p("/x"), true).await.unwrap();
        assert_eq!(store.get(&p("/x/y/z")).await.unwrap(), None);
        assert_eq!(store.get(&p("/x")).await.unwrap(), None);
        store.delete(&p("/x"), true).await.unwrap();
        store.delete(&p("/never"), false).await.unwrap();
        store.delete(&p("/eph"), false).await.unwrap();
        assert_eq!(store.get(&p("/eph")).await.unwrap(), None);

        // bad paths are rejected, not sent
        assert!(matches!(store.get("relative").await, Err(StoreError::Invalid(_))));
        assert!(matches!(
            store.create(&p("/t/"), b"", NodeKind::Persistent).await,
            Err(StoreError::Invalid(_))
        ));

        store.delete(&p(""), true).await.unwrap();
        assert!(!store.describe().is_empty());
    }
}
