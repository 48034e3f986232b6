//! Start-up half of the crash-safe swap (Kafka's `.cleaned` / `.swap` files).
//!
//! A pass writes `<base>.log.cleaned` and fsyncs it, renames it
//! `<base>.log.swap` (the commit point), renames its source segments
//! `.deleted`, and finally renames the swap file `<base>.log`. So at start-up
//! a `.cleaned` file is an unfinished pass and goes, while a `.swap` file is a
//! finished one: every segment whose base offset lies in the offsets it
//! covers is replaced by it.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::log::error::{io_error, LogError};
use crate::log::scanner::{BatchScanner, ScanDepth, Scanned};
use crate::log::segment::{SegmentPaths, LOG_SUFFIX};

use super::job::{CLEANED_SUFFIX, SWAP_SUFFIX};

/// `(base offset, path)` of `<20 digits>.log<suffix>` files in `dir`.
fn files_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<(i64, PathBuf)>, LogError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(stem) = name
            .strip_suffix(suffix)
            .and_then(|n| n.strip_suffix(&format!(".{LOG_SUFFIX}")))
        else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(base) = stem.parse::<i64>() {
                found.push((base, entry.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Base offsets of the `.log` files in `dir`.
fn log_bases(dir: &Path) -> Result<Vec<i64>, LogError> {
    Ok(files_with_suffix(dir, "")?.into_iter().map(|(base, _)| base).collect())
}

/// The offset after the last whole batch of `path`, or `None` if it holds no
/// valid batch at all.
fn next_offset_of(path: &Path) -> Result<Option<i64>, LogError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let size = file.metadata().map_err(io_error(path))?.len();
    let mut scanner = BatchScanner::new(&file, path, 0, size, 1 << 20);
    let mut next = None;
    loop {
        match scanner.next_batch(ScanDepth::WholeBatch)? {
            Scanned::Batch { header, .. } => next = Some(header.last_offset() + 1),
            Scanned::Invalid { .. } | Scanned::End => return Ok(next),
        }
    }
}

fn remove_if_present(path: &Path) -> Result<(), LogError> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(io_error(path)(error)),
        _ => Ok(()),
    }
}

/// Deletes unfinished `.cleaned` files and completes `.swap` files; returns
/// how many swaps were completed.
pub fn complete_interrupted_swaps(dir: &Path) -> Result<usize, LogError> {
    for (_, path) in files_with_suffix(dir, CLEANED_SUFFIX)? {
        tracing::info!(path = %path.display(), "removing a cleaned segment from an interrupted cleaning pass");
        remove_if_present(&path)?;
    }
    let swaps = files_with_suffix(dir, SWAP_SUFFIX)?;
    for (base, swap) in &swaps {
        let Some(next_offset) = next_offset_of(swap)? else {
            // A pass never writes an empty swap (it deletes an emptied
            // group's sources outright), so this one is damaged: drop it.
            tracing::warn!(path = %swap.display(), "removing a swap file that holds no valid batch");
            remove_if_present(swap)?;
            continue;
        };
        for old in log_bases(dir)?.into_iter().filter(|b| (*base..next_offset).contains(b)) {
            SegmentPaths::new(dir, old).remove_all()?;
        }
        let target = SegmentPaths::new(dir, *base);
        fs::rename(swap, &target.log).map_err(io_error(swap))?;
        tracing::info!(path = %target.log.display(), "completed the swap of a cleaned segment after a restart");
    }
    if !swaps.is_empty() {
        crate::log::checkpoint::sync_dir(dir)?;
    }
    Ok(swaps.len())
}
