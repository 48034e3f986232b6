//! Metrics without a metrics crate: lock-free primitives for the hot paths
//! ([`Counter`], [`Gauge`], [`Histogram`]) and a writer for Prometheus's text
//! exposition format 0.0.4 ([`PromWriter`]).
//!
//! The split is deliberate: recording is a relaxed atomic add on the request
//! path, and everything else (labels, names, formatting) happens only when a
//! scraper asks, by reading the atomics into a [`PromWriter`]. Values computed
//! at scrape time (log sizes, group lag) go straight into the writer without
//! being stored anywhere. The broker's own metrics live in
//! `broker::metrics`; this module knows nothing about Kafka.

pub mod prometheus;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

pub use prometheus::{MetricType, PromWriter};

/// A monotonically increasing count. Relaxed ordering: a scrape may see one
/// counter a moment ahead of another, which Prometheus tolerates anyway.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (open connections).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A distribution over fixed upper bounds. Each observation is one atomic
/// add on its bucket plus a compare-and-swap on the sum; the count is the
/// sum of the buckets, so `_count` always equals the `+Inf` bucket.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, ascending; the last bucket (`+Inf`) is implicit.
    bounds: Box<[f64]>,
    /// Non-cumulative counts, one per bound plus one for `+Inf`.
    buckets: Box<[AtomicU64]>,
    /// The sum of observations as `f64` bits.
    sum_bits: AtomicU64,
}

impl Histogram {
    /// `bounds` should be finite and ascending; anything else is dropped so
    /// the exposition stays valid.
    pub fn new(bounds: &[f64]) -> Histogram {
        let mut clean: Vec<f64> = Vec::with_capacity(bounds.len());
        for &b in bounds {
            if b.is_finite() && clean.last().is_none_or(|last| b > *last) {
                clean.push(b);
            }
        }
        let buckets = (0..=clean.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds: clean.into_boxed_slice(),
            buckets,
            sum_bits: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records one value; NaN is ignored (it belongs in no bucket).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let index = self.bounds.partition_point(|bound| *bound < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            counts: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
        }
    }
}

/// A histogram's state at one moment, as [`PromWriter::histogram`] writes it.
/// Fields are public so a histogram computed at scrape time (not kept in a
/// [`Histogram`]) can be written the same way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds, ascending, without `+Inf`.
    pub bounds: Vec<f64>,
    /// Non-cumulative: `counts[i]` observations fell in `(bounds[i-1], bounds[i]]`;
    /// the one extra last entry counts those above every bound.
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl HistogramSnapshot {
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |total, c| total.saturating_add(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let h = Histogram::new(&[0.1, 1.0, 10.0]);
        for v in [0.05, 0.1, 0.5, 1.0, 20.0, f64::NAN] {
            h.observe(v);
        }
        h.observe_duration(Duration::from_millis(2500));
        let s = h.snapshot();
        assert_eq!(s.bounds, vec![0.1, 1.0, 10.0]);
        assert_eq!(s.counts, vec![2, 2, 1, 1]);
        assert_eq!(s.count(), 6);
        assert!((s.sum - 24.15).abs() < 1e-9, "{}", s.sum);
    }

    #[test]
    fn histogram_drops_unusable_bounds() {
        let h = Histogram::new(&[1.0, f64::NAN, 0.5, 2.0, f64::INFINITY, 2.0]);
        assert_eq!(h.snapshot().bounds, vec![1.0, 2.0]);
        assert_eq!(h.snapshot().counts.len(), 3);
    }

    #[test]
    fn counters_and_gauges() {
        let c = Counter::default();
        c.inc();
        c.add(4);
        assert_eq!(c.get(), 5);
        let g = Gauge::default();
        g.inc();
        g.inc();
        g.dec();
        assert_eq!(g.get(), 1);
        g.set(-3);
        assert_eq!(g.get(), -3);
    }
}
