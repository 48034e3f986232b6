//! Per-partition log settings, mirroring Kafka's `log.*` broker and topic configs.

/// Kafka stores file positions and relative offsets in 32-bit signed index slots,
/// so a segment never grows past this many bytes nor spans more offsets.
pub(crate) const MAX_SEGMENT_BYTES: u64 = i32::MAX as u64;
pub(crate) const MAX_RELATIVE_OFFSET: i64 = i32::MAX as i64;

const WEEK_MS: i64 = 7 * 24 * 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// Roll when the active segment would exceed this (`log.segment.bytes`).
    pub segment_bytes: u64,
    /// Roll when the active segment's first batch was appended longer ago than this
    /// (`log.roll.ms`); `<= 0` never rolls by time.
    pub segment_ms: i64,
    /// Delete sealed segments whose largest timestamp (or mtime if none) is older
    /// than this (`log.retention.ms`); negative = unlimited.
    pub retention_ms: i64,
    /// Delete the oldest sealed segments while the log would still hold at least
    /// this many bytes without them (`log.retention.bytes`); negative = unlimited.
    pub retention_bytes: i64,
    /// fsync once this many offsets were appended since the last flush
    /// (`log.flush.interval.messages`); `u64::MAX` = never by count.
    pub flush_interval_messages: u64,
    /// fsync, in `maybe_flush`, once the last flush is older than this
    /// (`log.flush.interval.ms`); `u64::MAX` = never by time.
    pub flush_interval_ms: u64,
    /// Bytes of log between sparse index entries (`log.index.interval.bytes`).
    pub index_interval_bytes: u32,
    /// Up to this much is taken off `segment_ms` per segment, at random
    /// (`segment.jitter.ms`), so segments of many partitions do not roll together.
    pub segment_jitter_ms: i64,
    /// Segments deleted by retention are renamed `.deleted` and removed this
    /// much later (`file.delete.delay.ms`); 0 removes them at once.
    pub file_delete_delay_ms: i64,
    /// Roll once the offset index (8 bytes an entry) or the time index (12)
    /// would outgrow this (`segment.index.bytes` / `log.index.size.max.bytes`).
    pub segment_index_bytes: u32,
    /// Create each new segment file at its full `segment_bytes` (`preallocate`,
    /// as Kafka's `setLength`), trimmed to its contents when sealed or closed.
    pub preallocate: bool,
    /// `cleanup.policy` includes `compact`: the cleaner keeps the latest record
    /// of each key, and records without a key are refused.
    pub compact: bool,
    /// Tombstones (null values) stay this long after their segment was last
    /// written (`delete.retention.ms`), so a consumer reading from the start
    /// within that time still sees the delete.
    pub delete_retention_ms: i64,
    /// Clean once dirty bytes are at least this share of the cleanable log
    /// (`min.cleanable.dirty.ratio`).
    pub min_cleanable_dirty_ratio: f64,
    /// A segment whose newest record is younger than this is not cleaned
    /// (`min.compaction.lag.ms`).
    pub min_compaction_lag_ms: i64,
    /// A dirty record older than this makes the partition due whatever its
    /// dirty ratio (`max.compaction.lag.ms`; `i64::MAX`: no limit).
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    /// Kafka's broker defaults; flushing is left to the OS, as in Kafka.
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: WEEK_MS,
            retention_ms: WEEK_MS,
            retention_bytes: -1,
            flush_interval_messages: u64::MAX,
            flush_interval_ms: u64::MAX,
            index_interval_bytes: 4096,
            segment_jitter_ms: 0,
            file_delete_delay_ms: 0,
            segment_index_bytes: 10 * 1024 * 1024,
            preallocate: false,
            compact: false,
            delete_retention_ms: DAY_MS,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl LogConfig {
    /// The roll size actually applied: index slots cannot address more.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.min(MAX_SEGMENT_BYTES)
    }

    /// Whether indexes holding `offset_entries` and `time_entries` are full.
    pub(crate) fn indexes_full(&self, offset_entries: usize, time_entries: usize) -> bool {
        let bytes = u64::from(self.segment_index_bytes);
        offset_entries as u64 >= bytes / 8 || time_entries as u64 >= bytes / 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka() {
        let config = LogConfig::default();
        assert_eq!(config.segment_bytes, 1_073_741_824);
        assert_eq!(config.segment_ms, 604_800_000);
        assert_eq!(config.retention_ms, 604_800_000);
        assert_eq!(config.retention_bytes, -1);
        assert_eq!(config.flush_interval_messages, u64::MAX);
        assert_eq!(config.flush_interval_ms, u64::MAX);
        assert_eq!(config.index_interval_bytes, 4096);
    }

    #[test]
    fn indexes_are_full_at_segment_index_bytes() {
        let config = LogConfig {
            segment_index_bytes: 24,
            ..LogConfig::default()
        };
        assert!(!config.indexes_full(2, 1));
        assert!(config.indexes_full(3, 0), "3 offset entries = 24 bytes");
        assert!(config.indexes_full(0, 2), "2 time entries = 24 bytes");
    }

    #[test]
    fn segment_size_is_capped_by_index_width() {
        let config = LogConfig {
            segment_bytes: u64::MAX,
            ..LogConfig::default()
        };
        assert_eq!(config.effective_segment_bytes(), i32::MAX as u64);
        let small = LogConfig {
            segment_bytes: 100,
            ..LogConfig::default()
        };
        assert_eq!(small.effective_segment_bytes(), 100);
    }
}
