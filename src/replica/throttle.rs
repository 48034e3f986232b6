//! The follower-side replication throttle (Kafka's
//! `follower.replication.throttled.rate` for the replicas listed in a
//! topic's `follower.replication.throttled.replicas`): one budget per
//! broker, shared by every throttled partition's fetcher. Each fetched byte
//! books `1/rate` seconds on a shared clock; a fetcher whose booking lies in
//! the future waits before its next fetch.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Throttle {
    /// When the bytes booked so far have been paid for.
    paid_until: Mutex<Option<Instant>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            paid_until: Mutex::new(None),
        }
    }
}

/// How long `bytes` take at `rate` bytes/s.
pub fn cost(bytes: usize, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(bytes as f64 / rate as f64)
}

impl Throttle {
    /// Books `bytes` at `rate` and waits until they are paid for.
    pub async fn consume(&self, bytes: usize, rate: u64) {
        let until = {
            let mut paid = self.paid_until.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let start = paid.filter(|p| *p > now).unwrap_or(now);
            let until = start + cost(bytes, rate);
            *paid = Some(until);
            until
        };
        tokio::time::sleep_until(until).await;
    }
}

/// Whether `list` (a `*.replication.throttled.replicas` value) names
/// partition `partition` on broker `broker`.
pub fn lists_replica(list: &str, partition: i32, broker: i32) -> bool {
    let list = list.trim();
    list == "*"
        || list.split(',').any(|pair| {
            pair.trim()
                .split_once(':')
                .is_some_and(|(p, b)| p.trim().parse() == Ok(partition) && b.trim().parse() == Ok(broker))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_lists() {
        assert!(lists_replica("*", 3, 1));
        assert!(lists_replica("0:1,3:1", 3, 1));
        assert!(!lists_replica("0:1,3:2", 3, 1));
        assert!(!lists_replica("", 0, 0));
    }

    #[test]
    fn cost_follows_the_rate() {
        assert_eq!(cost(1_000_000, 1_000_000), Duration::from_secs(1));
        assert_eq!(cost(500, 0), Duration::ZERO);
    }

    #[tokio::test]
    async fn fetchers_share_one_budget() {
        let t = std::sync::Arc::new(Throttle::default());
        let start = Instant::now();
        let other = t.clone();
        let a = tokio::spawn(async move { other.consume(100, 1_000).await });
        t.consume(100, 1_000).await;
        a.await.unwrap();
        assert!(Instant::now() - start >= Duration::from_millis(200));
    }
}
