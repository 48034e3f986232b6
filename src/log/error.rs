//! Errors of the partition log.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in a partition log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("the log refuses writes after an earlier I/O failure; reopen it")]
    Poisoned,
    #[error("corrupt log: {0}")]
    Corrupt(String),
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
}

/// Adapter for `map_err` that attaches the path the failed operation was about.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LogError {
    let path = path.to_path_buf();
    move |source| LogError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_message_names_the_path() {
        let error =
            io_error(Path::new("/data/topic-0/00000000000000000000.log"))(std::io::Error::other("disk on fire"));
        let message = error.to_string();
        assert!(message.contains("/data/topic-0/00000000000000000000.log"), "{message}");
        assert!(message.contains("disk on fire"), "{message}");
    }

    #[test]
    fn out_of_range_message_has_the_bounds() {
        let message = LogError::OffsetOutOfRange {
            offset: 7,
            start: 10,
            end: 20,
        }
        .to_string();
        assert_eq!(message, "offset 7 is out of range [10, 20]");
    }
}
