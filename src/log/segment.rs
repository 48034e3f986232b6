//! One segment: a `.log` file of whole batches from `base_offset` on, with its
//! sparse indexes kept in memory and mirrored to `.index` and `.timeindex`.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::batch_header::{total_size, BatchHeader, HEADER_LEN};
use super::config::MAX_RELATIVE_OFFSET;
use super::error::{io_error, LogError};
use super::offset_index::{OffsetEntry, OffsetIndex};
use super::scanner::{BatchScanner, ScanDepth, Scanned};
use super::time_index::TimeIndex;

pub(crate) const LOG_SUFFIX: &str = "log";
pub(crate) const OFFSET_INDEX_SUFFIX: &str = "index";
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";
/// Enough to cover an index interval of small batches in one read.
pub(crate) const LOOKUP_CHUNK_BYTES: usize = 16 * 1024;

/// `00000000000000000042.log` and friends.
pub(crate) fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}.{suffix}")
}

#[derive(Debug)]
pub(crate) struct SegmentPaths {
    pub(crate) log: PathBuf,
    pub(crate) offset_index: PathBuf,
    pub(crate) time_index: PathBuf,
}

impl SegmentPaths {
    pub(crate) fn new(dir: &Path, base_offset: i64) -> Self {
        SegmentPaths {
            log: dir.join(segment_file_name(base_offset, LOG_SUFFIX)),
            offset_index: dir.join(segment_file_name(base_offset, OFFSET_INDEX_SUFFIX)),
            time_index: dir.join(segment_file_name(base_offset, TIME_INDEX_SUFFIX)),
        }
    }

    /// Removes whichever files exist, the log first: a crash midway leaves only
    /// index files without a log, which `open` treats as strays.
    pub(crate) fn remove_all(&self) -> Result<(), LogError> {
        for path in [&self.log, &self.offset_index, &self.time_index] {
            match fs::remove_file(path) {
                Err(error) if error.kind() != ErrorKind::NotFound => return Err(io_error(path)(error)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Renames whichever files exist to `<name>.deleted` (the log first, as
    /// `remove_all`), Kafka's first step of deleting a segment; returns the
    /// new paths, to be removed after `file.delete.delay.ms`.
    pub(crate) fn rename_deleted(&self) -> Result<Vec<PathBuf>, LogError> {
        let mut renamed = Vec::new();
        for path in [&self.log, &self.offset_index, &self.time_index] {
            let mut target = path.clone().into_os_string();
            target.push(DELETED_SUFFIX);
            let target = PathBuf::from(target);
            match fs::rename(path, &target) {
                Ok(()) => renamed.push(target),
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) => return Err(io_error(path)(error)),
            }
        }
        Ok(renamed)
    }
}

/// Suffix of segment files waiting for `file.delete.delay.ms` to pass.
pub(crate) const DELETED_SUFFIX: &str = ".deleted";

/// What the batches of a segment imply. Replaying its batches in order through
/// `record_batch` reproduces it exactly, which is how recovery rebuilds indexes.
#[derive(Debug)]
pub(crate) struct IndexState {
    pub(crate) base_offset: i64,
    /// Last offset + 1 of the last batch, or the base offset when empty.
    pub(crate) next_offset: i64,
    /// Largest batch maxTimestamp; -1 when no batch has one.
    pub(crate) max_timestamp: i64,
    /// Last offset of the first batch that reached `max_timestamp`.
    pub(crate) offset_of_max_timestamp: i64,
    pub(crate) offset_index: OffsetIndex,
    pub(crate) time_index: TimeIndex,
    pub(crate) bytes_since_last_index_entry: u64,
}

impl IndexState {
    pub(crate) fn empty(base_offset: i64) -> Self {
        IndexState {
            base_offset,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            offset_index: OffsetIndex::fresh(),
            time_index: TimeIndex::fresh(),
            bytes_since_last_index_entry: 0,
        }
    }

    /// Callers only pass offsets in `[base_offset, base_offset + MAX_RELATIVE_OFFSET]`.
    pub(crate) fn relative(&self, offset: i64) -> u32 {
        u32::try_from(offset.saturating_sub(self.base_offset)).unwrap_or(u32::MAX)
    }

    /// Whether `header` may follow the batches recorded so far in this segment.
    pub(crate) fn accepts(&self, header: &BatchHeader) -> Result<(), String> {
        if header.base_offset < self.next_offset {
            return Err(format!(
                "base offset {} is below the expected {}",
                header.base_offset, self.next_offset
            ));
        }
        if header.last_offset() - self.base_offset > MAX_RELATIVE_OFFSET {
            return Err(format!(
                "last offset {} is too far from the segment base {}",
                header.last_offset(),
                self.base_offset
            ));
        }
        Ok(())
    }

    /// Kafka's sampling: index a batch when more than `index_interval` bytes were
    /// written since the last entry, counting the batch's own size only afterwards.
    pub(crate) fn record_batch(&mut self, position: u64, header: &BatchHeader, index_interval: u32) {
        let last_offset = header.last_offset();
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        if self.bytes_since_last_index_entry > u64::from(index_interval) {
            let relative_offset = self.relative(last_offset);
            self.offset_index.append(OffsetEntry {
                relative_offset,
                position: position as u32,
            });
            self.time_index
                .maybe_append(self.max_timestamp, self.relative(self.offset_of_max_timestamp));
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += total_size(header);
        self.next_offset = last_offset + 1;
    }
}

pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    pub(crate) paths: SegmentPaths,
    pub(crate) file: File,
    pub(crate) size: u64,
    pub(crate) state: IndexState,
    /// When the first batch was appended (after a restart: its timestamp, else the
    /// file mtime); rolling by time counts from here.
    pub(crate) roll_base_ms: Option<i64>,
    /// The file was extended past `size` (`preallocate`) and needs trimming.
    preallocated: bool,
}

impl Segment {
    /// A new, empty segment; replaces any files already named for `base_offset`.
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Segment, LogError> {
        let paths = SegmentPaths::new(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&paths.log)
            .map_err(io_error(&paths.log))?;
        let mut segment = Segment::with_file(base_offset, paths, file, 0);
        segment.persist_indexes(false)?;
        Ok(segment)
    }

    /// A segment over an open file, with nothing derived yet.
    pub(crate) fn with_file(base_offset: i64, paths: SegmentPaths, file: File, size: u64) -> Segment {
        Segment {
            base_offset,
            paths,
            file,
            size,
            state: IndexState::empty(base_offset),
            roll_base_ms: None,
            preallocated: false,
        }
    }

    pub(crate) fn next_offset(&self) -> i64 {
        self.state.next_offset
    }

    pub(crate) fn max_timestamp(&self) -> i64 {
        self.state.max_timestamp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Writes a batch whose header (with the final base offset) the caller parsed
    /// and checked with `state.accepts`. Returns its position.
    pub(crate) fn append(
        &mut self,
        batch: &[u8],
        header: &BatchHeader,
        now_ms: i64,
        index_interval: u32,
    ) -> Result<u64, LogError> {
        let position = self.size;
        self.file
            .write_all_at(batch, position)
            .map_err(io_error(&self.paths.log))?;
        self.size += batch.len() as u64;
        if position == 0 {
            self.roll_base_ms = Some(now_ms);
        }
        self.state.record_batch(position, header, index_interval);
        Ok(position)
    }

    /// Extends the (new) file to `bytes` so the file system can allocate it in
    /// one piece; appends still go at `size`. A crash leaves zeros after the
    /// last batch, which recovery's scan cuts off like any torn tail.
    pub(crate) fn preallocate(&mut self, bytes: u64) -> Result<(), LogError> {
        if bytes > self.size {
            self.file.set_len(bytes).map_err(io_error(&self.paths.log))?;
            self.preallocated = true;
        }
        Ok(())
    }

    /// Cuts a preallocated file back to what was written.
    pub(crate) fn trim(&mut self) -> Result<(), LogError> {
        if self.preallocated {
            self.file.set_len(self.size).map_err(io_error(&self.paths.log))?;
            self.preallocated = false;
        }
        Ok(())
    }

    /// Called when the segment stops being active: like Kafka, records the final
    /// max timestamp in the time index so it survives a restart (and trims a
    /// preallocated file).
    pub(crate) fn seal(&mut self) -> Result<(), LogError> {
        self.trim()?;
        if self.state.max_timestamp >= 0 {
            let relative = self.state.relative(self.state.offset_of_max_timestamp);
            self.state.time_index.maybe_append(self.state.max_timestamp, relative);
        }
        self.persist_indexes(false)
    }

    pub(crate) fn persist_indexes(&mut self, sync: bool) -> Result<(), LogError> {
        self.state.offset_index.persist(&self.paths.offset_index, sync)?;
        self.state.time_index.persist(&self.paths.time_index, sync)
    }

    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        self.file.sync_data().map_err(io_error(&self.paths.log))?;
        self.persist_indexes(true)
    }

    pub(crate) fn scanner(&self, start: u64, chunk_bytes: usize) -> BatchScanner<'_> {
        BatchScanner::new(&self.file, &self.paths.log, start, self.size, chunk_bytes)
    }

    pub(crate) fn corrupt(&self, position: u64, reason: &str) -> LogError {
        LogError::Corrupt(format!("{} at position {position}: {reason}", self.paths.log.display()))
    }

    /// The batch containing `offset`, or the first batch after it (offsets can have
    /// gaps); `None` if the segment ends before `offset`.
    pub(crate) fn locate(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if offset >= self.state.next_offset {
            return Ok(None);
        }
        let relative = self.state.relative(offset.max(self.base_offset));
        let start = u64::from(self.state.offset_index.scan_start(relative));
        self.first_batch_from(start, |header| header.last_offset() >= offset)
    }

    /// The first batch ending at or after `min_offset` whose maxTimestamp >= `timestamp`.
    pub(crate) fn find_by_timestamp(
        &self,
        timestamp: i64,
        min_offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if self.state.max_timestamp < timestamp || min_offset >= self.state.next_offset {
            return Ok(None);
        }
        let index = &self.state.offset_index;
        let from_time = self
            .state
            .time_index
            .lookup(timestamp)
            .map_or(0, |relative| index.scan_start(relative));
        let from_offset = index.scan_start(self.state.relative(min_offset.max(self.base_offset)));
        let start = u64::from(from_time.max(from_offset));
        self.first_batch_from(start, |header| {
            header.last_offset() >= min_offset && header.max_timestamp >= timestamp
        })
    }

    fn first_batch_from(
        &self,
        start: u64,
        wanted: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let mut scanner = self.scanner(start, LOOKUP_CHUNK_BYTES);
        loop {
            match scanner.next_batch(ScanDepth::Header)? {
                Scanned::Batch { position, header, .. } if wanted(&header) => return Ok(Some((position, header))),
                Scanned::Batch { .. } => {}
                Scanned::Invalid { position, reason } => return Err(self.corrupt(position, &reason)),
                Scanned::End => return Ok(None),
            }
        }
    }

    pub(crate) fn read_exact_at(&self, buffer: &mut [u8], position: u64) -> Result<(), LogError> {
        self.file
            .read_exact_at(buffer, position)
            .map_err(io_error(&self.paths.log))
    }

    /// Drops the batch containing `offset` and everything after it; returns the
    /// number of bytes removed.
    pub(crate) fn truncate_to(&mut self, offset: i64, index_interval: u32) -> Result<u64, LogError> {
        let Some((position, header)) = self.locate(offset)? else {
            return Ok(0);
        };
        self.file.set_len(position).map_err(io_error(&self.paths.log))?;
        let removed = self.size - position;
        self.size = position;
        let cut = self.state.relative(header.base_offset);
        self.state.offset_index.truncate_from(cut);
        self.state.time_index.truncate_from(cut);
        if let Err(reason) = self.replay_after_indexes(index_interval)? {
            return Err(self.corrupt(position, &reason));
        }
        if self.is_empty() {
            self.roll_base_ms = None;
        }
        self.persist_indexes(false)?;
        Ok(removed)
    }

    /// For time retention: the largest timestamp, or the mtime if no batch has one.
    pub(crate) fn largest_timestamp_or_mtime(&self) -> Result<i64, LogError> {
        if self.state.max_timestamp >= 0 {
            return Ok(self.state.max_timestamp);
        }
        self.modified_ms()
    }

    pub(crate) fn modified_ms(&self) -> Result<i64, LogError> {
        let modified = self
            .file
            .metadata()
            .and_then(|meta| meta.modified())
            .map_err(io_error(&self.paths.log))?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64))
    }

    /// The first batch's header, if any (read straight from the file).
    pub(crate) fn first_header(&self) -> Result<Option<BatchHeader>, LogError> {
        match self.scanner(0, HEADER_LEN).next_batch(ScanDepth::Header)? {
            Scanned::Batch { header, .. } => Ok(Some(header)),
            Scanned::Invalid { position, reason } => Err(self.corrupt(position, &reason)),
            Scanned::End => Ok(None),
        }
    }

    pub(crate) fn delete_files(self) -> Result<(), LogError> {
        let Segment { paths, file, .. } = self;
        drop(file);
        paths.remove_all()
    }

    /// Closes the segment and renames its files `.deleted`.
    pub(crate) fn mark_deleted(self) -> Result<Vec<PathBuf>, LogError> {
        let Segment { paths, file, .. } = self;
        drop(file);
        paths.rename_deleted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch_header::parse_header;
    use crate::log::batch_header::set_base_offset;
    use crate::log::batch_header::test_support::batch;

    const INTERVAL: u32 = 200;

    /// Appends batches of 2 offsets each, 100 + 61 bytes, timestamps as given.
    fn segment_with(dir: &Path, base: i64, timestamps: &[i64]) -> Segment {
        let mut segment = Segment::create(dir, base).unwrap();
        for &timestamp in timestamps {
            let mut bytes = batch(2, timestamp, 100);
            set_base_offset(&mut bytes, segment.next_offset());
            let header = parse_header(&bytes).unwrap();
            segment.state.accepts(&header).unwrap();
            segment.append(&bytes, &header, 5, INTERVAL).unwrap();
        }
        segment
    }

    #[test]
    fn appends_index_every_interval_and_locates_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_with(dir.path(), 100, &[10, 20, 30, 40, 50, 60]);
        assert_eq!(segment.next_offset(), 112);
        assert_eq!(segment.size, 6 * 161);
        // 161 bytes per batch, interval 200: entries at the 3rd and 5th batch.
        let entries: Vec<_> = segment
            .state
            .offset_index
            .entries()
            .iter()
            .map(|e| (e.relative_offset, e.position))
            .collect();
        assert_eq!(entries, vec![(5, 322), (9, 644)]);
        for offset in 100..112 {
            let (position, header) = segment.locate(offset).unwrap().unwrap();
            assert_eq!(position, ((offset - 100) / 2) as u64 * 161);
            assert!(header.base_offset <= offset && offset <= header.last_offset());
        }
        assert!(segment.locate(112).unwrap().is_none());
        assert_eq!(
            segment.locate(0).unwrap().unwrap().0,
            0,
            "offsets before the base map to the first batch"
        );
    }

    #[test]
    fn finds_the_first_batch_reaching_a_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_with(dir.path(), 0, &[10, 50, 30, 50, 70, 20, 90]);
        let first_offset = |ts, min| segment.find_by_timestamp(ts, min).unwrap().map(|(_, h)| h.base_offset);
        assert_eq!(first_offset(0, 0), Some(0));
        assert_eq!(first_offset(11, 0), Some(2));
        assert_eq!(first_offset(50, 0), Some(2));
        assert_eq!(first_offset(51, 0), Some(8));
        assert_eq!(first_offset(90, 0), Some(12));
        assert_eq!(first_offset(91, 0), None);
        assert_eq!(first_offset(50, 4), Some(6), "batches before min_offset are skipped");
    }

    #[test]
    fn seal_records_the_final_max_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = segment_with(dir.path(), 0, &[10, 20, 30, 99]);
        assert_eq!(segment.state.time_index.last().map(|e| e.timestamp), Some(30));
        segment.seal().unwrap();
        let last = segment.state.time_index.last().unwrap();
        assert_eq!((last.timestamp, last.relative_offset), (99, 7));
        assert_eq!(std::fs::read(&segment.paths.time_index).unwrap().len(), 2 * 12);
    }

    #[test]
    fn truncate_drops_the_containing_batch_and_rederives_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = segment_with(dir.path(), 0, &[10, 80, 30, 40, 50, 60]);
        let removed = segment.truncate_to(7, INTERVAL).unwrap();
        assert_eq!(removed, 3 * 161);
        assert_eq!((segment.size, segment.next_offset()), (3 * 161, 6));
        assert_eq!(
            (segment.max_timestamp(), segment.state.offset_of_max_timestamp),
            (80, 3)
        );
        assert_eq!(segment.state.offset_index.entries().len(), 1);
        assert_eq!(std::fs::metadata(&segment.paths.log).unwrap().len(), 3 * 161);
        assert_eq!(segment.state.bytes_since_last_index_entry, 161);

        // Appending again indexes exactly as an untruncated segment would.
        let mut reference = segment_with(dir.path(), 1000, &[10, 80, 30, 70, 70]);
        let mut bytes = batch(2, 70, 100);
        for _ in 0..2 {
            set_base_offset(&mut bytes, segment.next_offset());
            let header = parse_header(&bytes).unwrap();
            segment.append(&bytes, &header, 5, INTERVAL).unwrap();
        }
        reference.seal().unwrap();
        segment.seal().unwrap();
        assert_eq!(
            segment.state.offset_index.entries(),
            reference.state.offset_index.entries()
        );
        assert_eq!(segment.state.time_index.entries(), reference.state.time_index.entries());

        assert_eq!(segment.truncate_to(0, INTERVAL).unwrap(), 5 * 161);
        assert!(segment.is_empty() && segment.roll_base_ms.is_none());
        assert_eq!(segment.max_timestamp(), -1);
    }
}
