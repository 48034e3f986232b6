//! CreateTopics (key 19), v0–4: partitions and replication factor (-1 =
//! broker defaults, v4), manual replica assignments, configs, validate_only
//! (v1+). Each topic gets its own error code and (v1+) message.
//! Not implemented: returning the resulting configs (v5+).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: CreateTopicsRequest = decode(&frame)?;
    let mut results = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let name = t.name.to_string();
        let partitions = if t.num_partitions == -1 {
            broker.config.num_partitions
        } else {
            t.num_partitions
        };
        let rf = if t.replication_factor == -1 {
            broker.config.default_replication_factor
        } else {
            t.replication_factor
        };
        let assignment = if t.assignments.is_empty() {
            None
        } else {
            Some(
                t.assignments
                    .iter()
                    .map(|a| {
                        (
                            a.partition_index,
                            a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>(),
                        )
                    })
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let config: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
            .collect();
        let mut result = CreatableTopicResult::default().with_name(t.name.clone());
        // Kafka: Create on the cluster or on the topic.
        if !super::authorize_cluster(broker, &frame, AclOperation::Create)
            && !super::authorize_topic(broker, &frame, AclOperation::Create, &name)
        {
            result.error_code = crate::protocol::ErrorCode::TopicAuthorizationFailed.code();
            result.error_message = Some(super::str_bytes("Authorization failed."));
            results.push(result);
            continue;
        }
        match broker
            .create_topic(&name, partitions, rf, assignment, config, request.validate_only)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                result.error_code = e.code().code();
                if frame.api_version >= 1 {
                    result.error_message = Some(str_bytes(&e.to_string()));
                }
            }
        }
        results.push(result);
    }
    respond(&frame, &CreateTopicsResponse::default().with_topics(results))
}
