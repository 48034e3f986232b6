//! Fetch (key 1), v0–11, with long polling: the answer waits up to
//! `max_wait_ms` until `min_bytes` are available. Data starts at the whole
//! batch containing the fetch offset (clients skip what they did not ask
//! for); v0–1 get it down-converted to magic 0, v2–3 to magic 1.
//! Response size: `partition_max_bytes` per partition and (v3+) `max_bytes`
//! overall, except that the response's first batch is returned whole even
//! when it exceeds both, so a large message can never stall a consumer;
//! later partitions get only whole batches within what is left (KIP-74).
//! Consumers read up to the high watermark, from the leader only
//! (NOT_LEADER_OR_FOLLOWER elsewhere); a v9+ `current_leader_epoch` other
//! than the leader's gets FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH.
//! A topic with `message.downconversion.enable=false` answers v0–3 (which
//! need down-conversion) with UNSUPPORTED_VERSION for its partitions.
//! Replica fetches (replica_id = a broker id) read up to the log end and
//! record the follower's position, which moves the high watermark.
//! read_committed consumers (v4+, isolation_level 1) read up to the last
//! stable offset (the first open transaction, at most the high watermark)
//! and get the aborted transactions in what they read; read_uncommitted
//! ones read to the high watermark, control batches included (v4+ clients
//! skip them), and v0–3 never see control batches (dropped by
//! down-conversion) but do see aborted data, as from Kafka.
//! Not implemented: fetch sessions (v7+; we answer session 0, so clients
//! send full requests), fetching from followers (KIP-392).
//! Metrics: the bytes and records of the pass that is answered count as the
//! partitions' traffic out; polls that found too little are not counted.
//! Injected faults (`broker::faults`): an error for the partition, a stalled
//! partition (no records), an isolated broker (follower fetches refused).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::time::Instant;

use super::produce_batches::storage_magic;
use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::faults::InjectedError;
use crate::broker::partition::Partition;
use crate::broker::topics::local_partition;
use crate::broker::Broker;
use crate::log::LogError;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::records::{down_convert, needs_down_conversion, split_batches, RecordError};

use super::{decode, respond};

/// Upper bound on one long poll, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(300);

pub async fn handle(broker: &Broker, frame: RequestFrame, injected: Option<InjectedError>) -> HandlerResult {
    let request: FetchRequest = decode(&frame)?;
    if request.replica_id.0 >= 0 && broker.faults.isolated() {
        return Err(format!(
            "injected fault: isolated from follower {}",
            request.replica_id.0
        ));
    }
    // Kafka: a follower needs ClusterAction (CVE-2018-1288), a consumer Read per topic.
    let follower_allowed =
        request.replica_id.0 < 0 || super::authorize_cluster(broker, &frame, AclOperation::ClusterAction);
    let denied: std::collections::HashSet<&str> = request
        .topics
        .iter()
        .map(|t| t.topic.as_str())
        .filter(|name| !follower_allowed || !super::authorize_topic(broker, &frame, AclOperation::Read, name))
        .collect();
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let mut appends = broker.subscribe_appends();
    loop {
        appends.borrow_and_update();
        let pass = collect(broker, &request, frame.api_version, injected.as_ref(), &denied);
        let done = pass.bytes >= request.min_bytes.max(0) as usize || pass.any_error || Instant::now() >= deadline;
        if done {
            for (partition, bytes, records) in &pass.sent {
                partition.traffic.record_out(*bytes, *records);
            }
            let response = FetchResponse::default().with_responses(pass.topics).with_session_id(0);
            return respond(&frame, &response);
        }
        tokio::select! {
            _ = appends.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// One read of every requested partition.
struct Pass {
    topics: Vec<FetchableTopicResponse>,
    /// Record bytes found, against `min_bytes`.
    bytes: usize,
    /// Any partition had an error (which ends a long poll at once).
    any_error: bool,
    /// Bytes and records read per partition, counted if this pass is sent.
    sent: Vec<(Arc<Partition>, u64, u64)>,
}

fn collect(
    broker: &Broker,
    request: &FetchRequest,
    version: i16,
    injected: Option<&InjectedError>,
    denied: &std::collections::HashSet<&str>,
) -> Pass {
    let follower = (request.replica_id.0 >= 0).then_some(request.replica_id.0);
    let mut budget = if version >= 3 {
        request.max_bytes.max(0) as usize
    } else {
        usize::MAX
    };
    let mut total = 0usize;
    let mut any_error = false;
    let mut sent = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for fetch_topic in &request.topics {
        let topic = broker.topic(fetch_topic.topic.as_str());
        let mut partitions = Vec::with_capacity(fetch_topic.partitions.len());
        for fp in &fetch_topic.partitions {
            let mut out = PartitionData::default().with_partition_index(fp.partition);
            let refused = denied
                .contains(fetch_topic.topic.as_str())
                .then_some(ErrorCode::TopicAuthorizationFailed.code());
            if let Some(code) =
                refused.or_else(|| injected.and_then(|e| e.for_partition(fetch_topic.topic.as_str(), fp.partition)))
            {
                out.error_code = code;
                out.high_watermark = -1;
                any_error = true;
                partitions.push(out);
                continue;
            }
            let partition = match local_partition(topic.as_ref(), fp.partition) {
                Ok(p) => p,
                Err(code) => {
                    out.error_code = code.code();
                    out.high_watermark = -1;
                    any_error = true;
                    partitions.push(out);
                    continue;
                }
            };
            // message.downconversion.enable=false: clients that need an old
            // format (Fetch v0-3) get UNSUPPORTED_VERSION instead.
            // As Kafka, the topic's message.format.version stands for the
            // stored format: a 0.10 topic read with Fetch v2-3 needs none.
            let no_down_conversion = version < 4
                && follower.is_none()
                && topic.as_ref().is_some_and(|t| {
                    let setting = |key: &str| broker.topic_setting(&t.config, key);
                    setting("message.downconversion.enable").is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
                        && storage_magic(setting) > if version <= 1 { 0 } else { 1 }
                });
            let checked = partition.check_leader_epoch(fp.current_leader_epoch).and_then(|()| {
                if no_down_conversion {
                    return Err(ErrorCode::UnsupportedVersion);
                }
                if !partition.is_leader() {
                    return Err(ErrorCode::NotLeaderOrFollower);
                }
                if let Some(id) = follower {
                    // A higher watermark makes records visible: wake consumers.
                    if partition.record_follower_fetch(id, fp.fetch_offset, crate::broker::now_ms())? {
                        broker.notify_appended();
                    }
                }
                Ok(())
            });
            if let Err(code) = checked {
                out.error_code = code.code();
                out.high_watermark = -1;
                any_error = true;
                partitions.push(out);
                continue;
            }
            let hw = partition.high_watermark();
            out.high_watermark = hw;
            if version >= 4 {
                out.last_stable_offset = partition.last_stable_offset();
            }
            if version >= 5 {
                out.log_start_offset = partition.log_start_offset();
            }
            let limit = (fp.partition_max_bytes.max(0) as usize).min(budget);
            // After the first data, a partition with no budget left is
            // skipped rather than overshooting max_bytes again.
            if limit == 0 && total > 0 {
                partitions.push(out);
                continue;
            }
            // KIP-74: only the response's first data may exceed the limits
            // (so one large batch never stalls a consumer); after it, a
            // partition gets only whole batches that fit. v0-2 have no
            // response limit and always get a first batch.
            let min_one_batch = total == 0 || version < 3;
            // An injected stall: the partition answers as if nothing were new.
            if follower.is_none() && broker.faults.fetch_stalled(fetch_topic.topic.as_str(), fp.partition) {
                out.records = Some(Bytes::new());
                partitions.push(out);
                continue;
            }
            let read_committed = follower.is_none() && version >= 4 && request.isolation_level == 1;
            match read_partition(
                partition,
                fp.fetch_offset,
                limit.max(1),
                min_one_batch,
                version,
                follower.is_some(),
                read_committed,
            ) {
                Ok((data, records, converted)) => {
                    if read_committed && !data.is_empty() {
                        out.aborted_transactions = Some(aborted_in(partition, fp.fetch_offset, &data));
                    }
                    if converted > 0 {
                        broker.metrics.fetch_message_conversions.add(converted);
                    }
                    total += data.len();
                    budget = budget.saturating_sub(data.len());
                    if !data.is_empty() {
                        sent.push((partition.clone(), data.len() as u64, records));
                    }
                    out.records = Some(data);
                }
                Err(code) => {
                    out.error_code = code.code();
                    any_error = true;
                }
            }
            partitions.push(out);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(fetch_topic.topic.clone())
                .with_partitions(partitions),
        );
    }
    Pass {
        topics,
        bytes: total,
        any_error,
        sent,
    }
}

/// The partition's data from `offset` as this version reads it, the number
/// of records in it, and how many of them were down-converted.
fn read_partition(
    partition: &Partition,
    offset: i64,
    max_bytes: usize,
    min_one_batch: bool,
    version: i16,
    for_replica: bool,
    read_committed: bool,
) -> Result<(Bytes, u64, u64), ErrorCode> {
    // Between the high watermark and the log end a consumer gets nothing
    // yet (a new leader's high watermark may trail what it has); past the
    // log end the offset is out of range.
    if offset > partition.log_end_offset() {
        return Err(ErrorCode::OffsetOutOfRange);
    }
    let read = if for_replica {
        partition.read_for_replica(offset, max_bytes, min_one_batch)
    } else if read_committed {
        if offset >= partition.last_stable_offset() {
            return Ok((Bytes::new(), 0, 0));
        }
        partition.read_committed(offset, max_bytes, min_one_batch)
    } else if offset >= partition.high_watermark() {
        return Ok((Bytes::new(), 0, 0));
    } else {
        partition.read(offset, max_bytes, min_one_batch)
    };
    let data = read.map_err(|e| match e {
        LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        other => {
            tracing::error!(topic = %partition.topic, partition = partition.index, error = %other, "read failed");
            ErrorCode::KafkaStorageError
        }
    })?;
    let target_magic = match version {
        0 | 1 => 0,
        2 | 3 => 1,
        _ => {
            let records = records_in(&data, None);
            return Ok((data, records, 0));
        }
    };
    if data.is_empty() {
        return Ok((data, 0, 0));
    }
    let records = records_in(&data, Some(offset));
    if !needs_down_conversion(&data, target_magic) {
        // A topic stored at magic 0/1: served as stored.
        return Ok((data, records, 0));
    }
    let converted = down_convert(&data, target_magic, offset).map_err(|e| match e {
        RecordError::UnsupportedCompression(_) => ErrorCode::UnsupportedCompressionType,
        other => {
            tracing::error!(topic = %partition.topic, partition = partition.index, error = %other, "down-conversion failed");
            ErrorCode::CorruptMessage
        }
    })?;
    Ok((Bytes::from(converted), records, records))
}

/// The aborted transactions with data in what a read_committed fetch from
/// `offset` returns (KIP-98: the consumer drops their records).
fn aborted_in(partition: &Partition, offset: i64, data: &[u8]) -> Vec<AbortedTransaction> {
    let end = split_batches(data)
        .map_while(Result::ok)
        .map(|(header, _)| header.last_offset() + 1)
        .last()
        .unwrap_or(offset);
    partition
        .aborted_between(offset, end)
        .into_iter()
        .map(|a| {
            AbortedTransaction::default()
                .with_producer_id(kafka_protocol::messages::ProducerId(a.producer_id))
                .with_first_offset(a.first_offset)
        })
        .collect()
}

/// Records in stored v2 batches: all of them, or with `down_converted_from`
/// those `down_convert` keeps (non-control, at or after that offset;
/// producer batches have dense offsets, so the offsets give the count).
fn records_in(stored: &[u8], down_converted_from: Option<i64>) -> u64 {
    split_batches(stored)
        .map_while(Result::ok)
        .map(|(header, _)| {
            let count = i64::from(header.record_count);
            let kept = match down_converted_from {
                None => count,
                Some(_) if header.is_control() => 0,
                Some(from) => count.min(header.last_offset() - from + 1),
            };
            u64::try_from(kept).unwrap_or(0)
        })
        .sum()
}
