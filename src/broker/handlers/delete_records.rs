//! DeleteRecords (key 21), v0–1: moves a partition's log start offset up to
//! the given offset (-1: the high watermark), deleting the segments wholly
//! below it, and answers the new low watermark. An offset above the high
//! watermark is OFFSET_OUT_OF_RANGE.
//! Not implemented: v2+ (flexible versions).

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::topics::local_partition;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DeleteRecordsRequest = decode(&frame)?;
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = broker.topic(t.name.as_str());
        let denied = !super::authorize_topic(broker, &frame, AclOperation::Delete, t.name.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let mut result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            if denied {
                result.error_code = crate::protocol::ErrorCode::TopicAuthorizationFailed.code();
                partitions.push(result);
                continue;
            }
            match local_partition(topic.as_ref(), p.partition_index)
                .and_then(|part| part.delete_records_before(p.offset))
            {
                Ok(low) => result.low_watermark = low,
                Err(code) => result.error_code = code.code(),
            }
            partitions.push(result);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions),
        );
    }
    respond(&frame, &DeleteRecordsResponse::default().with_topics(topics))
}
