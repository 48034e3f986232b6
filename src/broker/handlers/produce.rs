//! Produce (key 0), v0–9, acks 0, 1 and -1. acks=-1 (all) is refused with
//! NOT_ENOUGH_REPLICAS before appending when the ISR is below
//! `min.insync.replicas`, and answered once the high watermark covers the
//! batches (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below it
//! meanwhile, REQUEST_TIMED_OUT after the request's timeout,
//! NOT_LEADER_OR_FOLLOWER if leadership moved while waiting). v0–2 accept magic 0/1 MessageSets (and magic 2;
//! Kafka does not check magic there) and up-convert them to one v2 batch;
//! v3+ take v2 batches as sent, validated by CRC-32C, offsets stamped in
//! place. Idempotent batches are deduplicated per partition.
//! A topic's `compression.type` other than `producer` recompresses batches
//! sent with another codec. Topics with `message.timestamp.type=LogAppendTime` get the broker's clock
//! stamped on every batch (returned as `log_append_time_ms`, v2+);
//! `message.timestamp.difference.max.ms` refuses far-off CreateTimes.
//! A compacted topic (`cleanup.policy` with `compact`) refuses records
//! without a key: INVALID_RECORD for the partition, nothing appended.
//! Transactional batches open (or extend) their producer's transaction in
//! the partition (see `partition_txns`); a stale producer epoch is refused
//! with INVALID_PRODUCER_EPOCH. Not checked (as before KIP-890): that the
//! partition was added to the transaction. Control batches from clients
//! are INVALID_RECORD. v8+ answers carry `record_errors` (batch index and
//! message) for records refused one by one (timestamps out of range).
//! Injected faults (`broker::faults`): an error for the partition, or a full
//! disk (KAFKA_STORAGE_ERROR before anything is written).

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use std::time::Duration;

use super::produce_batches::{
    apply_timestamps, check_keys, check_storable, is_compacted, prepare, recompress_batches, storage_magic,
    topic_compression, Refusal, TimestampRule,
};
use super::{decode, respond, str_bytes};
use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::{HandlerResult, Reply};
use crate::broker::faults::InjectedError;
use crate::broker::partition::ProduceOutcome;
use crate::broker::response_errors::ErrorTally;
use crate::broker::topics::local_partition;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

pub async fn handle(broker: &Broker, frame: RequestFrame, injected: Option<InjectedError>) -> HandlerResult {
    let request: ProduceRequest = decode(&frame)?;
    let version = frame.api_version;
    let acks_valid = matches!(request.acks, -1..=1);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut appended_any = false;
    // (response slot, partition, outcome, min ISR) of acks=all appends.
    let mut waiting = Vec::new();
    // Kafka: a transactional produce needs Write on its id, every topic Write.
    let txn_denied = request
        .transactional_id
        .as_deref()
        .is_some_and(|id| !super::authorize_transactional_id(broker, &frame, AclOperation::Write, id));
    for topic_data in &request.topic_data {
        let name = topic_data.name.as_str();
        let topic = broker.topic(name);
        let denied = if txn_denied {
            Some(ErrorCode::TransactionalIdAuthorizationFailed)
        } else if !super::authorize_topic(broker, &frame, AclOperation::Write, name) {
            Some(ErrorCode::TopicAuthorizationFailed)
        } else {
            None
        };
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for data in &topic_data.partition_data {
            if let Some(code) = denied {
                partitions.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(code.code())
                        .with_base_offset(-1),
                );
                continue;
            }
            // An injected error answers for the partition; nothing is appended.
            if let Some(code) = injected.as_ref().and_then(|e| e.for_partition(name, data.index)) {
                partitions.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(code)
                        .with_base_offset(-1),
                );
                continue;
            }
            let result: Result<ProduceOutcome, Refusal> = if !acks_valid {
                Err(ErrorCode::InvalidRequiredAcks.into())
            } else {
                match local_partition(topic.as_ref(), data.index).map(|p| (topic.as_ref(), p)) {
                    Err(code) => Err(code.into()),
                    Ok((topic, partition)) => {
                        let max = topic.map_or(broker.config.message_max_bytes as usize, |t| {
                            broker.max_message_bytes(t)
                        });
                        let records = data.records.as_deref().unwrap_or(&[]);
                        let setting = |key: &str| topic.and_then(|t| broker.topic_setting(&t.config, key));
                        let timestamps = TimestampRule::of(setting);
                        let codec = topic_compression(setting);
                        let magic = storage_magic(setting);
                        let compacted = is_compacted(setting);
                        prepare(records, version, max)
                            .and_then(|batches| check_keys(batches, compacted, name, data.index))
                            .and_then(|batches| recompress_batches(batches, codec, max))
                            .and_then(|batches| apply_timestamps(batches, timestamps))
                            .and_then(|(batches, headers)| check_storable((batches, headers), magic))
                            .and_then(|(batches, headers)| {
                                if batches.is_empty() {
                                    return Ok(ProduceOutcome {
                                        last_offset: -1,
                                        leader_epoch: partition.leader_epoch(),
                                        base_offset: partition.log_end_offset(),
                                        log_append_time: -1,
                                        log_start_offset: partition.log_start_offset(),
                                    });
                                }
                                // An injected full disk: refused before anything is written.
                                if broker.faults.disk_full(name, data.index) {
                                    return Err(Refusal::from(ErrorCode::KafkaStorageError));
                                }
                                appended_any = true;
                                let min_insync = topic
                                    .filter(|_| request.acks == -1)
                                    .map(|t| broker.min_insync_replicas(t));
                                if magic < crate::records::MAGIC_V2 {
                                    let records: i64 = headers.iter().map(|h| i64::from(h.record_count)).sum();
                                    broker.metrics.produce_message_conversions.add(records.max(0) as u64);
                                }
                                let mut outcome = partition.append(batches, &headers, min_insync, magic)?;
                                outcome.log_append_time = match timestamps {
                                    TimestampRule::LogAppendTime => headers[0].max_timestamp,
                                    TimestampRule::CreateTime { .. } => -1,
                                };
                                if let Some(min) = min_insync.filter(|_| outcome.last_offset >= 0) {
                                    waiting.push((responses.len(), partitions.len(), partition.clone(), outcome, min));
                                }
                                Ok(outcome)
                            })
                    }
                }
            };
            let mut response = PartitionProduceResponse::default().with_index(data.index);
            match result {
                Ok(outcome) => {
                    response.base_offset = outcome.base_offset;
                    if version >= 2 {
                        response.log_append_time_ms = outcome.log_append_time;
                    }
                    if version >= 5 {
                        response.log_start_offset = outcome.log_start_offset;
                    }
                }
                Err(refusal) => {
                    response.error_code = refusal.code.code();
                    response.base_offset = -1;
                    if version >= 8 {
                        response.error_message = refusal.message.as_deref().map(str_bytes);
                        response.record_errors = refusal
                            .record_errors
                            .iter()
                            .map(|(index, message)| {
                                BatchIndexAndErrorMessage::default()
                                    .with_batch_index(*index)
                                    .with_batch_index_error_message(Some(str_bytes(message)))
                            })
                            .collect();
                    }
                }
            }
            partitions.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name.clone())
                .with_partition_responses(partitions),
        );
    }
    if appended_any {
        broker.notify_appended();
    }
    // acks=all: every partition's wait runs against the same deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(request.timeout_ms.max(0) as u64);
    for (topic_slot, partition_slot, partition, outcome, min) in waiting {
        if let Err(code) = partition
            .wait_committed(outcome.last_offset, outcome.leader_epoch, deadline, min)
            .await
        {
            let response = &mut responses[topic_slot].partition_responses[partition_slot];
            response.error_code = code.code();
            response.base_offset = -1;
        }
    }
    let response = ProduceResponse::default().with_responses(responses);
    if request.acks == 0 {
        // Not sent, but its errors still happened.
        return Ok(Reply {
            response: None,
            errors: ErrorTally::of(&response),
        });
    }
    respond(&frame, &response)
}
