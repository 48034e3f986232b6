//! IncrementalAlterConfigs (key 44), v0–1: SET (0) and DELETE (1) of single
//! topic config keys on top of the current overrides; APPEND (2) and
//! SUBTRACT (3) only for the list-typed `cleanup.policy`. The result is
//! validated as a whole before anything is written (INVALID_CONFIG), then
//! stored with a /config/changes notification.
//! Not implemented: broker resources, v2+.

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::{Broker, TopicError};
use crate::protocol::{ErrorCode, RequestFrame};

use super::describe_configs::RESOURCE_TOPIC;
use super::{decode, respond, str_bytes};

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
                        2 | 3 if key == "cleanup.policy" => {
                            let current = config.get(&key).cloned().unwrap_or_else(|| "delete".into());
                            let mut items: Vec<String> = current.split(',').map(str::to_string).collect();
                            if c.config_operation == 2 {
                                items.extend(value.split(',').map(str::to_string));
                            } else {
                                items.retain(|i| !value.split(',').any(|v| v == i));
                            }
                            items.dedup();
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
