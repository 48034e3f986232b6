//! Log compaction (`cleanup.policy=compact`): the pieces of Kafka's log
//! cleaner that work on one partition's files. The broker's cleaner threads
//! (`broker::log_cleaner`) choose partitions and drive a pass:
//! `PartitionLog::cleanable_summary` → `prepare_clean` → `CleanJob`
//! (`build_offset_map`, then `clean_group` per group) → `swap_cleaned`.

mod checkpoint_file;
mod job;
mod offset_map;
mod swap_recovery;
mod throttle;

#[cfg(test)]
mod tests;

pub use checkpoint_file::{read_cleaner_offsets, write_cleaner_offsets, CleanerOffsets, CLEANER_CHECKPOINT_FILE};
pub use job::{
    cleaned_path, swap_path, CleanJob, CleanStats, CleanedGroup, SourceSegment, CLEANED_SUFFIX, SWAP_SUFFIX,
};
pub use offset_map::OffsetMap;
pub(crate) use swap_recovery::complete_interrupted_swaps;
pub use throttle::Throttle;

/// Where a partition's log stands for the cleaner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CleanableSummary {
    /// Start of the dirty section (the cleaner's checkpoint, within the log).
    pub first_dirty: i64,
    /// End of what may be cleaned: the active segment, the high watermark or
    /// `min.compaction.lag.ms`, whichever comes first, at a segment boundary.
    pub first_uncleanable: i64,
    /// Bytes of sealed segments below `first_dirty`.
    pub clean_bytes: u64,
    /// Bytes of sealed segments in `[first_dirty, first_uncleanable)`.
    pub dirty_bytes: u64,
    /// The oldest dirty record is older than `max.compaction.lag.ms`.
    pub max_lag_overdue: bool,
}

impl CleanableSummary {
    /// dirty / (clean + dirty), 0 for an empty log.
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PassOutcome {
    /// Where the next pass's dirty section starts (the checkpoint to keep).
    pub next_first_dirty: i64,
    pub stats: CleanStats,
    pub groups_swapped: usize,
    /// Groups whose sources changed under the pass (retention, truncation).
    pub groups_abandoned: usize,
    /// When the earliest tombstone kept may be removed by another pass.
    pub tombstone_due_ms: Option<i64>,
}

/// One pass over `job`: map the dirty section, then clean and `swap` each
/// group in turn (the caller's swap takes the log's write lock, briefly).
/// If a group was abandoned the checkpoint stays where it was, so the keys
/// of this pass are mapped again next time.
pub fn run_pass(
    job: &CleanJob,
    map_capacity: usize,
    now_ms: i64,
    throttle: &mut Option<Throttle>,
    mut swap: impl FnMut(CleanedGroup) -> Result<bool, crate::log::LogError>,
) -> Result<PassOutcome, crate::log::LogError> {
    let mut outcome = PassOutcome::default();
    let mut map = OffsetMap::with_capacity(map_capacity);
    let end = job.build_offset_map(&mut map, throttle, &mut outcome.stats)?;
    for group in job.groups(end) {
        let cleaned = job.clean_group(&group, &map, end, now_ms, throttle, &mut outcome.stats)?;
        let due = cleaned.tombstone_due_ms;
        if swap(cleaned)? {
            outcome.groups_swapped += 1;
            if let Some(due) = due {
                outcome.tombstone_due_ms = Some(outcome.tombstone_due_ms.map_or(due, |d| d.min(due)));
            }
        } else {
            outcome.groups_abandoned += 1;
        }
    }
    outcome.next_first_dirty = if outcome.groups_abandoned > 0 {
        job.first_dirty
    } else {
        end
    };
    Ok(outcome)
}
