//! The parts of a cleaning pass that touch `PartitionLog` itself: how dirty
//! it is, the snapshot a pass works from, and the swap that installs a
//! cleaned group (see `log::cleaner`).

use std::fs::{self, File};

use super::super::checkpoint;
use super::super::cleaner::{swap_path, CleanJob, CleanableSummary, CleanedGroup, SourceSegment};
use super::super::error::{io_error, LogError};
use super::super::segment::{Segment, SegmentPaths};
use super::PartitionLog;

impl PartitionLog {
    /// Where the cleaner stands on this log. `checkpoint` is the cleaner's
    /// last end (none: the log start); `upper` is the high watermark, as
    /// nothing uncommitted is cleaned.
    pub fn cleanable_summary(
        &self,
        checkpoint: Option<i64>,
        upper: i64,
        now_ms: i64,
    ) -> Result<CleanableSummary, LogError> {
        let log_start = self.log_start_offset;
        let first_dirty = checkpoint.unwrap_or(log_start).clamp(log_start, self.log_end_offset());
        // The first segment that must not be cleaned: the one holding the
        // high watermark, or the first too young for min.compaction.lag.ms.
        let mut first_uncleanable = self.active.base_offset;
        let min_lag = self.config.min_compaction_lag_ms;
        for segment in self.sealed.values() {
            let holds_upper = segment.next_offset() > upper;
            let too_young = min_lag > 0
                && segment.next_offset() > first_dirty
                && segment.max_timestamp() > now_ms.saturating_sub(min_lag);
            if holds_upper || too_young {
                first_uncleanable = segment.base_offset;
                break;
            }
        }
        let (mut clean_bytes, mut dirty_bytes) = (0, 0);
        let mut first_dirty_segment = None;
        for segment in self.sealed.values() {
            if segment.next_offset() <= log_start || segment.base_offset >= first_uncleanable {
                continue;
            }
            if segment.next_offset() <= first_dirty {
                clean_bytes += segment.size;
            } else {
                dirty_bytes += segment.size;
                first_dirty_segment.get_or_insert(segment);
            }
        }
        let max_lag = self.config.max_compaction_lag_ms;
        let max_lag_overdue = match first_dirty_segment {
            Some(segment) if max_lag < i64::MAX => segment.first_header()?.is_some_and(|header| {
                header.first_timestamp >= 0 && header.first_timestamp < now_ms.saturating_sub(max_lag)
            }),
            _ => false,
        };
        Ok(CleanableSummary {
            first_dirty,
            first_uncleanable: first_uncleanable.max(first_dirty),
            clean_bytes,
            dirty_bytes,
            max_lag_overdue,
        })
    }

    /// What a pass needs, with its own handles on the sealed segments from
    /// the log start up to `summary.first_uncleanable`.
    pub fn prepare_clean(&self, summary: &CleanableSummary) -> Result<CleanJob, LogError> {
        let mut segments = Vec::new();
        for segment in self.sealed.values() {
            if segment.next_offset() <= self.log_start_offset || segment.is_empty() {
                continue;
            }
            if segment.base_offset >= summary.first_uncleanable {
                break;
            }
            let file: File = segment.file.try_clone().map_err(io_error(&segment.paths.log))?;
            segments.push(SourceSegment {
                base_offset: segment.base_offset,
                next_offset: segment.next_offset(),
                size: segment.size,
                modified_ms: segment.modified_ms()?,
                file,
                path: segment.paths.log.clone(),
            });
        }
        Ok(CleanJob {
            dir: self.dir.clone(),
            segments,
            first_dirty: summary.first_dirty,
            first_uncleanable: summary.first_uncleanable,
            segment_bytes: self.config.effective_segment_bytes(),
            index_interval: self.config.index_interval_bytes,
            delete_retention_ms: self.config.delete_retention_ms,
            aborted: Vec::new(),
        })
    }

    /// Installs a cleaned group in place of its sources, crash-safely: the
    /// `.cleaned` file becomes `.swap` (from here a restart completes the
    /// swap), the sources are renamed `.deleted`, and the swap file becomes
    /// the segment. Returns false, changing nothing, if the sources are not
    /// exactly what the pass read (retention, DeleteRecords or a truncation
    /// got there first).
    pub fn swap_cleaned(&mut self, cleaned: CleanedGroup) -> Result<bool, LogError> {
        let unchanged = !self.poisoned
            && cleaned.sources.iter().all(|&(base, size, next)| {
                self.sealed
                    .get(&base)
                    .is_some_and(|s| s.size == size && s.next_offset() == next)
            });
        if !unchanged {
            cleaned.discard();
            return Ok(false);
        }
        let result = self.swap_inner(cleaned);
        self.poison_on_io(result).map(|()| true)
    }

    fn swap_inner(&mut self, cleaned: CleanedGroup) -> Result<(), LogError> {
        let CleanedGroup {
            base_offset,
            sources,
            file,
            path,
            size,
            state,
            ..
        } = cleaned;
        let swap_path = swap_path(&self.dir, base_offset);
        let file = if size > 0 {
            fs::rename(&path, &swap_path).map_err(io_error(&path))?;
            checkpoint::sync_dir(&self.dir)?;
            Some(file)
        } else {
            // Nothing survived: the sources simply go (a crash part-way
            // leaves some of them, which only holds superseded records).
            drop(file);
            fs::remove_file(&path).map_err(io_error(&path))?;
            None
        };
        for (base, _, _) in &sources {
            if let Some(segment) = self.sealed.remove(base) {
                self.retire(segment)?;
            }
        }
        self.dir_changed = true;
        let Some(file) = file else {
            return Ok(());
        };
        let paths = SegmentPaths::new(&self.dir, base_offset);
        fs::rename(&swap_path, &paths.log).map_err(io_error(&swap_path))?;
        checkpoint::sync_dir(&self.dir)?;
        let mut segment = Segment::with_file(base_offset, paths, file, size);
        segment.state = state;
        segment.seal()?;
        segment.flush()?;
        self.sealed.insert(base_offset, segment);
        Ok(())
    }
}
