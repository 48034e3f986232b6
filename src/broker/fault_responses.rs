//! Whole-request answers carrying an injected error code (see `faults`), for
//! the APIs whose response has one obvious place for it. Produce, Fetch and
//! ListOffsets take injected errors per partition in their handlers instead.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::*;

use super::dispatch::HandlerResult;
use super::handlers::{decode, respond};
use crate::protocol::RequestFrame;

pub fn error_response(frame: &RequestFrame, code: i16) -> HandlerResult {
    match frame.api_key {
        ApiKey::FindCoordinator => {
            let request: FindCoordinatorRequest = decode(frame)?;
            let mut response = FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id((-1).into());
            response.coordinators = request
                .coordinator_keys
                .iter()
                .map(|key| {
                    Coordinator::default()
                        .with_key(key.clone())
                        .with_node_id((-1).into())
                        .with_error_code(code)
                })
                .collect();
            respond(frame, &response)
        }
        ApiKey::JoinGroup => respond(
            frame,
            &JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1),
        ),
        ApiKey::SyncGroup => respond(frame, &SyncGroupResponse::default().with_error_code(code)),
        ApiKey::Heartbeat => respond(frame, &HeartbeatResponse::default().with_error_code(code)),
        ApiKey::LeaveGroup => respond(frame, &LeaveGroupResponse::default().with_error_code(code)),
        ApiKey::InitProducerId => respond(
            frame,
            &InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id((-1).into())
                .with_producer_epoch(-1),
        ),
        ApiKey::OffsetCommit => {
            let request: OffsetCommitRequest = decode(frame)?;
            let topics = request
                .topics
                .iter()
                .map(|t| {
                    OffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    OffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            respond(frame, &OffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::DescribeCluster => respond(frame, &DescribeClusterResponse::default().with_error_code(code)),
        ApiKey::ElectLeaders => {
            let request: ElectLeadersRequest = decode(frame)?;
            let results = request
                .topic_partitions
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    elect_leaders_response::ReplicaElectionResult::default()
                        .with_topic(t.topic)
                        .with_partition_result(
                            t.partitions
                                .into_iter()
                                .map(|p| {
                                    elect_leaders_response::PartitionResult::default()
                                        .with_partition_id(p)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            let response = ElectLeadersResponse::default().with_replica_election_results(results);
            respond(frame, &response.with_error_code(code))
        }
        ApiKey::AlterPartitionReassignments => respond(
            frame,
            &AlterPartitionReassignmentsResponse::default().with_error_code(code),
        ),
        ApiKey::ListPartitionReassignments => respond(
            frame,
            &ListPartitionReassignmentsResponse::default().with_error_code(code),
        ),
        ApiKey::WriteTxnMarkers => {
            let request: WriteTxnMarkersRequest = decode(frame)?;
            let markers = request
                .markers
                .into_iter()
                .map(|m| {
                    write_txn_markers_response::WritableTxnMarkerResult::default()
                        .with_producer_id(m.producer_id)
                        .with_topics(
                            m.topics
                                .into_iter()
                                .map(|t| {
                                    write_txn_markers_response::WritableTxnMarkerTopicResult::default()
                                        .with_name(t.name)
                                        .with_partitions(
                                            t.partition_indexes
                                                .into_iter()
                                                .map(|p| {
                                                    write_txn_markers_response::WritableTxnMarkerPartitionResult::default()
                                                        .with_partition_index(p)
                                                        .with_error_code(code)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect();
            respond(frame, &WriteTxnMarkersResponse::default().with_markers(markers))
        }
        other => Err(format!("no injected-error response for {other:?}")),
    }
}

/// The (topic, partition)s a Produce, Fetch or ListOffsets request touches,
/// for faults that name a topic; empty for other APIs or an unreadable body.
pub fn touched_partitions(frame: &RequestFrame) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    match frame.api_key {
        ApiKey::Produce => {
            if let Ok(r) = decode::<ProduceRequest>(frame) {
                for t in &r.topic_data {
                    out.extend(t.partition_data.iter().map(|p| (t.name.to_string(), p.index)));
                }
            }
        }
        ApiKey::Fetch => {
            if let Ok(r) = decode::<FetchRequest>(frame) {
                for t in &r.topics {
                    out.extend(t.partitions.iter().map(|p| (t.topic.to_string(), p.partition)));
                }
            }
        }
        ApiKey::ListOffsets => {
            if let Ok(r) = decode::<ListOffsetsRequest>(frame) {
                for t in &r.topics {
                    out.extend(t.partitions.iter().map(|p| (t.name.to_string(), p.partition_index)));
                }
            }
        }
        _ => {}
    }
    out
}
