//! The log cleaner threads (`log.cleaner.threads`): each wakes every
//! `log.cleaner.backoff.ms`, picks the local compacted partition most in
//! need (dirty ratio at least `min.cleanable.dirty.ratio`, a record older
//! than `max.compaction.lag.ms`, or tombstones whose `delete.retention.ms`
//! has passed) and runs one pass on it on a blocking thread (`log::cleaner`).
//! Where each partition's dirty section starts is kept in
//! `<log dir>/cleaner-offset-checkpoint`, as Kafka does.
//!
//! A pass that fails (corrupt data, an I/O error) marks its partition
//! uncleanable until the broker restarts, as Kafka does; the log itself
//! stays readable and writable.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::log::cleaner::{
    read_cleaner_offsets, run_pass, write_cleaner_offsets, CleanerOffsets, OffsetMap, PassOutcome, Throttle,
};
use crate::metrics::Counter;

use super::partition::{read_lock, write_lock, Partition};
use super::Broker;

type PartitionKey = (String, i32);

#[derive(Default)]
struct CleanerState {
    /// cleaner-offset-checkpoint of each log dir, as last read or written.
    checkpoints: HashMap<PathBuf, CleanerOffsets>,
    in_progress: HashSet<PartitionKey>,
    uncleanable: HashSet<PartitionKey>,
    /// When a pass could next remove kept tombstones.
    tombstones_due: HashMap<PartitionKey, i64>,
    /// Last computed dirty ratio of each local compacted partition.
    dirty_ratio: HashMap<PartitionKey, f64>,
}

/// The cleaner's shared state and counters (for `/metrics`).
#[derive(Default)]
pub struct LogCleaner {
    state: Mutex<CleanerState>,
    pub runs: Counter,
    pub bytes_read: Counter,
    pub bytes_written: Counter,
    pub records_removed: Counter,
}

/// A partition chosen for a pass, and why.
struct Candidate {
    partition: Arc<Partition>,
    checkpoint: Option<i64>,
    urgency: (bool, f64),
}

impl LogCleaner {
    fn lock(&self) -> std::sync::MutexGuard<'_, CleanerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Dirty ratios of local compacted partitions, for `/metrics`.
    pub fn dirty_ratios(&self) -> Vec<(PartitionKey, f64)> {
        let mut ratios: Vec<_> = self.lock().dirty_ratio.iter().map(|(k, v)| (k.clone(), *v)).collect();
        ratios.sort_by(|a, b| a.0.cmp(&b.0));
        ratios
    }

    pub fn uncleanable_count(&self) -> usize {
        self.lock().uncleanable.len()
    }

    fn checkpoint_of(state: &mut CleanerState, log_dir: &Path, key: &PartitionKey) -> Option<i64> {
        let offsets = state.checkpoints.entry(log_dir.to_path_buf()).or_insert_with(|| {
            read_cleaner_offsets(log_dir).unwrap_or_else(|e| {
                tracing::warn!(dir = %log_dir.display(), error = %e, "cannot read the cleaner checkpoint");
                CleanerOffsets::new()
            })
        });
        offsets.get(key).copied()
    }

    /// The local compacted partition most in need of a pass, if any.
    fn choose(&self, broker: &Broker, now_ms: i64) -> Option<Candidate> {
        let mut state = self.lock();
        let mut best: Option<Candidate> = None;
        let mut seen = HashSet::new();
        for partition in broker.local_partitions() {
            let key = (partition.topic.clone(), partition.index);
            let log = read_lock(&partition.log);
            if !log.config().compact || partition.is_deleted() {
                continue;
            }
            seen.insert(key.clone());
            let log_dir = log.dir().parent().map(Path::to_path_buf).unwrap_or_default();
            // A checkpoint past the end belongs to an earlier log of this
            // name (the topic was recreated): start from the beginning.
            let checkpoint =
                Self::checkpoint_of(&mut state, &log_dir, &key).filter(|&offset| offset <= log.log_end_offset());
            // Nothing above the last stable offset: open transactions are undecided.
            let summary = match log.cleanable_summary(checkpoint, partition.last_stable_offset(), now_ms) {
                Ok(summary) => summary,
                Err(e) => {
                    tracing::warn!(topic = %key.0, partition = key.1, error = %e, "cannot measure the log for cleaning");
                    continue;
                }
            };
            let ratio = summary.dirty_ratio();
            state.dirty_ratio.insert(key.clone(), ratio);
            if state.in_progress.contains(&key) || state.uncleanable.contains(&key) {
                continue;
            }
            let dirty = summary.dirty_bytes > 0;
            let overdue = dirty && summary.max_lag_overdue;
            let tombstones = state.tombstones_due.get(&key).is_some_and(|&due| due <= now_ms);
            let ratio_due = dirty && ratio >= log.config().min_cleanable_dirty_ratio;
            if !(overdue || tombstones || ratio_due) {
                continue;
            }
            let urgency = (overdue, ratio);
            if best.as_ref().is_none_or(|b| urgency > b.urgency) {
                drop(log);
                best = Some(Candidate {
                    partition: partition.clone(),
                    checkpoint,
                    urgency,
                });
            }
        }
        state.dirty_ratio.retain(|key, _| seen.contains(key));
        if let Some(candidate) = &best {
            state
                .in_progress
                .insert((candidate.partition.topic.clone(), candidate.partition.index));
        }
        best
    }

    /// Cleans the neediest partition, if one is due; returns whether a pass ran.
    pub fn clean_one(&self, broker: &Broker, throttle: &mut Option<Throttle>, map_capacity: usize) -> bool {
        let now_ms = super::now_ms();
        let Some(candidate) = self.choose(broker, now_ms) else {
            return false;
        };
        let partition = &candidate.partition;
        let key = (partition.topic.clone(), partition.index);
        let started = std::time::Instant::now();
        let result = (|| {
            let (job, log_dir) = {
                let log = read_lock(&partition.log);
                let summary = log.cleanable_summary(candidate.checkpoint, partition.last_stable_offset(), now_ms)?;
                let log_dir = log.dir().parent().map(Path::to_path_buf).unwrap_or_default();
                let mut job = log.prepare_clean(&summary)?;
                job.aborted = partition
                    .aborted_between(i64::MIN, i64::MAX)
                    .iter()
                    .map(|a| (a.producer_id, a.first_offset, a.last_offset))
                    .collect();
                (job, log_dir)
            };
            let outcome = run_pass(&job, map_capacity, now_ms, throttle, |group| {
                write_lock(&partition.log).swap_cleaned(group)
            })?;
            Ok::<_, crate::log::LogError>((outcome, log_dir))
        })();
        let mut state = self.lock();
        state.in_progress.remove(&key);
        match result {
            Ok((outcome, log_dir)) => {
                self.count(&outcome);
                match outcome.tombstone_due_ms {
                    Some(due) => state.tombstones_due.insert(key.clone(), due),
                    None => state.tombstones_due.remove(&key),
                };
                let live: HashSet<PartitionKey> = broker
                    .local_partitions()
                    .iter()
                    .map(|p| (p.topic.clone(), p.index))
                    .collect();
                let offsets = state.checkpoints.entry(log_dir.clone()).or_default();
                offsets.insert(key.clone(), outcome.next_first_dirty);
                offsets.retain(|k, _| live.contains(k));
                if let Err(e) = write_cleaner_offsets(&log_dir, offsets) {
                    tracing::warn!(dir = %log_dir.display(), error = %e, "cannot write the cleaner checkpoint");
                }
                tracing::info!(
                    topic = %key.0, partition = key.1, elapsed_ms = started.elapsed().as_millis() as u64,
                    bytes_read = outcome.stats.bytes_read, bytes_written = outcome.stats.bytes_written,
                    records_removed = outcome.stats.records_removed, groups = outcome.groups_swapped,
                    abandoned = outcome.groups_abandoned, next_first_dirty = outcome.next_first_dirty,
                    "cleaned partition"
                );
            }
            Err(e) if partition.is_deleted() => {
                tracing::debug!(topic = %key.0, partition = key.1, error = %e, "partition deleted while being cleaned");
            }
            Err(e) => {
                tracing::error!(topic = %key.0, partition = key.1, error = %e, "cleaning failed: the partition is marked uncleanable until restart");
                state.uncleanable.insert(key);
            }
        }
        true
    }

    fn count(&self, outcome: &PassOutcome) {
        self.runs.inc();
        self.bytes_read.add(outcome.stats.bytes_read);
        self.bytes_written.add(outcome.stats.bytes_written);
        self.records_removed.add(outcome.stats.records_removed);
    }
}

/// A cleaner setting: the dynamic broker config's value (kafka-configs
/// --alter on the broker or its default), else the file's.
fn setting<T: std::str::FromStr>(broker: &Broker, key: &str, file_value: T) -> T {
    broker
        .dynamic_config()
        .get(key)
        .and_then(|(value, _)| value.trim().parse::<T>().ok())
        .unwrap_or(file_value)
}

/// One cleaner thread: a pass whenever one is due, else a nap of
/// `log.cleaner.backoff.ms`.
pub(super) async fn cleaner_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let threads = broker.config.log_cleaner_threads.max(1);
    loop {
        let config = &broker.config;
        let buffer = setting(
            &broker,
            "log.cleaner.dedupe.buffer.size",
            config.log_cleaner_dedupe_buffer_size,
        );
        let map_capacity = OffsetMap::capacity_for(buffer / threads as u64);
        let rate = setting(
            &broker,
            "log.cleaner.io.max.bytes.per.second",
            config.log_cleaner_io_max_bytes_per_second,
        );
        let rate = rate / threads as f64;
        let backoff = setting(&broker, "log.cleaner.backoff.ms", config.log_cleaner_backoff_ms);
        let worker = broker.clone();
        let ran = tokio::task::spawn_blocking(move || {
            // A throttle per pass: idle time between passes is no credit.
            worker
                .cleaner
                .clean_one(&worker, &mut Throttle::new(rate), map_capacity)
        });
        let ran = tokio::select! {
            _ = shutdown.changed() => return,
            ran = ran => ran.unwrap_or(false),
        };
        if ran && !*shutdown.borrow() {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(backoff.max(10))) => {}
        }
    }
}
