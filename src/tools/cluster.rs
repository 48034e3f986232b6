//! What the console tools need to know about a cluster: brokers, partition
//! leaders and offsets, learnt either through the Kafka protocol
//! (`--bootstrap-server`, `--broker-list`) or from ZooKeeper (`--zookeeper`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::{open_store, KafkaLayout};

use super::client::Client;

/// ListOffsets' special timestamps.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

/// A topic's partitions and where to reach each leader ("host:port").
#[derive(Clone, Debug, Default)]
pub struct TopicLeaders {
    pub leaders: BTreeMap<i32, String>,
}

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A runtime for the tools that talk to ZooKeeper: one worker, so the
/// session keeps its heartbeat while the tool blocks elsewhere.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))
}

/// Kafka's layout over a ZooKeeper session for the `--zookeeper` tools.
pub fn connect_zookeeper(rt: &tokio::runtime::Runtime, connect: &str) -> Result<KafkaLayout, String> {
    let store = rt
        .block_on(open_store(
            Some(connect),
            Duration::from_secs(30),
            std::path::Path::new("/nonexistent"),
        ))
        .map_err(|e| format!("cannot connect to ZooKeeper at {connect}: {e}"))?;
    Ok(KafkaLayout::new(Arc::clone(&store)))
}

/// Partition leaders of `topic` via Metadata; with `create`, the broker may
/// auto-create the topic (as Kafka's console producer and consumer do).
/// Retries while leaders are not yet elected.
pub fn leaders_via_metadata(bootstrap: &str, topic: &str, create: bool) -> Result<TopicLeaders, String> {
    let mut client = Client::connect(bootstrap)?;
    let mut last = String::new();
    for _ in 0..50 {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(topic)))
            ]))
            .with_allow_auto_topic_creation(create);
        let response = client.send(&request, 4)?;
        let brokers: HashMap<i32, String> = response
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        let t = response.topics.first().ok_or("empty Metadata response")?;
        match t.error_code {
            0 => {
                let mut leaders = BTreeMap::new();
                let mut missing = false;
                for p in &t.partitions {
                    match brokers.get(&p.leader_id.0) {
                        Some(addr) if p.error_code == 0 => {
                            leaders.insert(p.partition_index, addr.clone());
                        }
                        _ => missing = true,
                    }
                }
                if !missing && !leaders.is_empty() {
                    return Ok(TopicLeaders { leaders });
                }
                last = format!("topic {topic} has partitions without a leader");
            }
            3 if !create => return Err(format!("Topic {topic} does not exist")),
            code => last = format!("topic {topic}: error code {code}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(last)
}

/// Partition leaders as the old consumer found them: the state znodes and
/// the leaders' registrations. `None` while the topic does not exist.
pub fn leaders_via_zookeeper(
    rt: &tokio::runtime::Handle,
    layout: &KafkaLayout,
    topic: &str,
) -> Result<Option<TopicLeaders>, String> {
    rt.block_on(async {
        if layout
            .topic_assignment(topic)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Ok(None);
        }
        let mut leaders = BTreeMap::new();
        for (p, leader) in layout.partition_leaders(topic).await.map_err(|e| e.to_string())? {
            if leader < 0 {
                return Ok(None);
            }
            let Some(info) = layout.broker(leader).await.map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            leaders.insert(p, crate::metadata::kafka_json::format_address(&info.host, info.port));
        }
        Ok(Some(TopicLeaders { leaders }))
    })
}

/// The earliest or latest offset of one partition, from its leader. A
/// leader that has not loaded the topic yet (it learns of new topics from
/// the metadata store within a second) is asked again for up to 5 s.
pub fn list_offset(client: &mut Client, topic: &str, partition: i32, timestamp: i64) -> Result<i64, String> {
    const RETRIABLE: [i16; 3] = [3, 5, 6]; // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER
    let mut attempts = 0;
    loop {
        match list_offset_once(client, topic, partition, timestamp)? {
            Ok(offset) => return Ok(offset),
            Err(code) if RETRIABLE.contains(&code) && attempts < 25 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(code) => return Err(format!("ListOffsets {topic}-{partition}: error code {code}")),
        }
    }
}

/// One ListOffsets round trip: the offset, or the partition's error code.
fn list_offset_once(
    client: &mut Client,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<Result<i64, i16>, String> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(timestamp)])]);
    let response = client.send(&request, 1)?;
    let p = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("empty ListOffsets response")?;
    if p.error_code != 0 {
        return Ok(Err(p.error_code));
    }
    Ok(Ok(p.offset))
}
