//! The broker's Prometheus metrics: what is counted on the request path and
//! what is read from the logs when scraped.
//!
//! Hot-path recording is atomics only. Per-API counters sit in a fixed table
//! indexed by API key; per-topic traffic is counted in each [`Partition`]
//! (its [`PartitionTraffic`]) and summed per topic at scrape time, so no
//! request takes a metrics lock, and a deleted topic's series vanish with
//! its partitions instead of accumulating. Errors are the non-zero error
//! codes of each response (see `response_errors` for why they are tallied
//! from the finished response), plus requests that made the broker close
//! the connection. Some codes are part of normal protocol flow and count
//! too: MEMBER_ID_REQUIRED on a first JoinGroup (v4+), LEADER_NOT_AVAILABLE
//! for a topic Metadata just auto-created; `krab_request_error_codes_total`
//! tells them apart.
//!
//! Metrics (all gauges are read at scrape time unless noted):
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | `krab_broker_info` | gauge | `broker_id`, `cluster_id` | always 1 |
//! | `krab_start_time_seconds` | gauge | | Unix time the broker started |
//! | `krab_uptime_seconds` | gauge | | seconds since the broker started |
//! | `krab_controller` | gauge | | 1 while this broker is the controller |
//! | `krab_open_connections` | gauge | | client connections open now (tracked as they open and close) |
//! | `krab_connections_accepted_total` | counter | | client connections served (not those refused at `max.connections`) |
//! | `krab_authentications_total` | counter | `listener`, `mechanism`, `result` | logins (TLS handshakes as mechanism `tls`, SASL exchanges, re-authentications) by outcome, `success` or `failure` |
//! | `krab_invalid_requests_total` | counter | | frames refused before any handler (size out of bounds, unparseable header, unknown API key); each closes its connection |
//! | `krab_requests_total` | counter | `api` | requests handled, by Kafka API name (`Produce`, `Fetch`, …); every supported API is listed, others once used |
//! | `krab_request_errors_total` | counter | `api` | non-zero error codes in responses (top-level, per topic, partition, group or member) plus requests that closed the connection |
//! | `krab_request_error_codes_total` | counter | `api`, `error` | the same by Kafka error name (`UnknownTopicOrPartition`, …; `ConnectionClosed` for the requests that closed the connection) |
//! | `krab_request_duration_seconds` | histogram | `api` | from parsed header to encoded response (writing excluded), Fetch long polls included; `_count` equals `krab_requests_total` (series appear once an API is used) |
//! | `krab_topic_bytes_in_total` | counter | `topic` | bytes of record batches appended by Produce (as stored; idempotent duplicates not counted) |
//! | `krab_topic_messages_in_total` | counter | `topic` | records appended by Produce |
//! | `krab_topic_bytes_out_total` | counter | `topic` | record bytes sent in Fetch responses (whole batches; after down-conversion for v0–3) |
//! | `krab_topic_messages_out_total` | counter | `topic` | records in those bytes (for v0–3, the down-converted messages) |
//! | `krab_topics` | gauge | | topics known to this broker |
//! | `krab_partitions` | gauge | `topic` | partitions of the topic (cluster-wide count) |
//! | `krab_local_partitions` | gauge | | partition replicas this broker holds |
//! | `krab_log_size_bytes` | gauge | `topic`, `partition` | bytes of the partition's segment files |
//! | `krab_log_segments` | gauge | `topic`, `partition` | segment count |
//! | `krab_log_start_offset` | gauge | `topic`, `partition` | first offset still readable |
//! | `krab_log_end_offset` | gauge | `topic`, `partition` | offset the next record will get |
//! | `krab_high_watermark` | gauge | `topic`, `partition` | last committed offset + 1 |
//! | `krab_fetch_message_conversions_total` | counter | | records down-converted for Fetch v0–3 (Kafka's FetchMessageConversionsPerSec) |
//! | `krab_produce_message_conversions_total` | counter | | records converted on append to a magic 0/1 topic (ProduceMessageConversionsPerSec) |
//! | `krab_injected_faults_total` | counter | kind | injected faults that fired (control.listener): error, latency, close, stall_fetch, disk_full, isolate, move_leader |
//! | `krab_injected_faults_active` | gauge | | injected faults registered now |
//! | `krab_transactions_total` | counter | `result` | transactions this broker's coordinator completed: committed, aborted, timed_out (aborted by transaction.timeout.ms, also in aborted) |
//! | `krab_last_stable_offset` | gauge | `topic`, `partition` | the partition's last stable offset (read_committed consumers read up to it) |
//! | `krab_log_cleaner_runs_total` | counter | | cleaning passes completed (compacted topics) |
//! | `krab_log_cleaner_bytes_read_total` | counter | | bytes of log read by the cleaner |
//! | `krab_log_cleaner_bytes_written_total` | counter | | bytes of cleaned segments written |
//! | `krab_log_cleaner_records_removed_total` | counter | | records removed: superseded, expired tombstones, keyless |
//! | `krab_log_cleaner_uncleanable_partitions` | gauge | | partitions whose cleaning failed, skipped until restart |
//! | `krab_log_cleaner_dirty_ratio` | gauge | `topic`, `partition` | dirty / cleanable bytes of a local compacted partition, as last measured by the cleaner |
//!
//! Counters start at zero when the broker starts and when a topic is
//! (re)created; Prometheus's `rate()` handles both as resets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use crate::metrics::{Counter, Gauge, Histogram, PromWriter};
use crate::protocol::supported_range;

use super::partition::Partition;
use super::response_errors::ErrorTally;
use super::{Broker, Topic};

/// Request latency bounds in seconds: sub-millisecond answers up to Fetch
/// long polls (clients wait 0.5 s by default, at most 300 s here).
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Slots for API keys 0..128 (Kafka's keys end well below that); a key
/// outside is not counted per API.
const API_SLOTS: usize = 128;

pub struct BrokerMetrics {
    started: Instant,
    started_unix: f64,
    apis: Box<[ApiMetrics]>,
    open_connections: Gauge,
    connections_accepted: Counter,
    invalid_requests: Counter,
    /// (listener, mechanism, success) → logins.
    authentications: Mutex<BTreeMap<(String, &'static str, bool), u64>>,
    isr_shrinks: Counter,
    isr_expands: Counter,
    /// Records re-encoded for Fetch v0-3 (Kafka's FetchMessageConversionsPerSec).
    pub fetch_message_conversions: Counter,
    /// Records re-encoded on append to a magic 0/1 topic (ProduceMessageConversionsPerSec).
    pub produce_message_conversions: Counter,
}

struct ApiMetrics {
    /// Its count is the request count, so the two can never disagree.
    duration: Histogram,
    errors: Counter,
    /// Requests that failed outright and closed the connection.
    failed: Counter,
    /// Error code to occurrences; locked only for responses with errors.
    by_code: Mutex<BTreeMap<i16, u64>>,
}

/// Traffic through one partition, kept in the [`Partition`] itself.
#[derive(Debug, Default)]
pub struct PartitionTraffic {
    pub bytes_in: Counter,
    pub messages_in: Counter,
    pub bytes_out: Counter,
    pub messages_out: Counter,
}

impl PartitionTraffic {
    pub fn record_in(&self, bytes: u64, messages: u64) {
        self.bytes_in.add(bytes);
        self.messages_in.add(messages);
    }

    pub fn record_out(&self, bytes: u64, messages: u64) {
        self.bytes_out.add(bytes);
        self.messages_out.add(messages);
    }
}

/// Counts one open connection for as long as it lives, whichever way the
/// connection task ends (return, error or abort at shutdown).
pub struct ConnectionGuard<'a>(&'a BrokerMetrics);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.open_connections.dec();
    }
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        BrokerMetrics::new()
    }
}

impl BrokerMetrics {
    pub fn new() -> BrokerMetrics {
        let apis = (0..API_SLOTS)
            .map(|_| ApiMetrics {
                duration: Histogram::new(DURATION_BUCKETS),
                errors: Counter::default(),
                failed: Counter::default(),
                by_code: Mutex::new(BTreeMap::new()),
            })
            .collect();
        BrokerMetrics {
            started: Instant::now(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            apis,
            open_connections: Gauge::default(),
            connections_accepted: Counter::default(),
            invalid_requests: Counter::default(),
            authentications: Mutex::new(BTreeMap::new()),
            isr_shrinks: Counter::default(),
            isr_expands: Counter::default(),
            fetch_message_conversions: Counter::default(),
            produce_message_conversions: Counter::default(),
        }
    }

    /// This broker, as leader, changed an ISR from `before` to `after` members.
    pub fn count_isr_change(&self, before: usize, after: usize) {
        if after < before {
            self.isr_shrinks.inc();
        } else if after > before {
            self.isr_expands.inc();
        }
    }

    /// Call when a connection task starts; hold the guard until it ends.
    pub fn connection_opened(&self) -> ConnectionGuard<'_> {
        self.connections_accepted.inc();
        self.open_connections.inc();
        ConnectionGuard(self)
    }

    pub fn open_connections(&self) -> i64 {
        self.open_connections.get()
    }

    /// One login on `listener` with `mechanism` (`tls` for a handshake).
    pub fn authentication(&self, listener: &str, mechanism: &'static str, success: bool) {
        let mut counts = self.authentications.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((listener.to_string(), mechanism, success)).or_default() += 1;
    }

    /// A frame refused before it reached a handler.
    pub fn invalid_request(&self) {
        self.invalid_requests.inc();
    }

    /// One request of `api` handled in `elapsed`: answered with `errors`,
    /// or `None` when it failed and the connection is being closed.
    pub fn record_request(&self, api: ApiKey, elapsed: Duration, errors: Option<&ErrorTally>) {
        let Some(slot) = usize::try_from(api as i16).ok().and_then(|i| self.apis.get(i)) else {
            return;
        };
        slot.duration.observe_duration(elapsed);
        match errors {
            None => {
                slot.failed.inc();
                slot.errors.inc();
            }
            Some(tally) if !tally.is_empty() => {
                slot.errors.add(tally.total());
                let mut by_code = slot.by_code.lock().unwrap_or_else(|e| e.into_inner());
                for (code, n) in tally.iter() {
                    *by_code.entry(code).or_default() += u64::from(n);
                }
            }
            Some(_) => {}
        }
    }

    /// The whole exposition body.
    pub fn render(&self, broker: &Broker) -> String {
        let mut w = PromWriter::new();
        self.write(broker, &mut w);
        w.finish()
    }

    /// Writes every broker metric into `w` (to which callers may add more).
    pub fn write(&self, broker: &Broker, w: &mut PromWriter) {
        let id = broker.config.broker_id.to_string();
        let info = [("broker_id", id.as_str()), ("cluster_id", broker.cluster_id.as_str())];
        w.gauge("krab_broker_info", "Broker id and cluster id; always 1.", &info, 1.0);
        w.gauge(
            "krab_start_time_seconds",
            "Unix time the broker started.",
            &[],
            self.started_unix,
        );
        let uptime = self.started.elapsed().as_secs_f64();
        w.gauge("krab_uptime_seconds", "Seconds since the broker started.", &[], uptime);
        let controller = if broker.is_controller() { 1.0 } else { 0.0 };
        w.gauge(
            "krab_controller",
            "1 while this broker is the controller.",
            &[],
            controller,
        );
        let open = self.open_connections.get() as f64;
        w.gauge("krab_open_connections", "Client connections open now.", &[], open);
        let accepted = self.connections_accepted.get() as f64;
        w.counter(
            "krab_connections_accepted_total",
            "Client connections accepted.",
            &[],
            accepted,
        );
        let invalid = self.invalid_requests.get() as f64;
        let help = "Frames refused before reaching a handler (bad size, header or API key).";
        w.counter("krab_invalid_requests_total", help, &[], invalid);
        let logins = self.authentications.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for ((listener, mechanism, success), n) in logins {
            let result = if success { "success" } else { "failure" };
            w.counter(
                "krab_authentications_total",
                "Logins (TLS handshakes, SASL exchanges, re-authentications) by outcome.",
                &[("listener", &listener), ("mechanism", mechanism), ("result", result)],
                n as f64,
            );
        }
        self.write_requests(w);
        write_faults(broker, w);
        write_cleaner(broker, w);
        write_transactions(broker, w);
        write_topics(broker, w);
    }

    fn write_requests(&self, w: &mut PromWriter) {
        for (key, slot) in self.apis.iter().enumerate() {
            let Ok(api) = ApiKey::try_from(key as i16) else {
                continue;
            };
            let duration = slot.duration.snapshot();
            if duration.count() == 0 && supported_range(key as i16).is_none() {
                continue;
            }
            let name = format!("{api:?}");
            let labels = [("api", name.as_str())];
            w.counter(
                "krab_requests_total",
                "Requests handled, by API.",
                &labels,
                duration.count() as f64,
            );
            let help = "Non-zero error codes in responses, plus requests that closed the connection.";
            w.counter("krab_request_errors_total", help, &labels, slot.errors.get() as f64);
            // An unused API's histogram would be twenty lines of zeros.
            if duration.count() > 0 {
                let help = "Request latency from decoded header to response, by API.";
                w.histogram("krab_request_duration_seconds", help, &labels, &duration);
            }
            let help = "Error codes in responses by Kafka error name (ConnectionClosed: the request closed it).";
            let by_code = slot.by_code.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for (code, n) in by_code {
                let error = error_name(code);
                w.counter(
                    "krab_request_error_codes_total",
                    help,
                    &[("api", &name), ("error", &error)],
                    n as f64,
                );
            }
            let failed = slot.failed.get();
            if failed > 0 {
                let labels = [("api", name.as_str()), ("error", "ConnectionClosed")];
                w.counter("krab_request_error_codes_total", help, &labels, failed as f64);
            }
        }
    }
}

/// Kafka's name for an error code (`UnknownTopicOrPartition`), or the
/// number for a code the codec does not know.
fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        Some(ResponseError::Unknown(c)) => c.to_string(),
        Some(e) => e.to_string(),
        None => "None".to_string(),
    }
}

/// Per-topic traffic and per-partition log gauges, topics in name order.
fn write_topics(broker: &Broker, w: &mut PromWriter) {
    let mut topics: Vec<Arc<Topic>> = broker
        .topics
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    w.gauge("krab_topics", "Topics known to this broker.", &[], topics.len() as f64);
    let mut local_total = 0usize;
    for topic in &topics {
        let labels = [("topic", topic.name.as_str())];
        let partitions = topic.partitions.len() as f64;
        w.gauge("krab_partitions", "Partitions of the topic.", &labels, partitions);
        let local: Vec<&Arc<Partition>> = topic.partitions.iter().flatten().filter(|p| !p.is_deleted()).collect();
        local_total += local.len();
        let sum = |f: fn(&PartitionTraffic) -> &Counter| local.iter().map(|p| f(&p.traffic).get()).sum::<u64>() as f64;
        let help = "Bytes of record batches appended by Produce.";
        w.counter("krab_topic_bytes_in_total", help, &labels, sum(|t| &t.bytes_in));
        let help = "Records appended by Produce.";
        w.counter("krab_topic_messages_in_total", help, &labels, sum(|t| &t.messages_in));
        let help = "Record bytes sent in Fetch responses.";
        w.counter("krab_topic_bytes_out_total", help, &labels, sum(|t| &t.bytes_out));
        let help = "Records sent in Fetch responses.";
        w.counter("krab_topic_messages_out_total", help, &labels, sum(|t| &t.messages_out));
        for partition in local {
            write_partition(partition, w);
        }
    }
    let help = "Partition replicas this broker holds.";
    w.gauge("krab_local_partitions", help, &[], local_total as f64);
    // Kafka's ReplicaManager gauges: partitions this broker leads whose ISR
    // is short of the replicas, and (on the controller) partitions without
    // a leader.
    let mut under_replicated = 0;
    let mut under_min_isr = 0;
    for partition in topics.iter().flat_map(|t| t.partitions.iter().flatten()) {
        let state = partition.replica_state();
        if matches!(state.role, crate::replica::Role::Leader(_)) && state.isr.len() < state.replicas.len() {
            under_replicated += 1;
        }
        let topic = topics.iter().find(|t| t.name == partition.topic);
        let min_isr = topic.map_or(1, |t| broker.min_insync_replicas(t));
        if matches!(state.role, crate::replica::Role::Leader(_)) && state.isr.len() < min_isr {
            under_min_isr += 1;
        }
    }
    let help = "Partitions led by this broker whose ISR is smaller than the replica set.";
    w.gauge("krab_under_replicated_partitions", help, &[], under_replicated as f64);
    let help = "Partitions led by this broker whose ISR is below min.insync.replicas.";
    w.gauge("krab_under_min_isr_partitions", help, &[], under_min_isr as f64);
    let offline = if broker.is_controller() {
        topics.iter().flat_map(|t| t.meta()).filter(|m| m.leader < 0).count()
    } else {
        0
    };
    let help = "Partitions without a leader (reported by the controller).";
    w.gauge("krab_offline_partitions", help, &[], offline as f64);
    let help = "ISR shrinks made by this broker as leader.";
    w.counter(
        "krab_isr_shrinks_total",
        help,
        &[],
        broker.metrics.isr_shrinks.get() as f64,
    );
    let help = "ISR expansions made by this broker as leader.";
    w.counter(
        "krab_isr_expands_total",
        help,
        &[],
        broker.metrics.isr_expands.get() as f64,
    );
    let help = "Records converted to an older format for Fetch v0-3 (none when the stored format is old enough).";
    w.counter(
        "krab_fetch_message_conversions_total",
        help,
        &[],
        broker.metrics.fetch_message_conversions.get() as f64,
    );
    let help = "Records converted on append to a topic kept in magic 0/1 (message.format.version before 0.11).";
    w.counter(
        "krab_produce_message_conversions_total",
        help,
        &[],
        broker.metrics.produce_message_conversions.get() as f64,
    );
}

fn write_partition(partition: &Partition, w: &mut PromWriter) {
    let index = partition.index.to_string();
    let labels = [("topic", partition.topic.as_str()), ("partition", index.as_str())];
    let stats = partition.log_stats();
    let hw = partition.high_watermark();
    w.gauge(
        "krab_log_size_bytes",
        "Bytes of the partition's segment files.",
        &labels,
        stats.size_bytes as f64,
    );
    w.gauge(
        "krab_log_segments",
        "Segments of the partition's log.",
        &labels,
        stats.segments as f64,
    );
    let help = "First offset still readable.";
    w.gauge("krab_log_start_offset", help, &labels, stats.log_start_offset as f64);
    let help = "Offset the next appended record will get.";
    w.gauge("krab_log_end_offset", help, &labels, stats.log_end_offset as f64);
    w.gauge("krab_high_watermark", "Last committed offset + 1.", &labels, hw as f64);
    let help = "Last stable offset: the first open transaction's first offset, at most the high watermark.";
    w.gauge(
        "krab_last_stable_offset",
        help,
        &labels,
        partition.last_stable_offset() as f64,
    );
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;

/// Transactions this broker coordinated to their end.
fn write_transactions(broker: &Broker, w: &mut PromWriter) {
    let counters = &broker.transactions.counters;
    let help = "Transactions completed by this broker's coordinator, by result (timed_out: aborted by transaction.timeout.ms, also counted as aborted).";
    for (result, counter) in [
        ("committed", &counters.committed),
        ("aborted", &counters.aborted),
        ("timed_out", &counters.timed_out),
    ] {
        w.counter(
            "krab_transactions_total",
            help,
            &[("result", result)],
            counter.get() as f64,
        );
    }
}

/// The log cleaner (compacted topics): passes, bytes, dirtiness.
fn write_cleaner(broker: &Broker, w: &mut PromWriter) {
    let cleaner = &broker.cleaner;
    for (name, help, value) in [
        (
            "krab_log_cleaner_runs_total",
            "Cleaning passes completed.",
            cleaner.runs.get(),
        ),
        (
            "krab_log_cleaner_bytes_read_total",
            "Bytes of log the cleaner read.",
            cleaner.bytes_read.get(),
        ),
        (
            "krab_log_cleaner_bytes_written_total",
            "Bytes of cleaned segments written.",
            cleaner.bytes_written.get(),
        ),
        (
            "krab_log_cleaner_records_removed_total",
            "Records removed by cleaning (superseded, expired tombstones, keyless).",
            cleaner.records_removed.get(),
        ),
    ] {
        w.counter(name, help, &[], value as f64);
    }
    let uncleanable = cleaner.uncleanable_count() as f64;
    let help = "Partitions whose cleaning failed; they are skipped until restart.";
    w.gauge("krab_log_cleaner_uncleanable_partitions", help, &[], uncleanable);
    let help = "Dirty bytes / cleanable bytes of a compacted partition, as last measured.";
    for ((topic, partition), ratio) in cleaner.dirty_ratios() {
        let partition = partition.to_string();
        let labels = [("topic", topic.as_str()), ("partition", partition.as_str())];
        w.gauge("krab_log_cleaner_dirty_ratio", help, &labels, ratio);
    }
}

/// Injected faults (control.listener), by kind, as they fired.
fn write_faults(broker: &Broker, w: &mut PromWriter) {
    use std::sync::atomic::Ordering::Relaxed;
    let fired = &broker.faults.fired;
    let help = "Injected faults that fired (control.listener), by kind.";
    for (kind, n) in [
        ("error", &fired.error),
        ("latency", &fired.latency),
        ("close", &fired.close),
        ("stall_fetch", &fired.stall_fetch),
        ("disk_full", &fired.disk_full),
        ("isolate", &fired.isolate),
        ("move_leader", &fired.move_leader),
    ] {
        w.counter(
            "krab_injected_faults_total",
            help,
            &[("kind", kind)],
            n.load(Relaxed) as f64,
        );
    }
    let active = broker.faults.list().len() as f64;
    w.gauge(
        "krab_injected_faults_active",
        "Injected faults registered now.",
        &[],
        active,
    );
}
