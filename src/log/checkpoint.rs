//! Small per-partition checkpoint files holding one offset as decimal text.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::error::{io_error, LogError};

/// Raised by DeleteRecords (and retention) above the first segment's base offset.
pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset";
/// Everything below this offset was fsynced: its segments skip batch-by-batch recovery.
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point";
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// `Ok(None)` if the file is absent or does not hold a non-negative offset (a
/// damaged checkpoint only costs a slower recovery, so it is not an error).
pub(crate) fn read_offset(dir: &Path, name: &str) -> Result<Option<i64>, LogError> {
    let path = dir.join(name);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(&path)(error)),
    };
    match String::from_utf8_lossy(&bytes).trim().parse::<i64>() {
        Ok(offset) if offset >= 0 => Ok(Some(offset)),
        _ => {
            tracing::warn!(path = %path.display(), "ignoring unreadable offset checkpoint");
            Ok(None)
        }
    }
}

/// Replaces the checkpoint atomically: write a temp file, fsync, rename, fsync the directory.
pub(crate) fn write_offset(dir: &Path, name: &str, offset: i64) -> Result<(), LogError> {
    let path = dir.join(name);
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let mut file = File::create(&temp).map_err(io_error(&temp))?;
    file.write_all(format!("{offset}\n").as_bytes())
        .map_err(io_error(&temp))?;
    file.sync_all().map_err(io_error(&temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

/// Makes file creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_offset(dir.path(), RECOVERY_POINT_FILE).unwrap(), None);
        write_offset(dir.path(), RECOVERY_POINT_FILE, 12345).unwrap();
        assert_eq!(read_offset(dir.path(), RECOVERY_POINT_FILE).unwrap(), Some(12345));
        assert!(!dir.path().join(format!("{RECOVERY_POINT_FILE}{TEMP_SUFFIX}")).exists());
        write_offset(dir.path(), RECOVERY_POINT_FILE, 7).unwrap();
        assert_eq!(read_offset(dir.path(), RECOVERY_POINT_FILE).unwrap(), Some(7));

        for garbage in [&b"\xff\xfe"[..], b"-5\n", b"12abc", b""] {
            fs::write(dir.path().join(LOG_START_OFFSET_FILE), garbage).unwrap();
            assert_eq!(read_offset(dir.path(), LOG_START_OFFSET_FILE).unwrap(), None);
        }
    }
}
