//! Dynamic broker configs (Kafka 1.1+): `/config/brokers/<id>` and
//! `/config/brokers/<default>` in ZooKeeper (or the embedded store), set by
//! `kafka-configs.sh --entity-type brokers` or AlterConfigs /
//! IncrementalAlterConfigs on a broker resource, announced under
//! `/config/changes` and applied live by every broker. A broker's own
//! entity wins over `<default>`, which wins over its static config.
//!
//! Dynamic here: the `log.*`-style defaults of topic configs (Kafka's
//! DynamicLogConfig, which krab applies to every partition at once), the
//! replication throttle rates and `max.connections`. Other known broker keys are static and
//! refused as Kafka refuses them; unknown keys are refused too (Kafka would
//! store them silently, which hides typos).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::metadata::layout_admin::BROKER_DEFAULT_ENTITY;
use crate::protocol::ErrorCode;

use super::topic_config_defs::{self, Kind, TOPIC_CONFIGS};
use super::Broker;

/// Bytes/s a leader may send to throttled followers, and a follower may
/// fetch for throttled replicas (kafka-reassign-partitions.sh --throttle).
pub const LEADER_THROTTLE_RATE: &str = "leader.replication.throttled.rate";
pub const FOLLOWER_THROTTLE_RATE: &str = "follower.replication.throttled.rate";
/// Client connections a broker accepts at once (dynamic in Kafka 2.x too).
pub const MAX_CONNECTIONS: &str = "max.connections";

/// What a broker entity's dynamic configs are, as last read from the store.
#[derive(Clone, Debug, Default)]
pub struct DynamicBrokerConfig {
    /// `/config/brokers/<default>`: every broker.
    pub cluster_default: BTreeMap<String, String>,
    /// `/config/brokers/<this id>`.
    pub per_broker: BTreeMap<String, String>,
    /// Derived once: the topic configs whose default is set dynamically.
    topic_defaults: BTreeMap<String, String>,
}

/// Where a dynamic value came from (DescribeConfigs' config_source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicSource {
    PerBroker,
    ClusterDefault,
}

impl DynamicBrokerConfig {
    pub fn new(cluster_default: BTreeMap<String, String>, per_broker: BTreeMap<String, String>) -> Self {
        let mut config = DynamicBrokerConfig {
            cluster_default,
            per_broker,
            topic_defaults: BTreeMap::new(),
        };
        config.topic_defaults = config.derive_topic_defaults();
        config
    }

    pub fn get(&self, key: &str) -> Option<(&str, DynamicSource)> {
        if let Some(v) = self.per_broker.get(key) {
            return Some((v, DynamicSource::PerBroker));
        }
        self.cluster_default
            .get(key)
            .map(|v| (v.as_str(), DynamicSource::ClusterDefault))
    }

    /// The topic configs whose broker-level default is set dynamically,
    /// by topic config name (`retention.ms` for `log.retention.ms`).
    pub fn topic_defaults(&self) -> &BTreeMap<String, String> {
        &self.topic_defaults
    }

    fn derive_topic_defaults(&self) -> BTreeMap<String, String> {
        TOPIC_CONFIGS
            .iter()
            .filter_map(|def| {
                let synonym = dynamic_synonym(def.name)?;
                self.get(synonym).map(|(v, _)| (def.name.to_string(), v.to_string()))
            })
            .collect()
    }
}

/// The broker key that is a topic config's dynamic default, if it is one.
fn dynamic_synonym(topic_key: &str) -> Option<&'static str> {
    let def = topic_config_defs::find(topic_key)?;
    let synonym = def.synonym?;
    // Not broker settings (the throttled-replica lists), or static in Kafka
    // (the message format follows the inter-broker protocol).
    let excluded = matches!(def.kind, Kind::ThrottledReplicas) || synonym == "log.message.format.version";
    (!excluded).then_some(synonym)
}

/// How a dynamic broker key's value is checked: the topic config it is the
/// default of, or a rate.
fn check_dynamic(key: &str, value: &str) -> Option<Result<(), String>> {
    if key == LEADER_THROTTLE_RATE || key == FOLLOWER_THROTTLE_RATE {
        return Some(match value.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(()),
            Ok(_) => Err("Value must be at least 0".into()),
            Err(_) => Err("Expected value to be a 64-bit integer".into()),
        });
    }
    if key == MAX_CONNECTIONS {
        return Some(at_least_int(value, 0));
    }
    if let Some(&(_, min)) = DYNAMIC_WITHOUT_EFFECT.iter().find(|(name, _)| *name == key) {
        return Some(match min {
            Some(min) => at_least_int(value, min),
            None => match value.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n > 0.0 => Ok(()),
                _ => Err("Expected value to be a positive number".into()),
            },
        });
    }
    let def = TOPIC_CONFIGS.iter().find(|d| dynamic_synonym(d.name) == Some(key))?;
    Some(topic_config_defs::check(def, value))
}

/// Broker keys Kafka lets `kafka-configs.sh` change at run time that are
/// accepted, validated (an int's minimum, or `None` for a positive number)
/// and stored without a handler of their own here. Thread pools have no
/// effect (tokio schedules); the cleaner's backoff, rate and dedupe buffer
/// are read by each pass (`broker::log_cleaner`), its thread count at the
/// next start.
const DYNAMIC_WITHOUT_EFFECT: &[(&str, Option<i32>)] = &[
    ("num.io.threads", Some(1)),
    ("num.network.threads", Some(1)),
    ("num.replica.fetchers", Some(1)),
    ("num.recovery.threads.per.data.dir", Some(1)),
    ("background.threads", Some(1)),
    ("log.cleaner.threads", Some(0)),
    ("log.cleaner.dedupe.buffer.size", Some(0)),
    ("log.cleaner.io.buffer.size", Some(0)),
    ("log.cleaner.backoff.ms", Some(0)),
    ("log.cleaner.io.max.bytes.per.second", None),
    ("log.cleaner.io.buffer.load.factor", None),
];

fn at_least_int(value: &str, min: i32) -> Result<(), String> {
    match value.trim().parse::<i32>() {
        Ok(n) if n >= min => Ok(()),
        Ok(_) => Err(format!("Value must be at least {min}")),
        Err(_) => Err("Expected value to be a 32-bit integer".into()),
    }
}

/// Checks a whole dynamic config for `entity` (a broker id or `<default>`)
/// before anything is written: every key dynamic, every value valid.
pub fn validate(entity: &str, config: &BTreeMap<String, String>) -> Result<(), (ErrorCode, String)> {
    if entity != BROKER_DEFAULT_ENTITY && entity.parse::<u32>().is_err() {
        return Err((
            ErrorCode::InvalidRequest,
            format!("broker entity {entity:?} is neither a broker id nor empty (the cluster default)"),
        ));
    }
    let mut static_keys = Vec::new();
    for (key, value) in config {
        match check_dynamic(key, value) {
            Some(Ok(())) => {}
            Some(Err(rule)) => {
                return Err((
                    ErrorCode::InvalidConfig,
                    format!("Invalid value {value} for configuration {key}: {rule}"),
                ))
            }
            None if crate::config::is_known_broker_key(key) => static_keys.push(key.as_str()),
            None => {
                return Err((
                    ErrorCode::InvalidConfig,
                    format!("Unknown broker config {key} (krab refuses unknown keys rather than store typos)"),
                ))
            }
        }
    }
    if !static_keys.is_empty() {
        return Err((
            ErrorCode::InvalidConfig,
            format!(
                "Cannot update these configs dynamically: Set({})",
                static_keys.join(", ")
            ),
        ));
    }
    Ok(())
}

impl Broker {
    pub fn dynamic_config(&self) -> Arc<DynamicBrokerConfig> {
        self.dynamic.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A topic's overrides on top of the dynamic broker defaults, on top of
    /// the static ones from the broker's file: what the log applies.
    pub fn effective_topic_config(&self, overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let dynamic = self.dynamic_config();
        if dynamic.topic_defaults().is_empty() && self.config.topic_defaults.is_empty() {
            return overrides.clone();
        }
        let mut merged = self.config.topic_defaults.clone();
        merged.extend(dynamic.topic_defaults().iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
    }

    /// `max.connections` as it applies now: the dynamic value, else the file's.
    pub fn max_connections(&self) -> usize {
        self.dynamic_config()
            .get(MAX_CONNECTIONS)
            .and_then(|(v, _)| v.trim().parse::<usize>().ok())
            .unwrap_or(self.config.max_connections)
    }

    /// One topic config as applied: the topic's override, else the dynamic
    /// broker default. A lookup, not a merged copy: Produce and Fetch ask
    /// per partition.
    pub fn topic_setting(&self, overrides: &BTreeMap<String, String>, key: &str) -> Option<String> {
        match overrides.get(key) {
            Some(v) => Some(v.clone()),
            None => self
                .dynamic_config()
                .topic_defaults()
                .get(key)
                .or_else(|| self.config.topic_defaults.get(key))
                .cloned(),
        }
    }

    /// Reads this broker's dynamic configs from the store and, if they
    /// changed, applies them to every partition.
    pub async fn reload_dynamic_config(&self) {
        let me = self.config.broker_id.to_string();
        let read = async {
            Ok::<_, crate::metadata::LayoutError>(DynamicBrokerConfig::new(
                self.layout.broker_config(BROKER_DEFAULT_ENTITY).await?,
                self.layout.broker_config(&me).await?,
            ))
        };
        let fresh = match read.await {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the dynamic broker config");
                return;
            }
        };
        let changed = {
            let mut current = self.dynamic.write().unwrap_or_else(|e| e.into_inner());
            let changed = current.cluster_default != fresh.cluster_default || current.per_broker != fresh.per_broker;
            *current = Arc::new(fresh.clone());
            changed
        };
        if changed {
            tracing::info!(default = ?fresh.cluster_default, broker = ?fresh.per_broker, "dynamic broker config applied");
            for name in self.topic_names() {
                if let Some(topic) = self.topic(&name) {
                    let log_config = self.log_config_for(&topic.config);
                    for p in topic.partitions.iter().flatten() {
                        p.set_log_config(log_config.clone());
                    }
                }
            }
        }
    }

    /// Writes a broker entity's whole dynamic config (validated first).
    pub async fn alter_broker_config(
        &self,
        entity: &str,
        config: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), (ErrorCode, String)> {
        validate(entity, &config)?;
        if validate_only {
            return Ok(());
        }
        self.layout
            .change_broker_config(entity, &config)
            .await
            .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
        self.reload_dynamic_config().await;
        Ok(())
    }

    /// A broker entity's stored dynamic config.
    pub async fn stored_broker_config(&self, entity: &str) -> Result<BTreeMap<String, String>, (ErrorCode, String)> {
        self.layout
            .broker_config(entity)
            .await
            .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))
    }

    /// The replication throttle in bytes/s, if set (dynamic broker config).
    pub fn throttle_rate(&self, key: &str) -> Option<u64> {
        self.dynamic_config()
            .get(key)
            .and_then(|(v, _)| v.trim().parse::<u64>().ok())
            .filter(|r| *r > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> BTreeMap<String, String> {
        [(k.to_string(), v.to_string())].into()
    }

    #[test]
    fn dynamic_static_and_unknown_keys() {
        assert!(validate("0", &one("log.retention.ms", "1000")).is_ok());
        assert!(validate("<default>", &one("message.max.bytes", "2000000")).is_ok());
        assert!(validate("1", &one(LEADER_THROTTLE_RATE, "1048576")).is_ok());
        let (code, msg) = validate("0", &one("log.retention.ms", "-5")).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidConfig);
        assert!(msg.contains("log.retention.ms") && msg.contains("-5"), "{msg}");
        let (_, msg) = validate("0", &one("broker.id", "7")).unwrap_err();
        assert!(
            msg.contains("Cannot update these configs dynamically") && msg.contains("broker.id"),
            "{msg}"
        );
        let (_, msg) = validate("0", &one("log.retention.msec", "7")).unwrap_err();
        assert!(msg.contains("Unknown broker config"), "{msg}");
        assert!(validate("x", &one("log.retention.ms", "1")).is_err());
        assert!(
            validate("0", &one("log.message.format.version", "2.8")).is_err(),
            "static in Kafka"
        );
        assert!(validate("0", &one("max.connections", "100")).is_ok());
        assert!(validate("0", &one("max.connections", "-1")).is_err());
        assert!(validate("<default>", &one("num.io.threads", "16")).is_ok());
        assert!(validate("<default>", &one("log.cleaner.threads", "2")).is_ok());
        assert!(validate("<default>", &one("log.cleaner.io.max.bytes.per.second", "1.5E7")).is_ok());
        let (_, msg) = validate("0", &one("num.io.threads", "0")).unwrap_err();
        assert!(msg.contains("num.io.threads") && msg.contains("at least 1"), "{msg}");
        assert!(validate("0", &one("log.cleaner.io.buffer.load.factor", "lots")).is_err());
    }

    #[test]
    fn per_broker_wins_over_the_default() {
        let d = DynamicBrokerConfig::new(one("log.retention.ms", "5000"), one("log.retention.ms", "7000"));
        assert_eq!(d.get("log.retention.ms"), Some(("7000", DynamicSource::PerBroker)));
        assert_eq!(d.topic_defaults().get("retention.ms").map(String::as_str), Some("7000"));
        let d = DynamicBrokerConfig::new(one("message.max.bytes", "10"), BTreeMap::new());
        assert_eq!(
            d.topic_defaults().get("max.message.bytes").map(String::as_str),
            Some("10")
        );
    }
}
