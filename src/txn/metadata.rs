//! A transactional id's state and the transitions the coordinator makes,
//! sans-IO: requests in, the next state or Kafka's error out. Stored as
//! JSON in the metadata store (see `coordinator.rs`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::protocol::ErrorCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
}

impl TxnState {
    /// As DescribeTransactions / ListTransactions name it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
        }
    }

    pub fn is_preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// No transaction in progress: a new one may begin.
    pub fn is_idle(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Dead
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMetadata {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// The partitions written in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Consumer groups whose offsets the transaction commits (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    /// When the current transaction began (-1: none).
    pub start_ms: i64,
    pub update_ms: i64,
}

/// Highest epoch before a transactional id gets a fresh producer id.
const MAX_EPOCH: i16 = i16::MAX - 1;

impl TxnMetadata {
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            producer_id,
            producer_epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            start_ms: -1,
            update_ms: now_ms,
        }
    }

    /// Checks a request's producer id and epoch against this state.
    /// `fenced_code`: PRODUCER_FENCED for request versions that know it,
    /// else INVALID_PRODUCER_EPOCH.
    pub fn check_producer(&self, producer_id: i64, epoch: i16, fenced_code: ErrorCode) -> Result<(), ErrorCode> {
        if producer_id != self.producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if epoch < self.producer_epoch {
            return Err(fenced_code);
        }
        if epoch > self.producer_epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        Ok(())
    }

    /// The next epoch (fencing the current producer); `None` when the epoch
    /// space is used up and a new producer id is needed.
    pub fn bumped_epoch(&self) -> Option<i16> {
        (self.producer_epoch < MAX_EPOCH).then_some(self.producer_epoch + 1)
    }

    /// Adds partitions (and groups) to the transaction, starting it if idle.
    /// Returns whether anything changed (nothing to store otherwise).
    pub fn add(
        &mut self,
        partitions: impl IntoIterator<Item = (String, i32)>,
        group: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, ErrorCode> {
        if self.state.is_preparing() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        let mut changed = false;
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.partitions.clear();
            self.groups.clear();
            self.start_ms = now_ms;
            changed = true;
        }
        for partition in partitions {
            changed |= self.partitions.insert(partition);
        }
        if let Some(group) = group {
            changed |= self.groups.insert(group.to_string());
        }
        if changed {
            self.update_ms = now_ms;
        }
        Ok(changed)
    }

    /// EndTxn: what to do for `commit` in this state.
    pub fn end(&self, commit: bool) -> Result<EndDecision, ErrorCode> {
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(EndDecision::Prepare),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(EndDecision::AlreadyDone),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Err(ErrorCode::ConcurrentTransactions),
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// The state after deciding to commit or abort.
    pub fn prepare(&mut self, commit: bool, now_ms: i64) {
        self.state = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        self.update_ms = now_ms;
    }

    /// The state once every marker is written.
    pub fn complete(&mut self, now_ms: i64) {
        self.state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            _ => TxnState::CompleteAbort,
        };
        self.partitions.clear();
        self.groups.clear();
        self.start_ms = -1;
        self.update_ms = now_ms;
    }

    /// Whether an open transaction has outlived its timeout.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<TxnMetadata, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndDecision {
    /// Write Prepare*, the markers, then Complete*.
    Prepare,
    /// A retried EndTxn of a transaction already completed that way.
    AlreadyDone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_goes_from_empty_to_ongoing_to_complete() {
        let mut m = TxnMetadata::new(7, 60_000, 100);
        assert_eq!(m.end(true), Err(ErrorCode::InvalidTxnState), "nothing to commit");
        assert!(m.add([("t".to_string(), 0)], None, 200).unwrap());
        assert_eq!((m.state, m.start_ms), (TxnState::Ongoing, 200));
        assert!(!m.add([("t".to_string(), 0)], None, 300).unwrap(), "already there");
        assert!(m.add([], Some("g"), 300).unwrap());
        assert_eq!(m.end(true), Ok(EndDecision::Prepare));
        m.prepare(true, 400);
        assert_eq!(
            m.add([("t".to_string(), 1)], None, 500),
            Err(ErrorCode::ConcurrentTransactions)
        );
        assert_eq!(m.end(true), Err(ErrorCode::ConcurrentTransactions));
        m.complete(500);
        assert_eq!(m.state, TxnState::CompleteCommit);
        assert!(m.partitions.is_empty() && m.groups.is_empty());
        assert_eq!(m.end(true), Ok(EndDecision::AlreadyDone));
        assert_eq!(m.end(false), Err(ErrorCode::InvalidTxnState));
        assert!(m.add([("t".to_string(), 1)], None, 600).unwrap(), "a new transaction");
        assert_eq!(m.partitions.len(), 1);
        assert!(!m.expired(60_600) && m.expired(60_601));
        let back = TxnMetadata::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn stale_and_future_epochs_are_refused() {
        let mut m = TxnMetadata::new(7, 1000, 0);
        m.producer_epoch = 3;
        assert_eq!(m.check_producer(7, 3, ErrorCode::ProducerFenced), Ok(()));
        assert_eq!(
            m.check_producer(7, 2, ErrorCode::ProducerFenced),
            Err(ErrorCode::ProducerFenced)
        );
        assert_eq!(
            m.check_producer(7, 4, ErrorCode::ProducerFenced),
            Err(ErrorCode::InvalidProducerEpoch)
        );
        assert_eq!(
            m.check_producer(8, 3, ErrorCode::ProducerFenced),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(m.bumped_epoch(), Some(4));
        m.producer_epoch = i16::MAX - 1;
        assert_eq!(m.bumped_epoch(), None);
    }
}
