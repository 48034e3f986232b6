//! Walks the batches of a segment file with positional reads through a window
//! buffer, so small batches do not cost a syscall each and `&File` suffices
//! (readers share the log under a read lock).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::batch_header::{
    batch_length_of, crc_is_valid, is_legacy, parse_header, BatchHeader, HEADER_LEN, LENGTH_PREFIX_LEN, MAGIC_END,
    MIN_BATCH_LENGTH, MIN_LEGACY_LENGTH,
};
use super::error::{io_error, LogError};

/// How much of each batch to read and check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanDepth {
    /// Header only: for lookups in data already validated.
    Header,
    /// The whole batch, CRC-checked: for recovery.
    WholeBatch,
}

pub(crate) enum Scanned {
    Batch {
        position: u64,
        header: BatchHeader,
    },
    /// The bytes from `position` to the end do not start with a valid batch.
    Invalid {
        position: u64,
        reason: String,
    },
    End,
}

pub(crate) struct BatchScanner<'a> {
    file: &'a File,
    path: &'a Path,
    position: u64,
    end: u64,
    window: Vec<u8>,
    window_start: u64,
    chunk_bytes: usize,
}

impl<'a> BatchScanner<'a> {
    /// Scans `[start, end)` of `file`; `start` must be a batch boundary.
    pub(crate) fn new(file: &'a File, path: &'a Path, start: u64, end: u64, chunk_bytes: usize) -> Self {
        BatchScanner {
            file,
            path,
            position: start,
            end,
            window: Vec::new(),
            window_start: 0,
            chunk_bytes,
        }
    }

    pub(crate) fn next_batch(&mut self, depth: ScanDepth) -> Result<Scanned, LogError> {
        let position = self.position;
        if position >= self.end {
            return Ok(Scanned::End);
        }
        let remaining = self.end - position;
        if remaining < LENGTH_PREFIX_LEN as u64 {
            return Ok(invalid(
                position,
                format!("{remaining} trailing bytes are too few for a batch"),
            ));
        }
        if remaining < MAGIC_END as u64 {
            return Ok(invalid(
                position,
                format!("{remaining} trailing bytes are too few for a batch"),
            ));
        }
        let at = self.load(position, MAGIC_END)?;
        let batch_length = batch_length_of(&self.window[at..]);
        let legacy = is_legacy(&self.window[at..at + MAGIC_END]);
        let min_length = if legacy { MIN_LEGACY_LENGTH } else { MIN_BATCH_LENGTH };
        if batch_length < min_length {
            return Ok(invalid(
                position,
                format!("batchLength {batch_length} is below the minimum {min_length}"),
            ));
        }
        let total = LENGTH_PREFIX_LEN as u64 + batch_length as u64;
        if total > remaining {
            return Ok(invalid(
                position,
                format!("a batch of {total} bytes runs past the end ({remaining} bytes left)"),
            ));
        }
        // total <= remaining and HEADER_LEN <= total of a v2 batch, so both reads
        // stay inside the file; a legacy message's header needs all of it.
        let wanted = match depth {
            ScanDepth::Header if !legacy => HEADER_LEN,
            _ => total as usize,
        };
        let at = self.load(position, wanted)?;
        let bytes = &self.window[at..at + wanted];
        let header = match parse_header(bytes) {
            Ok(header) => header,
            Err(reason) => return Ok(invalid(position, reason)),
        };
        if depth == ScanDepth::WholeBatch && !crc_is_valid(bytes) {
            return Ok(invalid(position, "CRC-32C mismatch".to_string()));
        }
        self.position = position + total;
        Ok(Scanned::Batch { position, header })
    }

    /// The bytes of the batch that `next_batch(ScanDepth::WholeBatch)` just
    /// returned (it left them resident in the window).
    pub(crate) fn whole_batch(&self, position: u64, header: &BatchHeader) -> &[u8] {
        let at = (position - self.window_start) as usize;
        &self.window[at..at + header.total_len()]
    }

    /// Makes `[position, position + len)` resident in the window and returns its
    /// index there; the caller guarantees the range lies before `end`.
    fn load(&mut self, position: u64, len: usize) -> Result<usize, LogError> {
        let window_end = self.window_start + self.window.len() as u64;
        if position >= self.window_start && position + len as u64 <= window_end {
            return Ok((position - self.window_start) as usize);
        }
        let read_len = (len.max(self.chunk_bytes) as u64).min(self.end - position) as usize;
        self.window.resize(read_len, 0);
        self.file
            .read_exact_at(&mut self.window, position)
            .map_err(io_error(self.path))?;
        self.window_start = position;
        Ok(0)
    }
}

fn invalid(position: u64, reason: String) -> Scanned {
    Scanned::Invalid { position, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch_header::test_support::batch;
    use std::io::Write;

    fn file_with(contents: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(contents).unwrap();
        (file, contents.len() as u64)
    }

    /// (position, record count) of each batch, then where and why the scan stopped early.
    type ScanOutcome = (Vec<(u64, i32)>, Option<(u64, String)>);

    fn collect(file: &File, end: u64, depth: ScanDepth, chunk: usize) -> ScanOutcome {
        let path = Path::new("test.log");
        let mut scanner = BatchScanner::new(file, path, 0, end, chunk);
        let mut batches = Vec::new();
        loop {
            match scanner.next_batch(depth).unwrap() {
                Scanned::Batch { position, header } => batches.push((position, header.record_count)),
                Scanned::Invalid { position, reason } => return (batches, Some((position, reason))),
                Scanned::End => return (batches, None),
            }
        }
    }

    #[test]
    fn walks_batches_with_windows_smaller_and_larger_than_a_batch() {
        let mut contents = Vec::new();
        for records in 1..=5 {
            contents.extend(batch(records, 0, 100 * records as usize));
        }
        let (file, len) = file_with(&contents);
        for chunk in [1, 64, 1 << 20] {
            for depth in [ScanDepth::Header, ScanDepth::WholeBatch] {
                let (batches, stop) = collect(file.as_file(), len, depth, chunk);
                assert!(stop.is_none());
                assert_eq!(batches.iter().map(|b| b.1).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
                assert_eq!(batches[1].0, batch(1, 0, 100).len() as u64);
            }
        }
    }

    #[test]
    fn reports_a_torn_tail_and_a_bad_crc() {
        let first = batch(1, 0, 10);
        let second = batch(2, 0, 10);
        let mut contents = [first.clone(), second.clone()].concat();
        let (torn, _) = file_with(&contents[..contents.len() - 3]);
        let (batches, stop) = collect(torn.as_file(), (contents.len() - 3) as u64, ScanDepth::Header, 4096);
        assert_eq!(batches.len(), 1);
        let (position, reason) = stop.unwrap();
        assert_eq!(position, first.len() as u64);
        assert!(reason.contains("runs past the end"), "{reason}");

        let last = contents.len() - 1;
        contents[last] ^= 0xff;
        let (flipped, len) = file_with(&contents);
        let (batches, _) = collect(flipped.as_file(), len, ScanDepth::Header, 4096);
        assert_eq!(batches.len(), 2, "header scans do not check the CRC");
        let (batches, stop) = collect(flipped.as_file(), len, ScanDepth::WholeBatch, 4096);
        assert_eq!(batches.len(), 1);
        assert!(stop.unwrap().1.contains("CRC"));
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for garbage in [
            vec![0u8; 5],
            vec![0u8; 100],
            vec![0xffu8; 100],
            (0..=255u8).cycle().take(5000).collect(),
        ] {
            let (file, len) = file_with(&garbage);
            let (batches, stop) = collect(file.as_file(), len, ScanDepth::WholeBatch, 64);
            assert!(batches.is_empty());
            assert_eq!(stop.unwrap().0, 0);
        }
    }
}
