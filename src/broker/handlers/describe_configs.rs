//! DescribeConfigs (key 32), v0–4: topic resources (type 2) list every
//! Kafka 2.8 topic config (honoured or stored only) with the topic's
//! override, the broker's synonym or Kafka's default, and (v1+) its source
//! and, when asked, synonyms in Kafka's order (topic, broker, default);
//! v3+ add the type and, when asked, documentation. Broker resources
//! (type 4): this broker's id lists its settings with dynamic values over
//! static ones (sources DYNAMIC_BROKER_CONFIG / DYNAMIC_DEFAULT_BROKER_CONFIG
//! / STATIC_BROKER_CONFIG); "" (the cluster default) and other brokers' ids
//! list their stored dynamic configs.
//! Requested keys filter the list.
//! Not implemented: synonyms of broker resources (always empty).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::dynamic_config::DynamicSource;
use crate::broker::topic_admin::{ConfigSource, TopicConfigEntry};
use crate::broker::Broker;
use crate::metadata::layout_admin::BROKER_DEFAULT_ENTITY;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// A broker resource's name as a `/config/brokers` entity: "" is the
/// cluster-wide default.
pub fn broker_entity(name: &str) -> &str {
    if name.is_empty() {
        BROKER_DEFAULT_ENTITY
    } else {
        name
    }
}

/// The broker settings a broker resource shows, with their current values.
fn broker_entries(broker: &Broker) -> Vec<(String, String)> {
    let c = &broker.config;
    let mut out: BTreeMap<&str, String> = BTreeMap::new();
    out.insert("broker.id", c.broker_id.to_string());
    out.insert("num.partitions", c.num_partitions.to_string());
    out.insert("default.replication.factor", c.default_replication_factor.to_string());
    out.insert("auto.create.topics.enable", c.auto_create_topics_enable.to_string());
    out.insert("delete.topic.enable", c.delete_topic_enable.to_string());
    out.insert("log.segment.bytes", c.log_segment_bytes.to_string());
    out.insert("log.roll.ms", c.log_roll_ms.to_string());
    out.insert("log.retention.ms", c.log_retention_ms.to_string());
    out.insert("log.retention.bytes", c.log_retention_bytes.to_string());
    out.insert(
        "log.retention.check.interval.ms",
        c.log_retention_check_interval_ms.to_string(),
    );
    out.insert("message.max.bytes", c.message_max_bytes.to_string());
    out.insert(
        "log.dirs",
        c.log_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    if let Some(zk) = &c.zookeeper_connect {
        out.insert("zookeeper.connect", zk.clone());
    }
    out.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn entry(version: i16, name: &str, value: &str, is_override: bool, source: i8) -> DescribeConfigsResourceResult {
    let mut e = DescribeConfigsResourceResult::default()
        .with_name(str_bytes(name))
        .with_value(Some(str_bytes(value)));
    if version == 0 {
        e.is_default = !is_override;
    } else {
        e.config_source = source;
    }
    e
}

/// A topic config as Kafka reports it, with synonyms and documentation when asked.
fn topic_entry(
    version: i16,
    include_synonyms: bool,
    include_documentation: bool,
    e: &TopicConfigEntry,
) -> DescribeConfigsResourceResult {
    let source = match e.source {
        ConfigSource::Topic => SOURCE_DYNAMIC_TOPIC,
        ConfigSource::DynamicBroker => SOURCE_DYNAMIC_BROKER,
        ConfigSource::DynamicDefaultBroker => SOURCE_DYNAMIC_DEFAULT_BROKER,
        ConfigSource::Broker => SOURCE_STATIC_BROKER,
        ConfigSource::Default => SOURCE_DEFAULT,
    };
    let mut out = entry(version, e.def.name, &e.value, e.source != ConfigSource::Default, source);
    if version >= 1 && include_synonyms {
        let synonym = |name: &str, value: &str, source: i8| {
            DescribeConfigsSynonym::default()
                .with_name(str_bytes(name))
                .with_value(Some(str_bytes(value)))
                .with_source(source)
        };
        let broker_name = e.def.synonym.unwrap_or(e.def.name);
        if let Some(v) = &e.topic_value {
            out.synonyms.push(synonym(e.def.name, v, SOURCE_DYNAMIC_TOPIC));
        }
        if let Some(v) = &e.broker_value {
            let source = match e.source {
                ConfigSource::DynamicBroker => SOURCE_DYNAMIC_BROKER,
                ConfigSource::DynamicDefaultBroker => SOURCE_DYNAMIC_DEFAULT_BROKER,
                _ => SOURCE_STATIC_BROKER,
            };
            out.synonyms.push(synonym(broker_name, v, source));
        }
        out.synonyms.push(synonym(broker_name, e.def.default, SOURCE_DEFAULT));
    }
    if version >= 3 {
        out.config_type = e.def.kind.describe_type();
        if include_documentation {
            let honoured = if e.def.honoured {
                ""
            } else {
                " (stored and reported; krab does not act on it yet)"
            };
            out.documentation = Some(str_bytes(&format!("{}{honoured}", e.def.doc)));
        }
    }
    out
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeConfigsRequest = decode(&frame)?;
    let version = frame.api_version;
    let mut results = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let wanted = |key: &str| {
            resource
                .configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
        };
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let name = resource.resource_name.as_str();
        let denied = super::config_authorization_error(
            broker,
            &frame,
            AclOperation::DescribeConfigs,
            resource.resource_type,
            name,
        );
        match resource.resource_type {
            _ if denied.is_some() => {
                if let Some((code, message)) = denied {
                    result.error_code = code.code();
                    result.error_message = Some(str_bytes(&message));
                }
            }
            RESOURCE_TOPIC => {
                let overrides = match broker.topic(name) {
                    Some(t) => Some(t.config.clone()),
                    None => broker.layout.topic_config(name).await.ok().flatten(),
                };
                match overrides {
                    Some(overrides) => {
                        result.configs = broker
                            .topic_config_entries(&overrides)
                            .iter()
                            .filter(|e| wanted(e.def.name))
                            .map(|e| topic_entry(version, request.include_synonyms, request.include_documentation, e))
                            .collect();
                    }
                    None => {
                        result.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        result.error_message = Some(str_bytes(&format!("topic {name} does not exist")));
                    }
                }
            }
            RESOURCE_BROKER if name == broker.config.broker_id.to_string() => {
                // This broker: its settings, with dynamic values over static ones.
                let dynamic = broker.dynamic_config();
                let mut entries: BTreeMap<String, (String, i8)> = broker_entries(broker)
                    .into_iter()
                    .map(|(k, v)| (k, (v, SOURCE_STATIC_BROKER)))
                    .collect();
                for (k, v) in dynamic.cluster_default.iter().chain(dynamic.per_broker.iter()) {
                    let source = match dynamic.get(k).map(|(_, s)| s) {
                        Some(DynamicSource::PerBroker) => SOURCE_DYNAMIC_BROKER,
                        _ => SOURCE_DYNAMIC_DEFAULT_BROKER,
                    };
                    let value = dynamic.get(k).map_or_else(|| v.clone(), |(v, _)| v.to_string());
                    entries.insert(k.clone(), (value, source));
                }
                result.configs = entries
                    .into_iter()
                    .filter(|(k, _)| wanted(k))
                    .map(|(k, (v, source))| entry(version, &k, &v, true, source))
                    .collect();
            }
            RESOURCE_BROKER if name.is_empty() || name.parse::<u32>().is_ok() => {
                // The cluster default, or another broker: its dynamic configs
                // as stored (its static ones are its own to describe).
                let source = if name.is_empty() {
                    SOURCE_DYNAMIC_DEFAULT_BROKER
                } else {
                    SOURCE_DYNAMIC_BROKER
                };
                match broker.stored_broker_config(broker_entity(name)).await {
                    Ok(stored) => {
                        result.configs = stored
                            .into_iter()
                            .filter(|(k, _)| wanted(k))
                            .map(|(k, v)| entry(version, &k, &v, true, source))
                            .collect();
                    }
                    Err((code, message)) => {
                        result.error_code = code.code();
                        result.error_message = Some(str_bytes(&message));
                    }
                }
            }
            other => {
                result.error_code = ErrorCode::InvalidRequest.code();
                result.error_message = Some(str_bytes(&format!(
                    "resource type {other} name {name:?} is not served by broker {}",
                    broker.config.broker_id
                )));
            }
        }
        results.push(result);
    }
    respond(&frame, &DescribeConfigsResponse::default().with_results(results))
}
