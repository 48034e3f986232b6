//! IncrementalAlterConfigs (key 44), v0–1: SET (0) and DELETE (1) of single
//! topic config keys on top of the current overrides; APPEND (2) and
//! SUBTRACT (3) only for list-typed configs (`cleanup.policy`, the
//! throttled-replica lists). The result is
//! validated as a whole before anything is written (INVALID_CONFIG), then
//! stored with a /config/changes notification.
//! Not implemented: broker resources, v2+.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::topic_config_defs::{find, Kind};
use crate::broker::{Broker, TopicError};
use crate::protocol::{ErrorCode, RequestFrame};

use super::describe_configs::RESOURCE_TOPIC;
use super::{decode, respond, str_bytes};

/// APPEND and SUBTRACT apply to Kafka's list-typed topic configs only.
fn is_list(key: &str) -> bool {
    find(key).is_some_and(|d| matches!(d.kind, Kind::ListOf(_) | Kind::ThrottledReplicas))
}

fn list_default(key: &str) -> String {
    find(key).map_or_else(String::new, |d| d.default.to_string())
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: IncrementalAlterConfigsRequest = decode(&frame)?;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let name = resource.resource_name.as_str();
        let outcome = if resource.resource_type != RESOURCE_TOPIC {
            Err((
                ErrorCode::InvalidRequest,
                "only topic configs can be altered".to_string(),
            ))
        } else {
            let mut config = match broker.topic(name) {
                Some(t) => Ok(t.config.clone()),
                None => match broker.layout.topic_config(name).await {
                    Ok(Some(c)) => Ok(c),
                    _ => Err(TopicError::Unknown(name.to_string())),
                },
            }
            .map_err(|e| (e.code(), e.to_string()));
            if let Ok(config) = config.as_mut() {
                for c in &resource.configs {
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
                            let mut items: Vec<String> =
                                current.split(',').filter(|i| !i.is_empty()).map(str::to_string).collect();
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
                            response.error_code = ErrorCode::InvalidConfig.code();
                            response.error_message =
                                Some(str_bytes(&format!("operation {op} is not valid for config {key}")));
                        }
                    }
                }
            }
            match config {
                Ok(_) if response.error_code != 0 => Ok(()),
                Ok(config) => broker
                    .alter_topic_config(name, config, request.validate_only)
                    .await
                    .map_err(|e| (e.code(), e.to_string())),
                Err(e) => Err(e),
            }
        };
        if let Err((code, message)) = outcome {
            tracing::info!(topic = name, error = %message, "incremental alter configs refused");
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
