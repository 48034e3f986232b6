//! AddPartitionsToTxn (key 24), v0–3: adds partitions to the producer's
//! open transaction (starting one), at the transaction coordinator. The
//! same error answers every partition. Not implemented: v4+ (KIP-890's
//! batched broker-to-broker form).

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::txn::TxnProducer;

use super::{decode, respond};

/// PRODUCER_FENCED came with v2 of the transaction APIs (Kafka 2.7); older
/// clients know only INVALID_PRODUCER_EPOCH.
pub fn fenced_code(version: i16, first_fenced_version: i16) -> ErrorCode {
    if version >= first_fenced_version {
        ErrorCode::ProducerFenced
    } else {
        ErrorCode::InvalidProducerEpoch
    }
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AddPartitionsToTxnRequest = decode(&frame)?;
    let partitions: Vec<(String, i32)> = request
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.to_string(), *p)))
        .collect();
    let unknown = partitions.iter().any(|(topic, p)| {
        broker
            .topic(topic)
            .is_none_or(|t| *p < 0 || *p as usize >= t.partition_count())
    });
    let txn_denied = !super::authorize_transactional_id(
        broker,
        &frame,
        AclOperation::Write,
        request.v3_and_below_transactional_id.as_str(),
    );
    let topic_denied = partitions
        .iter()
        .any(|(topic, _)| !super::authorize_topic(broker, &frame, AclOperation::Write, topic));
    let result = if txn_denied {
        Err(ErrorCode::TransactionalIdAuthorizationFailed)
    } else if topic_denied {
        Err(ErrorCode::TopicAuthorizationFailed)
    } else if unknown {
        Err(ErrorCode::UnknownTopicOrPartition)
    } else {
        broker
            .transactions
            .add(
                broker,
                TxnProducer {
                    transactional_id: request.v3_and_below_transactional_id.as_str(),
                    producer_id: request.v3_and_below_producer_id.0,
                    epoch: request.v3_and_below_producer_epoch,
                    fenced: fenced_code(frame.api_version, 2),
                },
                partitions,
                None,
            )
            .await
    };
    let code = result.err().map_or(0, ErrorCode::code);
    let topics = request
        .v3_and_below_topics
        .iter()
        .map(|t| {
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let partition_code = if code == ErrorCode::UnknownTopicOrPartition.code() {
                                let known = broker
                                    .topic(t.name.as_str())
                                    .is_some_and(|topic| *p >= 0 && (*p as usize) < topic.partition_count());
                                // Kafka fails the known partitions of such a request as OPERATION_NOT_ATTEMPTED (55).
                                if known {
                                    55
                                } else {
                                    code
                                }
                            } else {
                                code
                            };
                            AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(partition_code)
                        })
                        .collect(),
                )
        })
        .collect();
    respond(
        &frame,
        &AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics),
    )
}
