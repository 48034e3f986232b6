//! Idempotent-producer state for one partition: per producer id, its epoch
//! and the last few batches' sequence ranges, so that a retried batch is
//! recognised (and answered with its original offset) and a gap is refused.

use std::collections::{HashMap, VecDeque};

use crate::protocol::ErrorCode;

/// Kafka keeps this many batches per producer for duplicate detection; it is
/// also the client's max in-flight requests with idempotence on.
const BATCHES_KEPT: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BatchSeq {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchSeq>,
}

/// What to do with an incoming idempotent batch.
#[derive(Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already appended: answer with this base offset, append nothing.
    Duplicate { base_offset: i64 },
    /// Refuse the batch with this error.
    Reject(ErrorCode),
}

#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

fn last_seq(first_seq: i32, record_count: i32) -> i32 {
    // Sequences wrap at i32::MAX, as Kafka's DefaultRecordBatch does.
    ((first_seq as i64 + record_count.max(1) as i64 - 1) % (i32::MAX as i64 + 1)) as i32
}

impl ProducerStates {
    /// Decides about a batch from `producer_id` (callers skip pid < 0).
    pub fn check(&self, producer_id: i64, epoch: i16, first_seq: i32, record_count: i32) -> SequenceCheck {
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer (new, or its state aged out): accept.
            return SequenceCheck::Append;
        };
        if epoch < entry.epoch {
            return SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch);
        }
        if epoch > entry.epoch {
            return if first_seq == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
            };
        }
        let last = last_seq(first_seq, record_count);
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last)
        {
            return SequenceCheck::Duplicate {
                base_offset: dup.base_offset,
            };
        }
        match entry.batches.back() {
            Some(prev) if next_seq(prev.last_seq) != first_seq => {
                SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
            }
            _ => SequenceCheck::Append,
        }
    }

    /// Records an appended batch.
    pub fn record(&mut self, producer_id: i64, epoch: i16, first_seq: i32, record_count: i32, base_offset: i64) {
        let entry = self.producers.entry(producer_id).or_insert_with(|| ProducerEntry {
            epoch,
            batches: VecDeque::new(),
        });
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchSeq {
            first_seq,
            last_seq: last_seq(first_seq, record_count),
            base_offset,
        });
        while entry.batches.len() > BATCHES_KEPT {
            entry.batches.pop_front();
        }
    }

    /// The producer's current epoch, if it is known here.
    pub fn epoch_of(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|entry| entry.epoch)
    }

    /// Records a transaction marker: it carries the producer's epoch (bumped
    /// when the coordinator fenced or timed out the producer) but no
    /// sequence, so the sequence history is kept unless the epoch moved.
    pub fn record_marker(&mut self, producer_id: i64, epoch: i16) {
        let entry = self.producers.entry(producer_id).or_insert_with(|| ProducerEntry {
            epoch,
            batches: VecDeque::new(),
        });
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_duplicate_and_gap() {
        let mut s = ProducerStates::default();
        assert_eq!(s.check(7, 0, 0, 10), SequenceCheck::Append);
        s.record(7, 0, 0, 10, 100);
        assert_eq!(s.check(7, 0, 10, 5), SequenceCheck::Append);
        s.record(7, 0, 10, 5, 110);
        assert_eq!(s.check(7, 0, 0, 10), SequenceCheck::Duplicate { base_offset: 100 });
        assert_eq!(s.check(7, 0, 10, 5), SequenceCheck::Duplicate { base_offset: 110 });
        assert_eq!(
            s.check(7, 0, 20, 1),
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(s.check(7, 0, 15, 1), SequenceCheck::Append);
    }

    #[test]
    fn epochs() {
        let mut s = ProducerStates::default();
        s.record(1, 3, 0, 1, 0);
        assert_eq!(
            s.check(1, 2, 1, 1),
            SequenceCheck::Reject(ErrorCode::InvalidProducerEpoch)
        );
        assert_eq!(
            s.check(1, 4, 5, 1),
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(s.check(1, 4, 0, 1), SequenceCheck::Append);
        s.record(1, 4, 0, 1, 1);
        assert_eq!(s.check(1, 4, 0, 1), SequenceCheck::Duplicate { base_offset: 1 });
    }

    #[test]
    fn only_recent_batches_are_remembered() {
        let mut s = ProducerStates::default();
        for i in 0..10 {
            s.record(1, 0, i, 1, i as i64);
        }
        assert_eq!(s.check(1, 0, 9, 1), SequenceCheck::Duplicate { base_offset: 9 });
        assert_eq!(
            s.check(1, 0, 2, 1),
            SequenceCheck::Reject(ErrorCode::OutOfOrderSequenceNumber)
        );
    }

    #[test]
    fn sequence_wraps() {
        let mut s = ProducerStates::default();
        s.record(1, 0, i32::MAX - 1, 2, 0);
        assert_eq!(s.check(1, 0, 0, 1), SequenceCheck::Append);
    }
}
