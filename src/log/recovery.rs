//! Opening a partition directory after a clean or unclean shutdown: finding the
//! segments, validating whatever may not have reached the disk, and rebuilding
//! missing or damaged indexes.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::path::Path;

use super::batch_header::HEADER_LEN;
use super::checkpoint::{LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE, TEMP_SUFFIX};
use super::config::MAX_SEGMENT_BYTES;
use super::error::{io_error, LogError};
use super::offset_index::OffsetIndex;
use super::scanner::{BatchScanner, ScanDepth, Scanned};
use super::segment::{
    IndexState, Segment, SegmentPaths, DELETED_SUFFIX, LOG_SUFFIX, OFFSET_INDEX_SUFFIX, TIME_INDEX_SUFFIX,
};
use super::time_index::TimeIndex;

/// Large sequential reads: recovery reads whole segments.
const RECOVERY_CHUNK_BYTES: usize = 1 << 20;

enum ReplayEnd {
    Complete,
    Stopped { position: u64, reason: String },
}

/// `(base offset, suffix)` for `<20 digits>.log|index|timeindex`.
fn parse_segment_file_name(name: &str) -> Option<(i64, &str)> {
    let (stem, suffix) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    if ![LOG_SUFFIX, OFFSET_INDEX_SUFFIX, TIME_INDEX_SUFFIX].contains(&suffix) {
        return None;
    }
    Some((stem.parse().ok()?, suffix))
}

/// Base offsets of the segments in `dir`, ascending. Removes index files without
/// a log and checkpoint temp files left by a crash; leaves unknown files alone.
pub(crate) fn list_segment_bases(dir: &Path) -> Result<Vec<i64>, LogError> {
    let temp_files = [LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE].map(|name| format!("{name}{TEMP_SUFFIX}"));
    let mut logs = BTreeSet::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if !entry.file_type().map_err(io_error(&path))?.is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Temporary checkpoint files, and segments deleted before a restart
        // (`.deleted`, as Kafka removes them at start-up).
        if temp_files.contains(&name) || name.ends_with(DELETED_SUFFIX) {
            fs::remove_file(&path).map_err(io_error(&path))?;
        } else if let Some((base_offset, suffix)) = parse_segment_file_name(&name) {
            if suffix == LOG_SUFFIX {
                logs.insert(base_offset);
            } else {
                index_files.push((base_offset, path));
            }
        }
    }
    for (base_offset, path) in index_files {
        if !logs.contains(&base_offset) {
            tracing::warn!(path = %path.display(), "removing an index file that has no log");
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(logs.into_iter().collect())
}

/// Opens the segments named by `bases`. Segments wholly below the recovery point
/// were fsynced, so their index files are used after sanity checks; the others
/// are validated batch by batch, and so is the active one unless the recovery
/// point says all of it was fsynced (a clean shutdown).
pub(crate) fn load_segments(
    dir: &Path,
    bases: &[i64],
    recovery_point: Option<i64>,
    index_interval: u32,
) -> Result<Vec<Segment>, LogError> {
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base_offset) in bases.iter().enumerate() {
        let next_base = bases.get(i + 1).copied();
        let flushed = matches!((recovery_point, next_base), (Some(point), Some(next)) if next <= point);
        let Some(next_base) = next_base else {
            // The active segment: after a clean shutdown the recovery point is
            // its end, everything in it was fsynced, and a full CRC scan (a
            // second per GiB) would only delay start-up. Anything written
            // after the last flush means a full scan.
            if recovery_point.is_some_and(|point| point > base_offset) {
                let (segment, _) = open_segment(dir, base_offset, true, false, index_interval)?;
                if Some(segment.next_offset()) == recovery_point {
                    segments.push(segment);
                    break;
                }
            }
            let (segment, _) = open_segment(dir, base_offset, false, false, index_interval)?;
            segments.push(segment);
            break;
        };
        let (segment, truncated) = open_segment(dir, base_offset, flushed, true, index_interval)?;
        if truncated > 0 && !flushed {
            // Whatever was written after unflushed damaged bytes is suspect too; Kafka drops it as well.
            tracing::warn!(dir = %dir.display(), from_base_offset = next_base, "deleting segments that follow a corrupt unflushed segment");
            for &later in &bases[i + 1..] {
                SegmentPaths::new(dir, later).remove_all()?;
            }
            segments.push(segment);
            break;
        }
        if segment.is_empty() {
            tracing::info!(path = %segment.paths.log.display(), "removing an empty segment that is not the last");
            segment.delete_files()?;
            continue;
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// Opens one segment, from its index files if `trust_index_files` and they pass
/// the checks, else by a full CRC-checked scan that truncates at the first bad
/// batch. `sealed` segments get their final time index entry back if rebuilt.
/// Returns the segment and how many bytes were truncated.
pub(crate) fn open_segment(
    dir: &Path,
    base_offset: i64,
    trust_index_files: bool,
    sealed: bool,
    index_interval: u32,
) -> Result<(Segment, u64), LogError> {
    let paths = SegmentPaths::new(dir, base_offset);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&paths.log)
        .map_err(io_error(&paths.log))?;
    let size = file.metadata().map_err(io_error(&paths.log))?.len();
    let mut segment = Segment::with_file(base_offset, paths, file, size);
    if trust_index_files {
        match segment.restore_from_index_files(index_interval)? {
            Ok(()) => return Ok((segment, 0)),
            Err(reason) => tracing::warn!(path = %segment.paths.log.display(), %reason, "rebuilding segment indexes"),
        }
    }
    let truncated = segment.rebuild_by_scan(index_interval)?;
    if sealed {
        segment.seal()?;
    } else {
        segment.persist_indexes(false)?;
    }
    Ok((segment, truncated))
}

impl Segment {
    fn restore_from_index_files(&mut self, index_interval: u32) -> Result<Result<(), String>, LogError> {
        self.state.offset_index = match OffsetIndex::load(&self.paths.offset_index, self.size)? {
            Ok(index) => index,
            Err(reason) => return Ok(Err(reason)),
        };
        self.state.time_index = match TimeIndex::load(&self.paths.time_index)? {
            Ok(index) => index,
            Err(reason) => return Ok(Err(reason)),
        };
        let indexed = self.state.offset_index.entries().len();
        if let Err(reason) = self.replay_after_indexes(index_interval)? {
            return Ok(Err(reason));
        }
        if self.state.offset_index.entries().len() != indexed {
            return Ok(Err("the offset index lacks entries for the end of the log".to_string()));
        }
        let next_offset = self.state.next_offset;
        if self
            .state
            .time_index
            .last()
            .is_some_and(|entry| self.base_offset + i64::from(entry.relative_offset) >= next_offset)
        {
            return Ok(Err("the time index names offsets past the end of the log".to_string()));
        }
        Ok(Ok(()))
    }

    /// Re-derives the state past the last offset index entry by replaying the
    /// batches from the one it names to the end of the file (used with indexes
    /// loaded from disk or just truncated). `Ok(Err)` if they disagree with the log.
    pub(crate) fn replay_after_indexes(&mut self, index_interval: u32) -> Result<Result<(), String>, LogError> {
        let last_entry = self.state.offset_index.last();
        // The state right after that entry was appended: the byte count restarts at
        // zero and the time index holds the largest timestamp seen up to there.
        let state = &mut self.state;
        state.next_offset = self.base_offset;
        state.bytes_since_last_index_entry = 0;
        (state.max_timestamp, state.offset_of_max_timestamp) = match state.time_index.last() {
            Some(entry) => (entry.timestamp, self.base_offset + i64::from(entry.relative_offset)),
            None => (-1, -1),
        };
        let start = last_entry.map_or(0, |entry| u64::from(entry.position));
        if let Some(entry) = last_entry {
            let indexed_offset = self.base_offset + i64::from(entry.relative_offset);
            match self.scanner(start, HEADER_LEN).next_batch(ScanDepth::Header)? {
                Scanned::Batch { header, .. } if header.last_offset() == indexed_offset => {}
                _ => {
                    return Ok(Err(format!(
                        "the last offset index entry does not point at the batch ending at {indexed_offset}"
                    )))
                }
            }
        }
        match self.replay(start, ScanDepth::Header, index_interval)? {
            ReplayEnd::Complete => Ok(Ok(())),
            ReplayEnd::Stopped { position, reason } => Ok(Err(format!("at position {position}: {reason}"))),
        }
    }

    /// Rebuilds everything from a CRC-checked scan, truncating the file at the
    /// first batch that is torn, corrupt or out of order. Returns the bytes cut.
    fn rebuild_by_scan(&mut self, index_interval: u32) -> Result<u64, LogError> {
        self.state = IndexState::empty(self.base_offset);
        match self.replay(0, ScanDepth::WholeBatch, index_interval)? {
            ReplayEnd::Complete => Ok(0),
            ReplayEnd::Stopped { position, reason } => {
                let truncated = self.size - position;
                tracing::warn!(
                    path = %self.paths.log.display(), position, truncated_bytes = truncated, %reason,
                    "truncating a torn or corrupt segment tail"
                );
                self.file.set_len(position).map_err(io_error(&self.paths.log))?;
                self.size = position;
                Ok(truncated)
            }
        }
    }

    fn replay(&mut self, start: u64, depth: ScanDepth, index_interval: u32) -> Result<ReplayEnd, LogError> {
        let mut scanner = BatchScanner::new(&self.file, &self.paths.log, start, self.size, RECOVERY_CHUNK_BYTES);
        loop {
            match scanner.next_batch(depth)? {
                Scanned::Batch { position, header, .. } => {
                    if position > MAX_SEGMENT_BYTES {
                        return Ok(ReplayEnd::Stopped {
                            position,
                            reason: "the segment outgrows 32-bit index positions".to_string(),
                        });
                    }
                    if let Err(reason) = self.state.accepts(&header) {
                        return Ok(ReplayEnd::Stopped { position, reason });
                    }
                    self.state.record_batch(position, &header, index_interval);
                }
                Scanned::Invalid { position, reason } => return Ok(ReplayEnd::Stopped { position, reason }),
                Scanned::End => return Ok(ReplayEnd::Complete),
            }
        }
    }

    /// Restores the roll clock after a restart: the first batch's timestamp, else
    /// the file's mtime.
    pub(crate) fn init_roll_base(&mut self) -> Result<(), LogError> {
        self.roll_base_ms = match self.first_header() {
            Ok(None) => None,
            Ok(Some(header)) if header.max_timestamp >= 0 => Some(header.max_timestamp),
            Ok(Some(_)) | Err(_) => Some(self.modified_ms()?),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch_header::parse_header;
    use crate::log::batch_header::set_base_offset;
    use crate::log::batch_header::test_support::batch;

    const INTERVAL: u32 = 300;

    /// A sealed segment of `count` 3-offset batches of 161 bytes, indexes on disk.
    fn write_segment(dir: &Path, base: i64, count: usize) -> Vec<u8> {
        let mut segment = Segment::create(dir, base).unwrap();
        for i in 0..count {
            let mut bytes = batch(3, 1000 + i as i64, 100);
            set_base_offset(&mut bytes, segment.next_offset());
            let header = parse_header(&bytes).unwrap();
            segment.append(&bytes, &header, 0, INTERVAL).unwrap();
        }
        segment.seal().unwrap();
        fs::read(&segment.paths.log).unwrap()
    }

    fn index_bytes(dir: &Path, base: i64) -> (Vec<u8>, Vec<u8>) {
        let paths = SegmentPaths::new(dir, base);
        (
            fs::read(paths.offset_index).unwrap(),
            fs::read(paths.time_index).unwrap(),
        )
    }

    #[test]
    fn parses_only_our_segment_names() {
        assert_eq!(parse_segment_file_name("00000000000000000042.log"), Some((42, "log")));
        assert_eq!(
            parse_segment_file_name("00000000000000000042.timeindex"),
            Some((42, "timeindex"))
        );
        for name in [
            "0042.log",
            "00000000000000000042.log.deleted",
            "0000000000000000004x.log",
            "99999999999999999999.log",
            "leader-epoch-checkpoint",
        ] {
            assert_eq!(parse_segment_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn listing_removes_strays_and_keeps_unknown_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "00000000000000000000.log",
            "00000000000000000000.index",
            "00000000000000000050.log",
            "00000000000000000077.index",
            "00000000000000000077.timeindex",
            "recovery-point.tmp",
            "00000000000000000020.log.deleted",
            "partition.metadata",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(list_segment_bases(dir.path()).unwrap(), vec![0, 50]);
        for gone in [
            "00000000000000000077.index",
            "00000000000000000077.timeindex",
            "recovery-point.tmp",
            "00000000000000000020.log.deleted",
        ] {
            assert!(!dir.path().join(gone).exists(), "{gone}");
        }
        assert!(dir.path().join("partition.metadata").exists());
        assert!(dir.path().join("00000000000000000000.index").exists());
    }

    #[test]
    fn trusted_open_uses_good_index_files_and_rebuilds_bad_ones_identically() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 10, 12);
        let (good_index, good_time_index) = index_bytes(dir.path(), 10);
        assert!(good_index.len() >= 16 && good_time_index.len() >= 24);

        let (segment, truncated) = open_segment(dir.path(), 10, true, true, INTERVAL).unwrap();
        assert_eq!(
            (truncated, segment.next_offset(), segment.max_timestamp()),
            (0, 46, 1011)
        );
        drop(segment);

        let paths = SegmentPaths::new(dir.path(), 10);
        let damages: [(&Path, Vec<u8>); 4] = [
            (&paths.offset_index, vec![0xab; 16]),
            (&paths.offset_index, good_index[..8].to_vec()),
            (&paths.offset_index, vec![1, 2, 3]),
            (
                &paths.time_index,
                good_time_index[12..]
                    .iter()
                    .chain(&good_time_index[..12])
                    .copied()
                    .collect(),
            ),
        ];
        for (path, damage) in damages {
            fs::write(path, damage).unwrap();
            let (segment, truncated) = open_segment(dir.path(), 10, true, true, INTERVAL).unwrap();
            assert_eq!(
                (truncated, segment.next_offset(), segment.max_timestamp()),
                (0, 46, 1011)
            );
            assert_eq!(
                index_bytes(dir.path(), 10),
                (good_index.clone(), good_time_index.clone())
            );
        }
        fs::remove_file(&paths.offset_index).unwrap();
        fs::remove_file(&paths.time_index).unwrap();
        open_segment(dir.path(), 10, true, true, INTERVAL).unwrap();
        assert_eq!(index_bytes(dir.path(), 10), (good_index, good_time_index));
    }

    #[test]
    fn untrusted_open_truncates_at_the_first_bad_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log = write_segment(dir.path(), 0, 5);
        let path = SegmentPaths::new(dir.path(), 0).log;
        let mut damaged = log.clone();
        damaged[3 * 161 + 100] ^= 0x40;
        fs::write(&path, &damaged).unwrap();

        let (segment, _) = open_segment(dir.path(), 0, true, true, INTERVAL).unwrap();
        assert_eq!(
            segment.next_offset(),
            15,
            "trusted (flushed) data is not CRC-checked on open"
        );
        drop(segment);
        let (segment, truncated) = open_segment(dir.path(), 0, false, true, INTERVAL).unwrap();
        assert_eq!((truncated, segment.next_offset(), segment.size), (2 * 161, 9, 3 * 161));
        assert_eq!(fs::read(&path).unwrap(), log[..3 * 161]);
    }

    /// After a clean shutdown (recovery point = end) the active segment opens
    /// from its indexes; a tail cut afterwards is still found and truncated.
    #[test]
    fn clean_active_segment_is_trusted_but_a_cut_tail_is_still_caught() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = write_segment(dir.path(), 0, 10);
        let end = 30;
        let segments = load_segments(dir.path(), &[0], Some(end), INTERVAL).unwrap();
        assert_eq!(segments[0].next_offset(), end);
        drop(segments);
        let log = SegmentPaths::new(dir.path(), 0).log;
        fs::write(&log, &bytes[..bytes.len() - 7]).unwrap();
        let segments = load_segments(dir.path(), &[0], Some(end), INTERVAL).unwrap();
        assert_eq!(segments[0].next_offset(), end - 3, "the torn last batch is dropped");
        assert_eq!(fs::metadata(&log).unwrap().len() as usize, bytes.len() - 161);
    }
}
