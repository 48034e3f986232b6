//! OffsetDelete (key 47), v0 (KIP-496): deletes a group's committed offsets
//! for some partitions, as Kafka's GroupCoordinator.handleDeleteOffsets
//! does: any partition of an Empty group; while the group has members, only
//! partitions of topics no member is subscribed to (the others get
//! GROUP_SUBSCRIBED_TO_TOPIC). Members are the broker-coordinated ones (their
//! subscriptions read from the consumer protocol) and ZooKeeper-registered
//! old consumers (from `/consumers/<g>/ids`). A group with members of
//! another protocol type gets NON_EMPTY_GROUP, an unknown one
//! GROUP_ID_NOT_FOUND. The offset znode goes with krab's details of it;
//! once a group without members has no offsets left, it goes entirely.
//! Not implemented: nothing beyond v0 exists.

use std::collections::BTreeSet;

use kafka_protocol::messages::offset_delete_response::{OffsetDeleteResponsePartition, OffsetDeleteResponseTopic};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::{zk_consumers, GroupState};
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond};

/// Whose offsets must stay.
enum Live {
    Empty,
    /// The topics members are subscribed to; None: unknown, so all of them.
    Subscribed(Option<BTreeSet<String>>),
}

impl Live {
    fn keeps(&self, topic: &str) -> bool {
        match self {
            Live::Empty => false,
            Live::Subscribed(topics) => topics.as_ref().is_none_or(|t| t.contains(topic)),
        }
    }
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetDeleteRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let live = match group_error(broker, &frame, AclOperation::Delete, group) {
        Some(error) => Err(error),
        None => live_subscriptions(broker, group).await,
    };
    let live = match live {
        Ok(live) => live,
        Err(error) => {
            return respond(&frame, &OffsetDeleteResponse::default().with_error_code(error.code()));
        }
    };
    let mut topics = Vec::with_capacity(request.topics.len());
    let mut deleted_any = false;
    for t in &request.topics {
        let name = t.name.as_str();
        let partition_count = broker.topic(name).map_or(0, |topic| topic.partition_count());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let index = p.partition_index;
            let code = if index < 0 || index as usize >= partition_count {
                ErrorCode::UnknownTopicOrPartition
            } else if live.keeps(name) {
                ErrorCode::GroupSubscribedToTopic
            } else {
                match broker
                    .offsets
                    .delete(&(group.to_string(), name.to_string(), index))
                    .await
                {
                    Ok(existed) => {
                        deleted_any |= existed;
                        ErrorCode::None
                    }
                    Err(e) => {
                        tracing::warn!(group, topic = name, partition = index, error = %e, "cannot delete offset");
                        ErrorCode::CoordinatorNotAvailable
                    }
                }
            };
            partitions.push(
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(index)
                    .with_error_code(code.code()),
            );
        }
        topics.push(
            OffsetDeleteResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    if deleted_any && matches!(live, Live::Empty) {
        // Kafka drops an Empty group once its last offset is gone.
        match broker.layout.forget_group_if_no_offsets(group).await {
            Ok(()) => broker.offsets.forget_group_record(group),
            Err(e) => tracing::warn!(group, error = %e, "cannot tidy the group's znodes"),
        }
    }
    respond(&frame, &OffsetDeleteResponse::default().with_topics(topics))
}

/// Whether the group is Empty or which topics its members consume; the
/// group-level error otherwise.
async fn live_subscriptions(broker: &Broker, group: &str) -> Result<Live, ErrorCode> {
    let zk_members = zk_consumers::members(&broker.layout, group).await.map_err(|e| {
        tracing::warn!(group, error = %e, "cannot read ZooKeeper-registered consumers");
        ErrorCode::CoordinatorNotAvailable
    })?;
    let mut topics: Option<BTreeSet<String>> = Some(zk_members.iter().flat_map(|m| m.topics.clone()).collect());
    let mut has_members = !zk_members.is_empty();
    match broker.groups.subscriptions(group) {
        Some(s) if s.has_members && s.state != GroupState::Empty => {
            if s.protocol_type.as_deref() != Some("consumer") {
                return Err(ErrorCode::NonEmptyGroup);
            }
            has_members = true;
            match (&mut topics, s.topics) {
                (Some(all), Some(theirs)) => all.extend(theirs),
                _ => topics = None,
            }
        }
        Some(_) => {}
        None if has_members => {}
        None => {
            let stored = broker.layout.group_exists(group).await.map_err(|e| {
                tracing::warn!(group, error = %e, "cannot read the group's znode");
                ErrorCode::CoordinatorNotAvailable
            })?;
            if !stored {
                return Err(ErrorCode::GroupIdNotFound);
            }
        }
    }
    if !has_members {
        return Ok(Live::Empty);
    }
    Ok(Live::Subscribed(topics))
}
