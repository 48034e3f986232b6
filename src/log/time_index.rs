//! Sparse time index (`.timeindex`): (largest timestamp so far, relative last offset
//! of the first batch that reached it), appended alongside offset index entries
//! when the timestamp grows. Same 12-byte big-endian entries as Kafka's.

use std::path::Path;

use super::error::LogError;
use super::index_file::{IndexEntries, IndexEntry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub(crate) timestamp: i64,
    pub(crate) relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const BYTES: usize = 12;
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(&bytes[..8]);
        TimeEntry {
            timestamp: i64::from_be_bytes(timestamp),
            relative_offset: u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
        }
    }
}

#[derive(Debug)]
pub(crate) struct TimeIndex {
    entries: IndexEntries<TimeEntry>,
}

impl TimeIndex {
    pub(crate) fn fresh() -> Self {
        TimeIndex {
            entries: IndexEntries::fresh(),
        }
    }

    pub(crate) fn entries(&self) -> &[TimeEntry] {
        self.entries.as_slice()
    }

    pub(crate) fn last(&self) -> Option<TimeEntry> {
        self.entries().last().copied()
    }

    /// Appends only if the timestamp grew, which keeps timestamps strictly increasing.
    pub(crate) fn maybe_append(&mut self, timestamp: i64, relative_offset: u32) {
        let grows = match self.last() {
            Some(last) => timestamp > last.timestamp && relative_offset >= last.relative_offset,
            None => timestamp >= 0,
        };
        if grows {
            self.entries.push(TimeEntry {
                timestamp,
                relative_offset,
            });
        }
    }

    /// The relative offset of the last entry with timestamp <= `timestamp`: every
    /// batch before the one it names has a smaller max timestamp, so a search for
    /// the first batch reaching `timestamp` can start there.
    pub(crate) fn lookup(&self, timestamp: i64) -> Option<u32> {
        let entries = self.entries();
        match entries.partition_point(|entry| entry.timestamp <= timestamp) {
            0 => None,
            after => Some(entries[after - 1].relative_offset),
        }
    }

    /// Drops entries naming offsets at or after `relative_offset`.
    pub(crate) fn truncate_from(&mut self, relative_offset: u32) {
        let keep = self
            .entries()
            .partition_point(|entry| entry.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// Loads the index file; `Ok(Err(reason))` if missing or structurally broken.
    pub(crate) fn load(path: &Path) -> Result<Result<TimeIndex, String>, LogError> {
        let entries = match IndexEntries::<TimeEntry>::read_file(path)? {
            None => return Ok(Err("time index is missing".to_string())),
            Some(Err(reason)) => return Ok(Err(format!("time index: {reason}"))),
            Some(Ok(entries)) => entries,
        };
        let ordered = entries
            .windows(2)
            .all(|pair| pair[0].timestamp < pair[1].timestamp && pair[0].relative_offset <= pair[1].relative_offset);
        if !ordered || entries.first().is_some_and(|entry| entry.timestamp < 0) {
            return Ok(Err("time index entries are not increasing".to_string()));
        }
        Ok(Ok(TimeIndex {
            entries: IndexEntries::loaded(entries),
        }))
    }

    pub(crate) fn persist(&mut self, path: &Path, sync: bool) -> Result<(), LogError> {
        self.entries.persist(path, sync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_only_growing_timestamps_and_looks_up_at_or_before() {
        let mut index = TimeIndex::fresh();
        index.maybe_append(-1, 0);
        assert!(index.entries().is_empty(), "no-timestamp batches are not indexed");
        index.maybe_append(100, 4);
        index.maybe_append(100, 9);
        index.maybe_append(90, 12);
        index.maybe_append(250, 20);
        assert_eq!(index.entries().len(), 2);
        assert_eq!(index.lookup(99), None);
        assert_eq!(index.lookup(100), Some(4));
        assert_eq!(index.lookup(249), Some(4));
        assert_eq!(index.lookup(i64::MAX), Some(20));
        index.truncate_from(20);
        assert_eq!(
            index.last(),
            Some(TimeEntry {
                timestamp: 100,
                relative_offset: 4
            })
        );
    }

    #[test]
    fn load_round_trips_and_rejects_disorder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        assert!(TimeIndex::load(&path).unwrap().is_err());
        let mut index = TimeIndex::fresh();
        index.maybe_append(1_000, 3);
        index.maybe_append(2_000, 8);
        index.persist(&path, true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 24);
        assert_eq!(TimeIndex::load(&path).unwrap().unwrap().entries(), index.entries());

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.rotate_left(12);
        std::fs::write(&path, &bytes).unwrap();
        assert!(TimeIndex::load(&path).unwrap().is_err());
    }
}
