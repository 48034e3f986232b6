//! AlterPartitionReassignments (key 45), v0, what `kafka-reassign-partitions.sh
//! --bootstrap-server --execute` sends: the target replicas are added to
//! `/admin/reassign_partitions` (the ZooKeeper tool's znode), which the
//! controller carries out; null replicas cancel a pending one (the partition
//! keeps whatever replicas it has reached). Each partition is checked first:
//! it must exist, and the replicas must be distinct live brokers
//! (INVALID_REPLICA_ASSIGNMENT, UNKNOWN_TOPIC_OR_PARTITION, NO_REASSIGNMENT_IN_PROGRESS).

use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::{AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AlterPartitionReassignmentsRequest = decode(&frame)?;
    let live = broker.live_broker_ids().await;
    let mut pending = match broker.layout.pending_reassignment().await {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => {
            let response = AlterPartitionReassignmentsResponse::default()
                .with_error_code(ErrorCode::UnknownServerError.code())
                .with_error_message(Some(str_bytes(&e.to_string())));
            return respond(&frame, &response);
        }
    };
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let name = t.name.to_string();
        let topic = broker.topic(&name);
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let exists = topic
                .as_ref()
                .is_some_and(|topic| p.partition_index >= 0 && (p.partition_index as usize) < topic.partition_count());
            let key = (name.clone(), p.partition_index);
            let (code, message) = if !exists {
                (ErrorCode::UnknownTopicOrPartition, None)
            } else {
                match &p.replicas {
                    None if pending.remove(&key).is_some() => (ErrorCode::None, None),
                    None => (ErrorCode::NoReassignmentInProgress, None),
                    Some(replicas) => {
                        let ids: Vec<i32> = replicas.iter().map(|b| b.0).collect();
                        match check_replicas(&ids, &live) {
                            Err(why) => (ErrorCode::InvalidReplicaAssignment, Some(why)),
                            Ok(()) => {
                                pending.insert(key, ids);
                                (ErrorCode::None, None)
                            }
                        }
                    }
                }
            };
            partitions.push(
                ReassignablePartitionResponse::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code.code())
                    .with_error_message(message.map(|m| str_bytes(&m))),
            );
        }
        topics.push(
            ReassignableTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    let mut response = AlterPartitionReassignmentsResponse::default().with_responses(topics);
    if let Err(e) = broker.layout.set_pending_reassignment(&pending, false).await {
        response.error_code = ErrorCode::UnknownServerError.code();
        response.error_message = Some(str_bytes(&e.to_string()));
    }
    respond(&frame, &response)
}

/// Non-empty, distinct, live broker ids.
pub fn check_replicas(ids: &[i32], live: &[i32]) -> Result<(), String> {
    if ids.is_empty() {
        return Err("the replica list is empty".into());
    }
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != ids.len() {
        return Err(format!("replicas {ids:?} repeat a broker"));
    }
    if let Some(unknown) = ids.iter().find(|id| !live.contains(id)) {
        return Err(format!("broker {unknown} is not a live broker (live: {live:?})"));
    }
    Ok(())
}
