//! The broker's side of replication: following the partition state znodes
//! (every broker reads them each round and acts on changes: lead, follow,
//! fetch from a new leader), the per-topic replication settings, the
//! high-watermark checkpoint files, and controlled shutdown.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::metadata::PartitionState;
use crate::replica::checkpoint_file::{self, Offsets};
use crate::replica::{fetcher, Role};

use super::partition::Partition;
use super::partition_replica::Transition;
use super::topics::Topic;
use super::{now_ms, Broker};

impl Broker {
    /// The broker as an `Arc` (tasks it spawns hold one).
    pub(crate) fn arc(&self) -> Option<Arc<Broker>> {
        self.self_ref.get().and_then(|weak| weak.upgrade())
    }

    pub fn min_insync_replicas(&self, topic: &Topic) -> usize {
        self.topic_setting(&topic.config, "min.insync.replicas")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(self.config.min_insync_replicas.max(1) as usize)
    }

    pub fn unclean_leader_election(&self, topic: &Topic) -> bool {
        self.topic_setting(&topic.config, "unclean.leader.election.enable")
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
            .unwrap_or(self.config.unclean_leader_election_enable)
    }

    /// Metadata's copy of a partition's leader and ISR.
    pub fn update_partition_meta(&self, topic: &str, index: i32, state: &PartitionState) {
        if let Some(t) = self.topic(topic) {
            t.set_partition_meta(index, state.leader, state.leader_epoch, &state.isr);
        }
    }

    /// A state this broker read or wrote: metadata and the local replica follow it.
    pub fn apply_partition_state(&self, topic: &str, index: i32, state: &PartitionState, version: i32) {
        let Some(t) = self.topic(topic) else { return };
        t.set_partition_meta(index, state.leader, state.leader_epoch, &state.isr);
        let replicas = t
            .meta()
            .get(index as usize)
            .map(|m| m.replicas.clone())
            .unwrap_or_default();
        if let Some(partition) = t.partition(index) {
            self.apply_to_replica(partition, state, version, &replicas);
        }
    }

    pub(super) fn apply_to_replica(
        &self,
        partition: &Arc<Partition>,
        state: &PartitionState,
        version: i32,
        replicas: &[i32],
    ) {
        match partition.apply_state(state, version, replicas, now_ms()) {
            Transition::Unchanged => {}
            Transition::Leader => partition.set_fetcher(None),
            Transition::Follower(leader) => {
                let fetch = leader >= 0 && !self.shutting_down.load(Ordering::Acquire);
                match self.arc().filter(|_| fetch) {
                    Some(broker) => {
                        let handle = fetcher::spawn(broker, partition.clone(), leader, state.leader_epoch);
                        partition.set_fetcher(Some(handle));
                    }
                    None => partition.set_fetcher(None),
                }
            }
        }
    }

    /// Re-reads one partition's state znode and applies it.
    pub async fn refresh_partition_state(&self, topic: &str, index: i32) {
        match self.layout.partition_state(topic, index).await {
            Ok(Some((state, version))) => self.apply_partition_state(topic, index, &state, version),
            Ok(None) => {}
            Err(e) => tracing::debug!(topic, partition = index, error = %e, "cannot read partition state"),
        }
    }

    /// Reads the live brokers and every partition's state znode, and
    /// applies what changed (Metadata answers from both, so they move together).
    pub async fn sync_partition_states(&self) {
        self.refresh_cluster_view().await;
        for name in self.topic_names() {
            let Some(topic) = self.topic(&name) else { continue };
            for index in 0..topic.partition_count() as i32 {
                self.refresh_partition_state(&name, index).await;
            }
        }
    }

    /// High watermarks (and recovery points) of this broker's partitions,
    /// written per log dir in Kafka's checkpoint format.
    pub fn checkpoint_high_watermarks(&self) {
        let mut by_dir: BTreeMap<PathBuf, (Offsets, Offsets)> = BTreeMap::new();
        for dir in &self.config.log_dirs {
            by_dir.insert(dir.clone(), Default::default());
        }
        for partition in self.local_partitions() {
            if partition.is_deleted() {
                continue;
            }
            let dir = self.partition_dir(&partition.topic, partition.index);
            let Some(log_dir) = dir.parent().map(|p| p.to_path_buf()) else {
                continue;
            };
            let entry = by_dir.entry(log_dir).or_default();
            let key = (partition.topic.clone(), partition.index);
            entry.0.insert(key.clone(), partition.high_watermark());
            entry.1.insert(key, partition.recovery_point());
        }
        for (dir, (hws, recovery)) in by_dir {
            for (name, offsets) in [
                (checkpoint_file::HIGH_WATERMARK_FILE, &hws),
                (checkpoint_file::RECOVERY_POINT_FILE, &recovery),
            ] {
                if let Err(e) = checkpoint_file::write(&dir, name, offsets) {
                    tracing::warn!(dir = %dir.display(), file = name, error = %e, "cannot write checkpoint");
                }
            }
        }
    }

    /// The high watermark checkpointed for a partition when the broker started.
    pub(super) fn checkpointed_high_watermark(&self, topic: &str, index: i32) -> Option<i64> {
        let offsets = self.hw_checkpoint.lock().unwrap_or_else(|e| e.into_inner());
        offsets.get(&(topic.to_string(), index)).copied()
    }

    pub(super) fn load_high_watermark_checkpoints(&self) {
        let mut all = Offsets::new();
        for dir in &self.config.log_dirs {
            all.extend(checkpoint_file::read(dir, checkpoint_file::HIGH_WATERMARK_FILE));
        }
        *self.hw_checkpoint.lock().unwrap_or_else(|e| e.into_inner()) = all;
    }

    /// Controlled shutdown: leave `/brokers/ids` so the controller moves
    /// leadership to other ISR members, and wait (bounded) until no
    /// partition with another live ISR member is led here, so clients only
    /// see NOT_LEADER and retry elsewhere.
    pub async fn controlled_shutdown(&self, limit: Duration) {
        self.shutting_down.store(true, Ordering::Release);
        for partition in self.local_partitions() {
            if !partition.is_leader() {
                partition.set_fetcher(None);
            }
        }
        let id = self.config.broker_id;
        if self.is_controller() {
            let _ = self.layout.resign_controller(id).await;
            self.set_controller(false, self.controller_epoch());
        }
        if let Err(e) = self.layout.unregister_broker(id).await {
            tracing::warn!(error = %e, "controlled shutdown: cannot unregister");
            return;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.sync_partition_states().await;
            let waiting = self
                .local_partitions()
                .iter()
                .filter(|p| {
                    let state = p.replica_state();
                    matches!(state.role, Role::Leader(_)) && state.isr.iter().any(|r| *r != id)
                })
                .count();
            if waiting == 0 {
                tracing::info!("controlled shutdown: no partition led here has another in-sync replica");
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    waiting,
                    "controlled shutdown: leadership did not move in time; stopping anyway"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for partition in self.local_partitions() {
            partition.set_fetcher(None);
        }
    }
}
