//! Which sealed segments retention deletes, decided as Kafka does: oldest first,
//! by time, then by size, then those wholly below the log start offset. Each rule
//! only extends the run of oldest segments, so the log stays contiguous.

use super::config::LogConfig;

#[derive(Clone, Copy, Debug)]
pub(crate) struct SealedSegmentSummary {
    pub(crate) size: u64,
    /// Largest batch timestamp, or the file mtime if no batch has one.
    pub(crate) largest_timestamp_ms: i64,
    pub(crate) next_offset: i64,
}

/// How many of the oldest sealed segments (`sealed`, oldest first) to delete, given
/// the log's total size including the active segment.
pub(crate) fn deletable_prefix(
    sealed: &[SealedSegmentSummary],
    total_size: u64,
    log_start_offset: i64,
    now_ms: i64,
    config: &LogConfig,
) -> usize {
    let mut count = 0;
    if config.retention_ms >= 0 {
        while count < sealed.len() && now_ms.saturating_sub(sealed[count].largest_timestamp_ms) > config.retention_ms {
            count += 1;
        }
    }
    if config.retention_bytes >= 0 {
        // Kafka deletes a segment only if the log still holds retention_bytes
        // without it, so the log never shrinks below the limit.
        let already_deleted: u64 = sealed[..count].iter().map(|segment| segment.size).sum();
        let mut excess = i128::from(total_size) - i128::from(already_deleted) - i128::from(config.retention_bytes);
        while count < sealed.len() && excess >= i128::from(sealed[count].size) {
            excess -= i128::from(sealed[count].size);
            count += 1;
        }
    }
    while count < sealed.len() && sealed[count].next_offset <= log_start_offset {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summaries(timestamps: &[i64]) -> Vec<SealedSegmentSummary> {
        let offsets = (1..).map(|i| i * 10);
        timestamps
            .iter()
            .zip(offsets)
            .map(|(&largest_timestamp_ms, next_offset)| SealedSegmentSummary {
                size: 100,
                largest_timestamp_ms,
                next_offset,
            })
            .collect()
    }

    fn config(retention_ms: i64, retention_bytes: i64) -> LogConfig {
        LogConfig {
            retention_ms,
            retention_bytes,
            ..LogConfig::default()
        }
    }

    #[test]
    fn time_retention_deletes_the_expired_run_of_oldest_segments() {
        let sealed = summaries(&[100, 200, 300]);
        assert_eq!(deletable_prefix(&sealed, 350, 0, 1000, &config(750, -1)), 2);
        assert_eq!(
            deletable_prefix(&sealed, 350, 0, 1000, &config(800, -1)),
            1,
            "exactly at the limit is kept"
        );
        assert_eq!(deletable_prefix(&sealed, 350, 0, 1000, &config(-1, -1)), 0);
        let out_of_order = summaries(&[100, 900, 50]);
        assert_eq!(
            deletable_prefix(&out_of_order, 350, 0, 1000, &config(500, -1)),
            1,
            "stops at the first young segment"
        );
    }

    #[test]
    fn size_retention_keeps_at_least_the_limit() {
        let sealed = summaries(&[0, 0, 0]);
        assert_eq!(deletable_prefix(&sealed, 350, 0, 0, &config(-1, 200)), 1);
        assert_eq!(deletable_prefix(&sealed, 350, 0, 0, &config(-1, 150)), 2);
        assert_eq!(deletable_prefix(&sealed, 350, 0, 0, &config(-1, 0)), 3);
        assert_eq!(deletable_prefix(&sealed, 350, 0, 0, &config(-1, 351)), 0);
        // Time retention ran first: its deletions count towards the size limit.
        let mixed = summaries(&[0, 5000, 5000]);
        assert_eq!(deletable_prefix(&mixed, 350, 0, 5000, &config(1000, 200)), 1);
        assert_eq!(deletable_prefix(&mixed, 350, 0, 5000, &config(1000, 100)), 2);
    }

    #[test]
    fn segments_below_the_log_start_offset_go() {
        let sealed = summaries(&[0, 0, 0]);
        assert_eq!(deletable_prefix(&sealed, 350, 20, 0, &config(-1, -1)), 2);
        assert_eq!(deletable_prefix(&sealed, 350, 19, 0, &config(-1, -1)), 1);
    }
}
