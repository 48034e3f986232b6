//! One partition as this broker serves it: its log, high watermark, leader
//! epoch, idempotent-producer state and replica role. The log end offset
//! lives in the log; the high watermark trails it until the ISR has the
//! records (see `partition_replica.rs` for the leader and follower sides).

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::sync::{Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

use crate::log::{AppendInfo, LogConfig, LogError, PartitionLog};
use crate::protocol::ErrorCode;
use crate::records::{split_batches, to_legacy_entries, BatchHeader, RecordError, MAGIC_V2};

use crate::replica::{EpochCache, ReplicaState, Role};

use super::metrics::PartitionTraffic;
use super::partition_txns::{self, PartitionTxns, TxnBatch};
use super::producer_state::{ProducerStates, SequenceCheck};

/// The outcome of appending one produce request's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceOutcome {
    pub base_offset: i64,
    /// The last offset appended (-1 if nothing was: duplicates only).
    pub last_offset: i64,
    /// The leader epoch the batches were appended in.
    pub leader_epoch: i32,
    pub log_append_time: i64,
    pub log_start_offset: i64,
}

/// The log's figures as one consistent reading (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    pub size_bytes: u64,
    pub segments: usize,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

pub struct Partition {
    pub topic: String,
    pub index: i32,
    /// Bytes and records in (appended) and out (fetched), for metrics.
    pub traffic: PartitionTraffic,
    pub(super) log: RwLock<PartitionLog>,
    pub(super) high_watermark: AtomicI64,
    pub(super) leader_epoch: AtomicI32,
    pub(super) producers: Mutex<ProducerStates>,
    /// Open and aborted transactions. Lock order: `log`, then `txns`.
    pub(super) txns: Mutex<PartitionTxns>,
    /// The txn-scan-start checkpoint last written (-1: none).
    pub(super) txn_scan_written: AtomicI64,
    deleted: AtomicBool,
    /// Role, ISR and follower progress. Lock order: `log`, then `replica`.
    pub(super) replica: Mutex<ReplicaState>,
    pub(super) epochs: Mutex<EpochCache>,
    /// Bumped when the high watermark advances or the role changes, for
    /// acks=all produce requests waiting on it.
    pub(super) changes: watch::Sender<u64>,
    /// The follower fetch task, if this replica follows.
    pub(super) fetcher: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Locks that were poisoned by a panic elsewhere are still usable: the data
/// they guard is only changed through methods that keep it consistent.
pub(super) fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl Partition {
    /// Wraps an opened log, rebuilding idempotent-producer state from it.
    /// `checkpointed_hw` is the high watermark last written to
    /// replication-offset-checkpoint (none: the log end, as before replication).
    pub fn new(
        topic: &str,
        index: i32,
        log: PartitionLog,
        me: i32,
        checkpointed_hw: Option<i64>,
    ) -> Result<Partition, LogError> {
        let (producers, txns) = rebuild_producers(&log)?;
        let leo = log.log_end_offset();
        let epochs = EpochCache::load(log.dir());
        let hw = checkpointed_hw.unwrap_or(leo).clamp(log.log_start_offset(), leo);
        Ok(Partition {
            topic: topic.to_string(),
            index,
            traffic: PartitionTraffic::default(),
            log: RwLock::new(log),
            high_watermark: AtomicI64::new(hw),
            leader_epoch: AtomicI32::new(epochs.latest_epoch().unwrap_or(-1)),
            producers: Mutex::new(producers),
            txns: Mutex::new(txns),
            txn_scan_written: AtomicI64::new(-1),
            deleted: AtomicBool::new(false),
            replica: Mutex::new(ReplicaState::new(me)),
            epochs: Mutex::new(epochs),
            changes: watch::channel(0).0,
            fetcher: Mutex::new(None),
        })
    }
}

/// Idempotent-producer state from the log's active segment, and the
/// transaction state from the txn-scan-start checkpoint (or the active
/// segment) on, over the aborted transactions already on file.
pub(super) fn rebuild_producers(log: &PartitionLog) -> Result<(ProducerStates, PartitionTxns), LogError> {
    let mut producers = ProducerStates::default();
    let mut txns = PartitionTxns::default();
    txns.load_aborted(log.dir());
    txns.truncate(log.log_end_offset());
    // Only the active segment is scanned for producers, so start-up work
    // stays bounded by log.segment.bytes; a producer last seen before it is
    // treated as new (its next batch is accepted whatever its sequence).
    // Transactions open when the checkpoint was written start at or after it.
    let active_base = log.segment_base_offsets().last().copied().unwrap_or(0);
    let txn_from = partition_txns::read_scan_start(log.dir()).map_or(active_base, |s| s.min(active_base));
    let scan_from = txn_from.max(log.log_start_offset());
    let infos = if scan_from < log.log_end_offset() {
        log.batch_infos_from(scan_from)?
    } else {
        Vec::new()
    };
    for info in infos {
        if info.producer_id < 0 {
            continue;
        }
        txns.apply(TxnBatch {
            producer_id: info.producer_id,
            transactional: info.is_transactional(),
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            control: info.is_control().then(|| info.control_type.unwrap_or(-1)),
        });
        if info.is_control() {
            producers.record_marker(info.producer_id, info.producer_epoch);
        } else if info.base_offset >= active_base {
            producers.record(
                info.producer_id,
                info.producer_epoch,
                info.base_sequence,
                info.record_count,
                info.base_offset,
            );
        }
    }
    Ok((producers, txns))
}

impl Partition {
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn recovery_point(&self) -> i64 {
        read_lock(&self.log).recovery_point()
    }

    pub fn log_end_offset(&self) -> i64 {
        read_lock(&self.log).log_end_offset()
    }

    pub fn log_start_offset(&self) -> i64 {
        read_lock(&self.log).log_start_offset()
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn size_bytes(&self) -> u64 {
        read_lock(&self.log).size_bytes()
    }

    pub fn log_stats(&self) -> LogStats {
        let log = read_lock(&self.log);
        LogStats {
            size_bytes: log.size_bytes(),
            segments: log.segment_count(),
            log_start_offset: log.log_start_offset(),
            log_end_offset: log.log_end_offset(),
        }
    }

    /// Appends validated v2 batches (offsets are stamped in place), checking
    /// idempotent sequences first. All batches of one request are appended
    /// under one lock so their offsets are contiguous.
    /// Only the leader appends; `min_insync` (acks=all) refuses the write
    /// before appending when the ISR is smaller (NOT_ENOUGH_REPLICAS).
    ///
    /// `storage_magic` below 2 (the topic's `message.format.version` is before
    /// 0.11) re-encodes each batch as magic 0/1 messages at the log end offset
    /// (the handler has refused what that format cannot hold).
    pub fn append(
        &self,
        batches: Vec<Vec<u8>>,
        headers: &[BatchHeader],
        min_insync: Option<usize>,
        storage_magic: i8,
    ) -> Result<ProduceOutcome, ErrorCode> {
        let mut log = write_lock(&self.log);
        let leader_epoch = self.epoch_to_append(min_insync)?;
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        let mut first: Option<(i64, i64)> = None;
        let mut last_offset = -1;
        for (mut batch, header) in batches.into_iter().zip(headers) {
            let idempotent = header.producer_id >= 0;
            if idempotent {
                match producers.check(
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence,
                    header.record_count,
                ) {
                    SequenceCheck::Append => {}
                    SequenceCheck::Duplicate { base_offset } => {
                        first.get_or_insert((base_offset, -1));
                        // A retry of a batch that may not be committed yet:
                        // acks=all still waits for it.
                        last_offset = last_offset.max(base_offset + i64::from(header.last_offset_delta));
                        continue;
                    }
                    SequenceCheck::Reject(code) => {
                        tracing::info!(
                            topic = %self.topic, partition = self.index, producer_id = header.producer_id,
                            producer_epoch = header.producer_epoch, base_sequence = header.base_sequence,
                            records = header.record_count, ?code, "idempotent batch refused"
                        );
                        return Err(code);
                    }
                }
            }
            if header.is_transactional() {
                self.ensure_txn_checkpoint(&log);
            }
            let info = if storage_magic < MAGIC_V2 {
                self.append_legacy(&mut log, &batch, storage_magic)?
            } else {
                // The epoch is outside the CRC; the batch was validated already.
                let _ = crate::records::set_partition_leader_epoch(&mut batch, leader_epoch);
                let info = log.append(&mut batch).map_err(|e| {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
                    ErrorCode::KafkaStorageError
                })?;
                // Counted per batch as it lands, so a failure part-way through
                // still counts what was written (and duplicates never are).
                let records = u64::try_from(header.record_count).unwrap_or(0);
                self.traffic.record_in(batch.len() as u64, records);
                info
            };
            if idempotent {
                producers.record(
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence,
                    header.record_count,
                    info.base_offset,
                );
            }
            if header.is_transactional() {
                let stored = BatchHeader {
                    base_offset: info.base_offset,
                    ..*header
                };
                self.lock_txns().apply(TxnBatch::of(&stored, None));
            }
            first.get_or_insert((info.base_offset, info.log_append_time));
            last_offset = info.last_offset;
        }
        let leo = log.log_end_offset();
        self.leader_appended(leo);
        let (base_offset, log_append_time) = first.unwrap_or((leo, -1));
        Ok(ProduceOutcome {
            base_offset,
            last_offset,
            leader_epoch,
            log_append_time,
            log_start_offset: log.log_start_offset(),
        })
    }

    /// The leader epoch to append in (called under the log's write lock):
    /// only a leader appends, and with `min_insync` (acks=all) only while
    /// the ISR is that large (NOT_ENOUGH_REPLICAS).
    pub(super) fn epoch_to_append(&self, min_insync: Option<usize>) -> Result<i32, ErrorCode> {
        if self.is_deleted() {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        let replica = self.lock_replica();
        if !matches!(replica.role, Role::Leader(_)) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        if min_insync.is_some_and(|min| replica.isr.len() < min) {
            return Err(ErrorCode::NotEnoughReplicas);
        }
        Ok(replica.leader_epoch)
    }

    /// One produced v2 batch stored as magic 0/1 messages from the log end
    /// offset on (Kafka's down-conversion on append for an old
    /// `message.format.version`); returns the span appended.
    fn append_legacy(&self, log: &mut PartitionLog, batch: &[u8], magic: i8) -> Result<AppendInfo, ErrorCode> {
        let entries = to_legacy_entries(batch, log.log_end_offset(), magic).map_err(|e| {
            tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "conversion to magic {magic} failed");
            match e {
                RecordError::UnsupportedCompression(_) => ErrorCode::UnsupportedCompressionType,
                RecordError::UnsupportedMagic(_) => ErrorCode::UnsupportedForMessageFormat,
                _ => ErrorCode::InvalidRecord,
            }
        })?;
        let now = crate::broker::now_ms();
        let mut span: Option<AppendInfo> = None;
        for item in split_batches(&entries) {
            let (header, entry) = item.map_err(|_| ErrorCode::CorruptMessage)?;
            let info = log.append_keeping_offsets(&mut entry.to_vec(), now).map_err(|e| {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "append failed");
                ErrorCode::KafkaStorageError
            })?;
            self.traffic
                .record_in(entry.len() as u64, u64::try_from(header.record_count).unwrap_or(0));
            span = Some(match span {
                None => info,
                Some(first) => AppendInfo {
                    last_offset: info.last_offset,
                    ..first
                },
            });
        }
        span.ok_or(ErrorCode::CorruptMessage)
    }

    /// Whole batches from the one containing `offset`, up to `max_bytes`
    /// (at least one batch), below the high watermark: what consumers see.
    pub fn read(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<Bytes, LogError> {
        let log = read_lock(&self.log);
        Ok(log
            .read_batches_below(offset, max_bytes, min_one_batch, self.high_watermark())?
            .data)
    }

    /// `read` up to the last stable offset (read_committed consumers).
    pub fn read_committed(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<Bytes, LogError> {
        let log = read_lock(&self.log);
        let upper = self.last_stable_offset();
        Ok(log.read_batches_below(offset, max_bytes, min_one_batch, upper)?.data)
    }

    /// As `read` but up to the log end: what followers copy.
    pub fn read_for_replica(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<Bytes, LogError> {
        let log = read_lock(&self.log);
        Ok(log.read_batches(offset, max_bytes, min_one_batch)?.data)
    }

    /// The first batch whose max timestamp is at or after `ts`.
    pub fn lookup_timestamp(&self, ts: i64) -> Result<Option<(i64, Bytes)>, LogError> {
        read_lock(&self.log).lookup_timestamp(ts)
    }

    pub fn flush(&self) -> Result<(), LogError> {
        write_lock(&self.log).flush()
    }

    pub fn maybe_flush(&self, now_ms: i64) -> Result<bool, LogError> {
        write_lock(&self.log).maybe_flush(now_ms)
    }

    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        write_lock(&self.log).enforce_retention(now_ms)
    }

    /// Removes segment files whose `file.delete.delay.ms` has passed.
    pub fn purge_deleted(&self, now_ms: i64) -> Result<usize, LogError> {
        write_lock(&self.log).purge_deleted(now_ms)
    }

    /// DeleteRecords: hides everything below `offset` (-1: the high
    /// watermark) and returns the new log start offset.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, ErrorCode> {
        let mut log = write_lock(&self.log);
        if self.is_deleted() {
            return Err(ErrorCode::UnknownTopicOrPartition);
        }
        if !self.is_leader() {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        let high_watermark = self.high_watermark();
        let target = if offset == -1 { high_watermark } else { offset };
        if target < 0 || target > high_watermark {
            return Err(ErrorCode::OffsetOutOfRange);
        }
        log.advance_log_start_offset(target).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "delete records failed");
            ErrorCode::KafkaStorageError
        })?;
        Ok(log.log_start_offset())
    }

    pub fn set_log_config(&self, config: LogConfig) {
        write_lock(&self.log).set_config(config)
    }

    /// Removes the partition's directory (topic deletion). Requests still
    /// holding this partition get UNKNOWN_TOPIC_OR_PARTITION from then on.
    pub fn delete_files(&self) -> std::io::Result<()> {
        let log = write_lock(&self.log);
        self.deleted.store(true, Ordering::Release);
        std::fs::remove_dir_all(log.dir())
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}
