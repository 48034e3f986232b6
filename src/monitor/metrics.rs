//! The monitor's Prometheus families, written into the same `PromWriter` as
//! the broker's when a broker serves the monitor:
//!
//! | name | labels | meaning |
//! |---|---|---|
//! | `krab_group_offset` | group, topic, partition | committed offset |
//! | `krab_group_lag` | group, topic, partition | log end offset − committed offset (≥ 0) |
//! | `krab_group_total_lag` | group | sum of the known lags |
//! | `krab_group_members` | group | members (ZooKeeper- or broker-coordinated) |
//! | `krab_cluster_log_end_offset` | topic, partition | ListOffsets latest, as the monitor saw it |
//! | `krab_cluster_brokers` | | brokers in Metadata |
//! | `krab_monitor_refreshes_total`, `krab_monitor_refresh_failures_total` | | refreshes run / that kept the old data |
//! | `krab_monitor_last_refresh_timestamp_seconds`, `krab_monitor_history_samples` | | freshness, history kept |
//! | `krab_monitor_last_refresh_duration_seconds` | | how long the last refresh took (store reads and broker calls) |

use crate::metrics::PromWriter;

use super::snapshot::Snapshot;

pub struct RefreshCounts {
    pub refreshes: u64,
    pub failures: u64,
    pub last_refresh_seconds: f64,
    pub samples: usize,
}

pub fn write_monitor_metrics(w: &mut PromWriter, snapshot: &Snapshot, counts: &RefreshCounts) {
    for (group, g) in &snapshot.groups {
        for row in &g.partitions {
            let partition = row.partition.to_string();
            let labels = [
                ("group", group.as_str()),
                ("topic", row.topic.as_str()),
                ("partition", &partition),
            ];
            if let Some(offset) = row.offset {
                w.gauge(
                    "krab_group_offset",
                    "Committed offset of a group's partition.",
                    &labels,
                    offset as f64,
                );
            }
            if let Some(lag) = row.lag {
                w.gauge(
                    "krab_group_lag",
                    "Log end offset minus committed offset, never negative.",
                    &labels,
                    lag as f64,
                );
            }
        }
        let labels = [("group", group.as_str())];
        w.gauge(
            "krab_group_total_lag",
            "Sum of a group's known partition lags.",
            &labels,
            g.total_lag() as f64,
        );
        w.gauge(
            "krab_group_members",
            "Members of a group.",
            &labels,
            g.members.len() as f64,
        );
    }
    for (topic, t) in &snapshot.topics {
        for p in &t.partitions {
            if let Some(size) = p.log_size {
                let partition = p.partition.to_string();
                w.gauge(
                    "krab_cluster_log_end_offset",
                    "Log end offset of a partition (ListOffsets latest), as the monitor saw it.",
                    &[("topic", topic.as_str()), ("partition", &partition)],
                    size as f64,
                );
            }
        }
    }
    w.gauge(
        "krab_cluster_brokers",
        "Brokers the cluster reports.",
        &[],
        snapshot.brokers.len() as f64,
    );
    w.counter(
        "krab_monitor_refreshes_total",
        "Monitor refreshes run.",
        &[],
        counts.refreshes as f64,
    );
    w.counter(
        "krab_monitor_refresh_failures_total",
        "Refreshes that could not reach ZooKeeper or the brokers and kept the previous data.",
        &[],
        counts.failures as f64,
    );
    w.gauge(
        "krab_monitor_last_refresh_timestamp_seconds",
        "When the data was last refreshed successfully.",
        &[],
        snapshot.data_as_of_ms as f64 / 1000.0,
    );
    w.gauge(
        "krab_monitor_last_refresh_duration_seconds",
        "How long the last refresh took.",
        &[],
        counts.last_refresh_seconds,
    );
    w.gauge(
        "krab_monitor_history_samples",
        "Samples kept for the charts.",
        &[],
        counts.samples as f64,
    );
}
