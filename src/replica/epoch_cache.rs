//! The leader epoch cache of one partition (Kafka's `LeaderEpochFileCache`):
//! for every leader epoch the offset its first record got. Followers use it
//! to truncate to the point where their log and the leader's agree (KIP-101,
//! KIP-279) instead of to the high watermark. Persisted as Kafka's
//! `leader-epoch-checkpoint`: `0`, the entry count, then `<epoch> <offset>`
//! lines.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "leader-epoch-checkpoint";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub struct EpochCache {
    path: Option<PathBuf>,
    entries: Vec<EpochEntry>,
}

impl EpochCache {
    /// An in-memory cache (tests).
    pub fn in_memory() -> EpochCache {
        EpochCache {
            path: None,
            entries: Vec::new(),
        }
    }

    /// Loads `<dir>/leader-epoch-checkpoint`; a missing or unreadable file
    /// gives an empty cache (the follower then truncates to its high
    /// watermark, as Kafka does without epochs).
    pub fn load(dir: &Path) -> EpochCache {
        let path = dir.join(FILE_NAME);
        let entries = match fs::read_to_string(&path) {
            Ok(text) => parse(&text).unwrap_or_else(|why| {
                tracing::warn!(path = %path.display(), why, "ignoring unreadable leader-epoch-checkpoint");
                Vec::new()
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read leader-epoch-checkpoint");
                Vec::new()
            }
        };
        EpochCache {
            path: Some(path),
            entries,
        }
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`, if it is newer than
    /// the latest epoch. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || self.latest_epoch().is_some_and(|latest| latest >= epoch) {
            return false;
        }
        // An epoch that starts where a later-numbered one... cannot exist; but
        // one that starts before the previous entry's start is stale data.
        self.entries.retain(|e| e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        self.persist();
        true
    }

    /// The answer to OffsetForLeaderEpoch for `requested`: the largest
    /// epoch at or below it and the offset where the next epoch starts (the
    /// log end offset for the latest epoch). `None` if `requested` is older
    /// than every epoch known (Kafka's UNDEFINED_EPOCH_OFFSET).
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        let position = self.entries.iter().rposition(|e| e.epoch <= requested)?;
        let epoch = self.entries[position].epoch;
        let end = self
            .entries
            .get(position + 1)
            .map_or(log_end_offset, |next| next.start_offset);
        Some((epoch, end))
    }

    /// Forgets epochs that start at or after `offset` (the log was truncated
    /// to end there).
    pub fn truncate_from_end(&mut self, offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < offset);
        if self.entries.len() != before {
            self.persist();
        }
    }

    /// Forgets everything (the log restarts empty at the leader's start).
    pub fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.entries.clear();
            self.persist();
        }
    }

    fn persist(&self) {
        let Some(path) = &self.path else { return };
        if let Err(e) = write_atomically(path, &render(&self.entries)) {
            // The cache in memory stays right; only a restart would fall back
            // to high-watermark truncation.
            tracing::error!(path = %path.display(), error = %e, "cannot write leader-epoch-checkpoint");
        }
    }
}

fn render(entries: &[EpochEntry]) -> String {
    let mut text = format!("0\n{}\n", entries.len());
    for e in entries {
        text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
    }
    text
}

fn parse(text: &str) -> Result<Vec<EpochEntry>, String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return Err("version is not 0".into());
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no entry count")?;
    let mut entries: Vec<EpochEntry> = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let line = lines.next().ok_or("fewer entries than counted")?;
        let mut parts = line.split_whitespace();
        let epoch = parts.next().and_then(|p| p.parse().ok()).ok_or("bad epoch")?;
        let start_offset = parts.next().and_then(|p| p.parse().ok()).ok_or("bad offset")?;
        if entries
            .last()
            .is_some_and(|last| last.epoch >= epoch || last.start_offset > start_offset)
        {
            return Err("entries out of order".into());
        }
        entries.push(EpochEntry { epoch, start_offset });
    }
    Ok(entries)
}

/// Temp file, fsync, rename: a crash leaves the old file or the new one.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = fs::File::create(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offsets_follow_kafka() {
        let mut cache = EpochCache::in_memory();
        assert_eq!(cache.end_offset_for(0, 10), None);
        assert!(cache.assign(0, 0));
        assert!(cache.assign(2, 40));
        assert!(!cache.assign(1, 50), "older epochs are ignored");
        assert!(cache.assign(5, 70));
        assert_eq!(cache.end_offset_for(0, 90), Some((0, 40)));
        assert_eq!(cache.end_offset_for(1, 90), Some((0, 40)));
        assert_eq!(cache.end_offset_for(2, 90), Some((2, 70)));
        assert_eq!(cache.end_offset_for(4, 90), Some((2, 70)));
        assert_eq!(cache.end_offset_for(5, 90), Some((5, 90)));
        assert_eq!(cache.end_offset_for(9, 90), Some((5, 90)));
        cache.truncate_from_end(70);
        assert_eq!(cache.latest_epoch(), Some(2));
        assert_eq!(cache.end_offset_for(5, 60), Some((2, 60)));
    }

    #[test]
    fn file_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EpochCache::load(dir.path());
        cache.assign(0, 0);
        cache.assign(3, 17);
        let text = fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text, "0\n2\n0 0\n3 17\n");
        assert_eq!(EpochCache::load(dir.path()).entries(), cache.entries());
        for bad in ["1\n0\n", "0\n2\n0 0\n", "0\n2\n3 5\n1 9\n", "0\nx\n", ""] {
            fs::write(dir.path().join(FILE_NAME), bad).unwrap();
            assert!(EpochCache::load(dir.path()).entries().is_empty(), "{bad:?}");
        }
    }
}
