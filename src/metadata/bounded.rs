//! A deadline on every store operation. While ZooKeeper is unreachable the
//! client waits for a reconnect; the broker must not: an offset commit gets
//! COORDINATOR_NOT_AVAILABLE, shutdown proceeds, and everything else keeps
//! serving from what the broker already knows.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::store::{BoxFuture, MetadataStore, NodeData, NodeKind, NodeStat, SessionEvent, StoreError};

pub struct BoundedStore {
    inner: Arc<dyn MetadataStore>,
    deadline: Duration,
}

impl BoundedStore {
    pub fn new(inner: Arc<dyn MetadataStore>, deadline: Duration) -> BoundedStore {
        BoundedStore { inner, deadline }
    }
}

fn bounded<'a, T: Send + 'a>(
    deadline: Duration,
    what: String,
    op: impl Future<Output = Result<T, StoreError>> + Send + 'a,
) -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(async move {
        match tokio::time::timeout(deadline, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "{what}: no answer within {deadline:?}"
            ))),
        }
    })
}

impl MetadataStore for BoundedStore {
    fn create(&self, path: &str, data: &[u8], kind: NodeKind) -> BoxFuture<'_, Result<String, StoreError>> {
        bounded(
            self.deadline,
            format!("create {path}"),
            self.inner.create(path, data, kind),
        )
    }

    fn create_with_parents(
        &self,
        path: &str,
        data: &[u8],
        kind: NodeKind,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        bounded(
            self.deadline,
            format!("create {path}"),
            self.inner.create_with_parents(path, data, kind),
        )
    }

    fn get(&self, path: &str) -> BoxFuture<'_, Result<Option<NodeData>, StoreError>> {
        bounded(self.deadline, format!("get {path}"), self.inner.get(path))
    }

    fn set(
        &self,
        path: &str,
        data: &[u8],
        expected_version: Option<i32>,
    ) -> BoxFuture<'_, Result<NodeStat, StoreError>> {
        bounded(
            self.deadline,
            format!("set {path}"),
            self.inner.set(path, data, expected_version),
        )
    }

    fn children(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<String>>, StoreError>> {
        bounded(self.deadline, format!("list {path}"), self.inner.children(path))
    }

    fn delete(&self, path: &str, recursive: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        bounded(
            self.deadline,
            format!("delete {path}"),
            self.inner.delete(path, recursive),
        )
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn session_events(&self) -> tokio::sync::broadcast::Receiver<SessionEvent> {
        self.inner.session_events()
    }

    /// Not bounded: waiting for a change is the point. Setting the watch is
    /// a read like any other, but a stalled one only delays the next sync.
    fn children_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        self.inner.children_changed(path)
    }

    fn data_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        self.inner.data_changed(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that never answers, like a client waiting for a reconnect.
    struct Silent;

    impl MetadataStore for Silent {
        fn create(&self, _: &str, _: &[u8], _: NodeKind) -> BoxFuture<'_, Result<String, StoreError>> {
            Box::pin(std::future::pending())
        }
        fn create_with_parents(&self, _: &str, _: &[u8], _: NodeKind) -> BoxFuture<'_, Result<String, StoreError>> {
            Box::pin(std::future::pending())
        }
        fn get(&self, _: &str) -> BoxFuture<'_, Result<Option<NodeData>, StoreError>> {
            Box::pin(std::future::pending())
        }
        fn set(&self, _: &str, _: &[u8], _: Option<i32>) -> BoxFuture<'_, Result<NodeStat, StoreError>> {
            Box::pin(std::future::pending())
        }
        fn children(&self, _: &str) -> BoxFuture<'_, Result<Option<Vec<String>>, StoreError>> {
            Box::pin(std::future::pending())
        }
        fn delete(&self, _: &str, _: bool) -> BoxFuture<'_, Result<(), StoreError>> {
            Box::pin(std::future::pending())
        }
        fn describe(&self) -> String {
            "silent".into()
        }
    }

    #[tokio::test]
    async fn a_silent_store_becomes_unavailable() {
        let store = BoundedStore::new(Arc::new(Silent), Duration::from_millis(20));
        let err = store.set("/consumers/g/offsets/t/0", b"1", None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Unavailable(ref m) if m.contains("/consumers/g/offsets/t/0")),
            "{err:?}"
        );
        assert!(matches!(store.get("/x").await, Err(StoreError::Unavailable(_))));
    }
}
