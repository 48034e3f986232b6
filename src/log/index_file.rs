//! In-memory index entries mirrored to a file of fixed-size big-endian entries
//! (Kafka's layout). Only entries not yet on disk are written, so persisting after
//! a few appends is cheap; a truncation shortens the file on the next persist.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::error::{io_error, LogError};

pub(crate) trait IndexEntry: Copy {
    const BYTES: usize;
    fn encode_into(&self, out: &mut Vec<u8>);
    /// `bytes` holds exactly `BYTES` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

#[derive(Debug)]
pub(crate) struct IndexEntries<E> {
    entries: Vec<E>,
    /// How many leading entries the file already holds.
    persisted: usize,
    /// The file may hold bytes beyond `persisted` entries (garbage or truncated entries).
    file_may_be_longer: bool,
}

impl<E: IndexEntry> IndexEntries<E> {
    /// Entries with no trust in whatever the file holds: the next persist rewrites it.
    pub(crate) fn fresh() -> Self {
        IndexEntries {
            entries: Vec::new(),
            persisted: 0,
            file_may_be_longer: true,
        }
    }

    /// Entries decoded from the file's current contents.
    pub(crate) fn loaded(entries: Vec<E>) -> Self {
        IndexEntries {
            persisted: entries.len(),
            entries,
            file_may_be_longer: false,
        }
    }

    pub(crate) fn as_slice(&self) -> &[E] {
        &self.entries
    }

    pub(crate) fn push(&mut self, entry: E) {
        self.entries.push(entry);
    }

    /// Keeps the first `len` entries.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.entries.len() {
            self.entries.truncate(len);
            if self.persisted > len {
                self.persisted = len;
                self.file_may_be_longer = true;
            }
        }
    }

    /// Reads the file; `Ok(None)` if it is absent. The length must be a whole
    /// number of entries, otherwise the contents are reported as invalid.
    pub(crate) fn read_file(path: &Path) -> Result<Option<Result<Vec<E>, String>>, LogError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(path)(error)),
        };
        if bytes.len() % E::BYTES != 0 {
            return Ok(Some(Err(format!(
                "{} bytes is not a whole number of {}-byte entries",
                bytes.len(),
                E::BYTES
            ))));
        }
        Ok(Some(Ok(bytes.chunks_exact(E::BYTES).map(E::decode).collect())))
    }

    /// Writes the entries the file lacks and trims it to size; fsyncs if `sync`.
    pub(crate) fn persist(&mut self, path: &Path, sync: bool) -> Result<(), LogError> {
        let dirty = self.persisted != self.entries.len() || self.file_may_be_longer;
        if !dirty && !sync {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error(path))?;
        if dirty {
            let mut bytes = Vec::with_capacity((self.entries.len() - self.persisted) * E::BYTES);
            for entry in &self.entries[self.persisted..] {
                entry.encode_into(&mut bytes);
            }
            let from = (self.persisted * E::BYTES) as u64;
            file.write_all_at(&bytes, from).map_err(io_error(path))?;
            file.set_len((self.entries.len() * E::BYTES) as u64)
                .map_err(io_error(path))?;
            self.persisted = self.entries.len();
            self.file_may_be_longer = false;
        }
        if sync {
            file.sync_all().map_err(io_error(path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Pair(u16, u16);

    impl IndexEntry for Pair {
        const BYTES: usize = 4;
        fn encode_into(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_be_bytes());
            out.extend_from_slice(&self.1.to_be_bytes());
        }
        fn decode(bytes: &[u8]) -> Self {
            Pair(
                u16::from_be_bytes([bytes[0], bytes[1]]),
                u16::from_be_bytes([bytes[2], bytes[3]]),
            )
        }
    }

    #[test]
    fn persists_incrementally_and_shrinks_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        fs::write(&path, b"garbage!!").unwrap();
        let mut index = IndexEntries::<Pair>::fresh();
        index.persist(&path, false).unwrap();
        assert_eq!(
            fs::read(&path).unwrap().len(),
            0,
            "a fresh index overwrites whatever was there"
        );

        index.push(Pair(1, 2));
        index.push(Pair(3, 4));
        index.persist(&path, true).unwrap();
        index.push(Pair(5, 6));
        index.persist(&path, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]);

        index.truncate(1);
        index.persist(&path, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), vec![0, 1, 0, 2]);
        let read = IndexEntries::<Pair>::read_file(&path).unwrap().unwrap().unwrap();
        assert_eq!(read, vec![Pair(1, 2)]);
    }

    #[test]
    fn read_file_distinguishes_missing_from_ragged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        assert!(IndexEntries::<Pair>::read_file(&path).unwrap().is_none());
        fs::write(&path, [1u8, 2, 3]).unwrap();
        assert!(IndexEntries::<Pair>::read_file(&path).unwrap().unwrap().is_err());
    }
}
