//! AlterConfigs (key 33), v0–1: replaces a topic's config overrides, or a
//! broker entity's dynamic config (resource name = broker id, or "" for the
//! cluster default), as a whole (keys left out return to the default),
//! validated first: unknown keys, bad values and static broker keys are
//! INVALID_CONFIG and nothing is written. The result goes to
//! /config/topics/<t> or /config/brokers/<entity> with a /config/changes
//! notification, as Kafka writes them.
//! Not implemented: v2+.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::describe_configs::{broker_entity, RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AlterConfigsRequest = decode(&frame)?;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        let config: BTreeMap<String, String> = resource
            .configs
            .iter()
            .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
            .collect();
        let name = resource.resource_name.as_str();
        let denied =
            super::config_authorization_error(broker, &frame, AclOperation::AlterConfigs, resource.resource_type, name);
        let outcome = match resource.resource_type {
            _ if denied.is_some() => Err(denied.unwrap_or((ErrorCode::ClusterAuthorizationFailed, String::new()))),
            RESOURCE_TOPIC => broker
                .alter_topic_config(name, config, request.validate_only)
                .await
                .map_err(|e| (e.code(), e.to_string())),
            RESOURCE_BROKER => {
                broker
                    .alter_broker_config(broker_entity(name), config, request.validate_only)
                    .await
            }
            other => Err((
                ErrorCode::InvalidRequest,
                format!("resource type {other} cannot be altered"),
            )),
        };
        if let Err((code, message)) = outcome {
            tracing::info!(resource = name, error = %message, "alter configs refused");
            response.error_code = code.code();
            response.error_message = Some(str_bytes(&message));
        }
        responses.push(response);
    }
    respond(&frame, &AlterConfigsResponse::default().with_responses(responses))
}
