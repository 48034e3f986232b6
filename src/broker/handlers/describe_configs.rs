//! DescribeConfigs (key 32), v0–2: topic resources (type 2) list every
//! topic config krab honours with the override or the broker default, and
//! (v1+) its source; broker resources (type 4, this broker's id or "") list
//! the broker's settings. Requested keys filter the list.
//! Not implemented: synonyms (always empty), documentation (v3+).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

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
        match resource.resource_type {
            RESOURCE_TOPIC => {
                let overrides = match broker.topic(name) {
                    Some(t) => Some(t.config.clone()),
                    None => broker.layout.topic_config(name).await.ok().flatten(),
                };
                match overrides {
                    Some(overrides) => {
                        result.configs = broker
                            .topic_config_entries(&overrides)
                            .into_iter()
                            .filter(|(k, _, _)| wanted(k))
                            .map(|(k, v, is_override)| {
                                let source = if is_override {
                                    SOURCE_DYNAMIC_TOPIC
                                } else {
                                    SOURCE_DEFAULT
                                };
                                entry(version, &k, &v, is_override, source)
                            })
                            .collect();
                    }
                    None => {
                        result.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        result.error_message = Some(str_bytes(&format!("topic {name} does not exist")));
                    }
                }
            }
            RESOURCE_BROKER if name.is_empty() || name == broker.config.broker_id.to_string() => {
                result.configs = broker_entries(broker)
                    .into_iter()
                    .filter(|(k, _)| wanted(k))
                    .map(|(k, v)| entry(version, &k, &v, true, SOURCE_STATIC_BROKER))
                    .collect();
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
