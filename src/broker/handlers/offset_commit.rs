//! OffsetCommit (key 8), v0–7, for simple commits: generation -1 (or v0,
//! which has none), as pykafka's SimpleConsumer, kcat and assign()-based
//! consumers send them. Every version stores at
//! `/consumers/<group>/offsets/<topic>/<partition>` as a plain decimal, the
//! layout zkCli, Burrow and offset monitors read; the answer comes only once
//! the store has it. Commit metadata is kept in memory beside it.
//! Not implemented yet: group membership (a generation ≥ 0 gets
//! ILLEGAL_GENERATION), retention of commits.

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond};

/// A group id must be usable as one znode name.
pub fn valid_group_id(group: &str) -> bool {
    !group.is_empty() && group != "." && group != ".." && !group.contains('/') && !group.contains('\0')
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetCommitRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let request_error = if !valid_group_id(group) {
        Some(ErrorCode::InvalidGroupId)
    } else if frame.api_version >= 1 && request.generation_id_or_member_epoch >= 0 {
        Some(ErrorCode::IllegalGeneration)
    } else {
        None
    };
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = broker.topic(t.name.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let code = match request_error {
                Some(code) => code,
                None => match topic
                    .as_ref()
                    .and_then(|topic| topic.meta.get(p.partition_index as usize))
                {
                    None => ErrorCode::UnknownTopicOrPartition,
                    Some(_) if p.partition_index < 0 => ErrorCode::UnknownTopicOrPartition,
                    Some(_) => {
                        commit(
                            broker,
                            group,
                            t.name.as_str(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_metadata.as_deref(),
                        )
                        .await
                    }
                },
            };
            partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code.code()),
            );
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    respond(&frame, &OffsetCommitResponse::default().with_topics(topics))
}

async fn commit(
    broker: &Broker,
    group: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    metadata: Option<&str>,
) -> ErrorCode {
    match broker.layout.commit_offset(group, topic, partition, offset).await {
        Ok(()) => {
            let key = (group.to_string(), topic.to_string(), partition);
            let mut map = broker.offset_metadata.lock().unwrap_or_else(|e| e.into_inner());
            match metadata {
                Some(m) if !m.is_empty() => {
                    map.insert(key, m.to_string());
                }
                _ => {
                    map.remove(&key);
                }
            }
            ErrorCode::None
        }
        Err(e) => {
            tracing::warn!(group, topic, partition, error = %e, "offset commit failed");
            ErrorCode::CoordinatorNotAvailable
        }
    }
}
