//! OffsetFetch (key 9), v0–7: reads `/consumers/<group>/offsets/<t>/<p>`
//! (a missing or non-decimal znode is "no offset", -1). v2+ with a null
//! topic list returns every partition the group has an offset for.
//! Reads go to the store every time, so an offset a person sets with zkCli
//! is what the next consumer starts from. v5+ returns the committed leader
//! epoch kept beside the offset (-1 if the decimal was changed since).
//! Not implemented: the multi-group form (v8+), require_stable (nothing is
//! ever pending: commits are answered only once stored).

use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};
use crate::group::valid_group_id;

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetFetchRequest = decode(&frame)?;
    let group = request.group_id.to_string();
    let mut response = OffsetFetchResponse::default();
    let group_error = if !broker.authorize(
        &frame,
        AclOperation::Describe,
        crate::broker::authorizer::Resource::Group(&group),
    ) {
        Some(ErrorCode::GroupAuthorizationFailed)
    } else if !valid_group_id(&group) {
        Some(ErrorCode::InvalidGroupId)
    } else if !broker.is_coordinator_for(&group) {
        Some(ErrorCode::NotCoordinator)
    } else {
        None
    };
    if let (Some(error), true) = (group_error, frame.api_version >= 2) {
        response.error_code = error.code();
        return respond(&frame, &response);
    }
    let wanted: Vec<(String, Vec<i32>)> = match &request.topics {
        Some(topics) => topics
            .iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
            .collect(),
        None => match broker.layout.group_offset_partitions(&group).await {
            Ok(list) => list,
            Err(e) => {
                // Only v2+ (null topic list) gets here, and it has the field.
                tracing::warn!(group, error = %e, "cannot list committed offsets");
                response.error_code = ErrorCode::CoordinatorNotAvailable.code();
                return respond(&frame, &response);
            }
        },
    };
    let listed_all = request.topics.is_none();
    let mut topics = Vec::with_capacity(wanted.len());
    for (topic, partitions) in wanted {
        // Kafka: topics without Describe are left out of an all-topics
        // answer and answered TOPIC_AUTHORIZATION_FAILED when named.
        let topic_denied = !super::authorize_topic(broker, &frame, AclOperation::Describe, &topic);
        if topic_denied && listed_all {
            continue;
        }
        let mut out = Vec::with_capacity(partitions.len());
        for p in partitions {
            let mut part = OffsetFetchResponsePartition::default().with_partition_index(p);
            let group_error = group_error.or(topic_denied.then_some(ErrorCode::TopicAuthorizationFailed));
            if let Some(error) = group_error {
                part.committed_offset = -1;
                part.error_code = error.code();
                out.push(part);
                continue;
            }
            match broker.offsets.fetch(&group, &topic, p).await {
                Ok(committed) => {
                    part.committed_offset = committed.offset.unwrap_or(-1);
                    if frame.api_version >= 5 {
                        part.committed_leader_epoch = committed.leader_epoch;
                    }
                    part.metadata = Some(str_bytes(&committed.metadata));
                }
                Err(e) => {
                    tracing::warn!(group, topic, partition = p, error = %e, "offset fetch failed");
                    if frame.api_version >= 2 {
                        // A group-level error clients retry (a partition-level one
                        // is fatal to some, e.g. the Java consumer).
                        let failed =
                            OffsetFetchResponse::default().with_error_code(ErrorCode::CoordinatorNotAvailable.code());
                        return respond(&frame, &failed);
                    }
                    part.committed_offset = -1;
                    part.error_code = ErrorCode::CoordinatorNotAvailable.code();
                }
            }
            out.push(part);
        }
        topics.push(
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(str_bytes(&topic)))
                .with_partitions(out),
        );
    }
    response.topics = topics;
    respond(&frame, &response)
}
