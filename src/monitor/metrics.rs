//! The monitor's Prometheus families: per group and partition the committed
//! offset and lag, per group the total lag and members, per partition the
//! log end offset it saw, and the monitor's own refresh counters.
//!
//! krab_group_offset{group,topic,partition}        committed offset
//! krab_group_lag{group,topic,partition}           log end offset − committed offset (≥ 0)
//! krab_group_total_lag{group}                     sum of the known lags
//! krab_group_members{group}                       members (ZooKeeper- or broker-coordinated)
//! krab_cluster_log_end_offset{topic,partition}    ListOffsets latest, as the monitor saw it
//! krab_cluster_brokers                            brokers in Metadata
//! krab_monitor_refreshes_total / krab_monitor_refresh_failures_total
//! krab_monitor_last_refresh_timestamp_seconds / krab_monitor_history_samples

use std::fmt::Write;

use super::snapshot::Snapshot;

pub fn monitor_metrics(snapshot: &Snapshot, refreshes: u64, failures: u64, samples: usize) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "krab_group_offset",
        "gauge",
        "Committed offset of a group's partition.",
    );
    for (group, g) in &snapshot.groups {
        for row in &g.partitions {
            if let Some(offset) = row.offset {
                sample(
                    &mut out,
                    "krab_group_offset",
                    &[
                        ("group", group),
                        ("topic", &row.topic),
                        ("partition", &row.partition.to_string()),
                    ],
                    offset,
                );
            }
        }
    }
    family(
        &mut out,
        "krab_group_lag",
        "gauge",
        "Log end offset minus committed offset, never negative.",
    );
    for (group, g) in &snapshot.groups {
        for row in &g.partitions {
            if let Some(lag) = row.lag {
                sample(
                    &mut out,
                    "krab_group_lag",
                    &[
                        ("group", group),
                        ("topic", &row.topic),
                        ("partition", &row.partition.to_string()),
                    ],
                    lag,
                );
            }
        }
    }
    family(
        &mut out,
        "krab_group_total_lag",
        "gauge",
        "Sum of a group's known partition lags.",
    );
    for (group, g) in &snapshot.groups {
        sample(&mut out, "krab_group_total_lag", &[("group", group)], g.total_lag());
    }
    family(&mut out, "krab_group_members", "gauge", "Members of a group.");
    for (group, g) in &snapshot.groups {
        sample(
            &mut out,
            "krab_group_members",
            &[("group", group)],
            g.members.len() as i64,
        );
    }
    family(
        &mut out,
        "krab_cluster_log_end_offset",
        "gauge",
        "Log end offset of a partition (ListOffsets latest).",
    );
    for (topic, t) in &snapshot.topics {
        for p in &t.partitions {
            if let Some(size) = p.log_size {
                sample(
                    &mut out,
                    "krab_cluster_log_end_offset",
                    &[("topic", topic), ("partition", &p.partition.to_string())],
                    size,
                );
            }
        }
    }
    family(
        &mut out,
        "krab_cluster_brokers",
        "gauge",
        "Brokers the cluster reports.",
    );
    sample(&mut out, "krab_cluster_brokers", &[], snapshot.brokers.len() as i64);
    family(
        &mut out,
        "krab_monitor_refreshes_total",
        "counter",
        "Monitor refreshes run.",
    );
    sample(&mut out, "krab_monitor_refreshes_total", &[], refreshes as i64);
    family(
        &mut out,
        "krab_monitor_refresh_failures_total",
        "counter",
        "Refreshes that kept the previous data.",
    );
    sample(&mut out, "krab_monitor_refresh_failures_total", &[], failures as i64);
    family(
        &mut out,
        "krab_monitor_last_refresh_timestamp_seconds",
        "gauge",
        "When the data was last refreshed.",
    );
    let _ = writeln!(
        out,
        "krab_monitor_last_refresh_timestamp_seconds {}",
        snapshot.data_as_of_ms as f64 / 1000.0
    );
    family(
        &mut out,
        "krab_monitor_history_samples",
        "gauge",
        "Samples kept for the charts.",
    );
    sample(&mut out, "krab_monitor_history_samples", &[], samples as i64);
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: i64) {
    out.push_str(name);
    if !labels.is_empty() {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
                )
            })
            .collect();
        let _ = write!(out, "{{{}}}", pairs.join(","));
    }
    let _ = writeln!(out, " {value}");
}
