//! Log start / end offsets of partitions, asked of each partition's leader
//! (found with Metadata), for the tools' lag and reset computations; and
//! the tools' simple (generation -1) offset commits.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, GroupId, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;

/// ListOffsets' special timestamps.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// Partition count of each topic that exists (unknown topics are left out).
pub fn partition_counts(bootstrap: &str, topics: &[String]) -> Result<BTreeMap<String, i32>, String> {
    let mut client = Client::connect(bootstrap)?;
    let response = client.send(&metadata_request(topics), 4)?;
    Ok(response
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| Some((t.name.as_ref()?.to_string(), t.partitions.len() as i32)))
        .collect())
}

fn metadata_request(topics: &[String]) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t.clone())))))
                .collect(),
        ))
        .with_allow_auto_topic_creation(false)
}

/// The offset at `timestamp` (LATEST / EARLIEST) of every partition given;
/// partitions whose leader cannot answer are left out.
pub fn offsets_at(
    bootstrap: &str,
    partitions: &[(String, i32)],
    timestamp: i64,
) -> Result<HashMap<(String, i32), i64>, String> {
    let mut out = HashMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let mut topics: Vec<String> = partitions.iter().map(|(t, _)| t.clone()).collect();
    topics.sort();
    topics.dedup();
    let metadata = Client::connect(bootstrap)?.send(&metadata_request(&topics), 4)?;
    let addresses: HashMap<i32, String> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    let mut leaders: HashMap<(String, i32), i32> = HashMap::new();
    for t in &metadata.topics {
        let Some(name) = t.name.as_ref().map(|n| n.to_string()) else {
            continue;
        };
        for p in &t.partitions {
            leaders.insert((name.clone(), p.partition_index), p.leader_id.0);
        }
    }
    let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
    for (t, p) in partitions {
        if let Some(leader) = leaders.get(&(t.clone(), *p)) {
            by_leader
                .entry(*leader)
                .or_default()
                .entry(t.clone())
                .or_default()
                .push(*p);
        }
    }
    for (leader, topics) in by_leader {
        let Some(address) = addresses.get(&leader) else {
            continue;
        };
        let request = ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_topics(
            topics
                .iter()
                .map(|(t, ps)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(t.clone())))
                        .with_partitions(
                            ps.iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_timestamp(timestamp)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
        let response = Client::connect(address)?.send(&request, 1)?;
        for t in response.topics {
            for p in t.partitions {
                if p.error_code == 0 {
                    out.insert((t.name.to_string(), p.partition_index), p.offset);
                }
            }
        }
    }
    Ok(out)
}

/// Commits `positions` (partition, next offset) of `topic` for `group` as a
/// simple commit (generation -1, no membership) on `client`, which must be
/// connected to the group's coordinator.
pub fn commit_simple(client: &mut Client, group: &str, topic: &str, positions: &[(i32, i64)]) -> Result<(), String> {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_generation_id_or_member_epoch(-1)
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(
                positions
                    .iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                    })
                    .collect(),
            )]);
    let response = client.send(&request, 2)?;
    for t in &response.topics {
        for p in &t.partitions {
            if p.error_code != 0 {
                return Err(format!("{topic}-{}: error code {}", p.partition_index, p.error_code));
            }
        }
    }
    Ok(())
}

/// A connection to `group`'s coordinator (FindCoordinator to `bootstrap`).
pub fn coordinator(bootstrap: &str, group: &str) -> Result<Client, String> {
    let mut client = Client::connect(bootstrap)?;
    let response = client.send(
        &FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string())),
        1,
    )?;
    if response.error_code != 0 {
        return Err(format!(
            "Error: cannot find the coordinator of group '{group}' (error code {})",
            response.error_code
        ));
    }
    let port = u16::try_from(response.port).map_err(|_| format!("bad coordinator port {}", response.port))?;
    Client::connect(&crate::metadata::kafka_json::format_address(
        response.host.as_str(),
        port,
    ))
}
