//! The leader's view of its followers (pure bookkeeping, no I/O): where each
//! follower's log ends, when it was last caught up, and from that the high
//! watermark and the ISR changes Kafka's `Partition` makes.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FollowerProgress {
    /// The follower's log end offset (its last fetch offset); -1 unknown.
    pub log_end_offset: i64,
    /// Last time the follower had everything the leader had.
    pub last_caught_up_ms: i64,
    /// The leader's log end offset and the time at the follower's previous
    /// fetch: a fetch reaching that offset proves it was caught up then.
    previous_fetch_leader_leo: i64,
    previous_fetch_ms: i64,
}

/// Replication bookkeeping of a partition this broker leads.
#[derive(Clone, Debug)]
pub struct LeaderProgress {
    pub me: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// This broker's log end offset when it became leader in this epoch: a
    /// follower joins the ISR only once it has reached it.
    pub epoch_start_offset: i64,
    followers: BTreeMap<i32, FollowerProgress>,
}

impl LeaderProgress {
    /// A new leadership: every follower is unknown, and counted as caught up
    /// now so the ISR does not shrink before it had a chance to fetch.
    pub fn new(me: i32, replicas: &[i32], isr: &[i32], epoch_start_offset: i64, now_ms: i64) -> LeaderProgress {
        let followers = replicas
            .iter()
            .filter(|r| **r != me)
            .map(|r| {
                (
                    *r,
                    FollowerProgress {
                        log_end_offset: -1,
                        last_caught_up_ms: now_ms,
                        previous_fetch_leader_leo: -1,
                        previous_fetch_ms: now_ms,
                    },
                )
            })
            .collect();
        LeaderProgress {
            me,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            epoch_start_offset,
            followers,
        }
    }

    /// Keeps what is known of followers across a new epoch of the same
    /// leadership (the controller changed the ISR).
    pub fn carry_over(&mut self, previous: &LeaderProgress) {
        for (id, progress) in &previous.followers {
            if let Some(slot) = self.followers.get_mut(id) {
                *slot = *progress;
            }
        }
    }

    /// The assignment changed (a reassignment): new followers start
    /// unknown (and counted as caught up now), removed ones are forgotten.
    pub fn set_replicas(&mut self, replicas: &[i32], now_ms: i64) {
        self.followers.retain(|id, _| replicas.contains(id));
        for r in replicas.iter().filter(|r| **r != self.me) {
            self.followers.entry(*r).or_insert(FollowerProgress {
                log_end_offset: -1,
                last_caught_up_ms: now_ms,
                previous_fetch_leader_leo: -1,
                previous_fetch_ms: now_ms,
            });
        }
        self.replicas = replicas.to_vec();
    }

    pub fn follower(&self, id: i32) -> Option<&FollowerProgress> {
        self.followers.get(&id)
    }

    pub fn is_replica(&self, id: i32) -> bool {
        self.followers.contains_key(&id)
    }

    /// A follower fetched from `fetch_offset` while the leader's log ended at
    /// `leader_leo`.
    pub fn record_fetch(&mut self, id: i32, fetch_offset: i64, leader_leo: i64, now_ms: i64) {
        let Some(f) = self.followers.get_mut(&id) else { return };
        f.log_end_offset = fetch_offset;
        if fetch_offset >= leader_leo {
            f.last_caught_up_ms = now_ms;
        } else if f.previous_fetch_leader_leo >= 0 && fetch_offset >= f.previous_fetch_leader_leo {
            f.last_caught_up_ms = f.last_caught_up_ms.max(f.previous_fetch_ms);
        }
        f.previous_fetch_leader_leo = leader_leo;
        f.previous_fetch_ms = now_ms;
    }

    /// The high watermark the ISR allows: the smallest log end offset among
    /// its members (the leader's own is `leader_leo`). `None` while an ISR
    /// member's position is unknown.
    pub fn isr_high_watermark(&self, leader_leo: i64) -> Option<i64> {
        let mut hw = leader_leo;
        for id in &self.isr {
            if *id == self.me {
                continue;
            }
            let leo = self.followers.get(id).map_or(-1, |f| f.log_end_offset);
            if leo < 0 {
                return None;
            }
            hw = hw.min(leo);
        }
        Some(hw)
    }

    /// ISR members (not the leader) that have not been caught up for longer
    /// than `lag_max_ms`.
    pub fn lagging(&self, now_ms: i64, lag_max_ms: i64) -> Vec<i32> {
        self.isr
            .iter()
            .filter(|id| **id != self.me)
            .filter(|id| {
                self.followers
                    .get(id)
                    .is_none_or(|f| now_ms - f.last_caught_up_ms > lag_max_ms)
            })
            .copied()
            .collect()
    }

    /// Replicas outside the ISR that have reached the high watermark and
    /// this epoch's start, and are still fetching: Kafka expands the ISR only
    /// on a follower's fetch, so a stopped follower whose last position
    /// happens to equal the high watermark must not rejoin.
    pub fn caught_up(&self, high_watermark: i64, now_ms: i64, lag_max_ms: i64) -> Vec<i32> {
        self.replicas
            .iter()
            .filter(|id| **id != self.me && !self.isr.contains(id))
            .filter(|id| {
                self.followers.get(id).is_some_and(|f| {
                    f.log_end_offset >= high_watermark
                        && f.log_end_offset >= self.epoch_start_offset
                        && now_ms - f.previous_fetch_ms <= lag_max_ms
                })
            })
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_watermark_is_the_isr_minimum() {
        let mut p = LeaderProgress::new(1, &[1, 2, 3], &[1, 2, 3], 0, 0);
        assert_eq!(p.isr_high_watermark(10), None, "unknown followers hold it");
        p.record_fetch(2, 7, 10, 1);
        p.record_fetch(3, 10, 10, 1);
        assert_eq!(p.isr_high_watermark(10), Some(7));
        p.isr = vec![1, 3];
        assert_eq!(p.isr_high_watermark(12), Some(10));
    }

    #[test]
    fn lagging_and_caught_up() {
        let mut p = LeaderProgress::new(1, &[1, 2, 3], &[1, 2, 3], 5, 0);
        p.record_fetch(2, 10, 10, 100);
        p.record_fetch(3, 4, 10, 100);
        assert_eq!(p.lagging(1_000, 500), vec![2, 3]);
        p.record_fetch(2, 12, 12, 900);
        assert_eq!(p.lagging(1_000, 500), vec![3]);
        // Reaching the leader's end as of the previous fetch counts as caught
        // up at that time, so a follower under steady load stays in.
        p.record_fetch(3, 10, 14, 950);
        assert_eq!(p.follower(3).unwrap().last_caught_up_ms, 100);
        p.record_fetch(3, 14, 20, 990);
        assert_eq!(p.follower(3).unwrap().last_caught_up_ms, 950);
        p.isr = vec![1];
        assert_eq!(p.caught_up(15, 1_000, 500), Vec::<i32>::new());
        assert_eq!(p.caught_up(14, 1_000, 500), vec![3]);
        assert_eq!(p.caught_up(12, 1_000, 500), vec![2, 3]);
        // A follower that stopped fetching stays out even at the watermark.
        assert_eq!(p.caught_up(12, 1_450, 500), vec![3]);
        let early = LeaderProgress::new(1, &[1, 2], &[1], 50, 0);
        let mut early = early;
        early.record_fetch(2, 40, 60, 1);
        assert!(early.caught_up(30, 1, 500).is_empty(), "below the epoch start");
    }
}
