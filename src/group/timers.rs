//! When each group next needs [`Group::tick`], and a queue of those
//! deadlines, so the coordinator wakes at the earliest one (a member's
//! session, a pending member id, the end of a rebalance) instead of polling:
//! expiry then happens within a millisecond or two of the deadline, as
//! Kafka's per-member timers do.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::state::Group;
use super::types::GroupState;

impl Group {
    /// The earliest time `tick` would change something, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let sessions = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none())
            .map(|m| m.heartbeat_deadline);
        let pending = self.pending.values().copied();
        let join = self
            .join_deadline
            .filter(|_| self.state == GroupState::PreparingRebalance);
        sessions.chain(pending).chain(join).min()
    }
}

/// Groups by their next deadline. A group has at most one live entry (its
/// earliest); later ones it leaves behind are dropped when they come up.
#[derive(Debug, Default)]
pub struct DeadlineQueue {
    heap: BinaryHeap<Reverse<(u64, String)>>,
    scheduled: HashMap<String, u64>,
}

impl DeadlineQueue {
    /// Makes sure `group` is looked at by `deadline`. Returns whether that
    /// is now the earliest deadline of all (the timer must be re-armed).
    pub fn schedule(&mut self, group: &str, deadline: Option<u64>) -> bool {
        let Some(deadline) = deadline else {
            return false;
        };
        if self.scheduled.get(group).is_some_and(|s| *s <= deadline) {
            return false;
        }
        let earliest = self.next().is_none_or(|first| deadline < first);
        self.scheduled.insert(group.to_string(), deadline);
        self.heap.push(Reverse((deadline, group.to_string())));
        earliest
    }

    /// Drops a group's entry (the group is gone).
    pub fn cancel(&mut self, group: &str) {
        self.scheduled.remove(group);
    }

    /// The earliest queued deadline (possibly of a dropped entry: waking
    /// early only costs a look).
    pub fn next(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((d, _))| *d)
    }

    /// Groups whose deadline is at or before `now`, each once.
    pub fn pop_due(&mut self, now: u64) -> Vec<String> {
        let mut due = Vec::new();
        while let Some(Reverse((deadline, _))) = self.heap.peek() {
            if *deadline > now {
                break;
            }
            let Some(Reverse((deadline, group))) = self.heap.pop() else {
                break;
            };
            if self.scheduled.get(&group) == Some(&deadline) {
                self.scheduled.remove(&group);
                due.push(group);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_wins_and_stale_entries_are_dropped() {
        let mut q = DeadlineQueue::default();
        assert!(q.schedule("a", Some(100)));
        assert!(!q.schedule("b", Some(200)));
        // A later deadline for a group already due earlier changes nothing.
        assert!(!q.schedule("a", Some(150)));
        assert!(q.schedule("b", Some(50)));
        assert_eq!(q.next(), Some(50));
        assert_eq!(q.pop_due(49), Vec::<String>::new());
        assert_eq!(q.pop_due(50), vec!["b".to_string()]);
        assert_eq!(q.pop_due(100), vec!["a".to_string()]);
        // b's old 200 entry is stale: b was popped and not rescheduled.
        assert_eq!(q.pop_due(1_000), Vec::<String>::new());
        assert_eq!(q.next(), None);
    }

    #[test]
    fn cancelled_groups_are_not_due() {
        let mut q = DeadlineQueue::default();
        q.schedule("a", Some(10));
        q.cancel("a");
        assert!(q.pop_due(10).is_empty());
        assert!(!q.schedule("a", None));
    }

    #[test]
    fn rescheduled_after_popping() {
        let mut q = DeadlineQueue::default();
        q.schedule("a", Some(10));
        assert_eq!(q.pop_due(10), vec!["a".to_string()]);
        assert!(q.schedule("a", Some(30)));
        assert_eq!(q.pop_due(29), Vec::<String>::new());
        assert_eq!(q.pop_due(30), vec!["a".to_string()]);
    }
}
