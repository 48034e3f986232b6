//! Broker configuration: Kafka's property names, read from YAML or a
//! `.properties` file plus `--override key=value` pairs, validated into one
//! plain [`BrokerConfig`]. Library code never reads argv or the environment;
//! the binary hands us the raw pairs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::broker::topic_config_defs::{self, TopicConfigDef};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid value for {key}: {value:?} ({reason})")]
    Invalid { key: String, value: String, reason: String },
    #[error("--override expects key=value, got {0:?}")]
    BadOverride(String),
}

/// A listener as Kafka writes it: `NAME://host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(text: &str) -> Result<Listener, String> {
        let (name, rest) = text
            .split_once("://")
            .ok_or_else(|| "expected NAME://host:port".to_string())?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| "expected NAME://host:port".to_string())?;
        let port: u16 = port.parse().map_err(|_| format!("bad port {port:?}"))?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad listener name {name:?}"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Listener {
            name: name.to_ascii_uppercase(),
            host,
            port,
        })
    }
}

/// Everything the broker honours, validated.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub broker_id: i32,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Option<Vec<Listener>>,
    pub log_dirs: Vec<PathBuf>,
    pub zookeeper_connect: Option<String>,
    pub zookeeper_session_timeout_ms: u64,
    /// How long to wait for ZooKeeper at start-up (zookeeper.connection.timeout.ms;
    /// default: the session timeout, as Kafka).
    pub zookeeper_connection_timeout_ms: Option<u64>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub log_segment_bytes: u64,
    pub log_roll_ms: i64,
    pub log_retention_ms: i64,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: u64,
    pub log_flush_interval_messages: u64,
    pub log_flush_interval_ms: Option<u64>,
    /// Segments deleted by retention are renamed `.deleted` and removed this
    /// much later (log.segment.delete.delay.ms; topics: file.delete.delay.ms).
    pub log_segment_delete_delay_ms: i64,
    pub message_max_bytes: i32,
    pub socket_request_max_bytes: i32,
    pub max_connections: usize,
    /// Bounds on a consumer's requested session timeout (Kafka's defaults: 6 s, 30 min).
    pub group_min_session_timeout_ms: u64,
    pub group_max_session_timeout_ms: u64,
    /// How long the first rebalance of an empty group waits for more members.
    pub group_initial_rebalance_delay_ms: u64,
    /// Longest commit metadata string accepted (offset.metadata.max.bytes).
    pub offset_metadata_max_bytes: usize,
    /// `host:port` the offset monitor and `/metrics` are served on
    /// (monitor.listener; none: not served).
    pub monitor_listener: Option<String>,
    /// `host:port` of the fault-injection control endpoint
    /// (control.listener; none: not served). For tests only.
    pub control_listener: Option<String>,
    /// Answer as this Kafka release would (emulate.kafka.version, krab's
    /// own): its API versions and its default message format.
    pub emulate_kafka_version: Option<crate::protocol::emulation::KafkaRelease>,
    /// How often the monitor samples offsets (monitor.refresh.ms).
    pub monitor_refresh_ms: u64,
    /// How often the broker re-reads topics and configs from the metadata
    /// store besides its watches (`metadata.sync.interval.ms`, krab's own;
    /// default 500 ms on ZooKeeper, 1000 ms embedded): the safety net for a
    /// missed watch.
    pub metadata_sync_interval_ms: Option<u64>,
    /// How long the monitor keeps its history (monitor.retain.ms).
    pub monitor_retain_ms: u64,
    /// Where the history is kept (monitor.history.dir; default
    /// `<first log dir>/monitor-history`).
    pub monitor_history_dir: Option<PathBuf>,
    /// A follower that has not caught up with the leader's log end for this
    /// long leaves the ISR (replica.lag.time.max.ms).
    pub replica_lag_time_max_ms: u64,
    /// Longest wait of a follower's fetch at the leader (replica.fetch.wait.max.ms).
    pub replica_fetch_wait_max_ms: u64,
    /// Bytes a follower asks for per partition (replica.fetch.max.bytes).
    pub replica_fetch_max_bytes: i32,
    /// Bytes a follower asks for per fetch (replica.fetch.response.max.bytes).
    pub replica_fetch_response_max_bytes: i32,
    /// ISR size an acks=all write needs (min.insync.replicas; topics may override).
    pub min_insync_replicas: i32,
    /// Whether a replica outside the ISR may lead when the whole ISR is gone.
    pub unclean_leader_election_enable: bool,
    /// Move leadership off this broker before it stops (controlled.shutdown.enable).
    pub controlled_shutdown_enable: bool,
    /// How often the high watermarks are written to replication-offset-checkpoint.
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// Whether the controller moves leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    pub leader_imbalance_check_interval_seconds: u64,
    pub leader_imbalance_per_broker_percentage: u64,
    /// Run the log cleaner for `cleanup.policy=compact` topics (log.cleaner.enable).
    pub log_cleaner_enable: bool,
    /// Cleaner threads, each cleaning one partition at a time (log.cleaner.threads).
    pub log_cleaner_threads: usize,
    /// Bytes per second the cleaner may read plus write, over all its
    /// threads (log.cleaner.io.max.bytes.per.second; unlimited by default).
    pub log_cleaner_io_max_bytes_per_second: f64,
    /// Memory for the key → offset maps of all cleaner threads
    /// (log.cleaner.dedupe.buffer.size; 24 bytes a key).
    pub log_cleaner_dedupe_buffer_size: u64,
    /// How long an idle cleaner thread sleeps before looking again (log.cleaner.backoff.ms).
    pub log_cleaner_backoff_ms: u64,
    /// Longest transaction.timeout.ms a producer may ask for (transaction.max.timeout.ms).
    pub transaction_max_timeout_ms: i64,
    /// How often open transactions are checked against their timeout and
    /// half-done ones completed (transaction.abort.timed.out.transaction.cleanup.interval.ms).
    pub transaction_cleanup_interval_ms: u64,
    /// A transactional id idle this long is forgotten (transactional.id.expiration.ms).
    pub transactional_id_expiration_ms: i64,
    /// Topic-config defaults set in this file under their broker names
    /// (`log.cleanup.policy=compact` → `cleanup.policy`), for the keys no
    /// field above holds; topic overrides and dynamic defaults win.
    pub topic_defaults: BTreeMap<String, String>,
    /// Listener protocols, TLS and SASL (`ssl.*`, `sasl.*`, `listener.name.*`).
    pub security: crate::security::SecuritySettings,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_id: 0,
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "0.0.0.0".into(),
                port: 9092,
            }],
            advertised_listeners: None,
            log_dirs: vec![PathBuf::from("/tmp/kafka-logs")],
            zookeeper_connect: None,
            zookeeper_session_timeout_ms: 18_000,
            zookeeper_connection_timeout_ms: None,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            delete_topic_enable: true,
            log_segment_bytes: 1 << 30,
            log_roll_ms: 168 * 3_600_000,
            log_retention_ms: 168 * 3_600_000,
            log_retention_bytes: -1,
            log_retention_check_interval_ms: 300_000,
            log_flush_interval_messages: u64::MAX,
            log_flush_interval_ms: None,
            log_segment_delete_delay_ms: 60_000,
            message_max_bytes: 1_048_588,
            socket_request_max_bytes: 104_857_600,
            max_connections: i32::MAX as usize,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            offset_metadata_max_bytes: 4096,
            monitor_listener: None,
            control_listener: None,
            emulate_kafka_version: None,
            monitor_refresh_ms: 5_000,
            metadata_sync_interval_ms: None,
            monitor_retain_ms: 86_400_000,
            monitor_history_dir: None,
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_response_max_bytes: 10_485_760,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            controlled_shutdown_enable: true,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            leader_imbalance_per_broker_percentage: 10,
            transaction_max_timeout_ms: 900_000,
            transaction_cleanup_interval_ms: 10_000,
            transactional_id_expiration_ms: 604_800_000,
            log_cleaner_enable: true,
            log_cleaner_threads: 1,
            log_cleaner_io_max_bytes_per_second: f64::MAX,
            log_cleaner_dedupe_buffer_size: 128 * 1024 * 1024,
            log_cleaner_backoff_ms: 15_000,
            topic_defaults: BTreeMap::new(),
            security: crate::security::SecuritySettings::default(),
        }
    }
}

/// Kafka broker keys krab knows but does not act on: accepted with a quieter
/// warning so stock `server.properties` files load.
const KNOWN_IGNORED: &[&str] = &[
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "transaction.state.log.segment.bytes",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "num.replica.fetchers",
    "background.threads",
    "host.name",
    "port",
];

/// Raw key/value pairs, in the order read, before validation.
pub type RawConfig = BTreeMap<String, String>;

/// Reads a YAML (`.yaml`/`.yml`) or Java `.properties` file into raw pairs.
pub fn read_config_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let is_yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    if is_yaml {
        parse_yaml(&text).map_err(|message| ConfigError::Syntax {
            path: path.to_path_buf(),
            message,
        })
    } else {
        Ok(parse_properties(&text))
    }
}

fn parse_yaml(text: &str) -> Result<RawConfig, String> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let mut raw = RawConfig::new();
    let map = match value {
        serde_yaml::Value::Null => return Ok(raw),
        serde_yaml::Value::Mapping(map) => map,
        _ => return Err("top level must be a mapping of Kafka property names to values".into()),
    };
    for (key, value) in map {
        let key = key.as_str().ok_or("keys must be strings")?.to_string();
        let value = match value {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Null => continue,
            serde_yaml::Value::Sequence(items) => items
                .iter()
                .map(|item| match item {
                    serde_yaml::Value::String(s) => Ok(s.clone()),
                    serde_yaml::Value::Number(n) => Ok(n.to_string()),
                    _ => Err(format!("{key}: list items must be scalars")),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => return Err(format!("{key}: value must be a scalar or a list")),
        };
        raw.insert(key, value);
    }
    Ok(raw)
}

/// Java properties, the subset Kafka files use: `key=value` or `key: value`,
/// `#`/`!` comments, trailing-backslash continuation.
pub fn parse_properties(text: &str) -> RawConfig {
    let mut raw = RawConfig::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':']);
        let (key, value) = match split {
            Some(i) => (&entry[..i], &entry[i + 1..]),
            None => (entry.as_str(), ""),
        };
        raw.insert(key.trim().to_string(), value.trim().to_string());
    }
    raw
}

/// Applies `key=value` overrides on top of the file's pairs.
pub fn apply_overrides(raw: &mut RawConfig, overrides: &[String]) -> Result<(), ConfigError> {
    for item in overrides {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| ConfigError::BadOverride(item.clone()))?;
        raw.insert(key.trim().to_string(), value.trim().to_string());
    }
    Ok(())
}

/// What validation found besides errors: keys that were ignored.
#[derive(Debug, Default)]
pub struct ConfigWarnings {
    pub unknown_keys: Vec<String>,
    pub ignored_keys: Vec<String>,
}

/// Whether krab knows `key` as a broker setting (honoured, or accepted and
/// ignored): a probe through the same parser the broker uses, so the list
/// cannot drift from it.
/// The topic config whose broker-wide default `key` is (Kafka's `log.*`
/// synonyms: `log.cleanup.policy`, `log.message.timestamp.type`, ...), for
/// the keys no `BrokerConfig` field holds; they land in `topic_defaults`.
fn static_topic_default(key: &str) -> Option<&'static TopicConfigDef> {
    topic_config_defs::TOPIC_CONFIGS
        .iter()
        .find(|def| def.synonym == Some(key) && !matches!(def.kind, topic_config_defs::Kind::ThrottledReplicas))
}

pub fn is_known_broker_key(key: &str) -> bool {
    let raw: RawConfig = [(key.to_string(), String::new())].into();
    match BrokerConfig::from_raw(&raw) {
        Err(_) => true, // known, and "" is not a valid value for it
        Ok((_, warnings)) => !warnings.unknown_keys.iter().any(|k| k == key),
    }
}

impl BrokerConfig {
    /// Validates raw pairs into a config; the first bad value is an error
    /// naming its key.
    pub fn from_raw(raw: &RawConfig) -> Result<(BrokerConfig, ConfigWarnings), ConfigError> {
        let mut c = BrokerConfig::default();
        let mut warnings = ConfigWarnings::default();
        // Kafka's precedence: ms over minutes over hours.
        let mut retention = (None, None, None);
        let mut roll = (None, None);
        let mut jitter: (Option<String>, Option<i64>) = (None, None);
        let mut security_raw = BTreeMap::new();
        for (key, value) in raw {
            let v = value.as_str();
            match key.as_str() {
                "broker.id" => c.broker_id = parse_num(key, v, 0, i32::MAX as i64)? as i32,
                "listeners" => c.listeners = parse_listeners(key, v)?,
                "advertised.listeners" => c.advertised_listeners = Some(parse_listeners(key, v)?),
                "log.dirs" | "log.dir" => {
                    let dirs: Vec<PathBuf> = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect();
                    if dirs.is_empty() {
                        return Err(invalid(key, v, "at least one directory is required"));
                    }
                    c.log_dirs = dirs;
                }
                "zookeeper.connect" => c.zookeeper_connect = if v.is_empty() { None } else { Some(v.to_string()) },
                "zookeeper.session.timeout.ms" => {
                    c.zookeeper_session_timeout_ms = parse_num(key, v, 1000, 3_600_000)? as u64
                }
                "zookeeper.connection.timeout.ms" => {
                    c.zookeeper_connection_timeout_ms = Some(parse_num(key, v, 0, 3_600_000)? as u64)
                }
                "num.partitions" => c.num_partitions = parse_num(key, v, 1, 1_000_000)? as i32,
                "default.replication.factor" => {
                    c.default_replication_factor = parse_num(key, v, 1, i16::MAX as i64)? as i16
                }
                "auto.create.topics.enable" => c.auto_create_topics_enable = parse_bool(key, v)?,
                "delete.topic.enable" => c.delete_topic_enable = parse_bool(key, v)?,
                "log.segment.bytes" => c.log_segment_bytes = parse_num(key, v, 14, i32::MAX as i64)? as u64,
                "log.roll.hours" => roll.1 = Some(parse_num(key, v, 1, i32::MAX as i64)? * 3_600_000),
                "log.roll.ms" => roll.0 = Some(parse_num(key, v, 1, i64::MAX)?),
                "log.retention.hours" => retention.2 = Some(parse_retention(key, v, 3_600_000)?),
                "log.retention.minutes" => retention.1 = Some(parse_retention(key, v, 60_000)?),
                "log.retention.ms" => retention.0 = Some(parse_retention(key, v, 1)?),
                "log.retention.bytes" => c.log_retention_bytes = parse_num(key, v, -1, i64::MAX)?,
                "log.retention.check.interval.ms" => {
                    c.log_retention_check_interval_ms = parse_num(key, v, 1, i64::MAX)? as u64
                }
                "log.flush.interval.messages" => c.log_flush_interval_messages = parse_num(key, v, 1, i64::MAX)? as u64,
                "log.flush.interval.ms" => c.log_flush_interval_ms = Some(parse_num(key, v, 0, i64::MAX)? as u64),
                "log.segment.delete.delay.ms" => c.log_segment_delete_delay_ms = parse_num(key, v, 0, i64::MAX)?,
                "message.max.bytes" => c.message_max_bytes = parse_num(key, v, 0, i32::MAX as i64)? as i32,
                "socket.request.max.bytes" => {
                    c.socket_request_max_bytes = parse_num(key, v, 1, i32::MAX as i64)? as i32
                }
                "max.connections" => c.max_connections = parse_num(key, v, 1, i32::MAX as i64)? as usize,
                "group.min.session.timeout.ms" => {
                    c.group_min_session_timeout_ms = parse_num(key, v, 1, i32::MAX as i64)? as u64
                }
                "group.max.session.timeout.ms" => {
                    c.group_max_session_timeout_ms = parse_num(key, v, 1, i32::MAX as i64)? as u64
                }
                "group.initial.rebalance.delay.ms" => {
                    c.group_initial_rebalance_delay_ms = parse_num(key, v, 0, i32::MAX as i64)? as u64
                }
                "offset.metadata.max.bytes" => {
                    c.offset_metadata_max_bytes = parse_num(key, v, 0, i32::MAX as i64)? as usize
                }
                "monitor.listener" => c.monitor_listener = parse_monitor_listener(key, v)?,
                "control.listener" => c.control_listener = parse_monitor_listener(key, v)?,
                "emulate.kafka.version" => {
                    c.emulate_kafka_version = if v.trim().is_empty() {
                        None
                    } else {
                        Some(crate::protocol::emulation::KafkaRelease::parse(v).map_err(|e| invalid(key, v, &e))?)
                    }
                }
                "monitor.refresh.ms" => c.monitor_refresh_ms = parse_num(key, v, 100, 86_400_000)? as u64,
                "metadata.sync.interval.ms" => {
                    c.metadata_sync_interval_ms = Some(parse_num(key, v, 10, 86_400_000)? as u64)
                }
                "monitor.retain.ms" => c.monitor_retain_ms = parse_num(key, v, 1_000, 3_650 * 86_400_000)? as u64,
                "monitor.history.dir" => {
                    c.monitor_history_dir = Some(PathBuf::from(v.trim())).filter(|p| !p.as_os_str().is_empty())
                }
                "replica.lag.time.max.ms" => c.replica_lag_time_max_ms = parse_num(key, v, 1, i32::MAX as i64)? as u64,
                "replica.fetch.wait.max.ms" => {
                    c.replica_fetch_wait_max_ms = parse_num(key, v, 0, i32::MAX as i64)? as u64
                }
                "replica.fetch.max.bytes" => c.replica_fetch_max_bytes = parse_num(key, v, 0, i32::MAX as i64)? as i32,
                "replica.fetch.response.max.bytes" => {
                    c.replica_fetch_response_max_bytes = parse_num(key, v, 0, i32::MAX as i64)? as i32
                }
                "min.insync.replicas" => c.min_insync_replicas = parse_num(key, v, 1, i32::MAX as i64)? as i32,
                "unclean.leader.election.enable" => c.unclean_leader_election_enable = parse_bool(key, v)?,
                "controlled.shutdown.enable" => c.controlled_shutdown_enable = parse_bool(key, v)?,
                "replica.high.watermark.checkpoint.interval.ms" => {
                    c.replica_high_watermark_checkpoint_interval_ms = parse_num(key, v, 1, i64::MAX)? as u64
                }
                "auto.leader.rebalance.enable" => c.auto_leader_rebalance_enable = parse_bool(key, v)?,
                "leader.imbalance.check.interval.seconds" => {
                    c.leader_imbalance_check_interval_seconds = parse_num(key, v, 1, i64::MAX / 1000)? as u64
                }
                "leader.imbalance.per.broker.percentage" => {
                    c.leader_imbalance_per_broker_percentage = parse_num(key, v, 0, 100)? as u64
                }
                "transaction.max.timeout.ms" => c.transaction_max_timeout_ms = parse_num(key, v, 1, i32::MAX as i64)?,
                "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                    c.transaction_cleanup_interval_ms = parse_num(key, v, 1, i32::MAX as i64)? as u64
                }
                "transactional.id.expiration.ms" => {
                    c.transactional_id_expiration_ms = parse_num(key, v, 1, i32::MAX as i64)?
                }
                "log.cleaner.enable" => c.log_cleaner_enable = parse_bool(key, v)?,
                "log.cleaner.threads" => c.log_cleaner_threads = parse_num(key, v, 1, 64)? as usize,
                "log.cleaner.io.max.bytes.per.second" => {
                    c.log_cleaner_io_max_bytes_per_second = v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|rate| *rate > 0.0)
                        .ok_or_else(|| invalid(key, v, "must be a positive number"))?
                }
                "log.cleaner.dedupe.buffer.size" => {
                    c.log_cleaner_dedupe_buffer_size = parse_num(key, v, 1024 * 1024, i64::MAX)? as u64
                }
                "log.cleaner.backoff.ms" => c.log_cleaner_backoff_ms = parse_num(key, v, 0, i64::MAX)? as u64,
                "log.roll.jitter.hours" => jitter.1 = Some(parse_num(key, v, 0, i32::MAX as i64)? * 3_600_000),
                k if crate::security::settings::is_security_key(k) => {
                    security_raw.insert(key.clone(), value.clone());
                }
                k if KNOWN_IGNORED.contains(&k) => warnings.ignored_keys.push(key.clone()),
                k => match static_topic_default(k) {
                    Some(def) => {
                        topic_config_defs::check(def, v).map_err(|rule| invalid(key, v, &rule))?;
                        if k == "log.roll.jitter.ms" {
                            jitter.0 = Some(v.trim().to_string());
                        } else {
                            c.topic_defaults.insert(def.name.to_string(), v.trim().to_string());
                        }
                    }
                    None => warnings.unknown_keys.push(key.clone()),
                },
            }
        }
        if let Some(ms) = retention.0.or(retention.1).or(retention.2) {
            c.log_retention_ms = ms;
        }
        if let Some(ms) = roll.0.or(roll.1) {
            c.log_roll_ms = ms;
        }
        if let Some(ms) = jitter.0.or(jitter.1.map(|ms| ms.to_string())) {
            c.topic_defaults.insert("segment.jitter.ms".to_string(), ms);
        }
        // An emulated release writes its own message format unless
        // log.message.format.version says otherwise.
        if let Some(format) = c.emulate_kafka_version.and_then(|r| r.message_format()) {
            c.topic_defaults
                .entry("message.format.version".to_string())
                .or_insert_with(|| format.to_string());
        }
        if c.listeners.is_empty() {
            return Err(invalid("listeners", "", "at least one listener is required"));
        }
        let names: Vec<String> = c.listeners.iter().map(|l| l.name.clone()).collect();
        if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
            return Err(invalid(
                "listeners",
                &names.join(","),
                &format!("listener name {} used twice", dup.1),
            ));
        }
        c.security = crate::security::settings::resolve(&names, &security_raw)
            .map_err(|e| invalid(&e.key, &e.value, &e.reason))?;
        if c.monitor_refresh_ms > c.monitor_retain_ms {
            return Err(invalid(
                "monitor.refresh.ms",
                &c.monitor_refresh_ms.to_string(),
                "must not exceed monitor.retain.ms",
            ));
        }
        if u128::from(c.monitor_retain_ms / c.monitor_refresh_ms) > crate::monitor::MAX_SAMPLES {
            return Err(invalid(
                "monitor.retain.ms",
                &c.monitor_retain_ms.to_string(),
                &format!(
                    "keeps more than {} samples at monitor.refresh.ms: refresh less often or retain less",
                    crate::monitor::MAX_SAMPLES
                ),
            ));
        }
        if c.group_min_session_timeout_ms > c.group_max_session_timeout_ms {
            return Err(invalid(
                "group.min.session.timeout.ms",
                &c.group_min_session_timeout_ms.to_string(),
                "must not exceed group.max.session.timeout.ms",
            ));
        }
        Ok((c, warnings))
    }

    /// The address clients are told to connect to for the first listener,
    /// given the port actually bound (listeners may ask for port 0).
    pub fn advertised_for(&self, bound_port: u16) -> (String, u16) {
        self.advertised_for_listener(0, bound_port)
    }

    /// The address advertised for listener `index`: its entry in
    /// `advertised.listeners` (by name), else its own host (the machine's
    /// name when it binds every interface).
    pub fn advertised_for_listener(&self, index: usize, bound_port: u16) -> (String, u16) {
        let Some(listener) = self.listeners.get(index) else {
            return (local_hostname(), bound_port);
        };
        let advertised = self
            .advertised_listeners
            .as_ref()
            .and_then(|list| list.iter().find(|a| a.name == listener.name));
        if let Some(adv) = advertised {
            let port = if adv.port == 0 { bound_port } else { adv.port };
            return (adv.host.clone(), port);
        }
        let host = &listener.host;
        let host = if host.is_empty() || host == "0.0.0.0" || host == "::" {
            local_hostname()
        } else {
            host.clone()
        };
        (host, bound_port)
    }
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_num(key: &str, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n: i64 = v.trim().parse().map_err(|_| invalid(key, v, "not an integer"))?;
    if n < min || n > max {
        return Err(invalid(key, v, &format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn parse_retention(key: &str, v: &str, unit_ms: i64) -> Result<i64, ConfigError> {
    let n = parse_num(key, v, -1, i64::MAX / unit_ms)?;
    Ok(if n < 0 { -1 } else { n * unit_ms })
}

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "expected true or false")),
    }
}

/// `host:port` or `http://host:port`; empty means no monitor.
fn parse_monitor_listener(key: &str, v: &str) -> Result<Option<String>, ConfigError> {
    let address = v.trim().trim_start_matches("http://").trim_end_matches('/');
    if address.is_empty() {
        return Ok(None);
    }
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, v, "expected host:port"))?;
    port.parse::<u16>()
        .map_err(|_| invalid(key, v, "the port must be a number from 0 to 65535"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Some(format!("{host}:{port}")))
}

fn parse_listeners(key: &str, v: &str) -> Result<Vec<Listener>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| Listener::parse(item).map_err(|reason| invalid(key, v, &reason)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawConfig {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn properties_parse_comments_and_separators() {
        let r = parse_properties("# c\nbroker.id=1\nlog.dirs: /a,/b\n  num.partitions = 3\nx=\\\n y\n");
        assert_eq!(r["broker.id"], "1");
        assert_eq!(r["log.dirs"], "/a,/b");
        assert_eq!(r["num.partitions"], "3");
        assert_eq!(r["x"], "y");
    }

    #[test]
    fn yaml_lists_and_numbers() {
        let r = parse_yaml("broker.id: 2\nlog.dirs: [/a, /b]\nauto.create.topics.enable: false\n").unwrap();
        let (c, _) = BrokerConfig::from_raw(&r).unwrap();
        assert_eq!(c.broker_id, 2);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert!(!c.auto_create_topics_enable);
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = BrokerConfig::from_raw(&raw(&[("num.partitions", "abc")])).unwrap_err();
        assert!(err.to_string().contains("num.partitions"), "{err}");
        let err = BrokerConfig::from_raw(&raw(&[("listeners", "PLAINTEXT://host")])).unwrap_err();
        assert!(err.to_string().contains("listeners"), "{err}");
        assert!(BrokerConfig::from_raw(&raw(&[("delete.topic.enable", "yes")])).is_err());
    }

    #[test]
    fn monitor_listener_forms() {
        let (c, _) = BrokerConfig::from_raw(&raw(&[("monitor.listener", "http://127.0.0.1:8089/")])).unwrap();
        assert_eq!(c.monitor_listener.as_deref(), Some("127.0.0.1:8089"));
        let (c, _) = BrokerConfig::from_raw(&raw(&[("monitor.listener", ":0")])).unwrap();
        assert_eq!(c.monitor_listener.as_deref(), Some("0.0.0.0:0"));
        assert!(BrokerConfig::from_raw(&raw(&[("monitor.listener", "host")])).is_err());
        assert!(BrokerConfig::from_raw(&raw(&[("monitor.listener", "h:99999")])).is_err());
        assert!(BrokerConfig::from_raw(&raw(&[("monitor.refresh.ms", "5")])).is_err());
        let err = BrokerConfig::from_raw(&raw(&[("monitor.refresh.ms", "60000"), ("monitor.retain.ms", "5000")]));
        assert!(err.unwrap_err().to_string().contains("monitor.refresh.ms"));
        assert!(
            BrokerConfig::from_raw(&raw(&[("monitor.refresh.ms", "100")])).is_err(),
            "864000 samples a day"
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let (_, w) = BrokerConfig::from_raw(&raw(&[("no.such.key", "1"), ("num.io.threads", "8")])).unwrap();
        assert_eq!(w.unknown_keys, vec!["no.such.key".to_string()]);
        assert_eq!(w.ignored_keys, vec!["num.io.threads".to_string()]);
    }

    #[test]
    fn retention_precedence_ms_over_hours() {
        let (c, _) =
            BrokerConfig::from_raw(&raw(&[("log.retention.hours", "1"), ("log.retention.ms", "5000")])).unwrap();
        assert_eq!(c.log_retention_ms, 5000);
        let (c, _) = BrokerConfig::from_raw(&raw(&[("log.retention.hours", "2")])).unwrap();
        assert_eq!(c.log_retention_ms, 7_200_000);
    }

    #[test]
    fn advertised_uses_bound_port() {
        let (c, _) = BrokerConfig::from_raw(&raw(&[("listeners", "PLAINTEXT://127.0.0.1:0")])).unwrap();
        assert_eq!(c.advertised_for(40000), ("127.0.0.1".to_string(), 40000));
    }

    #[test]
    fn log_synonyms_of_topic_configs_become_static_topic_defaults() {
        let (c, warnings) = BrokerConfig::from_raw(&raw(&[
            ("log.cleanup.policy", "compact"),
            ("log.message.timestamp.type", "LogAppendTime"),
            ("log.message.format.version", "0.10.2"),
            ("log.preallocate", "true"),
            ("log.index.size.max.bytes", "4096"),
            ("log.roll.jitter.hours", "1"),
            ("compression.type", "gzip"),
        ]))
        .unwrap();
        assert!(warnings.unknown_keys.is_empty(), "{:?}", warnings.unknown_keys);
        let get = |k: &str| c.topic_defaults.get(k).map(String::as_str);
        assert_eq!(get("cleanup.policy"), Some("compact"));
        assert_eq!(get("message.timestamp.type"), Some("LogAppendTime"));
        assert_eq!(get("message.format.version"), Some("0.10.2"));
        assert_eq!(get("preallocate"), Some("true"));
        assert_eq!(get("segment.index.bytes"), Some("4096"));
        assert_eq!(get("segment.jitter.ms"), Some("3600000"));
        assert_eq!(get("compression.type"), Some("gzip"));
        let (c, _) =
            BrokerConfig::from_raw(&raw(&[("log.roll.jitter.hours", "1"), ("log.roll.jitter.ms", "5")])).unwrap();
        assert_eq!(
            c.topic_defaults.get("segment.jitter.ms").map(String::as_str),
            Some("5"),
            "ms wins"
        );
        let err = BrokerConfig::from_raw(&raw(&[("log.message.timestamp.type", "Now")])).unwrap_err();
        assert!(err.to_string().contains("log.message.timestamp.type"), "{err}");
        assert!(is_known_broker_key("log.cleanup.policy"));
    }
}
