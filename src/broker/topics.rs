//! Topic lifecycle on this broker: creation (assignment, znodes, logs),
//! loading and syncing from the metadata store, and deletion. Everything goes
//! through the store first, then the local registry follows it, so that a
//! topic written by another tool or broker is picked up the same way.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::log::{LogConfig, PartitionLog};
use crate::metadata::PartitionState;
use crate::protocol::ErrorCode;

use super::partition::Partition;
pub use super::topic_rules::{assign_replicas, validate_topic_config, validate_topic_name, TopicError};
use super::Broker;

/// Per-partition metadata as clients see it.
#[derive(Clone, Debug)]
pub struct PartitionMeta {
    pub replicas: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
}

/// A topic known to this broker. `partitions[p]` is `Some` where this broker
/// holds a replica.
pub struct Topic {
    pub name: String,
    /// Leader, ISR and epoch per partition as last read from the state
    /// znodes (updated in place as they change).
    pub meta: std::sync::RwLock<Vec<PartitionMeta>>,
    pub partitions: Vec<Option<Arc<Partition>>>,
    pub config: BTreeMap<String, String>,
}

impl Topic {
    pub fn meta(&self) -> Vec<PartitionMeta> {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn partition_count(&self) -> usize {
        self.meta.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub(super) fn set_partition_meta(&self, index: i32, leader: i32, leader_epoch: i32, isr: &[i32]) {
        let mut meta = self.meta.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = usize::try_from(index).ok().and_then(|i| meta.get_mut(i)) {
            m.leader = leader;
            m.leader_epoch = leader_epoch;
            m.isr = isr.to_vec();
        }
    }

    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .and_then(|p| p.as_ref())
    }
}

/// The local replica a request addresses, or the error Kafka gives: no such
/// topic or partition, or one that another broker leads.
pub fn local_partition(topic: Option<&Arc<Topic>>, index: i32) -> Result<&Arc<Partition>, ErrorCode> {
    let topic = topic.ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let slot = usize::try_from(index)
        .ok()
        .and_then(|i| topic.partitions.get(i))
        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
    match slot {
        Some(p) if !p.is_deleted() => Ok(p),
        Some(_) => Err(ErrorCode::UnknownTopicOrPartition),
        None => Err(ErrorCode::NotLeaderOrFollower),
    }
}

/// `local_partition`, which must be led here, checked against a request's
/// `current_leader_epoch` (-1: unchecked).
pub fn leader_partition(
    topic: Option<&Arc<Topic>>,
    index: i32,
    current_leader_epoch: i32,
) -> Result<&Arc<Partition>, ErrorCode> {
    let partition = local_partition(topic, index)?;
    partition.check_leader_epoch(current_leader_epoch)?;
    if !partition.is_leader() {
        return Err(ErrorCode::NotLeaderOrFollower);
    }
    Ok(partition)
}

impl Broker {
    /// The log settings for a topic: broker defaults, then topic overrides.
    pub fn log_config_for(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let topic_config = &self.effective_topic_config(overrides);
        let c = &self.config;
        let mut lc = LogConfig {
            segment_bytes: c.log_segment_bytes,
            segment_ms: c.log_roll_ms,
            retention_ms: c.log_retention_ms,
            retention_bytes: c.log_retention_bytes,
            flush_interval_messages: c.log_flush_interval_messages,
            flush_interval_ms: c.log_flush_interval_ms.unwrap_or(u64::MAX),
            file_delete_delay_ms: c.log_segment_delete_delay_ms,
            ..LogConfig::default()
        };
        let num = |k: &str| topic_config.get(k).and_then(|v| v.parse::<i64>().ok());
        if let Some(v) = num("retention.ms") {
            lc.retention_ms = v;
        }
        if let Some(v) = num("retention.bytes") {
            lc.retention_bytes = v;
        }
        if let Some(v) = num("segment.bytes").filter(|v| *v > 0) {
            lc.segment_bytes = v as u64;
        }
        if let Some(v) = num("segment.ms") {
            lc.segment_ms = v;
        }
        if let Some(v) = num("flush.messages").filter(|v| *v > 0) {
            lc.flush_interval_messages = v as u64;
        }
        if let Some(v) = num("flush.ms").filter(|v| *v >= 0) {
            lc.flush_interval_ms = v as u64;
        }
        if let Some(v) = num("index.interval.bytes").filter(|v| *v >= 0) {
            lc.index_interval_bytes = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = num("segment.jitter.ms").filter(|v| *v >= 0) {
            lc.segment_jitter_ms = v;
        }
        if let Some(v) = num("file.delete.delay.ms").filter(|v| *v >= 0) {
            lc.file_delete_delay_ms = v;
        }
        lc.preallocate = topic_config
            .get("preallocate")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if let Some(v) = num("segment.index.bytes").filter(|v| *v >= 0) {
            lc.segment_index_bytes = u32::try_from(v).unwrap_or(u32::MAX);
        }
        let policy: Vec<&str> = topic_config
            .get("cleanup.policy")
            .map_or(vec!["delete"], |p| p.split(',').map(str::trim).collect());
        lc.compact = policy.contains(&"compact");
        // A compacted topic without "delete" is never trimmed by age or size.
        if !policy.contains(&"delete") {
            lc.retention_ms = -1;
            lc.retention_bytes = -1;
        }
        if let Some(v) = num("delete.retention.ms").filter(|v| *v >= 0) {
            lc.delete_retention_ms = v;
        }
        if let Some(v) = topic_config
            .get("min.cleanable.dirty.ratio")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| (0.0..=1.0).contains(v))
        {
            lc.min_cleanable_dirty_ratio = v;
        }
        if let Some(v) = num("min.compaction.lag.ms").filter(|v| *v >= 0) {
            lc.min_compaction_lag_ms = v;
        }
        if let Some(v) = num("max.compaction.lag.ms").filter(|v| *v > 0) {
            lc.max_compaction_lag_ms = v;
        }
        // Kafka's maxSegmentMs: the active segment of a compacted topic rolls
        // by max.compaction.lag.ms too, or its records could never be cleaned.
        if lc.compact && lc.max_compaction_lag_ms < lc.segment_ms {
            lc.segment_ms = lc.max_compaction_lag_ms;
        }
        lc
    }

    pub fn max_message_bytes(&self, topic: &Topic) -> usize {
        self.topic_setting(&topic.config, "max.message.bytes")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(self.config.message_max_bytes as usize)
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Where a partition's directory lives: an existing one in any log dir,
    /// else the log dir holding the fewest partitions.
    pub(super) fn partition_dir(&self, topic: &str, partition: i32) -> PathBuf {
        let name = format!("{topic}-{partition}");
        for dir in &self.config.log_dirs {
            let candidate = dir.join(&name);
            if candidate.is_dir() {
                return candidate;
            }
        }
        let least_used = self
            .config
            .log_dirs
            .iter()
            .min_by_key(|d| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0))
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        least_used.join(name)
    }

    /// Creates a topic: validates, writes the znodes (config, assignment,
    /// partition state) and opens the local logs.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        manual_assignment: Option<BTreeMap<i32, Vec<i32>>>,
        config: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        validate_topic_name(name)?;
        validate_topic_config(&config)?;
        let _guard = self.topic_lock.lock().await;
        if self.topic(name).is_some() {
            return Err(TopicError::Exists(name.to_string()));
        }
        let live: Vec<i32> = self.live_broker_ids().await;
        let assignment = match manual_assignment {
            Some(a) => {
                if a.is_empty() {
                    return Err(TopicError::InvalidAssignment("empty".into()));
                }
                for (i, (p, replicas)) in a.iter().enumerate() {
                    if *p != i as i32 {
                        return Err(TopicError::InvalidAssignment("partitions must be 0..n".into()));
                    }
                    if replicas.is_empty() || replicas.iter().any(|r| !live.contains(r)) {
                        return Err(TopicError::InvalidAssignment(format!(
                            "partition {p}: replicas {replicas:?} must be live brokers {live:?}"
                        )));
                    }
                }
                a
            }
            None => {
                if partitions < 1 {
                    return Err(TopicError::InvalidPartitions(partitions));
                }
                if partitions > super::topic_rules::MAX_PARTITIONS {
                    return Err(TopicError::TooManyPartitions(partitions));
                }
                if replication_factor < 1 || replication_factor as usize > live.len() {
                    return Err(TopicError::InvalidReplicationFactor(replication_factor, live.len()));
                }
                assign_replicas(&live, partitions, replication_factor)
            }
        };
        let min_isr = config
            .get("min.insync.replicas")
            .and_then(|v| v.trim().parse::<usize>().ok());
        let rf = assignment.values().map(Vec::len).min().unwrap_or(0);
        if let Some(min_isr) = min_isr.filter(|m| *m > rf) {
            return Err(TopicError::InvalidConfig(
                "min.insync.replicas".into(),
                format!("{min_isr} is above the replication factor {rf}: acks=all writes could never succeed"),
            ));
        }
        if validate_only {
            return Ok(Arc::new(Topic {
                name: name.into(),
                meta: Default::default(),
                partitions: vec![],
                config,
            }));
        }
        self.layout
            .create_topic(name, &assignment, &config)
            .await
            .map_err(|e| match e {
                crate::metadata::LayoutError::TopicExists(_) => TopicError::Exists(name.to_string()),
                other => TopicError::Store(other.to_string()),
            })?;
        for (p, replicas) in &assignment {
            let state = self.initial_state(replicas, &live);
            self.layout
                .write_partition_state(name, *p, &state, None)
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?;
        }
        tracing::info!(topic = name, partitions = assignment.len(), "created topic");
        let topic = self.open_topic(name, &assignment, config).await?;
        Ok(topic)
    }

    /// Opens the local replicas of a topic described by the store and puts
    /// it in the registry.
    pub(super) async fn open_topic(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        config: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let log_config = self.log_config_for(&config);
        let mut meta = Vec::with_capacity(assignment.len());
        let mut partitions = Vec::with_capacity(assignment.len());
        for (p, replicas) in assignment {
            let (partition_meta, local) = self.open_partition(name, *p, replicas, &log_config).await?;
            meta.push(partition_meta);
            partitions.push(local);
        }
        let topic = Arc::new(Topic {
            name: name.to_string(),
            meta: std::sync::RwLock::new(meta),
            partitions,
            config,
        });
        self.topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    /// One partition's state from the store (elected if it has none yet)
    /// and, if this broker holds a replica, its log opened.
    pub(super) async fn open_partition(
        &self,
        name: &str,
        p: i32,
        replicas: &[i32],
        log_config: &LogConfig,
    ) -> Result<(PartitionMeta, Option<Arc<Partition>>), TopicError> {
        let (state, version) = match self.layout.partition_state(name, p).await {
            Ok(Some(found)) => found,
            Ok(None) => self.elect_initial_state(name, p, replicas).await?,
            Err(crate::metadata::LayoutError::UnknownTopic(t)) => return Err(TopicError::Unknown(t)),
            Err(e) => return Err(TopicError::Store(e.to_string())),
        };
        let local = if replicas.contains(&self.config.broker_id) {
            let dir = self.partition_dir(name, p);
            let log = PartitionLog::open(&dir, log_config.clone()).map_err(|e| TopicError::Log(e.to_string()))?;
            let hw = self.checkpointed_high_watermark(name, p);
            let partition =
                Partition::new(name, p, log, self.config.broker_id, hw).map_err(|e| TopicError::Log(e.to_string()))?;
            let partition = Arc::new(partition);
            if version >= 0 {
                // Lead or follow at once, so a client that just created the
                // topic can produce to it.
                self.apply_to_replica(&partition, &state, version, replicas);
            }
            Some(partition)
        } else {
            None
        };
        let meta = PartitionMeta {
            replicas: replicas.to_vec(),
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            isr: state.isr,
        };
        Ok((meta, local))
    }

    /// A new partition's state, as the controller writes it: the live
    /// replicas in sync, the first of them leading (-1 if none is live).
    pub(super) fn initial_state(&self, replicas: &[i32], live: &[i32]) -> PartitionState {
        let isr: Vec<i32> = replicas.iter().copied().filter(|r| live.contains(r)).collect();
        PartitionState {
            leader: isr.first().copied().unwrap_or(-1),
            leader_epoch: 0,
            isr,
            controller_epoch: self.controller_epoch(),
        }
    }

    /// A topic written by another tool has no state znodes yet: as the
    /// controller would, make the first live replica the leader.
    pub(super) async fn elect_initial_state(
        &self,
        name: &str,
        p: i32,
        replicas: &[i32],
    ) -> Result<(PartitionState, i32), TopicError> {
        let state = self.initial_state(replicas, &self.live_broker_ids().await);
        if self.is_controller() {
            let version = self
                .layout
                .write_partition_state(name, p, &state, None)
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?;
            return Ok((state, version));
        }
        // Not ours to write: the controller will, and the next sync reads it.
        Ok((state, -1))
    }

    /// Brings the registry in line with the store: opens topics that
    /// appeared, drops topics whose znode vanished (zkCli `rmr`), and carries
    /// out deletions marked under /admin/delete_topics.
    pub async fn sync_topics(&self) -> Result<(), TopicError> {
        let stored = self
            .layout
            .list_topics()
            .await
            .map_err(|e| TopicError::Store(e.to_string()))?;
        let known: HashMap<String, Arc<Topic>> = self.topics.read().unwrap_or_else(|e| e.into_inner()).clone();
        for name in &stored {
            if known.contains_key(name) {
                continue;
            }
            let _guard = self.topic_lock.lock().await;
            if self.topic(name).is_some() {
                continue;
            }
            let Some(assignment) = self
                .layout
                .topic_assignment(name)
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?
            else {
                continue;
            };
            let config = self
                .layout
                .topic_config(name)
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?;
            match self.open_topic(name, &assignment, config.unwrap_or_default()).await {
                Ok(_) => tracing::info!(topic = %name, "serving topic found in the metadata store"),
                Err(e) => tracing::warn!(topic = %name, error = %e, "cannot open topic"),
            }
        }
        for name in known.keys() {
            if !stored.contains(name) {
                tracing::info!(topic = %name, "topic removed from the metadata store; dropping its local data");
                self.drop_local_topic(name);
            }
        }
        if self.config.delete_topic_enable && self.is_controller() {
            let marked = self
                .layout
                .topics_marked_for_deletion()
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?;
            for name in marked {
                self.complete_topic_deletion(&name).await?;
            }
        }
        Ok(())
    }

    pub(super) fn drop_local_topic(&self, name: &str) {
        let removed = self.topics.write().unwrap_or_else(|e| e.into_inner()).remove(name);
        if let Some(topic) = removed {
            for partition in topic.partitions.iter().flatten() {
                if let Err(e) = partition.delete_files() {
                    tracing::warn!(topic = name, partition = partition.index, error = %e, "cannot remove partition directory");
                }
            }
        }
    }

    /// Deletes a topic: the marker first (what `kafka-topics --delete`
    /// writes), then, when deletion is enabled, the data and the znodes.
    pub async fn delete_topic(&self, name: &str) -> Result<(), TopicError> {
        if self.topic(name).is_none() {
            let exists = self
                .layout
                .topic_assignment(name)
                .await
                .map_err(|e| TopicError::Store(e.to_string()))?;
            if exists.is_none() {
                return Err(TopicError::Unknown(name.to_string()));
            }
        }
        if !self.config.delete_topic_enable {
            return Err(TopicError::DeletionDisabled);
        }
        self.layout
            .mark_topic_for_deletion(name)
            .await
            .map_err(|e| TopicError::Store(e.to_string()))?;
        self.complete_topic_deletion(name).await
    }

    async fn complete_topic_deletion(&self, name: &str) -> Result<(), TopicError> {
        let _guard = self.topic_lock.lock().await;
        self.drop_local_topic(name);
        self.layout
            .delete_topic_znodes(name)
            .await
            .map_err(|e| TopicError::Store(e.to_string()))?;
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }
}
