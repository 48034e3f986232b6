//! `krab topics --bootstrap-server` beyond create/list/delete: `--alter`
//! through CreatePartitions and IncrementalAlterConfigs, and the topic's
//! config overrides for `--describe` through DescribeConfigs.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::cluster::topic_name;
use super::topics::kafka_error_name;

const RESOURCE_TOPIC: i8 = 2;
const UNKNOWN_TOPIC: i16 = 3;
/// DescribeConfigs v1+ config_source for a topic override.
const SOURCE_DYNAMIC_TOPIC: i8 = 1;

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

/// The topic's config overrides (what `Configs:` shows).
pub fn describe_overrides(client: &mut Client, topic: &str) -> Result<BTreeMap<String, String>, String> {
    let request = DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
        .with_resource_type(RESOURCE_TOPIC)
        .with_resource_name(s(topic))
        .with_configuration_keys(None)]);
    let response = client.send(&request, 1)?;
    let result = response.results.first().ok_or("empty DescribeConfigs response")?;
    if result.error_code != 0 {
        return Err(format!(
            "cannot describe configs of {topic}: {}",
            result
                .error_message
                .as_deref()
                .unwrap_or(kafka_error_name(result.error_code))
        ));
    }
    Ok(result
        .configs
        .iter()
        .filter(|c| c.config_source == SOURCE_DYNAMIC_TOPIC)
        .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
        .collect())
}

/// `--alter`: partitions first, then configs; each failure is one line.
pub fn alter(
    client: &mut Client,
    topic: &str,
    partitions: Option<i32>,
    replica_assignment: Option<Vec<Vec<i32>>>,
    set_config: &BTreeMap<String, String>,
    delete_config: &[String],
    if_exists: bool,
) -> Result<String, String> {
    if partitions.is_none() && set_config.is_empty() && delete_config.is_empty() {
        return Err("--alter needs --partitions, --config or --delete-config".into());
    }
    let mut out = Vec::new();
    if let Some(count) = partitions {
        let assignments = replica_assignment.map(|lists| {
            lists
                .into_iter()
                .map(|r| CreatePartitionsAssignment::default().with_broker_ids(r.into_iter().map(BrokerId).collect()))
                .collect()
        });
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name(topic))
                .with_count(count)
                .with_assignments(assignments)]);
        let response = client.send(&request, 1)?;
        let result = response.results.first().ok_or("empty CreatePartitions response")?;
        match result.error_code {
            0 => out.push("Adding partitions succeeded!".to_string()),
            UNKNOWN_TOPIC if if_exists => return Ok(String::new()),
            code => {
                return Err(format!(
                    "Error while executing topic command : {} ({})",
                    result.error_message.as_deref().unwrap_or("adding partitions failed"),
                    kafka_error_name(code)
                ))
            }
        }
    }
    if !set_config.is_empty() || !delete_config.is_empty() {
        let mut configs: Vec<AlterableConfig> = set_config
            .iter()
            .map(|(k, v)| {
                AlterableConfig::default()
                    .with_name(s(k))
                    .with_config_operation(0)
                    .with_value(Some(s(v)))
            })
            .collect();
        configs.extend(delete_config.iter().map(|k| {
            AlterableConfig::default()
                .with_name(s(k))
                .with_config_operation(1)
                .with_value(None)
        }));
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(s(topic))
            .with_configs(configs)]);
        let response = client.send(&request, 1)?;
        let result = response
            .responses
            .first()
            .ok_or("empty IncrementalAlterConfigs response")?;
        match result.error_code {
            0 => out.push(format!("Updated config for topic {topic}.")),
            UNKNOWN_TOPIC if if_exists => return Ok(String::new()),
            code => {
                return Err(format!(
                    "Error while executing topic command : {} ({})",
                    result.error_message.as_deref().unwrap_or("altering configs failed"),
                    kafka_error_name(code)
                ))
            }
        }
    }
    Ok(out.join("\n"))
}
