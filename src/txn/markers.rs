//! Completing a transaction's effects: a commit or abort marker in every
//! partition it wrote (appended here when this broker leads the partition,
//! else sent to the leader as WriteTxnMarkers, as Kafka's coordinator does),
//! each waited for until it is committed (the high watermark passes it).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;

use crate::broker::partition::Partition;
use crate::broker::Broker;
use crate::protocol::ErrorCode;
use crate::replica::peer::PeerConnection;

/// How long one marker may take to be appended and committed.
const MARKER_TIMEOUT: Duration = Duration::from_secs(15);

/// Appends a marker to a partition this broker leads and waits until it is
/// committed. A deleted topic counts as done: there is nothing to mark.
pub async fn append_local(
    broker: &Broker,
    partition: &Partition,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
) -> Result<(), ErrorCode> {
    let epoch = partition.leader_epoch();
    let offset = match partition.append_marker(producer_id, producer_epoch, commit, 0) {
        Ok(offset) => offset,
        Err(ErrorCode::UnknownTopicOrPartition) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Long-polling consumers (and followers) learn of the marker now.
    broker.notify_appended();
    let deadline = tokio::time::Instant::now() + MARKER_TIMEOUT;
    match partition.wait_committed(offset, epoch, deadline, 1).await {
        Ok(()) | Err(ErrorCode::UnknownTopicOrPartition) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes the markers of one transaction to all its partitions.
pub async fn write_markers(
    broker: &Broker,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    partitions: &BTreeSet<(String, i32)>,
) -> Result<(), ErrorCode> {
    let me = broker.config.broker_id;
    let mut remote: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
    for (topic_name, index) in partitions {
        let Some(topic) = broker.topic(topic_name) else {
            continue; // deleted since: nothing to mark
        };
        let leader = topic
            .meta()
            .get(usize::try_from(*index).unwrap_or(usize::MAX))
            .map_or(-1, |m| m.leader);
        let local = usize::try_from(*index)
            .ok()
            .and_then(|i| topic.partitions.get(i).cloned().flatten())
            .filter(|p| p.is_leader());
        match local {
            Some(partition) => {
                append_local(broker, &partition, producer_id, producer_epoch, commit).await?;
            }
            None if leader >= 0 && leader != me => {
                remote.entry(leader).or_default().push((topic_name.clone(), *index));
            }
            None => return Err(ErrorCode::NotLeaderOrFollower),
        }
    }
    for (leader, partitions) in remote {
        send_markers(broker, leader, producer_id, producer_epoch, commit, &partitions).await?;
    }
    Ok(())
}

/// WriteTxnMarkers v0 to another broker for the partitions it leads.
async fn send_markers(
    broker: &Broker,
    leader: i32,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    partitions: &[(String, i32)],
) -> Result<(), ErrorCode> {
    let view = broker.cluster_view();
    let Some(info) = view.brokers.iter().find(|b| b.id == leader) else {
        return Err(ErrorCode::NotLeaderOrFollower);
    };
    let client_id = format!("broker-{}-txn-coordinator", broker.config.broker_id);
    let (host, port) = broker.inter_broker_address(info);
    let mut connection = PeerConnection::connect_secure(&host, port, client_id, 1 << 20, &broker.inter_broker_client)
        .await
        .map_err(|e| {
            tracing::warn!(leader, error = %e, "cannot reach a partition leader for transaction markers");
            ErrorCode::CoordinatorNotAvailable
        })?;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, index) in partitions {
        by_topic.entry(topic.as_str()).or_default().push(*index);
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, indexes)| {
            WritableTxnMarkerTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_indexes(indexes)
        })
        .collect();
    let request = WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(producer_epoch)
        .with_transaction_result(commit)
        .with_topics(topics)
        .with_coordinator_epoch(0)]);
    let response = connection
        .send(&request, 0, MARKER_TIMEOUT + Duration::from_secs(5))
        .await
        .map_err(|e| {
            tracing::warn!(leader, error = %e, "WriteTxnMarkers failed");
            ErrorCode::RequestTimedOut
        })?;
    for marker in &response.markers {
        for topic in &marker.topics {
            for partition in &topic.partitions {
                let code = partition.error_code;
                if code != 0 && code != ErrorCode::UnknownTopicOrPartition.code() {
                    tracing::info!(leader, topic = %topic.name.as_str(), partition = partition.partition_index, code, "a transaction marker was refused");
                    return Err(ErrorCode::NotLeaderOrFollower);
                }
            }
        }
    }
    Ok(())
}
