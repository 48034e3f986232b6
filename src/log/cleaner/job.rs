//! One cleaning pass over one partition, Kafka's algorithm: map every key of
//! the dirty section to its latest offset, then copy the log from its start
//! through the mapped part into new segments, keeping a record unless a later
//! record has its key, it has no key, or it is a tombstone past
//! `delete.retention.ms`. Sealed segments never change, so the pass reads
//! them through its own file handles without holding the log's lock; only
//! the swap that installs each cleaned group takes it (`swap_cleaned`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::log::batch_header::parse_header;
use crate::log::config::MAX_RELATIVE_OFFSET;
use crate::log::error::{io_error, LogError};
use crate::log::scanner::{BatchScanner, ScanDepth, Scanned};
use crate::log::segment::{segment_file_name, IndexState, LOG_SUFFIX};
use crate::records::{decode_batch_records, rebuild_batch, BatchHeader, Record, MAGIC_V2};

use super::offset_map::OffsetMap;
use super::throttle::{pace, Throttle};

/// Suffix of a cleaned segment being written (deleted if found at start-up).
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix of a cleaned segment ready to replace its sources (completed at start-up).
pub const SWAP_SUFFIX: &str = ".swap";

/// Large sequential reads: a pass reads whole segments.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// A sealed segment as the pass sees it: its own handle on the file.
#[derive(Debug)]
pub struct SourceSegment {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u64,
    /// Last write (file mtime): how old its tombstones are.
    pub modified_ms: i64,
    pub file: File,
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanStats {
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_removed: u64,
}

impl CleanStats {
    pub fn add(&mut self, other: CleanStats) {
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.records_removed += other.records_removed;
    }
}

/// A group of source segments rewritten into one `<base>.log.cleaned` file,
/// ready for `PartitionLog::swap_cleaned`.
#[derive(Debug)]
pub struct CleanedGroup {
    pub base_offset: i64,
    /// `(base offset, size, next offset)` of each source, to check at swap
    /// time that nothing changed them meanwhile.
    pub sources: Vec<(i64, u64, i64)>,
    pub file: File,
    pub path: PathBuf,
    pub size: u64,
    pub(crate) state: IndexState,
    /// When the earliest tombstone kept here may be removed.
    pub tombstone_due_ms: Option<i64>,
}

impl CleanedGroup {
    /// Removes the unused `.cleaned` file (the swap was abandoned).
    pub fn discard(self) {
        let CleanedGroup { file, path, .. } = self;
        drop(file);
        if let Err(error) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), %error, "cannot remove an abandoned cleaned segment");
        }
    }
}

/// What a pass works on, taken from the log under its lock by `prepare_clean`.
#[derive(Debug)]
pub struct CleanJob {
    pub dir: PathBuf,
    /// The sealed segments from the log start to the first uncleanable offset.
    pub segments: Vec<SourceSegment>,
    pub first_dirty: i64,
    pub first_uncleanable: i64,
    pub segment_bytes: u64,
    pub index_interval: u32,
    pub delete_retention_ms: i64,
    /// Aborted transactions (producer id, first offset, marker offset): their
    /// data never supersedes anything and is removed.
    pub aborted: Vec<(i64, i64, i64)>,
}

impl CleanJob {
    fn is_aborted(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.aborted.iter().any(|&(pid, first, last)| {
                pid == header.producer_id && first <= header.base_offset && header.base_offset <= last
            })
    }
}

/// How one batch fares.
enum Verdict {
    Keep,
    Drop,
    Rewrite(Vec<u8>),
}

/// The rule for one record. `end`: the map covers `[first_dirty, end)`, so a
/// record at or past it is kept (Kafka's "past the latest offset" rule).
fn retain(record: &Record, map: &OffsetMap, end: i64, remove_tombstones: bool) -> bool {
    if record.offset >= end {
        return true;
    }
    let Some(key) = &record.key else {
        return false; // a compacted log has no use for records without a key
    };
    if map.get(key).is_some_and(|latest| record.offset < latest) {
        return false;
    }
    !(record.value.is_none() && remove_tombstones)
}

impl CleanJob {
    fn scan<'a>(segment: &'a SourceSegment) -> BatchScanner<'a> {
        BatchScanner::new(&segment.file, &segment.path, 0, segment.size, READ_CHUNK_BYTES)
    }

    fn corrupt(segment: &SourceSegment, position: u64, reason: &str) -> LogError {
        LogError::Corrupt(format!("{} at position {position}: {reason}", segment.path.display()))
    }

    /// Calls `visit` with each CRC-checked batch of `segment` (its position,
    /// header and bytes) until it returns `Some`, which is returned.
    fn each_batch<T>(
        segment: &SourceSegment,
        mut visit: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<Option<T>, LogError>,
    ) -> Result<Option<T>, LogError> {
        let mut scanner = Self::scan(segment);
        loop {
            let (position, header) = match scanner.next_batch(ScanDepth::WholeBatch)? {
                Scanned::Batch { position, header } => (position, header),
                Scanned::Invalid { position, reason } => return Err(Self::corrupt(segment, position, &reason)),
                Scanned::End => return Ok(None),
            };
            if let Some(done) = visit(position, &header, scanner.whole_batch(position, &header))? {
                return Ok(Some(done));
            }
        }
    }

    /// Maps the keys of the dirty section, segment by segment, until the map
    /// is full or the section ends. Returns the end of what was mapped: the
    /// first offset whose key is not in the map.
    pub fn build_offset_map(
        &self,
        map: &mut OffsetMap,
        throttle: &mut Option<Throttle>,
        stats: &mut CleanStats,
    ) -> Result<i64, LogError> {
        let mut end = self.first_dirty;
        for segment in self.segments.iter().filter(|s| s.next_offset > self.first_dirty) {
            let offsets = (segment.next_offset - segment.base_offset.max(self.first_dirty)).max(0) as u64;
            if !map.is_empty() && !map.has_room_for(offsets) {
                // Whole segments only once the map holds something: the next
                // pass starts from here.
                return Ok(end);
            }
            let full = Self::each_batch(segment, |position, header, bytes| {
                stats.bytes_read += bytes.len() as u64;
                pace(throttle, bytes.len() as u64);
                if header.is_control() || header.last_offset() < self.first_dirty || self.is_aborted(header) {
                    return Ok(None);
                }
                let (_, records) =
                    decode_batch_records(bytes).map_err(|e| Self::corrupt(segment, position, &e.to_string()))?;
                for record in records.iter().filter(|r| r.offset >= self.first_dirty) {
                    if let Some(key) = &record.key {
                        if !map.put(key, record.offset) {
                            return Ok(Some(record.offset));
                        }
                    }
                }
                Ok(None)
            })?;
            if let Some(stopped_at) = full {
                return Ok(stopped_at);
            }
            end = segment.next_offset;
        }
        Ok(end.max(self.first_dirty))
    }

    /// The segments to rewrite, from the log start through the one holding
    /// `end - 1`, in groups whose combined size fits one segment (so cleaned
    /// segments merge as they shrink). Indexes into `segments`.
    pub fn groups(&self, end: i64) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_bytes = 0u64;
        for (i, segment) in self.segments.iter().enumerate() {
            if segment.base_offset >= end {
                break;
            }
            let fits = groups.last().is_some_and(|group| {
                let base = self.segments[group[0]].base_offset;
                group_bytes + segment.size <= self.segment_bytes
                    && segment.next_offset - 1 - base <= MAX_RELATIVE_OFFSET
            });
            if fits {
                group_bytes += segment.size;
                if let Some(group) = groups.last_mut() {
                    group.push(i);
                }
            } else {
                group_bytes = segment.size;
                groups.push(vec![i]);
            }
        }
        groups
    }

    /// Rewrites the segments of `group` into `<base>.log.cleaned`, fsynced,
    /// with its indexes built in memory.
    pub fn clean_group(
        &self,
        group: &[usize],
        map: &OffsetMap,
        end: i64,
        now_ms: i64,
        throttle: &mut Option<Throttle>,
        stats: &mut CleanStats,
    ) -> Result<CleanedGroup, LogError> {
        let sources: Vec<&SourceSegment> = group.iter().map(|&i| &self.segments[i]).collect();
        let base_offset = sources.first().map_or(self.first_dirty, |s| s.base_offset);
        let path = cleaned_path(&self.dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let mut writer = BufWriter::with_capacity(READ_CHUNK_BYTES, file);
        let mut state = IndexState::empty(base_offset);
        let mut size = 0u64;
        let mut tombstone_due_ms: Option<i64> = None;
        let horizon = now_ms.saturating_sub(self.delete_retention_ms);
        for segment in &sources {
            let remove_tombstones = segment.modified_ms < horizon;
            Self::each_batch(segment, |position, header, bytes| {
                stats.bytes_read += bytes.len() as u64;
                let (verdict, kept_tombstone) = if self.is_aborted(header) && header.last_offset() < end {
                    stats.records_removed += u64::try_from(header.record_count).unwrap_or(0);
                    (Verdict::Drop, false)
                } else {
                    filter_batch(bytes, header, map, end, remove_tombstones, stats)
                        .map_err(|reason| Self::corrupt(segment, position, &reason))?
                };
                if kept_tombstone {
                    let due = segment.modified_ms.saturating_add(self.delete_retention_ms);
                    tombstone_due_ms = Some(tombstone_due_ms.map_or(due, |d| d.min(due)));
                }
                let out: &[u8] = match &verdict {
                    Verdict::Keep => bytes,
                    Verdict::Rewrite(rebuilt) => rebuilt,
                    Verdict::Drop => return Ok(None::<()>),
                };
                let out_header = parse_header(out).map_err(|reason| Self::corrupt(segment, position, &reason))?;
                writer.write_all(out).map_err(io_error(&path))?;
                state.record_batch(size, &out_header, self.index_interval);
                size += out.len() as u64;
                stats.bytes_written += out.len() as u64;
                pace(throttle, (bytes.len() + out.len()) as u64);
                Ok(None)
            })?;
        }
        let file = writer.into_inner().map_err(|e| io_error(&path)(e.into_error()))?;
        file.sync_data().map_err(io_error(&path))?;
        // Tombstone ages and time retention read the mtime: the cleaned
        // segment is as old as the newest of its sources.
        let modified_ms = sources.iter().map(|s| s.modified_ms).max().unwrap_or(now_ms);
        let modified = UNIX_EPOCH + Duration::from_millis(u64::try_from(modified_ms).unwrap_or(0));
        file.set_modified(modified).map_err(io_error(&path))?;
        Ok(CleanedGroup {
            base_offset,
            sources: sources.iter().map(|s| (s.base_offset, s.size, s.next_offset)).collect(),
            file,
            path,
            size,
            state,
            tombstone_due_ms,
        })
    }
}

/// `<base>.log.cleaned` in `dir`.
pub fn cleaned_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{CLEANED_SUFFIX}",
        segment_file_name(base_offset, LOG_SUFFIX)
    ))
}

/// `<base>.log.swap` in `dir`.
pub fn swap_path(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}{SWAP_SUFFIX}", segment_file_name(base_offset, LOG_SUFFIX)))
}

/// Decides one batch; also says whether it keeps a tombstone. Control
/// batches are kept (transaction markers go only once transactions allow).
fn filter_batch(
    bytes: &[u8],
    header: &BatchHeader,
    map: &OffsetMap,
    end: i64,
    remove_tombstones: bool,
    stats: &mut CleanStats,
) -> Result<(Verdict, bool), String> {
    if header.is_control() {
        return Ok((Verdict::Keep, false));
    }
    let (_, records) = decode_batch_records(bytes).map_err(|e| e.to_string())?;
    let total = records.len();
    let retained: Vec<Record> = records
        .into_iter()
        .filter(|record| retain(record, map, end, remove_tombstones))
        .collect();
    stats.records_removed += (total - retained.len()) as u64;
    let kept_tombstone = retained.iter().any(|record| record.value.is_none());
    let verdict = if retained.is_empty() {
        Verdict::Drop
    } else if retained.len() == total {
        Verdict::Keep
    } else if header.magic < MAGIC_V2 {
        // A compressed legacy wrapper is kept whole rather than re-encoded:
        // magic 0/1 logs are rare, and keeping more never loses a value.
        stats.records_removed -= (total - retained.len()) as u64;
        Verdict::Keep
    } else {
        Verdict::Rewrite(rebuild_batch(header, &retained).map_err(|e| e.to_string())?)
    };
    Ok((verdict, kept_tombstone))
}
