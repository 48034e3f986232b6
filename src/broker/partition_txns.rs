//! One partition's view of transactions (`PartitionTxns`, and the
//! `Partition` methods that append markers and answer for the last stable
//! offset): which producers have a transaction
//! open here (producer id → offset of its first record, which bounds the
//! last stable offset) and the aborted transactions (Kafka's transaction
//! index), which read_committed fetches return so consumers drop that data.
//!
//! The state follows the batches: a transactional data batch opens (or
//! extends) its producer's transaction, a control batch (commit or abort
//! marker) closes it. It is rebuilt at start-up by scanning the log from
//! `txn-scan-start` (a checkpoint no later than the first offset of any
//! transaction open when it was written); aborted transactions are also
//! kept in `aborted-transactions` (`producer_id first_offset last_offset`
//! per line) so that old ones need no scan.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::partition::{read_lock, write_lock, Partition};
use crate::log::PartitionLog;
use crate::protocol::ErrorCode;
use crate::records::BatchHeader;

pub const ABORTED_FILE: &str = "aborted-transactions";
pub const SCAN_START_FILE: &str = "txn-scan-start";

/// Control record types (the key's second i16).
pub const ABORT_MARKER: i16 = 0;
pub const COMMIT_MARKER: i16 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The abort marker's offset.
    pub last_offset: i64,
}

/// What the transaction state needs of a batch.
#[derive(Clone, Copy, Debug)]
pub struct TxnBatch {
    pub producer_id: i64,
    pub transactional: bool,
    pub base_offset: i64,
    pub last_offset: i64,
    /// For a control batch, its marker type (-1 if unreadable).
    pub control: Option<i16>,
}

impl TxnBatch {
    /// `control_type`: the marker type, for a control batch.
    pub fn of(header: &BatchHeader, control_type: Option<i16>) -> TxnBatch {
        TxnBatch {
            producer_id: header.producer_id,
            transactional: header.is_transactional(),
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            control: header.is_control().then(|| control_type.unwrap_or(-1)),
        }
    }
}

#[derive(Debug, Default)]
pub struct PartitionTxns {
    ongoing: HashMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
    /// Transactions closed by markers not yet known to be committed
    /// (producer id, first offset, marker offset): a truncation below the
    /// marker reopens them.
    completed: Vec<(i64, i64, i64)>,
    /// The scan-start checkpoint exists (written before the first
    /// transactional batch of this partition).
    pub checkpointed: bool,
}

impl PartitionTxns {
    /// Applies one appended batch. Returns the aborted transaction it
    /// completed, if it is new to the index.
    pub fn apply(&mut self, batch: TxnBatch) -> Option<AbortedTxn> {
        if batch.producer_id < 0 || !batch.transactional {
            return None;
        }
        let Some(marker) = batch.control else {
            self.ongoing.entry(batch.producer_id).or_insert(batch.base_offset);
            return None;
        };
        let first = self.ongoing.remove(&batch.producer_id)?;
        self.completed.push((batch.producer_id, first, batch.last_offset));
        if marker != ABORT_MARKER {
            return None;
        }
        let aborted = AbortedTxn {
            producer_id: batch.producer_id,
            first_offset: first,
            last_offset: batch.last_offset,
        };
        if self.aborted.contains(&aborted) {
            return None; // known from the aborted-transactions file
        }
        self.aborted.push(aborted);
        Some(aborted)
    }

    /// The first offset of the earliest open transaction.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.values().copied().min()
    }

    /// Aborted transactions with data in `[from, to)` (what a read_committed
    /// fetch returning that range must announce).
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Whether `offset` of `producer_id` belongs to an aborted transaction.
    pub fn is_aborted(&self, producer_id: i64, offset: i64) -> bool {
        self.aborted
            .iter()
            .any(|a| a.producer_id == producer_id && a.first_offset <= offset && offset <= a.last_offset)
    }

    pub fn aborted(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// Undoes what the batches at or after `offset` did (a truncated log):
    /// their aborted entries go, transactions they opened go, and those
    /// their markers closed are open again.
    pub fn truncate(&mut self, offset: i64) {
        self.aborted.retain(|a| a.last_offset < offset);
        self.ongoing.retain(|_, first| *first < offset);
        for &(producer_id, first, marker) in &self.completed {
            if marker >= offset && first < offset {
                self.ongoing.insert(producer_id, first);
            }
        }
        self.completed.retain(|&(_, _, marker)| marker < offset);
    }

    /// Forgets the closed transactions whose markers are below `offset`
    /// (the high watermark: no truncation goes below it).
    pub fn forget_completed_below(&mut self, offset: i64) {
        self.completed.retain(|&(_, _, marker)| marker >= offset);
    }

    /// Forgets everything (the log was emptied).
    pub fn reset(&mut self) {
        self.ongoing.clear();
        self.aborted.clear();
        self.completed.clear();
    }

    /// Forgets aborted transactions wholly below `log_start`.
    pub fn forget_below(&mut self, log_start: i64) -> bool {
        let before = self.aborted.len();
        self.aborted.retain(|a| a.last_offset >= log_start);
        before != self.aborted.len()
    }

    pub fn load_aborted(&mut self, dir: &Path) {
        self.aborted = read_aborted(dir);
        self.checkpointed = dir.join(SCAN_START_FILE).exists();
    }
}

pub fn read_aborted(dir: &Path) -> Vec<AbortedTxn> {
    let Ok(text) = std::fs::read_to_string(dir.join(ABORTED_FILE)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<i64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if let [producer_id, first_offset, last_offset] = fields[..] {
            out.push(AbortedTxn {
                producer_id,
                first_offset,
                last_offset,
            });
        } else if !line.trim().is_empty() {
            tracing::warn!(dir = %dir.display(), line, "ignoring a bad line in aborted-transactions");
        }
    }
    out.sort_by_key(|a| a.last_offset);
    out
}

pub fn write_aborted(dir: &Path, aborted: &[AbortedTxn]) -> std::io::Result<()> {
    let text: String = aborted
        .iter()
        .map(|a| format!("{} {} {}\n", a.producer_id, a.first_offset, a.last_offset))
        .collect();
    crate::replica::epoch_cache::write_atomically(&dir.join(ABORTED_FILE), &text)
}

pub fn read_scan_start(dir: &Path) -> Option<i64> {
    std::fs::read_to_string(dir.join(SCAN_START_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn write_scan_start(dir: &Path, offset: i64) -> std::io::Result<()> {
    crate::replica::epoch_cache::write_atomically(&dir.join(SCAN_START_FILE), &format!("{offset}\n"))
}

/// The transaction side of a partition (its state is `Partition::txns`).
impl Partition {
    pub(super) fn lock_txns(&self) -> std::sync::MutexGuard<'_, PartitionTxns> {
        self.txns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the txn-scan-start checkpoint before this partition's first
    /// transactional batch, so a restart scans from there.
    pub(super) fn ensure_txn_checkpoint(&self, log: &PartitionLog) {
        let mut txns = self.lock_txns();
        if txns.checkpointed {
            return;
        }
        let leo = log.log_end_offset();
        match write_scan_start(log.dir(), leo) {
            Ok(()) => {
                txns.checkpointed = true;
                self.txn_scan_written.store(leo, Ordering::Release);
            }
            Err(e) => {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot write txn-scan-start")
            }
        }
    }

    /// Moves the txn-scan-start checkpoint up to the first open transaction
    /// (or the log end): the periodic part of keeping restarts' scans short.
    pub fn checkpoint_txn_scan_start(&self) {
        let log = read_lock(&self.log);
        let mut txns = self.lock_txns();
        if !txns.checkpointed {
            return;
        }
        txns.forget_completed_below(self.high_watermark());
        if txns.forget_below(log.log_start_offset()) {
            if let Err(e) = write_aborted(log.dir(), txns.aborted()) {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot write aborted-transactions");
            }
        }
        let start = txns.first_unstable_offset().unwrap_or_else(|| log.log_end_offset());
        if self.txn_scan_written.load(Ordering::Acquire) == start {
            return;
        }
        match write_scan_start(log.dir(), start) {
            Ok(()) => self.txn_scan_written.store(start, Ordering::Release),
            Err(e) => {
                tracing::warn!(topic = %self.topic, partition = self.index, error = %e, "cannot write txn-scan-start")
            }
        }
    }

    /// Appends a transaction marker (leader only) for `producer_id`: commit
    /// or abort of its transaction here. Returns the marker's offset.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Result<i64, ErrorCode> {
        let mut log = write_lock(&self.log);
        let leader_epoch = self.epoch_to_append(None)?;
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        if producers
            .epoch_of(producer_id)
            .is_some_and(|current| producer_epoch < current)
        {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        let mut batch = crate::records::encode_control_batch(
            producer_id,
            producer_epoch,
            commit,
            coordinator_epoch,
            crate::broker::now_ms(),
        )
        .map_err(|_| ErrorCode::UnknownServerError)?;
        let _ = crate::records::set_partition_leader_epoch(&mut batch, leader_epoch);
        self.ensure_txn_checkpoint(&log);
        let info = log.append(&mut batch).map_err(|e| {
            tracing::error!(topic = %self.topic, partition = self.index, error = %e, "marker append failed");
            ErrorCode::KafkaStorageError
        })?;
        producers.record_marker(producer_id, producer_epoch);
        let marker = if commit { COMMIT_MARKER } else { ABORT_MARKER };
        let mut txns = self.lock_txns();
        let aborted = txns.apply(TxnBatch {
            producer_id,
            transactional: true,
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            control: Some(marker),
        });
        if aborted.is_some() {
            if let Err(e) = write_aborted(log.dir(), txns.aborted()) {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot write aborted-transactions");
            }
        }
        drop(txns);
        self.traffic.record_in(batch.len() as u64, 0);
        let leo = log.log_end_offset();
        self.leader_appended(leo);
        Ok(info.base_offset)
    }

    /// The last stable offset: the high watermark, or the first offset of
    /// the earliest open transaction if that is lower.
    pub fn last_stable_offset(&self) -> i64 {
        let hw = self.high_watermark();
        self.lock_txns()
            .first_unstable_offset()
            .map_or(hw, |first| first.min(hw))
    }

    /// Aborted transactions with data in `[from, to)`.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.lock_txns().aborted_between(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, base: i64, last_delta: i32, control: bool) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: BatchHeader::TRANSACTIONAL_BIT | if control { BatchHeader::CONTROL_BIT } else { 0 },
            last_offset_delta: last_delta,
            first_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            record_count: last_delta + 1,
        }
    }

    #[test]
    fn open_transactions_bound_the_stable_offset_and_aborts_are_indexed() {
        let mut txns = PartitionTxns::default();
        let apply = |txns: &mut PartitionTxns, h: BatchHeader, t| txns.apply(TxnBatch::of(&h, t));
        apply(&mut txns, header(7, 0, 4, false), None);
        apply(&mut txns, header(8, 5, 4, false), None);
        apply(&mut txns, header(7, 10, 4, false), None);
        assert_eq!(txns.first_unstable_offset(), Some(0));
        assert_eq!(apply(&mut txns, header(7, 15, 0, true), Some(COMMIT_MARKER)), None);
        assert_eq!(txns.first_unstable_offset(), Some(5));
        let aborted = apply(&mut txns, header(8, 16, 0, true), Some(ABORT_MARKER)).unwrap();
        assert_eq!((aborted.first_offset, aborted.last_offset), (5, 16));
        assert_eq!(txns.first_unstable_offset(), None);
        assert_eq!(txns.aborted_between(0, 5), vec![]);
        assert_eq!(txns.aborted_between(0, 6), vec![aborted]);
        assert_eq!(txns.aborted_between(17, 30), vec![]);
        assert!(txns.is_aborted(8, 9) && !txns.is_aborted(7, 9));
        txns.truncate(16);
        assert!(txns.aborted().is_empty());
        assert_eq!(
            txns.first_unstable_offset(),
            Some(5),
            "a truncated abort marker reopens its transaction"
        );
        txns.truncate(15);
        assert_eq!(
            txns.first_unstable_offset(),
            Some(0),
            "and so does a truncated commit marker"
        );
        txns.truncate(3);
        assert_eq!(txns.first_unstable_offset(), Some(0));
        txns.truncate(0);
        assert_eq!(txns.first_unstable_offset(), None);
        let dir = tempfile::tempdir().unwrap();
        write_aborted(dir.path(), &[aborted]).unwrap();
        assert_eq!(read_aborted(dir.path()), vec![aborted]);
    }
}
