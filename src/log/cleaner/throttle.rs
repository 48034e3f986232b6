//! `log.cleaner.io.max.bytes.per.second`: the cleaner sleeps whenever the bytes
//! it read and wrote since it started run ahead of the allowed rate, so a
//! cleaning pass never takes more of the disk than the operator granted.

use std::time::{Duration, Instant};

pub struct Throttle {
    bytes_per_second: f64,
    started: Instant,
    bytes: u64,
}

impl Throttle {
    /// `None` when the rate is unlimited (Kafka's default, Double.MaxValue).
    pub fn new(bytes_per_second: f64) -> Option<Throttle> {
        (bytes_per_second.is_finite() && bytes_per_second > 0.0 && bytes_per_second < 1e15).then(|| Throttle {
            bytes_per_second,
            started: Instant::now(),
            bytes: 0,
        })
    }

    /// How long to wait after `bytes` more, given the time elapsed so far.
    pub fn delay_after(&mut self, bytes: u64, elapsed: Duration) -> Duration {
        self.bytes = self.bytes.saturating_add(bytes);
        let due = Duration::from_secs_f64(self.bytes as f64 / self.bytes_per_second);
        due.saturating_sub(elapsed)
    }

    /// Counts `bytes` and sleeps the thread if the cleaner is ahead of the rate.
    pub fn pace(&mut self, bytes: u64) {
        let delay = self.delay_after(bytes, self.started.elapsed());
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
}

/// `pace` through an optional throttle.
pub fn pace(throttle: &mut Option<Throttle>, bytes: u64) {
    if let Some(throttle) = throttle {
        throttle.pace(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_when_ahead_of_the_rate() {
        assert!(Throttle::new(f64::MAX).is_none() && Throttle::new(0.0).is_none());
        let mut throttle = Throttle::new(1000.0).unwrap();
        assert_eq!(
            throttle.delay_after(500, Duration::from_millis(100)),
            Duration::from_millis(400)
        );
        assert_eq!(throttle.delay_after(500, Duration::from_secs(2)), Duration::ZERO);
    }
}
