//! Kafka's ZooKeeper-mode znode layout over any [`MetadataStore`], written once for both
//! backends, so zkCli.sh, pykafka, KafkaOffsetMonitor and Burrow see what Kafka would write.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

use super::kafka_json as codec;
pub use super::kafka_json::{BrokerInfo, PartitionState};
use super::store::{MetadataStore, NodeKind, NodeStat, StoreError};

/// Znode paths, as in kafka/zk/ZkData.scala.
pub mod paths {
    pub const CONSUMERS: &str = "/consumers";
    pub const BROKER_IDS: &str = "/brokers/ids";
    pub const BROKER_TOPICS: &str = "/brokers/topics";
    pub const BROKER_SEQID: &str = "/brokers/seqid";
    pub const CONTROLLER: &str = "/controller";
    pub const CONTROLLER_EPOCH: &str = "/controller_epoch";
    pub const CLUSTER_ID: &str = "/cluster/id";
    pub const CONFIG_TOPICS: &str = "/config/topics";
    pub const DELETE_TOPICS: &str = "/admin/delete_topics";
    pub const LATEST_PRODUCER_ID_BLOCK: &str = "/latest_producer_id_block";

    /// Created empty at broker startup (Kafka 2.8 ZkData.PersistentZkPaths).
    pub const PERSISTENT: [&str; 14] = [
        CONSUMERS,
        BROKER_IDS,
        BROKER_TOPICS,
        BROKER_SEQID,
        "/config/changes",
        CONFIG_TOPICS,
        "/config/clients",
        "/config/users",
        "/config/brokers",
        "/config/ips",
        DELETE_TOPICS,
        "/isr_change_notification",
        LATEST_PRODUCER_ID_BLOCK,
        "/log_dir_event_notification",
    ];

    pub fn broker(id: i32) -> String {
        format!("{BROKER_IDS}/{id}")
    }
    pub fn topic(topic: &str) -> String {
        format!("{BROKER_TOPICS}/{topic}")
    }
    pub fn partition_state(topic: &str, partition: i32) -> String {
        format!("{BROKER_TOPICS}/{topic}/partitions/{partition}/state")
    }
    pub fn topic_config(topic: &str) -> String {
        format!("{CONFIG_TOPICS}/{topic}")
    }
    pub fn delete_topic_marker(topic: &str) -> String {
        format!("{DELETE_TOPICS}/{topic}")
    }
    pub fn consumer_offset(group: &str, topic: &str, partition: i32) -> String {
        format!("{CONSUMERS}/{group}/offsets/{topic}/{partition}")
    }
}

/// Producer ids are handed out to brokers in blocks of this size.
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;
/// Bound on optimistic-concurrency retries (BadVersion / NodeExists races).
pub(super) const MAX_ATTEMPTS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("topic {0} already exists")]
    TopicExists(String),
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    #[error("broker id {0} is already registered by a live broker")]
    BrokerIdInUse(i32),
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("malformed data in {path}: {reason}")]
    Malformed { path: String, reason: String },
    #[error("{0}: too many concurrent modifications")]
    Contention(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(super) fn malformed(path: &str, reason: String) -> LayoutError {
    LayoutError::Malformed {
        path: path.to_owned(),
        reason,
    }
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Kafka's topic name rule: 1–249 of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic_name(name: &str) -> Result<(), LayoutError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name == "." || name == ".." {
        "reserved"
    } else if name.len() > 249 {
        "longer than 249 characters"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        "only ASCII letters, digits, '.', '_' and '-' are allowed"
    } else {
        return Ok(());
    };
    Err(LayoutError::InvalidName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Group ids are free-form in Kafka but become one znode name here.
pub(super) fn validate_group_name(name: &str) -> Result<(), LayoutError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.chars().any(char::is_control) {
        return Err(LayoutError::InvalidName {
            name: name.to_owned(),
            reason: "a group id must be one znode name (no '/', not empty)".into(),
        });
    }
    Ok(())
}

/// Partitions must be numbered 0..n-1, each with a non-empty list of distinct replicas.
pub(super) fn validate_assignment(assignment: &BTreeMap<i32, Vec<i32>>) -> Result<(), LayoutError> {
    if assignment.is_empty() {
        return Err(LayoutError::InvalidArgument(
            "a topic needs at least one partition".into(),
        ));
    }
    for (expected, (partition, replicas)) in assignment.iter().enumerate() {
        if *partition as i64 != expected as i64 {
            return Err(LayoutError::InvalidArgument(format!(
                "partitions must be numbered 0..{}",
                assignment.len() - 1
            )));
        }
        let mut distinct = replicas.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if replicas.is_empty() || distinct.len() != replicas.len() {
            return Err(LayoutError::InvalidArgument(format!(
                "partition {partition}: replicas {replicas:?}"
            )));
        }
    }
    Ok(())
}

/// Kafka semantics on a znode store. Cheap to clone.
#[derive(Clone)]
pub struct KafkaLayout {
    store: Arc<dyn MetadataStore>,
}

impl KafkaLayout {
    pub fn new(store: Arc<dyn MetadataStore>) -> KafkaLayout {
        KafkaLayout { store }
    }

    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// Writes `data`, creating the node (and its parents) if missing.
    pub(super) async fn upsert(&self, path: &str, data: &[u8]) -> Result<NodeStat, LayoutError> {
        for _ in 0..MAX_ATTEMPTS {
            match self.store.set(path, data, None).await {
                Err(StoreError::NoNode(_)) => {}
                other => return Ok(other?),
            }
            match self.store.create_with_parents(path, data, NodeKind::Persistent).await {
                Ok(_) => return Ok(NodeStat::default()),
                Err(StoreError::NodeExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LayoutError::Contention(path.to_owned()))
    }

    pub(super) async fn children_or_empty(&self, path: &str) -> Result<Vec<String>, LayoutError> {
        Ok(self.store.children(path).await?.unwrap_or_default())
    }

    pub async fn ensure_persistent_paths(&self) -> Result<(), LayoutError> {
        for path in paths::PERSISTENT {
            match self.store.create_with_parents(path, b"", NodeKind::Persistent).await {
                Ok(_) | Err(StoreError::NodeExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    // ---- brokers -------------------------------------------------------------------------

    /// Registers this broker: EPHEMERAL /brokers/ids/<id>, JSON version 4.
    pub async fn register_broker(
        &self,
        id: i32,
        endpoints: &[(&str, &str, u16)],
        rack: Option<&str>,
    ) -> Result<(), LayoutError> {
        self.register_broker_listeners(id, endpoints, &[], rack).await
    }

    /// Registers this broker with each listener's security protocol
    /// (`listener_security_protocol_map`).
    pub async fn register_broker_listeners(
        &self,
        id: i32,
        endpoints: &[(&str, &str, u16)],
        protocols: &[(&str, &str)],
        rack: Option<&str>,
    ) -> Result<(), LayoutError> {
        let data = codec::broker_registration_with_protocols(endpoints, protocols, rack, now_ms())
            .map_err(LayoutError::InvalidArgument)?;
        match self
            .store
            .create_with_parents(&paths::broker(id), &data, NodeKind::Ephemeral)
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::NodeExists(_)) => Err(LayoutError::BrokerIdInUse(id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn unregister_broker(&self, id: i32) -> Result<(), LayoutError> {
        Ok(self.store.delete(&paths::broker(id), false).await?)
    }

    pub async fn broker(&self, id: i32) -> Result<Option<BrokerInfo>, LayoutError> {
        let path = paths::broker(id);
        match self.store.get(&path).await? {
            None => Ok(None),
            Some((data, _)) => codec::parse_broker(id, &data)
                .map(Some)
                .map_err(|reason| malformed(&path, reason)),
        }
    }

    /// Registered brokers sorted by id. Unparsable registrations are skipped with a warning
    /// so one bad znode does not hide the rest of the cluster.
    pub async fn live_brokers(&self) -> Result<Vec<BrokerInfo>, LayoutError> {
        let mut brokers = Vec::new();
        for name in self.children_or_empty(paths::BROKER_IDS).await? {
            let Ok(id) = name.parse::<i32>() else {
                tracing::warn!(znode = %name, "ignoring non-numeric child of {}", paths::BROKER_IDS);
                continue;
            };
            match self.broker(id).await {
                Ok(Some(broker)) => brokers.push(broker),
                Ok(None) => {} // went away between listing and reading
                Err(LayoutError::Malformed { path, reason }) => {
                    tracing::warn!(%path, %reason, "ignoring broker registration")
                }
                Err(e) => return Err(e),
            }
        }
        brokers.sort_by_key(|b| b.id);
        Ok(brokers)
    }

    // ---- controller ----------------------------------------------------------------------

    /// Tries to become controller (EPHEMERAL /controller) and on success bumps
    /// /controller_epoch. Returns whether `id` is the controller. A /controller that already
    /// names `id` counts as ours (broker ids are unique among live brokers), without a bump.
    pub async fn elect_controller(&self, id: i32) -> Result<bool, LayoutError> {
        match self
            .store
            .create(paths::CONTROLLER, &codec::controller(id, now_ms()), NodeKind::Ephemeral)
            .await
        {
            Ok(_) => match self.bump_controller_epoch().await {
                Ok(_) => Ok(true),
                Err(e) => {
                    // Without a new epoch our decisions would not be fenced; give it up.
                    let _ = self.store.delete(paths::CONTROLLER, false).await;
                    Err(e)
                }
            },
            Err(StoreError::NodeExists(_)) => Ok(self.controller_id().await? == Some(id)),
            Err(e) => Err(e.into()),
        }
    }

    async fn bump_controller_epoch(&self) -> Result<i32, LayoutError> {
        let path = paths::CONTROLLER_EPOCH;
        for _ in 0..MAX_ATTEMPTS {
            match self.store.get(path).await? {
                None => match self.store.create(path, b"1", NodeKind::Persistent).await {
                    Ok(_) => return Ok(1),
                    Err(StoreError::NodeExists(_)) => continue,
                    Err(e) => return Err(e.into()),
                },
                Some((data, stat)) => {
                    let epoch = codec::parse_decimal(&data)
                        .ok()
                        .and_then(|e| i32::try_from(e).ok())
                        .ok_or_else(|| {
                            malformed(path, format!("not an epoch: {:?}", String::from_utf8_lossy(&data)))
                        })?;
                    let next = epoch
                        .checked_add(1)
                        .ok_or_else(|| malformed(path, "epoch overflow".into()))?;
                    match self
                        .store
                        .set(path, next.to_string().as_bytes(), Some(stat.version))
                        .await
                    {
                        Ok(_) => return Ok(next),
                        Err(StoreError::BadVersion(_)) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(LayoutError::Contention(path.to_owned()))
    }

    /// Deletes /controller if it names `id`.
    pub async fn resign_controller(&self, id: i32) -> Result<(), LayoutError> {
        if self.controller_id().await? == Some(id) {
            self.store.delete(paths::CONTROLLER, false).await?;
        }
        Ok(())
    }

    pub async fn controller_id(&self) -> Result<Option<i32>, LayoutError> {
        match self.store.get(paths::CONTROLLER).await? {
            None => Ok(None),
            Some((data, _)) => codec::parse_controller(&data)
                .map(Some)
                .map_err(|r| malformed(paths::CONTROLLER, r)),
        }
    }

    pub async fn controller_epoch(&self) -> Result<Option<i32>, LayoutError> {
        match self.store.get(paths::CONTROLLER_EPOCH).await? {
            None => Ok(None),
            Some((data, _)) => codec::parse_decimal(&data)
                .ok()
                .and_then(|e| i32::try_from(e).ok())
                .map(Some)
                .ok_or_else(|| malformed(paths::CONTROLLER_EPOCH, "not a decimal epoch".into())),
        }
    }

    /// Reads /cluster/id, creating it with a fresh random id if absent.
    pub async fn get_or_create_cluster_id(&self) -> Result<String, LayoutError> {
        let path = paths::CLUSTER_ID;
        for _ in 0..MAX_ATTEMPTS {
            if let Some((data, _)) = self.store.get(path).await? {
                return codec::parse_cluster_id(&data).map_err(|r| malformed(path, r));
            }
            let mut uuid = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut uuid);
            let id = URL_SAFE_NO_PAD.encode(uuid);
            match self
                .store
                .create_with_parents(path, &codec::cluster_id(&id), NodeKind::Persistent)
                .await
            {
                Ok(_) => return Ok(id),
                Err(StoreError::NodeExists(_)) => continue, // another broker won; read theirs
                Err(e) => return Err(e.into()),
            }
        }
        Err(LayoutError::Contention(path.to_owned()))
    }
}
