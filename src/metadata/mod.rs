//! Metadata: a znode store (embedded or ZooKeeper) and Kafka's layout on it.
//!
//! * [`store`]: the [`MetadataStore`] trait both backends implement.
//! * [`embedded`]: an in-process tree persisted in a directory (no `zookeeper.connect`).
//! * [`zookeeper`]: a real ZooKeeper ensemble.
//! * [`layout`]: Kafka's znode layout and JSON ([`KafkaLayout`]), written once for both.

pub mod bounded;
pub mod embedded;
pub mod kafka_json;
pub mod layout;
pub mod layout_acls;
pub mod layout_admin;
pub mod layout_groups;
mod layout_topics;
pub mod layout_users;
pub mod store;
pub mod zookeeper;

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod test_zookeeper;

pub use embedded::EmbeddedStore;
pub use layout::{BrokerInfo, KafkaLayout, LayoutError, PartitionState};
pub use layout_groups::{GroupRecord, OffsetDetails};
pub use store::{BoxFuture, MetadataStore, NodeData, NodeKind, NodeStat, SessionEvent, StoreError};
pub use zookeeper::ZkStore;

/// Opens the configured backend: ZooKeeper when `zookeeper_connect` is set and non-empty,
/// else the embedded store in `embedded_dir` (the broker passes `<log.dir>/__krab_metadata`).
pub async fn open_store(
    zookeeper_connect: Option<&str>,
    zookeeper_session_timeout: std::time::Duration,
    embedded_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn MetadataStore>, StoreError> {
    open_store_within(
        zookeeper_connect,
        zookeeper_session_timeout,
        zookeeper_session_timeout,
        embedded_dir,
    )
    .await
}

/// `open_store`, waiting up to `connection_timeout` for ZooKeeper to accept clients.
pub async fn open_store_within(
    zookeeper_connect: Option<&str>,
    zookeeper_session_timeout: std::time::Duration,
    connection_timeout: std::time::Duration,
    embedded_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn MetadataStore>, StoreError> {
    match zookeeper_connect.map(str::trim).filter(|c| !c.is_empty()) {
        Some(connect) => {
            let zk = ZkStore::connect_within(connect, zookeeper_session_timeout, connection_timeout).await?;
            // ZooKeeper answers in milliseconds when it answers at all.
            let deadline = zookeeper_session_timeout.min(std::time::Duration::from_secs(5));
            Ok(std::sync::Arc::new(bounded::BoundedStore::new(
                std::sync::Arc::new(zk),
                deadline,
            )))
        }
        None => Ok(std::sync::Arc::new(EmbeddedStore::open(embedded_dir)?)),
    }
}
