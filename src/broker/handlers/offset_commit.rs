//! OffsetCommit (key 8), v0–7. Every commit, whatever the version, is stored
//! at `/consumers/<group>/offsets/<topic>/<partition>` as a plain decimal
//! (the layout zkCli, Burrow and offset monitors read), and answered only once
//! stored; concurrent commits are coalesced (see `group::offsets`).
//! Members of broker-coordinated groups are checked as Kafka checks them
//! (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
//! FENCED_INSTANCE_ID); simple commits (v0, or generation -1) are taken while
//! the group has no broker-managed members. The committed leader epoch (v6+)
//! and metadata are kept beside the offset in krab's sibling tree
//! (`/consumers/<g>/krab/offsets/<t>/<p>`, see `metadata::layout_groups`);
//! a member's commit also records the group's protocol there, so the group
//! stays a consumer group once Empty. Not implemented: retention_time
//! (v2–4) is ignored; offsets never expire.

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::{Commit, CommitCheck};
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetCommitRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let request_error = group_error(broker, &frame, AclOperation::Read, group).or_else(|| {
        if frame.api_version == 0 {
            return None; // v0 has no generation: always a simple commit
        }
        let instance = request.group_instance_id.as_deref();
        match broker.groups.check_commit(
            group,
            request.member_id.as_str(),
            instance,
            request.generation_id_or_member_epoch,
        ) {
            CommitCheck::Allowed => None,
            CommitCheck::Refused(error) => Some(error),
        }
    });
    // Per partition: an error now, or an index into the commits to store.
    let mut outcomes: Vec<Vec<Result<usize, ErrorCode>>> = Vec::with_capacity(request.topics.len());
    let mut commits = Vec::new();
    for t in &request.topics {
        let topic = broker.topic(t.name.as_str());
        let topic_denied = !super::authorize_topic(broker, &frame, AclOperation::Read, t.name.as_str());
        let mut row = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let exists = p.partition_index >= 0
                && topic
                    .as_ref()
                    .is_some_and(|topic| (p.partition_index as usize) < topic.partition_count());
            let metadata_len = p.committed_metadata.as_ref().map_or(0, |m| m.len());
            row.push(if let Some(error) = request_error {
                Err(error)
            } else if topic_denied {
                Err(ErrorCode::TopicAuthorizationFailed)
            } else if !exists {
                Err(ErrorCode::UnknownTopicOrPartition)
            } else if metadata_len > broker.config.offset_metadata_max_bytes {
                Err(ErrorCode::OffsetMetadataTooLarge)
            } else {
                let commit = Commit {
                    offset: p.committed_offset,
                    // Below v6 the field is absent and decodes as -1.
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                };
                commits.push(((group.to_string(), t.name.to_string(), p.partition_index), commit));
                Ok(commits.len() - 1)
            });
        }
        outcomes.push(row);
    }
    let member_commit = request_error.is_none() && frame.api_version >= 1 && request.generation_id_or_member_epoch >= 0;
    if member_commit && !commits.is_empty() {
        if let Some(record) = broker.groups.record(group) {
            broker.offsets.note_group(group, record).await;
        }
    }
    let stored = broker.offsets.commit_many(commits).await;
    let mut topics = Vec::with_capacity(request.topics.len());
    for (t, row) in request.topics.iter().zip(outcomes) {
        let partitions = t
            .partitions
            .iter()
            .zip(row)
            .map(|(p, outcome)| {
                let code = match outcome {
                    Err(error) => error,
                    Ok(i) => match &stored[i] {
                        Ok(()) => ErrorCode::None,
                        // Retriable: the client commits again rather than believing it stored.
                        Err(_) => ErrorCode::CoordinatorNotAvailable,
                    },
                };
                OffsetCommitResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code.code())
            })
            .collect();
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    respond(&frame, &OffsetCommitResponse::default().with_topics(topics))
}
