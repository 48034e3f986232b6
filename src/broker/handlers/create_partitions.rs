//! CreatePartitions (key 37), v0–1: grows topics, with explicit replica
//! lists for the new partitions or Kafka's assignment continuing the
//! existing pattern; validate_only checks without writing. A count at or
//! below the current one is INVALID_PARTITIONS.
//! Not implemented: v2+ (flexible versions) and per-topic request errors
//! for duplicate names beyond the first (each entry is processed in order).

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: CreatePartitionsRequest = decode(&frame)?;
    let mut results = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let manual = t.assignments.as_ref().map(|list| {
            list.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>())
                .collect::<Vec<_>>()
        });
        let mut result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if !super::authorize_topic(broker, &frame, AclOperation::Alter, t.name.as_str()) {
            result.error_code = crate::protocol::ErrorCode::TopicAuthorizationFailed.code();
            result.error_message = Some(str_bytes("Authorization failed."));
        } else if let Err(e) = broker
            .add_partitions(t.name.as_str(), t.count, manual, request.validate_only)
            .await
        {
            tracing::info!(topic = %t.name.as_str(), error = %e, "create partitions refused");
            result.error_code = e.code().code();
            result.error_message = Some(str_bytes(&e.to_string()));
        }
        results.push(result);
    }
    respond(&frame, &CreatePartitionsResponse::default().with_results(results))
}
