//! The parts of `PartitionLog` that change it other than by appending: flushing,
//! retention, log start advances, truncation and deletion.

use std::fs;
use std::io::ErrorKind;
use std::iter;
use std::mem;

use super::super::checkpoint::{self, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE};
use super::super::error::{io_error, LogError};
use super::super::retention::{self, SealedSegmentSummary};
use super::{wall_clock_ms, PartitionLog};

impl PartitionLog {
    /// fsyncs the log and indexes of the active segment and of any sealed segment
    /// not yet flushed, then records the new recovery point.
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.ensure_writable()?;
        let result = self
            .flush_segments(wall_clock_ms())
            .and_then(|()| self.checkpoint_recovery_point());
        self.poison_on_io(result)
    }

    /// The periodic flush: always fsyncs sealed segments that are not yet (Kafka
    /// flushes them on roll), and everything when the last flush is older than
    /// `flush_interval_ms`. Returns whether any segment was fsynced.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<bool, LogError> {
        self.ensure_writable()?;
        let result = self.maybe_flush_inner(now_ms);
        self.poison_on_io(result)
    }

    /// Flushes and closes the log, so the next open needs no recovery scan of sealed segments.
    pub fn close(mut self) -> Result<(), LogError> {
        self.flush()?;
        self.active.trim()
    }

    fn maybe_flush_inner(&mut self, now_ms: i64) -> Result<bool, LogError> {
        let mut flushed = self.flush_sealed()?;
        let interval = self.config.flush_interval_ms;
        let due = interval != u64::MAX
            && now_ms.saturating_sub(self.last_flush_ms) >= i64::try_from(interval).unwrap_or(i64::MAX);
        if due && self.unflushed_messages() > 0 {
            self.flush_segments(now_ms)?;
            flushed = true;
        }
        self.checkpoint_recovery_point()?;
        Ok(flushed)
    }

    /// fsyncs everything up to the log end offset. The recovery-point file is
    /// written later (by `flush` or `maybe_flush`): a stale, lower one only costs
    /// a longer scan on open, and this keeps per-append flushes to two fsyncs.
    pub(super) fn flush_segments(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.flush_sealed()?;
        self.active.flush()?;
        self.recovery_point = self.log_end_offset();
        self.last_flush_ms = now_ms;
        Ok(())
    }

    /// fsyncs sealed segments holding data above the recovery point, and the
    /// directory if segment files came or went. Returns whether any segment was.
    fn flush_sealed(&mut self) -> Result<bool, LogError> {
        let recovery_point = self.recovery_point;
        let mut flushed = false;
        for segment in self
            .sealed
            .values_mut()
            .filter(|segment| segment.next_offset() > recovery_point)
        {
            segment.flush()?;
            flushed = true;
        }
        if self.dir_changed {
            checkpoint::sync_dir(&self.dir)?;
            self.dir_changed = false;
        }
        self.recovery_point = self.recovery_point.max(self.active.base_offset);
        Ok(flushed)
    }

    fn checkpoint_recovery_point(&mut self) -> Result<(), LogError> {
        if self.persisted_recovery_point != Some(self.recovery_point) {
            checkpoint::write_offset(&self.dir, RECOVERY_POINT_FILE, self.recovery_point)?;
            self.persisted_recovery_point = Some(self.recovery_point);
        }
        Ok(())
    }

    fn set_log_start_offset(&mut self, offset: i64) -> Result<(), LogError> {
        if offset != self.log_start_offset {
            checkpoint::write_offset(&self.dir, LOG_START_OFFSET_FILE, offset)?;
            self.log_start_offset = offset;
        }
        Ok(())
    }

    /// Deletes whole sealed segments past retention (time, then size, then those
    /// below the log start offset); never the active one. Advances the log start
    /// offset and returns how many segments were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let mut summaries = Vec::with_capacity(self.sealed.len());
        for segment in self.sealed.values() {
            // The mtime costs a syscall, so only look when time retention is on.
            let largest_timestamp_ms = if self.config.retention_ms >= 0 {
                segment.largest_timestamp_or_mtime()?
            } else {
                segment.max_timestamp()
            };
            summaries.push(SealedSegmentSummary {
                size: segment.size,
                largest_timestamp_ms,
                next_offset: segment.next_offset(),
            });
        }
        let count = retention::deletable_prefix(
            &summaries,
            self.size_bytes(),
            self.log_start_offset,
            now_ms,
            &self.config,
        );
        self.delete_oldest_sealed(count)?;
        Ok(count)
    }

    /// DeleteRecords: hides offsets below `new_start` and deletes the segments
    /// wholly below it. The caller bounds it by the high watermark. Returns
    /// whether the log start moved.
    pub fn advance_log_start_offset(&mut self, new_start: i64) -> Result<bool, LogError> {
        let end = self.log_end_offset();
        if new_start > end {
            return Err(LogError::OffsetOutOfRange {
                offset: new_start,
                start: self.log_start_offset,
                end,
            });
        }
        if new_start <= self.log_start_offset {
            return Ok(false);
        }
        self.set_log_start_offset(new_start)?;
        let count = self
            .sealed
            .values()
            .take_while(|segment| segment.next_offset() <= new_start)
            .count();
        self.delete_oldest_sealed(count)?;
        Ok(true)
    }

    /// Removes the `.deleted` files whose `file.delete.delay.ms` has passed;
    /// returns how many.
    pub fn purge_deleted(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let mut removed = 0;
        let mut kept = Vec::new();
        for (path, due) in std::mem::take(&mut self.pending_deletion) {
            if due > now_ms {
                kept.push((path, due));
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    kept.push((path.clone(), due));
                    self.pending_deletion = kept;
                    return Err(crate::log::error::io_error(&path)(e));
                }
            }
        }
        self.pending_deletion = kept;
        if removed > 0 {
            self.dir_changed = true;
        }
        Ok(removed)
    }

    fn delete_oldest_sealed(&mut self, count: usize) -> Result<(), LogError> {
        if count == 0 {
            return Ok(());
        }
        let new_first_base = self
            .sealed
            .keys()
            .nth(count)
            .copied()
            .unwrap_or(self.active.base_offset);
        // Persist the new start before deleting: files a crash leaves behind are
        // then below it, invisible to readers and deleted by the next retention run.
        self.set_log_start_offset(self.log_start_offset.max(new_first_base))?;
        for _ in 0..count {
            if let Some((base_offset, segment)) = self.sealed.pop_first() {
                tracing::info!(dir = %self.dir.display(), base_offset, "deleting segment");
                self.retire(segment)?;
            }
        }
        self.recovery_point = self.recovery_point.max(new_first_base);
        self.dir_changed = true;
        Ok(())
    }

    /// Deletes a segment taken out of the log: renamed `.deleted` and removed
    /// after `file.delete.delay.ms`, or at once without a delay.
    pub(super) fn retire(&mut self, segment: super::super::segment::Segment) -> Result<(), LogError> {
        let delay = self.config.file_delete_delay_ms;
        if delay > 0 {
            let due = super::wall_clock_ms().saturating_add(delay);
            for path in segment.mark_deleted()? {
                self.pending_deletion.push((path, due));
            }
            Ok(())
        } else {
            segment.delete_files()
        }
    }

    /// Drops the batch containing `offset` and everything after it (a batch cannot
    /// be split, so the new log end offset is that batch's base offset, which may
    /// be below `offset`). Below the first segment, the log restarts empty at `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        self.ensure_writable()?;
        let end = self.log_end_offset();
        if offset >= end {
            return Ok(());
        }
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end,
            });
        }
        let result = self.truncate_inner(offset);
        self.poison_on_io(result)
    }

    /// Empties the log and restarts it at `offset` (a follower far behind a
    /// leader whose log now starts above this one's end).
    pub fn restart_at(&mut self, offset: i64) -> Result<(), LogError> {
        self.ensure_writable()?;
        if offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end: self.log_end_offset(),
            });
        }
        let result = self.restart_inner(offset);
        self.poison_on_io(result)
    }

    fn restart_inner(&mut self, offset: i64) -> Result<(), LogError> {
        let fresh = super::new_segment(&self.dir, offset, &self.config)?;
        let old_active = mem::replace(&mut self.active, fresh);
        for segment in mem::take(&mut self.sealed).into_values().chain(iter::once(old_active)) {
            if segment.base_offset != offset {
                segment.delete_files()?;
            }
        }
        self.set_log_start_offset(offset)?;
        self.recovery_point = offset;
        self.dir_changed = true;
        if self
            .persisted_recovery_point
            .is_some_and(|persisted| persisted != offset)
        {
            self.checkpoint_recovery_point()?;
        }
        Ok(())
    }

    fn truncate_inner(&mut self, offset: i64) -> Result<(), LogError> {
        let first_base = self.sealed.keys().next().copied().unwrap_or(self.active.base_offset);
        if offset < first_base {
            let fresh = super::new_segment(&self.dir, offset, &self.config)?;
            let old_active = mem::replace(&mut self.active, fresh);
            for segment in mem::take(&mut self.sealed).into_values().chain(iter::once(old_active)) {
                segment.delete_files()?;
            }
            self.set_log_start_offset(offset)?;
            self.recovery_point = offset; // nothing below it is left to flush
        } else {
            let mut active_replaced = false;
            while self.active.base_offset > offset {
                let Some((_, previous)) = self.sealed.pop_last() else {
                    return Err(LogError::Corrupt(format!("no segment holds offset {offset}")));
                };
                mem::replace(&mut self.active, previous).delete_files()?;
                active_replaced = true;
            }
            self.active.truncate_to(offset, self.config.index_interval_bytes)?;
            if active_replaced {
                self.active.init_roll_base()?;
            }
            self.set_log_start_offset(self.log_start_offset.min(self.log_end_offset()))?;
        }
        self.dir_changed = true;
        let end = self.log_end_offset();
        self.recovery_point = self.recovery_point.min(end);
        // A checkpoint above the new end would make the next open trust segments
        // that are rewritten from here on.
        if self.persisted_recovery_point.is_some_and(|persisted| persisted > end) {
            self.checkpoint_recovery_point()?;
        }
        Ok(())
    }

    /// Removes the whole log (topic deletion): closes the files, deletes the directory.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        match fs::remove_dir_all(&dir) {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(io_error(&dir)(error)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::tests::{append_batches, segment_log, small_segments, ten_batch_log, BATCH_BYTES};
    use super::*;
    use crate::log::LogConfig;

    fn checkpoint_in(log: &PartitionLog, name: &str) -> String {
        fs::read_to_string(log.dir().join(name)).unwrap().trim().to_string()
    }

    #[test]
    fn flushes_by_message_count() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            flush_interval_messages: 10,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config).unwrap();
        for expected in [3, 6, 9, 0, 3] {
            append_batches(&mut log, [0]);
            assert_eq!(log.unflushed_messages(), expected);
        }
        assert_eq!(log.recovery_point(), 12);
        assert!(!log.maybe_flush(0).unwrap(), "no time policy and no sealed segments");
        assert_eq!(checkpoint_in(&log, RECOVERY_POINT_FILE), "12");
    }

    #[test]
    fn maybe_flush_flushes_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            flush_interval_ms: 1000,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config).unwrap();
        append_batches(&mut log, [0, 0]);
        let last_flush = log.last_flush_ms;
        assert!(!log.maybe_flush(last_flush + 999).unwrap());
        assert_eq!(log.unflushed_messages(), 6);
        assert!(log.maybe_flush(last_flush + 1000).unwrap());
        assert_eq!(log.unflushed_messages(), 0);
        assert_eq!(checkpoint_in(&log, RECOVERY_POINT_FILE), "6");
        assert!(!log.maybe_flush(last_flush + 100_000).unwrap(), "nothing left to flush");
    }

    #[test]
    fn maybe_flush_always_flushes_sealed_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = ten_batch_log(dir.path());
        assert_eq!(log.unflushed_messages(), 30);
        assert!(log.maybe_flush(0).unwrap());
        assert_eq!((log.recovery_point(), log.unflushed_messages()), (27, 3));
        assert_eq!(checkpoint_in(&log, RECOVERY_POINT_FILE), "27");
        assert!(!log.maybe_flush(0).unwrap());
    }

    #[test]
    fn size_retention_deletes_only_sealed_segments_and_advances_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, batches) = ten_batch_log(dir.path());
        log.set_config(LogConfig {
            retention_bytes: 1000,
            retention_ms: -1,
            ..small_segments()
        });
        assert_eq!(
            log.enforce_retention(0).unwrap(),
            1,
            "1610 bytes: only the first segment can go"
        );
        assert_eq!((log.log_start_offset(), log.size_bytes()), (9, 7 * BATCH_BYTES));
        assert_eq!(log.segment_base_offsets(), vec![9, 18, 27]);
        assert!(!segment_log(dir.path(), 0).exists());
        assert!(matches!(
            log.read(8, 0),
            Err(LogError::OffsetOutOfRange { start: 9, .. })
        ));
        assert_eq!(log.read(9, 0).unwrap().data.as_ref(), batches[3].as_slice());

        log.set_config(LogConfig {
            retention_bytes: 0,
            retention_ms: -1,
            ..small_segments()
        });
        assert_eq!(log.enforce_retention(0).unwrap(), 2);
        assert_eq!(
            log.enforce_retention(0).unwrap(),
            0,
            "the active segment is never deleted"
        );
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (27, 30));
        assert_eq!(log.read(28, 0).unwrap().data.as_ref(), batches[9].as_slice());
        drop(log);
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (27, 30));
    }

    #[test]
    fn time_retention_uses_the_largest_timestamp_of_each_segment() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            retention_ms: 1500,
            ..small_segments()
        };
        let mut log = PartitionLog::open(dir.path(), config).unwrap();
        append_batches(&mut log, [1000, 1001, 1002, 2000, 2001, 2002, 3000, 3001, 3002, 4000]);
        assert_eq!(log.enforce_retention(3502).unwrap(), 1, "3502 - 2002 is not over 1500");
        assert_eq!(log.enforce_retention(4000).unwrap(), 1);
        assert_eq!(log.log_start_offset(), 18);
        log.set_config(LogConfig {
            retention_ms: 0,
            ..small_segments()
        });
        assert_eq!(log.enforce_retention(1_000_000).unwrap(), 1);
        assert_eq!(log.segment_base_offsets(), vec![27]);
        assert_eq!(log.log_start_offset(), 27);
    }

    #[test]
    fn time_retention_falls_back_to_mtime_without_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let week = 7 * 24 * 3600 * 1000;
        let mut log = PartitionLog::open(
            dir.path(),
            LogConfig {
                retention_ms: week,
                ..small_segments()
            },
        )
        .unwrap();
        append_batches(&mut log, [-1; 4]);
        let now = wall_clock_ms();
        assert_eq!(log.enforce_retention(now).unwrap(), 0);
        assert_eq!(log.enforce_retention(now + week + 60_000).unwrap(), 1);
        assert_eq!(log.log_start_offset(), 9);
    }

    #[test]
    fn advancing_the_log_start_hides_offsets_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, batches) = ten_batch_log(dir.path());
        assert!(log.advance_log_start_offset(10).unwrap());
        assert!(!log.advance_log_start_offset(5).unwrap());
        assert!(matches!(
            log.advance_log_start_offset(31),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(
            log.segment_base_offsets(),
            vec![9, 18, 27],
            "the segment wholly below 10 went"
        );
        assert!(matches!(log.read(9, 0), Err(LogError::OffsetOutOfRange { .. })));
        assert_eq!(
            log.read(10, 0).unwrap().data.as_ref(),
            batches[3].as_slice(),
            "the batch holding the start"
        );
        drop(log);
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(log.log_start_offset(), 10);
    }

    #[test]
    fn truncation_drops_the_containing_batch_and_later_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, batches) = ten_batch_log(dir.path());
        log.flush().unwrap();
        log.truncate_to(100).unwrap();
        assert_eq!(log.log_end_offset(), 30, "truncating past the end is a no-op");
        log.truncate_to(14).unwrap();
        assert_eq!(log.log_end_offset(), 12);
        assert_eq!(log.segment_base_offsets(), vec![0, 9]);
        assert!(!segment_log(dir.path(), 18).exists() && !segment_log(dir.path(), 27).exists());
        assert_eq!(
            checkpoint_in(&log, RECOVERY_POINT_FILE),
            "12",
            "the recovery point came down with the log"
        );
        assert_eq!(
            log.read(0, usize::MAX).unwrap().data.as_ref(),
            batches[..4].concat().as_slice()
        );
        assert!(log.read(12, 100).unwrap().data.is_empty());
        assert_eq!(log.lookup_timestamp(1004).unwrap(), None);

        let next = append_batches(&mut log, [7000]);
        assert_eq!(log.read(12, 0).unwrap().data.as_ref(), next[0].as_slice());
        drop(log);
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(log.log_end_offset(), 15);
        assert_eq!(
            log.read(0, usize::MAX).unwrap().data.as_ref(),
            [&batches[..4], &next[..]].concat().concat().as_slice()
        );
        assert_eq!(log.lookup_timestamp(7000).unwrap().unwrap().0, 12);
    }

    #[test]
    fn truncation_below_the_first_segment_restarts_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = ten_batch_log(dir.path());
        log.set_config(LogConfig {
            retention_bytes: 0,
            retention_ms: -1,
            ..small_segments()
        });
        log.enforce_retention(0).unwrap();
        assert_eq!(log.segment_base_offsets(), vec![27]);
        log.truncate_to(20).unwrap();
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset(), log.size_bytes()),
            (20, 20, 0)
        );
        assert_eq!(log.unflushed_messages(), 0);
        assert_eq!(log.segment_base_offsets(), vec![20]);
        assert!(!segment_log(dir.path(), 27).exists());
        assert_eq!(append_batches(&mut log, [1]).len(), 1);
        assert_eq!(log.log_end_offset(), 23);
        drop(log);
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (20, 23));
    }

    #[test]
    fn checkpoints_past_the_log_end_are_pulled_back_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = ten_batch_log(dir.path());
        drop(log);
        fs::write(dir.path().join(RECOVERY_POINT_FILE), "1000\n").unwrap();
        fs::write(dir.path().join(LOG_START_OFFSET_FILE), "500\n").unwrap();
        let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(
            (log.log_start_offset(), log.log_end_offset(), log.recovery_point()),
            (30, 30, 30)
        );
        assert_eq!(checkpoint_in(&log, RECOVERY_POINT_FILE), "30");
        assert_eq!(checkpoint_in(&log, LOG_START_OFFSET_FILE), "30");
    }

    #[test]
    fn delete_removes_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topic-3");
        let (log, _) = ten_batch_log(&path);
        log.delete().unwrap();
        assert!(!path.exists());
    }
}
