//! OffsetForLeaderEpoch (key 23), v0–3. librdkafka asks it once Metadata
//! ≥ v9 is advertised, to detect log truncation after a leader change. With
//! one replica the leader epoch never changes, so the answer for any epoch
//! is the current epoch ending at the log end offset.
//! Not implemented: an epoch history (leader-epoch-checkpoint); it comes
//! with replication.

use kafka_protocol::messages::offset_for_leader_epoch_response::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::topics::local_partition;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: OffsetForLeaderEpochRequest = decode(&frame)?;
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = broker.topic(t.topic.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut out = EpochEndOffset::default().with_partition(p.partition);
            match local_partition(topic.as_ref(), p.partition) {
                Err(code) => {
                    out.error_code = code.code();
                    out.end_offset = -1;
                }
                Ok(partition) => {
                    if frame.api_version >= 1 {
                        out.leader_epoch = partition.leader_epoch();
                    }
                    out.end_offset = partition.log_end_offset();
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
