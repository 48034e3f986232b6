//! IncrementalAlterConfigs (key 44), v0–1: SET (0) and DELETE (1) of single
//! topic config keys on top of the current overrides; APPEND (2) and
//! SUBTRACT (3) only for list-typed configs (`cleanup.policy`, the
//! throttled-replica lists). The result is
//! validated as a whole before anything is written (INVALID_CONFIG), then
//! stored with a /config/changes notification. Broker resources (an id, or
//! "" for the cluster default) alter the dynamic broker config the same way.
//! Not implemented: v2+.

use std::collections::BTreeMap;

use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::topic_config_defs::{find, Kind};
use crate::broker::{Broker, TopicError};
use crate::protocol::{ErrorCode, RequestFrame};

use super::describe_configs::{broker_entity, RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{decode, respond, str_bytes};

/// A list config's default: a topic config's, or `delete` for the broker's
/// `log.cleanup.policy`.
fn list_default(key: &str) -> String {
    match key {
        "log.cleanup.policy" => "delete".to_string(),
        _ => find(key).map_or_else(String::new, |d| d.default.to_string()),
    }
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: IncrementalAlterConfigsRequest = decode(&frame)?;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let name = resource.resource_name.as_str();
        let denied =
            super::config_authorization_error(broker, &frame, AclOperation::AlterConfigs, resource.resource_type, name);
        let outcome = match resource.resource_type {
            _ if denied.is_some() => Err(denied.unwrap_or((ErrorCode::ClusterAuthorizationFailed, String::new()))),
            RESOURCE_TOPIC => alter_topic(broker, name, &resource.configs, request.validate_only).await,
            RESOURCE_BROKER => alter_broker(broker, name, &resource.configs, request.validate_only).await,
            other => Err((
                ErrorCode::InvalidRequest,
                format!("resource type {other} cannot be altered"),
            )),
        };
        if let Err((code, message)) = outcome {
            tracing::info!(resource = name, error = %message, "incremental alter configs refused");
            response.error_code = code.code();
            response.error_message = Some(str_bytes(&message));
        }
        responses.push(response);
    }
    respond(
        &frame,
        &IncrementalAlterConfigsResponse::default().with_responses(responses),
    )
}

type Refused = (ErrorCode, String);

async fn alter_topic(broker: &Broker, name: &str, ops: &[AlterableConfig], validate_only: bool) -> Result<(), Refused> {
    let mut config = match broker.topic(name) {
        Some(t) => t.config.clone(),
        None => match broker.layout.topic_config(name).await {
            Ok(Some(c)) => c,
            _ => {
                let e = TopicError::Unknown(name.to_string());
                return Err((e.code(), e.to_string()));
            }
        },
    };
    apply_ops(&mut config, ops, |key| {
        find(key).is_some_and(|d| matches!(d.kind, Kind::ListOf(_) | Kind::ThrottledReplicas))
    })?;
    broker
        .alter_topic_config(name, config, validate_only)
        .await
        .map_err(|e| (e.code(), e.to_string()))
}

async fn alter_broker(
    broker: &Broker,
    name: &str,
    ops: &[AlterableConfig],
    validate_only: bool,
) -> Result<(), Refused> {
    let entity = broker_entity(name);
    let mut config = broker.stored_broker_config(entity).await?;
    apply_ops(&mut config, ops, |key| key == "log.cleanup.policy")?;
    broker.alter_broker_config(entity, config, validate_only).await
}

/// SET (0), DELETE (1), and for list-typed keys APPEND (2) / SUBTRACT (3),
/// on top of the current values; an APPEND on another key refuses the whole
/// resource before anything is written.
fn apply_ops(
    config: &mut BTreeMap<String, String>,
    ops: &[AlterableConfig],
    is_list: impl Fn(&str) -> bool,
) -> Result<(), Refused> {
    for c in ops {
        let key = c.name.to_string();
        let value = c.value.as_deref().unwrap_or("").to_string();
        match c.config_operation {
            0 => {
                config.insert(key, value);
            }
            1 => {
                config.remove(&key);
            }
            2 | 3 if is_list(&key) => {
                let current = config.get(&key).cloned().unwrap_or_else(|| list_default(&key));
                let mut items: Vec<String> = current
                    .split(',')
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .collect();
                if c.config_operation == 2 {
                    for v in value.split(',').filter(|v| !v.is_empty()) {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    }
                } else {
                    items.retain(|i| !value.split(',').any(|v| v == i));
                }
                config.insert(key, items.join(","));
            }
            op => {
                return Err((
                    ErrorCode::InvalidConfig,
                    format!("operation {op} is not valid for config {key}"),
                ));
            }
        }
    }
    Ok(())
}
