//! `cleaner-offset-checkpoint`, one per log directory, in Kafka's
//! OffsetCheckpointFile format: a version line (0), a count line, then one
//! `topic partition offset` line per partition. The offset is where each
//! partition's dirty (not yet cleaned) section begins.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use crate::log::checkpoint::sync_dir;
use crate::log::error::{io_error, LogError};

pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

pub type CleanerOffsets = BTreeMap<(String, i32), i64>;

/// The offsets in `dir`'s checkpoint; empty if there is none. A damaged file
/// is reported and treated as empty: it only makes the next pass re-read more.
pub fn read_cleaner_offsets(dir: &Path) -> Result<CleanerOffsets, LogError> {
    let path = dir.join(CLEANER_CHECKPOINT_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(CleanerOffsets::new()),
        Err(error) if error.kind() == ErrorKind::InvalidData => {
            tracing::warn!(path = %path.display(), "ignoring a cleaner checkpoint that is not UTF-8");
            return Ok(CleanerOffsets::new());
        }
        Err(error) => return Err(io_error(&path)(error)),
    };
    match parse(&text) {
        Ok(offsets) => Ok(offsets),
        Err(reason) => {
            tracing::warn!(path = %path.display(), %reason, "ignoring a damaged cleaner checkpoint");
            Ok(CleanerOffsets::new())
        }
    }
}

fn parse(text: &str) -> Result<CleanerOffsets, String> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("0") => {}
        other => return Err(format!("unknown version {other:?}")),
    }
    let count: usize = lines
        .next()
        .and_then(|line| line.trim().parse().ok())
        .ok_or("no entry count")?;
    let mut offsets = CleanerOffsets::new();
    for line in lines.by_ref().take(count) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [topic, partition, offset] = fields[..] else {
            return Err(format!("bad entry {line:?}"));
        };
        let partition: i32 = partition.parse().map_err(|_| format!("bad partition in {line:?}"))?;
        let offset: i64 = offset.parse().map_err(|_| format!("bad offset in {line:?}"))?;
        offsets.insert((topic.to_string(), partition), offset);
    }
    if offsets.len() != count {
        return Err(format!("{count} entries announced, {} found", offsets.len()));
    }
    Ok(offsets)
}

/// Replaces `dir`'s checkpoint atomically (temp file, fsync, rename, fsync dir).
pub fn write_cleaner_offsets(dir: &Path, offsets: &CleanerOffsets) -> Result<(), LogError> {
    let mut text = format!("0\n{}\n", offsets.len());
    for ((topic, partition), offset) in offsets {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    let path = dir.join(CLEANER_CHECKPOINT_FILE);
    let temp = dir.join(format!("{CLEANER_CHECKPOINT_FILE}.tmp"));
    let mut file = File::create(&temp).map_err(io_error(&temp))?;
    file.write_all(text.as_bytes()).map_err(io_error(&temp))?;
    file.sync_all().map_err(io_error(&temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafkas_format_and_ignores_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_cleaner_offsets(dir.path()).unwrap().is_empty());
        let offsets: CleanerOffsets = [(("orders".to_string(), 3), 1234), (("a.b-c_d".to_string(), 0), 0)].into();
        write_cleaner_offsets(dir.path(), &offsets).unwrap();
        let text = fs::read_to_string(dir.path().join(CLEANER_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\na.b-c_d 0 0\norders 3 1234\n");
        assert_eq!(read_cleaner_offsets(dir.path()).unwrap(), offsets);
        for damaged in ["", "1\n0\n", "0\n2\norders 3 1234\n", "0\n1\norders x 1\n", "0\nmany\n"] {
            fs::write(dir.path().join(CLEANER_CHECKPOINT_FILE), damaged).unwrap();
            assert!(read_cleaner_offsets(dir.path()).unwrap().is_empty(), "{damaged:?}");
        }
    }
}
