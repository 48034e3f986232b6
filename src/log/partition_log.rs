//! The per-partition log: one active segment taking appends and sealed segments
//! keyed by base offset, with Kafka's roll, flush, retention and truncation rules.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::iter;
use std::mem;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::batch_header::{parse_header, set_base_offset, total_size, BatchHeader};
use super::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use super::config::{LogConfig, MAX_RELATIVE_OFFSET};
use super::error::{io_error, LogError};
use super::recovery;
use super::scanner::{ScanDepth, Scanned};
use super::segment::Segment;
use crate::records::MAGIC_V2;

/// Header scans while serving reads: large enough to cover many small batches per syscall.
const READ_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// Wall-clock ms when appended (the clock passed to `append_at`).
    pub log_append_time: i64,
    /// Byte position of the batch in its segment file.
    pub position: u64,
}

#[derive(Clone, Debug)]
pub struct ReadResult {
    /// Whole batches, exactly as stored.
    pub data: Bytes,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

/// The header fields of one stored batch (for rebuilding producer and epoch state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
    pub partition_leader_epoch: i32,
    pub attributes: i16,
    /// For a control batch (transaction marker), its record's type:
    /// 0 abort, 1 commit (filled in by `batch_infos_from`).
    pub control_type: Option<i16>,
}

impl BatchInfo {
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }
}

impl From<&BatchHeader> for BatchInfo {
    fn from(header: &BatchHeader) -> Self {
        BatchInfo {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            record_count: header.record_count,
            partition_leader_epoch: header.partition_leader_epoch,
            attributes: header.attributes,
            control_type: None,
        }
    }
}

/// The type of a control batch's record: the key's second i16 (0 abort,
/// 1 commit), or `None` if the batch cannot be read.
pub fn control_record_type(batch: &[u8]) -> Option<i16> {
    let (_, records) = crate::records::decode_batch_records(batch).ok()?;
    let key = records.first()?.key.as_ref()?;
    (key.len() >= 4).then(|| i16::from_be_bytes([key[2], key[3]]))
}

pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    pub(super) sealed: BTreeMap<i64, Segment>,
    active: Segment,
    log_start_offset: i64,
    /// Everything below this offset has been fsynced.
    recovery_point: i64,
    /// What the recovery-point file holds, if it exists.
    persisted_recovery_point: Option<i64>,
    last_flush_ms: i64,
    /// Segment files were created or deleted since the directory was last fsynced.
    dir_changed: bool,
    /// Set by a failed write or fsync: the files may not match memory any more.
    poisoned: bool,
    /// Subtracted from `segment_ms` for the active segment (segment.jitter.ms),
    /// drawn when it was created so partitions do not all roll at once.
    roll_jitter_ms: i64,
    /// `.deleted` files and when they may be removed (file.delete.delay.ms).
    pending_deletion: Vec<(PathBuf, i64)>,
}

impl fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionLog")
            .field("dir", &self.dir)
            .field("log_start_offset", &self.log_start_offset)
            .field("log_end_offset", &self.log_end_offset())
            .field("segments", &(self.sealed.len() + 1))
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

/// Kafka's `randomSegmentJitter`: uniform in [0, min(jitter, segment_ms)).
fn random_roll_jitter(config: &LogConfig) -> i64 {
    let (jitter_ms, segment_ms) = (config.segment_jitter_ms, config.segment_ms);
    let bound = jitter_ms.min(segment_ms);
    if bound <= 0 {
        0
    } else {
        rand::Rng::gen_range(&mut rand::thread_rng(), 0..bound)
    }
}

impl PartitionLog {
    /// Opens `dir` (creating it if absent) and recovers it: segments that may hold
    /// unflushed data are validated batch by batch and truncated at a torn or
    /// corrupt tail; missing or damaged indexes are rebuilt; stray files removed.
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, LogError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        super::cleaner::complete_interrupted_swaps(dir)?;
        let bases = recovery::list_segment_bases(dir)?;
        let checkpointed_start = checkpoint::read_offset(dir, LOG_START_OFFSET_FILE)?;
        let checkpointed_recovery = checkpoint::read_offset(dir, RECOVERY_POINT_FILE)?;
        let mut segments = recovery::load_segments(dir, &bases, checkpointed_recovery, config.index_interval_bytes)?;
        let mut active = match segments.pop() {
            Some(active) => active,
            None => new_segment(dir, checkpointed_start.unwrap_or(0), &config)?,
        };
        active.init_roll_base()?;
        let sealed: BTreeMap<i64, Segment> = segments
            .into_iter()
            .map(|segment| (segment.base_offset, segment))
            .collect();
        let first_base = sealed.keys().next().copied().unwrap_or(active.base_offset);
        let log_end_offset = active.next_offset();
        let log_start_offset = checkpointed_start
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end_offset);
        let recovery_point = checkpointed_recovery
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end_offset);
        // Checkpoints past the end (data lost below them) must come down now: once
        // the log grows back, a stale start would hide records and a stale recovery
        // point would let the next open trust unflushed segments.
        if checkpointed_start.is_some_and(|checkpointed| checkpointed > log_start_offset) {
            checkpoint::write_offset(dir, LOG_START_OFFSET_FILE, log_start_offset)?;
        }
        let mut persisted_recovery_point = checkpointed_recovery;
        if checkpointed_recovery.is_some_and(|checkpointed| checkpointed > recovery_point) {
            checkpoint::write_offset(dir, RECOVERY_POINT_FILE, recovery_point)?;
            persisted_recovery_point = Some(recovery_point);
        }
        tracing::debug!(dir = %dir.display(), segments = sealed.len() + 1, log_start_offset, log_end_offset, "opened partition log");
        let roll_jitter_ms = random_roll_jitter(&config);
        Ok(PartitionLog {
            dir: dir.to_path_buf(),
            config,
            sealed,
            active,
            log_start_offset,
            recovery_point,
            persisted_recovery_point,
            last_flush_ms: wall_clock_ms(),
            // Recovery may have created, truncated or removed files.
            dir_changed: true,
            poisoned: false,
            roll_jitter_ms,
            pending_deletion: Vec::new(),
        })
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active.next_offset()
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments().map(|segment| segment.size).sum()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Base offsets of all segments, oldest first (the last one is active).
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().map(|segment| segment.base_offset).collect()
    }

    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// Everything below this offset has been fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// True after a failed write or fsync: appends are refused until reopened.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Offsets appended since the last flush (Kafka: log end offset - recovery point).
    pub fn unflushed_messages(&self) -> u64 {
        u64::try_from(self.log_end_offset() - self.recovery_point).unwrap_or(0)
    }

    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.sealed.values().chain(iter::once(&self.active))
    }

    /// Segments that hold data at or after `offset`, oldest first.
    /// The segments to read from `offset` on, each with the position to start
    /// at: the batch containing `offset` in the first, the beginning in the rest.
    fn positions_from(&self, offset: i64) -> Result<Vec<(&Segment, u64)>, LogError> {
        let mut out = Vec::new();
        for segment in self.segments_from(offset) {
            if out.is_empty() {
                match segment.locate(offset)? {
                    Some((position, _)) => out.push((segment, position)),
                    None => continue,
                }
            } else {
                out.push((segment, 0));
            }
        }
        Ok(out)
    }

    fn segments_from(&self, offset: i64) -> impl Iterator<Item = &Segment> {
        let from = self
            .sealed
            .range(..=offset)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        self.sealed
            .range(from..)
            .map(|(_, segment)| segment)
            .chain(iter::once(&self.active))
            .filter(move |segment| segment.next_offset() > offset)
    }

    fn check_in_range(&self, offset: i64) -> Result<(), LogError> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        if offset < start || offset > end {
            return Err(LogError::OffsetOutOfRange { offset, start, end });
        }
        Ok(())
    }

    /// Marks the log unusable for writes after an I/O failure: the files may now
    /// hold a partial batch, so appending after it would bury garbage mid-log.
    fn poison_on_io<T>(&mut self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(error @ LogError::Io { .. }) = &result {
            tracing::error!(dir = %self.dir.display(), %error, "partition log poisoned by an I/O failure");
            self.poisoned = true;
        }
        result
    }

    fn ensure_writable(&self) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        Ok(())
    }

    /// Appends one already-validated v2 batch at the log end offset (stamped into
    /// its first 8 bytes), rolling first and flushing after as the config says.
    pub fn append(&mut self, batch: &mut [u8]) -> Result<AppendInfo, LogError> {
        self.append_at(batch, wall_clock_ms())
    }

    /// `append` with the caller's clock, which drives rolling by time and is
    /// reported as the log append time.
    pub fn append_at(&mut self, batch: &mut [u8], now_ms: i64) -> Result<AppendInfo, LogError> {
        self.ensure_writable()?;
        let mut header = parse_header(batch).map_err(LogError::InvalidBatch)?;
        if header.magic < MAGIC_V2 {
            return Err(LogError::InvalidBatch(
                "a legacy message carries its offsets: append it with append_keeping_offsets".to_string(),
            ));
        }
        if total_size(&header) != batch.len() as u64 {
            return Err(LogError::InvalidBatch(format!(
                "batchLength implies {} bytes but the batch has {}",
                total_size(&header),
                batch.len()
            )));
        }
        header.base_offset = self.log_end_offset();
        if header
            .base_offset
            .checked_add(i64::from(header.last_offset_delta))
            .is_none()
        {
            return Err(LogError::InvalidBatch("offsets would overflow".to_string()));
        }
        let result = self.write_batch(batch, &header, now_ms);
        self.poison_on_io(result)
    }

    /// Appends a batch copied from the leader, keeping its offsets. Its base
    /// offset may lie past this log's end: a compacted leader log has gaps
    /// where the cleaner removed whole batches.
    pub fn append_replica(&mut self, batch: &mut [u8]) -> Result<AppendInfo, LogError> {
        self.append_with_offsets(batch, wall_clock_ms(), true)
    }

    /// Appends a batch or legacy message whose offsets are already right (a
    /// replica's copy, or a produce re-encoded at magic 0/1 from the log end
    /// offset): it must start at the log end offset.
    pub fn append_keeping_offsets(&mut self, batch: &mut [u8], now_ms: i64) -> Result<AppendInfo, LogError> {
        self.append_with_offsets(batch, now_ms, false)
    }

    fn append_with_offsets(
        &mut self,
        batch: &mut [u8],
        now_ms: i64,
        gaps_allowed: bool,
    ) -> Result<AppendInfo, LogError> {
        self.ensure_writable()?;
        let header = parse_header(batch).map_err(LogError::InvalidBatch)?;
        if total_size(&header) != batch.len() as u64 {
            return Err(LogError::InvalidBatch(
                "batchLength does not match the batch".to_string(),
            ));
        }
        let continues = if gaps_allowed {
            header.base_offset >= self.log_end_offset()
        } else {
            header.base_offset == self.log_end_offset()
        };
        if !continues || header.last_offset_delta < 0 {
            return Err(LogError::InvalidBatch(format!(
                "replicated batch at offset {} does not continue the log ending at {}",
                header.base_offset,
                self.log_end_offset()
            )));
        }
        let result = self.write_batch(batch, &header, now_ms);
        self.poison_on_io(result)
    }

    fn write_batch(&mut self, batch: &mut [u8], header: &BatchHeader, now_ms: i64) -> Result<AppendInfo, LogError> {
        if self.should_roll(header, now_ms) {
            self.roll()?;
        }
        if header.magic >= MAGIC_V2 {
            set_base_offset(batch, header.base_offset);
        }
        let position = self
            .active
            .append(batch, header, now_ms, self.config.index_interval_bytes)?;
        if self.unflushed_messages() >= self.config.flush_interval_messages {
            self.flush_segments(now_ms)?;
        }
        Ok(AppendInfo {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            log_append_time: now_ms,
            position,
        })
    }

    fn should_roll(&self, header: &BatchHeader, now_ms: i64) -> bool {
        let active = &self.active;
        if active.is_empty() {
            return false; // a batch larger than segment_bytes still needs a home
        }
        let too_big = active.size + total_size(header) > self.config.effective_segment_bytes();
        let too_old = self.config.segment_ms > 0
            && active
                .roll_base_ms
                .is_some_and(|since| now_ms.saturating_sub(since) > self.config.segment_ms - self.roll_jitter_ms);
        let offsets_too_far = header.last_offset() - active.base_offset > MAX_RELATIVE_OFFSET;
        let indexes_full = self.config.indexes_full(
            active.state.offset_index.entries().len(),
            active.state.time_index.entries().len(),
        );
        too_big || too_old || offsets_too_far || indexes_full
    }

    fn roll(&mut self) -> Result<(), LogError> {
        self.active.seal()?;
        let next = new_segment(&self.dir, self.log_end_offset(), &self.config)?;
        let sealed = mem::replace(&mut self.active, next);
        self.roll_jitter_ms = random_roll_jitter(&self.config);
        tracing::debug!(dir = %self.dir.display(), base_offset = self.active.base_offset, "rolled a new segment");
        self.sealed.insert(sealed.base_offset, sealed);
        self.dir_changed = true;
        Ok(())
    }

    /// Whole batches from the one containing `offset`, while the total stays within
    /// `max_bytes` but always at least one (KIP-74), continuing across segments.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, LogError> {
        self.read_batches(offset, max_bytes, true)
    }

    /// `read`, where `min_one_batch: false` returns nothing rather than a first batch
    /// larger than `max_bytes` (Kafka's minOneMessage, false for all but the first
    /// partition of a fetch response).
    pub fn read_batches(&self, offset: i64, max_bytes: usize, min_one_batch: bool) -> Result<ReadResult, LogError> {
        self.read_batches_below(offset, max_bytes, min_one_batch, i64::MAX)
    }

    /// `read_batches` that stops at the first batch starting at or after
    /// `upper` (the high watermark, for consumers of a replicated partition).
    pub fn read_batches_below(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        upper: i64,
    ) -> Result<ReadResult, LogError> {
        self.check_in_range(offset)?;
        let mut spans: Vec<(&Segment, u64, u64)> = Vec::new();
        let mut total: u64 = 0;
        let mut budget_exhausted = false;
        for (segment, start) in self.positions_from(offset)? {
            let mut end = start;
            let mut scanner = segment.scanner(start, READ_CHUNK_BYTES);
            loop {
                match scanner.next_batch(ScanDepth::Header)? {
                    Scanned::Batch { header, .. } => {
                        if header.base_offset >= upper {
                            budget_exhausted = true;
                            break;
                        }
                        let size = total_size(&header);
                        if (total > 0 || !min_one_batch) && total + size > max_bytes as u64 {
                            budget_exhausted = true;
                            break;
                        }
                        total += size;
                        end += size;
                    }
                    Scanned::Invalid { position, reason } => return Err(segment.corrupt(position, &reason)),
                    Scanned::End => break,
                }
            }
            if end > start {
                spans.push((segment, start, end));
            }
            if budget_exhausted {
                break;
            }
        }
        let mut data = vec![0u8; total as usize];
        let mut filled = 0;
        for (segment, start, end) in spans {
            let len = (end - start) as usize;
            segment.read_exact_at(&mut data[filled..filled + len], start)?;
            filled += len;
        }
        Ok(ReadResult {
            data: Bytes::from(data),
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset(),
        })
    }

    /// The first batch (at or after the log start) whose maxTimestamp >= `timestamp`:
    /// its base offset and bytes, so the caller can pick the exact record.
    pub fn lookup_timestamp(&self, timestamp: i64) -> Result<Option<(i64, Bytes)>, LogError> {
        for segment in self.segments_from(self.log_start_offset) {
            if let Some((position, header)) = segment.find_by_timestamp(timestamp, self.log_start_offset)? {
                let mut bytes = vec![0u8; total_size(&header) as usize];
                segment.read_exact_at(&mut bytes, position)?;
                return Ok(Some((header.base_offset, Bytes::from(bytes))));
            }
        }
        Ok(None)
    }

    /// Headers of every batch from the one containing `offset` to the end.
    pub fn batch_infos_from(&self, offset: i64) -> Result<Vec<BatchInfo>, LogError> {
        self.check_in_range(offset)?;
        let mut infos = Vec::new();
        for (segment, start) in self.positions_from(offset)? {
            let mut scanner = segment.scanner(start, READ_CHUNK_BYTES);
            loop {
                match scanner.next_batch(ScanDepth::Header)? {
                    Scanned::Batch { header, position } => {
                        let mut info = BatchInfo::from(&header);
                        if header.is_control() && header.magic >= MAGIC_V2 {
                            let mut bytes = vec![0u8; total_size(&header) as usize];
                            segment.read_exact_at(&mut bytes, position)?;
                            info.control_type = control_record_type(&bytes);
                        }
                        infos.push(info);
                    }
                    Scanned::Invalid { position, reason } => return Err(segment.corrupt(position, &reason)),
                    Scanned::End => break,
                }
            }
        }
        Ok(infos)
    }
}

// Flushing, retention, truncation and deletion.
mod maintenance;
// Log compaction: dirtiness, the snapshot a pass reads, the swap.
mod cleaning;
#[cfg(test)]
mod tests;

/// A fresh empty segment, preallocated when the config asks.
pub(super) fn new_segment(dir: &Path, base_offset: i64, config: &LogConfig) -> Result<Segment, LogError> {
    let mut segment = Segment::create(dir, base_offset)?;
    if config.preallocate {
        segment.preallocate(config.effective_segment_bytes())?;
    }
    Ok(segment)
}
