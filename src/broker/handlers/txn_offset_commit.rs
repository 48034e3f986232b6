//! TxnOffsetCommit (key 28), v0–3: offsets committed inside a transaction,
//! at the group's coordinator. They wait beside the transaction's state and
//! become ordinary committed offsets (`/consumers/<group>/offsets/...`) when
//! it commits; an abort drops them. The producer must have added the group
//! with AddOffsetsToTxn. Not checked: v3's group generation and member id.

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::{valid_group_id, Commit};
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: TxnOffsetCommitRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let too_large = request
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .any(|p| p.committed_metadata.as_ref().map_or(0, |m| m.len()) > broker.config.offset_metadata_max_bytes);
    let topic_denied = request
        .topics
        .iter()
        .any(|t| !super::authorize_topic(broker, &frame, AclOperation::Read, t.name.as_str()));
    let result =
        if !super::authorize_transactional_id(broker, &frame, AclOperation::Write, request.transactional_id.as_str()) {
            Err(ErrorCode::TransactionalIdAuthorizationFailed)
        } else if !broker.authorize(
            &frame,
            AclOperation::Read,
            crate::broker::authorizer::Resource::Group(group),
        ) {
            Err(ErrorCode::GroupAuthorizationFailed)
        } else if topic_denied {
            Err(ErrorCode::TopicAuthorizationFailed)
        } else if !valid_group_id(group) {
            Err(ErrorCode::InvalidGroupId)
        } else if !broker.is_coordinator_for(group) {
            Err(ErrorCode::NotCoordinator)
        } else if too_large {
            Err(ErrorCode::OffsetMetadataTooLarge)
        } else {
            let offsets = request
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        let commit = Commit {
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                        };
                        (t.name.to_string(), p.partition_index, commit)
                    })
                })
                .collect();
            broker
                .transactions
                .stage_offsets(
                    broker,
                    request.transactional_id.as_str(),
                    group,
                    request.producer_id.0,
                    request.producer_epoch,
                    offsets,
                )
                .await
        };
    let code = result.err().map_or(0, ErrorCode::code);
    let topics = request
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    respond(&frame, &TxnOffsetCommitResponse::default().with_topics(topics))
}
