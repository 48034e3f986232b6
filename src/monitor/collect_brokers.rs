//! The brokers' side of a refresh, through the Kafka protocol (blocking, run
//! off the async workers): the cluster from Metadata, every partition's log
//! end offset from its leader (ListOffsets latest, as KafkaOffsetMonitor
//! computed LogSize), and the groups each broker coordinates (ListGroups,
//! DescribeGroups, and OffsetFetch when no metadata store is at hand).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsRequest, GroupId, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, MetadataResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::snapshot::{BrokerRow, MemberRow, PartitionRow, TopicRow};
use crate::group::zk_consumers::ZOOKEEPER_PROTOCOL;
use crate::tools::client::Client;
use crate::tools::consumer_groups::{committed_offsets, decode_assignment};
use crate::tools::partition_offsets::LATEST;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the brokers said.
#[derive(Debug, Default)]
pub struct BrokerSide {
    pub brokers: Vec<BrokerRow>,
    pub controller: Option<i32>,
    pub topics: BTreeMap<String, TopicRow>,
    /// Groups the brokers coordinate (ZooKeeper-coordinated ones left out).
    pub groups: BTreeMap<String, CoordinatedGroup>,
    /// Brokers or partitions that did not answer; the rest is still good.
    pub errors: Vec<String>,
}

#[derive(Debug, Default)]
pub struct CoordinatedGroup {
    pub state: String,
    /// A ZooKeeper-coordinated group the broker reports (only without a store).
    pub zookeeper: bool,
    /// Each member with the partitions its assignment gives it.
    pub members: Vec<(MemberRow, Vec<(String, i32)>)>,
    /// Committed offsets, when asked for (no store to read them from).
    pub offsets: BTreeMap<(String, i32), i64>,
}

/// Metadata from the first of the comma-separated brokers that answers (one
/// that accepts connections but does not answer is skipped after a timeout).
fn metadata(bootstrap: &str) -> Result<MetadataResponse, String> {
    let mut last_error = format!("no broker address in {bootstrap:?}");
    for address in bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let answer = Client::connect_with_timeouts(address, CONNECT_TIMEOUT, READ_TIMEOUT)
            .and_then(|mut client| client.send(&MetadataRequest::default().with_topics(None), 4));
        match answer {
            Ok(metadata) => return Ok(metadata),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// One refresh. Fails only if no broker answers Metadata. `fetch_offsets`:
/// there is no store to read offsets and ZooKeeper-coordinated groups from,
/// so ask the brokers for them too.
pub fn collect(bootstrap: &str, fetch_offsets: bool) -> Result<BrokerSide, String> {
    let metadata = metadata(bootstrap)?;
    let mut side = BrokerSide {
        controller: Some(metadata.controller_id.0).filter(|id| *id >= 0),
        ..BrokerSide::default()
    };
    for b in &metadata.brokers {
        side.brokers.push(BrokerRow {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        });
    }
    side.brokers.sort_by_key(|b| b.id);
    for t in &metadata.topics {
        let Some(name) = t.name.as_ref().map(|n| n.to_string()) else {
            continue;
        };
        if t.error_code != 0 {
            side.errors
                .push(format!("topic {name}: Metadata error code {}", t.error_code));
            continue;
        }
        let mut partitions: Vec<PartitionRow> = t
            .partitions
            .iter()
            .map(|p| PartitionRow {
                partition: p.partition_index,
                leader: p.leader_id.0,
                replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                log_size: None,
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        side.topics.insert(name, TopicRow { partitions });
    }
    // Every broker at once: one that hangs costs its timeout once, not per broker.
    let topics = &side.topics;
    let answers: Vec<(String, Result<Answer, String>)> = std::thread::scope(|scope| {
        let asks: Vec<_> = side
            .brokers
            .iter()
            .map(|broker| {
                let address = format!("{}:{}", broker.host, broker.port);
                let ask = scope.spawn(move || {
                    let mut client = Client::connect_with_timeouts(&address, CONNECT_TIMEOUT, READ_TIMEOUT)?;
                    ask_broker(&mut client, broker.id, fetch_offsets, topics)
                });
                (format!("broker {} ({}:{})", broker.id, broker.host, broker.port), ask)
            })
            .collect();
        asks.into_iter()
            .map(|(who, ask)| {
                (
                    who,
                    ask.join().unwrap_or_else(|_| Err("the request thread failed".into())),
                )
            })
            .collect()
    });
    for (who, answer) in answers {
        match answer {
            Ok(answer) => {
                for (topic, partition, size) in answer.log_sizes {
                    let row = side
                        .topics
                        .get_mut(&topic)
                        .and_then(|t| t.partitions.iter_mut().find(|r| r.partition == partition));
                    if let Some(row) = row {
                        row.log_size = Some(size);
                    }
                }
                side.groups.extend(answer.groups);
                side.errors.extend(answer.errors);
            }
            Err(e) => side.errors.push(format!("{who}: {e}")),
        }
    }
    Ok(side)
}

/// What one broker said.
#[derive(Default)]
struct Answer {
    /// (topic, partition, log end offset) of the partitions it leads.
    log_sizes: Vec<(String, i32, i64)>,
    groups: Vec<(String, CoordinatedGroup)>,
    errors: Vec<String>,
}

/// Log end offsets of the partitions `broker_id` leads, and its groups.
fn ask_broker(
    client: &mut Client,
    broker_id: i32,
    fetch_offsets: bool,
    topics: &BTreeMap<String, TopicRow>,
) -> Result<Answer, String> {
    let mut answer = Answer::default();
    let led: Vec<ListOffsetsTopic> = topics
        .iter()
        .filter_map(|(name, topic)| {
            let partitions: Vec<ListOffsetsPartition> = topic
                .partitions
                .iter()
                .filter(|p| p.leader == broker_id)
                .map(|p| {
                    ListOffsetsPartition::default()
                        .with_partition_index(p.partition)
                        .with_timestamp(LATEST)
                })
                .collect();
            (!partitions.is_empty()).then(|| {
                ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name.clone())))
                    .with_partitions(partitions)
            })
        })
        .collect();
    if !led.is_empty() {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(led);
        for t in client.send(&request, 1)?.topics {
            for p in t.partitions {
                if p.error_code != 0 {
                    answer.errors.push(format!(
                        "{}-{}: ListOffsets error code {}",
                        t.name.as_str(),
                        p.partition_index,
                        p.error_code
                    ));
                } else {
                    answer.log_sizes.push((t.name.to_string(), p.partition_index, p.offset));
                }
            }
        }
    }
    ask_groups(client, fetch_offsets, &mut answer)?;
    Ok(answer)
}

/// The groups this broker coordinates: each broker lists only its own.
fn ask_groups(client: &mut Client, fetch_offsets: bool, answer: &mut Answer) -> Result<(), String> {
    let listed = client.send(&ListGroupsRequest::default(), 2)?;
    if listed.error_code != 0 {
        return Err(format!("ListGroups error code {}", listed.error_code));
    }
    let ids: Vec<GroupId> = listed.groups.iter().map(|g| g.group_id.clone()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let described = client.send(&DescribeGroupsRequest::default().with_groups(ids), 4)?;
    for g in described.groups {
        if g.error_code != 0 {
            answer.errors.push(format!(
                "group {}: DescribeGroups error code {}",
                g.group_id.as_str(),
                g.error_code
            ));
            continue;
        }
        let zookeeper = g.protocol_data.as_str() == ZOOKEEPER_PROTOCOL;
        if zookeeper && !fetch_offsets {
            continue; // read from /consumers directly, with the owner znodes
        }
        let consumer_protocol = g.protocol_type.as_str() == "consumer";
        let mut group = CoordinatedGroup {
            state: g.group_state.to_string(),
            zookeeper,
            members: g
                .members
                .iter()
                .map(|m| {
                    let member = MemberRow {
                        id: m.member_id.to_string(),
                        client_id: m.client_id.to_string(),
                        host: m.client_host.to_string(),
                    };
                    let owned = if consumer_protocol {
                        decode_assignment(&m.member_assignment)
                    } else {
                        vec![]
                    };
                    (member, owned)
                })
                .collect(),
            offsets: BTreeMap::new(),
        };
        if fetch_offsets {
            group.offsets = committed_offsets(client, g.group_id.as_str())
                .map_err(|e| format!("OffsetFetch of group {}: {e}", g.group_id.as_str()))?;
        }
        answer.groups.push((g.group_id.to_string(), group));
    }
    Ok(())
}
