//! AlterConfigs (key 33), v0–1: replaces a topic's config overrides as a
//! whole (keys left out return to the broker default), validated first:
//! unknown keys, bad values and `cleanup.policy=compact` are INVALID_CONFIG
//! and nothing is written. The new overrides go to /config/topics/<t> with
//! a /config/changes notification, as Kafka writes them.
//! Not implemented: broker resources (dynamic broker configs), v2+.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::describe_configs::RESOURCE_TOPIC;
use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AlterConfigsRequest = decode(&frame)?;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let mut response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        if resource.resource_type != RESOURCE_TOPIC {
            response.error_code = ErrorCode::InvalidRequest.code();
            response.error_message = Some(str_bytes("only topic configs can be altered"));
        } else {
            let config: BTreeMap<String, String> = resource
                .configs
                .iter()
                .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                .collect();
            let name = resource.resource_name.as_str();
            if let Err(e) = broker.alter_topic_config(name, config, request.validate_only).await {
                tracing::info!(topic = name, error = %e, "alter configs refused");
                response.error_code = e.code().code();
                response.error_message = Some(str_bytes(&e.to_string()));
            }
        }
        responses.push(response);
    }
    respond(&frame, &AlterConfigsResponse::default().with_responses(responses))
}
