//! The follower's fetch task for one partition: connect to the leader,
//! truncate to where the two logs agree (OffsetForLeaderEpoch with the last
//! epoch this replica has, KIP-279), then fetch from the log end as Kafka's
//! replica fetcher does (Fetch with replica id = this broker's id and the
//! current leader epoch), appending the leader's batches byte for byte and
//! taking its high watermark. The task ends when the partition's leadership
//! changes (it is aborted and a new one started for the new leader).

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{OffsetForLeaderPartition, OffsetForLeaderTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, OffsetForLeaderEpochRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::broker::partition::Partition;
use crate::broker::Broker;
use crate::protocol::ErrorCode;

use super::peer::{PeerConnection, PeerError};

const FETCH_VERSION: i16 = 11;
const EPOCH_VERSION: i16 = 3;
/// Pause after an error before trying again.
const BACKOFF: Duration = Duration::from_millis(100);

/// Why one session with the leader ended.
#[derive(Debug)]
enum Stop {
    /// Reconnect after a pause (network trouble, leader not ready yet).
    Retry(String),
    /// Truncate again before fetching on (the leader's log diverged).
    Resync,
}

pub fn spawn(broker: Arc<Broker>, partition: Arc<Partition>, leader: i32, epoch: i32) -> tokio::task::AbortHandle {
    tokio::spawn(follow(broker, partition, leader, epoch)).abort_handle()
}

async fn follow(broker: Arc<Broker>, partition: Arc<Partition>, leader: i32, epoch: i32) {
    let mut last_warning = String::new();
    loop {
        if partition.leader_epoch() != epoch || partition.is_deleted() {
            return;
        }
        let result = session(&broker, &partition, leader, epoch).await;
        if let Err(stop) = result {
            match stop {
                Stop::Resync => continue,
                Stop::Retry(why) => {
                    if why != last_warning {
                        tracing::info!(topic = %partition.topic, partition = partition.index, leader, %why, "follower fetch interrupted; retrying");
                        last_warning = why;
                    }
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }
}

async fn session(broker: &Broker, partition: &Partition, leader: i32, epoch: i32) -> Result<(), Stop> {
    if broker.faults.isolated() {
        return Err(Stop::Retry("isolated from the leader by an injected fault".into()));
    }
    let view = broker.cluster_view();
    let Some(info) = view.brokers.iter().find(|b| b.id == leader) else {
        return Err(Stop::Retry(format!("leader {leader} is not registered")));
    };
    let config = &broker.config;
    let max_response = (config
        .replica_fetch_response_max_bytes
        .max(config.replica_fetch_max_bytes) as usize)
        .saturating_add(1 << 20)
        .max(64 << 20);
    let client_id = format!("broker-{}-fetcher", config.broker_id);
    let (host, port) = broker.inter_broker_address(info);
    let mut conn = PeerConnection::connect_secure(&host, port, client_id, max_response, &broker.inter_broker_client)
        .await
        .map_err(retry)?;
    truncate(&mut conn, broker, partition, epoch).await?;
    let wait = Duration::from_millis(config.replica_fetch_wait_max_ms);
    loop {
        if partition.leader_epoch() != epoch {
            return Ok(());
        }
        if broker.faults.isolated() {
            return Err(Stop::Retry("isolated from the leader by an injected fault".into()));
        }
        let request = fetch_request(broker, partition, epoch);
        let response = conn
            .send(&request, FETCH_VERSION, wait + Duration::from_secs(10))
            .await
            .map_err(retry)?;
        let Some(data) = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition.index)
        else {
            return Err(Stop::Retry("the leader's answer lacks the partition".into()));
        };
        let code = data.error_code;
        if code == ErrorCode::OffsetOutOfRange.code() {
            {
                let leo = partition.log_end_offset();
                if data.log_start_offset > leo {
                    partition.restart_at(data.log_start_offset).map_err(|e| retry_log(&e))?;
                    continue;
                }
                return Err(Stop::Resync);
            }
        } else if code != 0 {
            // FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH / NOT_LEADER: the
            // leader's view of the epoch differs from ours; the state znode
            // settles it.
            return Err(Stop::Retry(format!("leader answered error {code}")));
        }
        if let Some(records) = data.records.as_ref().filter(|r| !r.is_empty()) {
            partition.append_replicated(records).map_err(|e| retry_log(&e))?;
            if let Some(rate) = throttled_rate(broker, partition) {
                broker.replication_throttle.consume(records.len(), rate).await;
            }
        }
        partition.set_follower_high_watermark(data.high_watermark);
    }
}

/// The follower throttle rate, when this replica is listed in its topic's
/// `follower.replication.throttled.replicas` and a rate is set.
fn throttled_rate(broker: &Broker, partition: &Partition) -> Option<u64> {
    let rate = broker.throttle_rate(crate::broker::dynamic_config::FOLLOWER_THROTTLE_RATE)?;
    let topic = broker.topic(&partition.topic)?;
    let list = topic.config.get("follower.replication.throttled.replicas")?;
    super::throttle::lists_replica(list, partition.index, broker.config.broker_id).then_some(rate)
}

fn fetch_request(broker: &Broker, partition: &Partition, epoch: i32) -> FetchRequest {
    let config = &broker.config;
    let fetch_partition = FetchPartition::default()
        .with_partition(partition.index)
        .with_current_leader_epoch(epoch)
        .with_fetch_offset(partition.log_end_offset())
        .with_log_start_offset(partition.log_start_offset())
        .with_partition_max_bytes(config.replica_fetch_max_bytes);
    FetchRequest::default()
        .with_replica_id(BrokerId(config.broker_id))
        .with_max_wait_ms(config.replica_fetch_wait_max_ms as i32)
        .with_min_bytes(1)
        .with_max_bytes(config.replica_fetch_response_max_bytes)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(partition.topic.clone())))
            .with_partitions(vec![fetch_partition])])
}

/// Truncates this replica to where it agrees with the leader: the end of
/// the latest epoch both have (KIP-279); without epochs, the high watermark.
async fn truncate(conn: &mut PeerConnection, broker: &Broker, partition: &Partition, epoch: i32) -> Result<(), Stop> {
    let Some(latest) = partition.latest_epoch() else {
        let hw = partition.high_watermark();
        partition.truncate_to(hw).map_err(|e| retry_log(&e))?;
        return Ok(());
    };
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(broker.config.broker_id))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(TopicName(StrBytes::from_string(partition.topic.clone())))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition.index)
                .with_current_leader_epoch(epoch)
                .with_leader_epoch(latest)])]);
    let response = conn
        .send(&request, EPOCH_VERSION, Duration::from_secs(10))
        .await
        .map_err(retry)?;
    let Some(answer) = response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition == partition.index)
    else {
        return Err(Stop::Retry("the leader's epoch answer lacks the partition".into()));
    };
    if answer.error_code != 0 {
        return Err(Stop::Retry(format!("OffsetForLeaderEpoch error {}", answer.error_code)));
    }
    let target = if answer.end_offset < 0 {
        // The leader knows no epoch this old: keep what is committed.
        partition.high_watermark()
    } else if answer.leader_epoch == latest {
        answer.end_offset
    } else {
        // The leader's last common epoch is older than ours: cut at the
        // smaller of where it ends on either side.
        let ours = partition
            .end_offset_for_epoch(answer.leader_epoch)
            .map_or(partition.high_watermark(), |(_, end)| end);
        answer.end_offset.min(ours)
    };
    partition.truncate_to(target).map_err(|e| retry_log(&e))?;
    Ok(())
}

fn retry(e: PeerError) -> Stop {
    Stop::Retry(e.to_string())
}

fn retry_log(e: &crate::log::LogError) -> Stop {
    Stop::Retry(format!("local log: {e}"))
}
