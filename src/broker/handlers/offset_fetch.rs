//! OffsetFetch (key 9), v0–7: reads `/consumers/<group>/offsets/<t>/<p>`
//! (a missing or non-decimal znode is "no offset", -1). v2+ with a null
//! topic list returns every partition the group has an offset for.
//! Not implemented: the multi-group form (v8+), require_stable (nothing is
//! ever pending: commits are answered only once stored).

use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::offset_commit::valid_group_id;
use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetFetchRequest = decode(&frame)?;
    let group = request.group_id.to_string();
    let mut response = OffsetFetchResponse::default();
    if !valid_group_id(&group) && frame.api_version >= 2 {
        response.error_code = ErrorCode::InvalidGroupId.code();
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
    let mut topics = Vec::with_capacity(wanted.len());
    for (topic, partitions) in wanted {
        let mut out = Vec::with_capacity(partitions.len());
        for p in partitions {
            let mut part = OffsetFetchResponsePartition::default().with_partition_index(p);
            if !valid_group_id(&group) {
                part.committed_offset = -1;
                part.error_code = ErrorCode::InvalidGroupId.code();
                out.push(part);
                continue;
            }
            match broker.layout.fetch_offset(&group, &topic, p).await {
                Ok(offset) => {
                    part.committed_offset = offset.unwrap_or(-1);
                    let key = (group.clone(), topic.clone(), p);
                    let meta = broker
                        .offset_metadata
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&key)
                        .cloned();
                    part.metadata = Some(str_bytes(meta.as_deref().unwrap_or("")));
                }
                Err(e) => {
                    tracing::warn!(group, topic, partition = p, error = %e, "offset fetch failed");
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
