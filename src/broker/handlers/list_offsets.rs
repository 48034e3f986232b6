//! ListOffsets (key 2), v0–5: latest (-1, the high watermark, or for v2+
//! with isolation_level 1 (read_committed) the last stable offset), earliest (-2,
//! the log start offset), and by timestamp (the first record whose timestamp
//! is at or after it). v0 answers in `old_style_offsets`.
//! Not implemented: max-timestamp lookups (-3, v7+), v0's list of segment
//! boundaries (v0 gets one offset, which is what its clients ask for).
//! An injected error fault (`broker::faults`) answers for its partitions.

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::faults::InjectedError;
use crate::broker::partition::Partition;
use crate::broker::topics::leader_partition;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::records::decode_batch_records;

use super::{decode, respond};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub async fn handle(broker: &Broker, frame: RequestFrame, injected: Option<InjectedError>) -> HandlerResult {
    let request: ListOffsetsRequest = decode(&frame)?;
    let v0 = frame.api_version == 0;
    let read_committed = frame.api_version >= 2 && request.isolation_level == 1;
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = broker.topic(t.name.as_str());
        let denied = !super::authorize_topic(broker, &frame, AclOperation::Describe, t.name.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut out = ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
            let injected = injected
                .as_ref()
                .and_then(|e| e.for_partition(t.name.as_str(), p.partition_index));
            let injected = if denied {
                Some(crate::protocol::ErrorCode::TopicAuthorizationFailed.code())
            } else {
                injected
            };
            if let Some(code) = injected {
                out.error_code = code;
                partitions.push(out);
                continue;
            }
            match leader_partition(topic.as_ref(), p.partition_index, p.current_leader_epoch) {
                Err(code) => out.error_code = code.code(),
                Ok(partition) => match lookup(partition, p.timestamp, read_committed) {
                    Ok(Some((offset, timestamp))) => {
                        if v0 {
                            if p.max_num_offsets > 0 {
                                out.old_style_offsets = vec![offset];
                            }
                        } else {
                            out.offset = offset;
                            out.timestamp = timestamp;
                        }
                        if frame.api_version >= 4 {
                            out.leader_epoch = partition.leader_epoch();
                        }
                    }
                    // Not found: offset and timestamp stay -1.
                    Ok(None) => {}
                    Err(code) => out.error_code = code.code(),
                },
            }
            partitions.push(out);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    respond(&frame, &ListOffsetsResponse::default().with_topics(topics))
}

/// (offset, timestamp) for a ListOffsets timestamp; `None` when no record
/// is that recent.
fn lookup(partition: &Partition, timestamp: i64, read_committed: bool) -> Result<Option<(i64, i64)>, ErrorCode> {
    match timestamp {
        LATEST if read_committed => Ok(Some((partition.last_stable_offset(), -1))),
        LATEST => Ok(Some((partition.high_watermark(), -1))),
        EARLIEST => Ok(Some((partition.log_start_offset(), -1))),
        ts if ts < 0 => Err(ErrorCode::UnsupportedVersion),
        ts => {
            let found = partition
                .lookup_timestamp(ts)
                .map_err(|_| ErrorCode::KafkaStorageError)?;
            let Some((base_offset, batch)) = found else {
                return Ok(None);
            };
            // Records above the high watermark are not visible yet.
            if base_offset >= partition.high_watermark() {
                return Ok(None);
            }
            // The batch's max timestamp qualifies; find the first record
            // that does (timestamps need not be monotonic inside a batch).
            match decode_batch_records(&batch) {
                Ok((_, records)) => Ok(records
                    .iter()
                    .find(|r| r.timestamp >= ts)
                    .map(|r| (r.offset, r.timestamp))
                    .or(Some((base_offset, ts)))),
                Err(_) => Ok(Some((base_offset, ts))),
            }
        }
    }
}
