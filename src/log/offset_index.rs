//! Sparse offset index (`.index`): for one batch per ~`index_interval_bytes` of log,
//! its last offset relative to the segment base and its file position. Same 8-byte
//! big-endian entries and the same sampling as Kafka's.

use std::path::Path;

use super::error::LogError;
use super::index_file::{IndexEntries, IndexEntry};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub(crate) relative_offset: u32,
    pub(crate) position: u32,
}

impl IndexEntry for OffsetEntry {
    const BYTES: usize = 8;
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            position: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }
}

#[derive(Debug)]
pub(crate) struct OffsetIndex {
    entries: IndexEntries<OffsetEntry>,
}

impl OffsetIndex {
    pub(crate) fn fresh() -> Self {
        OffsetIndex {
            entries: IndexEntries::fresh(),
        }
    }

    pub(crate) fn entries(&self) -> &[OffsetEntry] {
        self.entries.as_slice()
    }

    pub(crate) fn last(&self) -> Option<OffsetEntry> {
        self.entries().last().copied()
    }

    /// Callers append in increasing offset and position order.
    pub(crate) fn append(&mut self, entry: OffsetEntry) {
        self.entries.push(entry);
    }

    /// A batch boundary at or before the batch holding `relative_offset`: the
    /// position of the last indexed batch ending at or before it, else 0.
    pub(crate) fn scan_start(&self, relative_offset: u32) -> u32 {
        let entries = self.entries();
        match entries.partition_point(|entry| entry.relative_offset <= relative_offset) {
            0 => 0,
            after => entries[after - 1].position,
        }
    }

    /// Drops entries for batches ending at or after `relative_offset`.
    pub(crate) fn truncate_from(&mut self, relative_offset: u32) {
        let keep = self
            .entries()
            .partition_point(|entry| entry.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// Loads the index file. `Ok(Err(reason))` if it is missing or fails the
    /// structural checks (then the caller rebuilds it from the log).
    pub(crate) fn load(path: &Path, log_size: u64) -> Result<Result<OffsetIndex, String>, LogError> {
        let entries = match IndexEntries::<OffsetEntry>::read_file(path)? {
            None => return Ok(Err("offset index is missing".to_string())),
            Some(Err(reason)) => return Ok(Err(format!("offset index: {reason}"))),
            Some(Ok(entries)) => entries,
        };
        let increasing = entries
            .windows(2)
            .all(|pair| pair[0].relative_offset < pair[1].relative_offset && pair[0].position < pair[1].position);
        if !increasing {
            return Ok(Err("offset index entries are not strictly increasing".to_string()));
        }
        if entries
            .last()
            .is_some_and(|entry| u64::from(entry.position) >= log_size)
        {
            return Ok(Err("offset index points past the end of the log".to_string()));
        }
        Ok(Ok(OffsetIndex {
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

    fn index_of(pairs: &[(u32, u32)]) -> OffsetIndex {
        let mut index = OffsetIndex::fresh();
        for &(relative_offset, position) in pairs {
            index.append(OffsetEntry {
                relative_offset,
                position,
            });
        }
        index
    }

    #[test]
    fn scan_start_is_the_last_entry_at_or_before_the_target() {
        let index = index_of(&[(9, 4100), (19, 8300), (29, 12500)]);
        assert_eq!(index.scan_start(0), 0);
        assert_eq!(index.scan_start(8), 0);
        assert_eq!(index.scan_start(9), 4100);
        assert_eq!(index.scan_start(15), 4100);
        assert_eq!(index.scan_start(29), 12500);
        assert_eq!(index.scan_start(u32::MAX), 12500);
        assert_eq!(OffsetIndex::fresh().scan_start(5), 0);
    }

    #[test]
    fn truncate_from_drops_entries_at_and_after() {
        let mut index = index_of(&[(9, 4100), (19, 8300), (29, 12500)]);
        index.truncate_from(19);
        assert_eq!(
            index.entries(),
            &[OffsetEntry {
                relative_offset: 9,
                position: 4100
            }]
        );
    }

    #[test]
    fn load_round_trips_and_rejects_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        assert!(OffsetIndex::load(&path, 100).unwrap().is_err(), "missing");

        let mut index = index_of(&[(9, 4100), (19, 8300)]);
        index.persist(&path, true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap()[..8], [0, 0, 0, 9, 0, 0, 0x10, 0x04]);
        let loaded = OffsetIndex::load(&path, 9000).unwrap().unwrap();
        assert_eq!(loaded.entries(), index.entries());
        assert!(OffsetIndex::load(&path, 8300)
            .unwrap()
            .unwrap_err()
            .contains("past the end"));

        std::fs::write(&path, [0u8, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 9]).unwrap();
        assert!(OffsetIndex::load(&path, 100)
            .unwrap()
            .unwrap_err()
            .contains("increasing"));
        std::fs::write(&path, [1u8; 13]).unwrap();
        assert!(OffsetIndex::load(&path, 100).unwrap().is_err());
    }
}
