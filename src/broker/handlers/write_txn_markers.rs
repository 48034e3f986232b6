//! WriteTxnMarkers (key 27), v0–1: a transaction coordinator on another
//! broker asks this partition leader to append commit or abort markers.
//! Each marker is answered once committed (acks=all), per partition:
//! NOT_LEADER_OR_FOLLOWER where this broker does not lead, UNKNOWN_TOPIC_OR_PARTITION
//! for a partition it does not have, INVALID_PRODUCER_EPOCH for a stale epoch.

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::topics::local_partition;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::txn::markers::append_local;

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: WriteTxnMarkersRequest = decode(&frame)?;
    let mut markers = Vec::with_capacity(request.markers.len());
    for marker in &request.markers {
        let mut topics = Vec::with_capacity(marker.topics.len());
        for t in &marker.topics {
            let topic = broker.topic(t.name.as_str());
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for &index in &t.partition_indexes {
                let result = match local_partition(topic.as_ref(), index) {
                    Err(code) => Err(code),
                    Ok(partition) if !partition.is_leader() => Err(ErrorCode::NotLeaderOrFollower),
                    Ok(partition) => {
                        append_local(
                            broker,
                            partition,
                            marker.producer_id.0,
                            marker.producer_epoch,
                            marker.transaction_result,
                        )
                        .await
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(result.err().map_or(0, ErrorCode::code)),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions),
            );
        }
        markers.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(marker.producer_id)
                .with_topics(topics),
        );
    }
    respond(&frame, &WriteTxnMarkersResponse::default().with_markers(markers))
}
