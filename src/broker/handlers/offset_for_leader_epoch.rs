//! OffsetForLeaderEpoch (key 23), v0–3. Followers ask it (v3, replica id =
//! their broker id) to find where their log diverges from the leader's
//! (KIP-101/KIP-279); consumers (librdkafka once Metadata ≥ v9 is
//! advertised, KIP-320) to detect truncation after a leader change. The
//! answer comes from the leader epoch cache: the largest epoch at or below
//! the requested one and the offset where the next epoch starts (the log end
//! for the latest); -1/-1 for an epoch older than any known. Only the leader
//! answers; `current_leader_epoch` (v2+) is checked as Fetch checks it.

use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::topics::leader_partition;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetForLeaderEpochRequest = decode(&frame)?;
    if request.replica_id.0 >= 0 && broker.faults.isolated() {
        return Err(format!(
            "injected fault: isolated from follower {}",
            request.replica_id.0
        ));
    }
    let follower_allowed =
        request.replica_id.0 < 0 || super::authorize_cluster(broker, &frame, AclOperation::ClusterAction);
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let denied =
            !follower_allowed || !super::authorize_topic(broker, &frame, AclOperation::Describe, t.topic.as_str());
        let topic = if denied { None } else { broker.topic(t.topic.as_str()) };
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut out = EpochEndOffset::default().with_partition(p.partition);
            out.end_offset = -1;
            if frame.api_version >= 1 {
                out.leader_epoch = -1;
            }
            let current = if frame.api_version >= 2 {
                p.current_leader_epoch
            } else {
                -1
            };
            match leader_partition(topic.as_ref(), p.partition, current) {
                Err(_) if denied => out.error_code = crate::protocol::ErrorCode::TopicAuthorizationFailed.code(),
                Err(code) => out.error_code = code.code(),
                Ok(partition) => {
                    if let Some((epoch, end)) = partition.end_offset_for_epoch(p.leader_epoch) {
                        if frame.api_version >= 1 {
                            out.leader_epoch = epoch;
                        }
                        out.end_offset = end;
                    }
                }
            }
            partitions.push(out);
        }
        topics.push(
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions),
        );
    }
    respond(&frame, &OffsetForLeaderEpochResponse::default().with_topics(topics))
}
