//! Groups coordinated through ZooKeeper by their consumers (Kafka's old
//! high-level consumer, pykafka's BalancedConsumer): members register
//! ephemeral `/consumers/<g>/ids/<id>` znodes and claim partitions with
//! ephemeral `/consumers/<g>/owners/<topic>/<partition>` znodes. Those are
//! theirs: the broker only reads them, to report such groups in ListGroups
//! and DescribeGroups beside the groups it coordinates.
//!
//! The two layouts differ (see kafka-zk-and-clients.md §2.5, §5.1):
//! Kafka's ids hold `{"version":1,"subscription":{"t":1},...}` and owners are
//! named `<partition>` with data `<consumer-id>-<thread>`; pykafka's ids hold
//! the bare topic name and owners are named `<leader>-<partition>` with data
//! `<consumer-id>`.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::types::{GroupDescription, GroupState, MemberDescription};
use crate::metadata::{KafkaLayout, LayoutError};

/// The protocol name DescribeGroups reports for ZooKeeper-coordinated groups.
pub const ZOOKEEPER_PROTOCOL: &str = "zookeeper";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkMember {
    pub id: String,
    pub host: String,
    pub topics: Vec<String>,
    /// (topic, partition) this member owns.
    pub owned: Vec<(String, i32)>,
}

/// The registered members of a ZooKeeper-coordinated group (empty if none).
pub async fn members(layout: &KafkaLayout, group: &str) -> Result<Vec<ZkMember>, LayoutError> {
    let mut members = registered(layout, group).await?;
    if !members.is_empty() {
        assign_owned(&mut members, &owners(layout, group).await?);
    }
    Ok(members)
}

/// The members and every owner znode's data, by (topic, partition): the
/// monitor shows the raw owner as KafkaOffsetMonitor did.
pub async fn members_and_owners(
    layout: &KafkaLayout,
    group: &str,
) -> Result<(Vec<ZkMember>, BTreeMap<(String, i32), String>), LayoutError> {
    let mut members = registered(layout, group).await?;
    let owners = owners(layout, group).await?;
    assign_owned(&mut members, &owners);
    Ok((members, owners))
}

/// The consumers under /consumers/<g>/ids, owning nothing yet.
async fn registered(layout: &KafkaLayout, group: &str) -> Result<Vec<ZkMember>, LayoutError> {
    let store = layout.store();
    let base = format!("/consumers/{group}/ids");
    let mut members = Vec::new();
    for id in store.children(&base).await?.unwrap_or_default() {
        let data = match store.get(&format!("{base}/{id}")).await? {
            Some((data, _)) => data,
            None => continue, // went away while we looked
        };
        members.push(ZkMember {
            host: host_of(group, &id),
            topics: subscribed_topics(&data),
            owned: Vec::new(),
            id,
        });
    }
    Ok(members)
}

/// The data of every owner znode, by (topic, partition), in either naming.
async fn owners(layout: &KafkaLayout, group: &str) -> Result<BTreeMap<(String, i32), String>, LayoutError> {
    let store = layout.store();
    let base = format!("/consumers/{group}/owners");
    let mut owners = BTreeMap::new();
    for dir in store.children(&base).await?.unwrap_or_default() {
        let topic = owner_topic(&dir);
        for node in store.children(&format!("{base}/{dir}")).await?.unwrap_or_default() {
            let Some(partition) = owner_partition(&node) else {
                continue;
            };
            let Some((owner, _)) = store.get(&format!("{base}/{dir}/{node}")).await? else {
                continue;
            };
            owners.insert(
                (topic.to_string(), partition),
                String::from_utf8_lossy(&owner).into_owned(),
            );
        }
    }
    Ok(owners)
}

fn assign_owned(members: &mut [ZkMember], owners: &BTreeMap<(String, i32), String>) {
    for (tp, owner) in owners {
        if let Some(m) = members.iter_mut().find(|m| owns(&m.id, owner)) {
            m.owned.push(tp.clone());
        }
    }
    for m in members.iter_mut() {
        m.owned.sort();
    }
}

/// DescribeGroups' view: Stable with members, Empty without; metadata and
/// assignments encoded as the consumer protocol (v0) so admin clients can
/// show topics and partitions.
pub fn describe(members: &[ZkMember]) -> GroupDescription {
    GroupDescription {
        state: if members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        },
        protocol_type: if members.is_empty() {
            String::new()
        } else {
            "consumer".into()
        },
        protocol_name: if members.is_empty() {
            String::new()
        } else {
            ZOOKEEPER_PROTOCOL.into()
        },
        members: members
            .iter()
            .map(|m| MemberDescription {
                member_id: m.id.clone(),
                group_instance_id: None,
                client_id: String::new(),
                client_host: m.host.clone(),
                metadata: subscription_bytes(&m.topics),
                assignment: assignment_bytes(&m.owned),
            })
            .collect(),
    }
}

/// Kafka owner data is `<consumer-id>-<thread>`, pykafka's is the id itself.
fn owns(member_id: &str, owner: &str) -> bool {
    owner == member_id
        || owner
            .strip_prefix(member_id)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|thread| thread.chars().all(|c| c.is_ascii_digit()))
}

/// pykafka 2.8 on Python 3 formats the topic's bytes into the path, so its
/// owner directories are named `b'<topic>'`.
fn owner_topic(dir: &str) -> &str {
    dir.strip_prefix("b'").and_then(|d| d.strip_suffix('\'')).unwrap_or(dir)
}

/// `<partition>` (Kafka) or `<leader>-<partition>` (pykafka).
fn owner_partition(node: &str) -> Option<i32> {
    node.rsplit('-').next()?.parse().ok().filter(|p: &i32| *p >= 0)
}

fn subscribed_topics(data: &[u8]) -> Vec<String> {
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Some(serde_json::Value::Object(sub)) = obj.get("subscription") {
            return sub.keys().cloned().collect();
        }
        return Vec::new();
    }
    let text = String::from_utf8_lossy(data).trim().to_string();
    if text.is_empty() {
        Vec::new()
    } else {
        vec![text]
    }
}

/// Kafka: `<group>_<host>-<timestamp>-<hex>`; pykafka: `<host>:<uuid>`.
fn host_of(group: &str, id: &str) -> String {
    if let Some(rest) = id.strip_prefix(group).and_then(|r| r.strip_prefix('_')) {
        let parts: Vec<&str> = rest.rsplitn(3, '-').collect();
        if parts.len() == 3 {
            return parts[2].to_string();
        }
    }
    match id.rsplit_once(':') {
        Some((host, _)) => host.to_string(),
        None => String::new(),
    }
}

fn versioned<T: Encodable>(message: &T) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    if message.encode(&mut buf, 0).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

fn subscription_bytes(topics: &[String]) -> Bytes {
    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = topics.iter().map(|t| StrBytes::from_string(t.clone())).collect();
    versioned(&sub)
}

fn assignment_bytes(owned: &[(String, i32)]) -> Bytes {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in owned {
        by_topic.entry(t).or_default().push(*p);
    }
    let mut assignment = ConsumerProtocolAssignment::default();
    assignment.assigned_partitions = by_topic
        .into_iter()
        .map(|(t, ps)| {
            let mut tp = TopicPartition::default();
            tp.topic = TopicName(StrBytes::from_string(t.to_string()));
            tp.partitions = ps;
            tp
        })
        .collect();
    versioned(&assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_parse() {
        assert_eq!(subscribed_topics(b"mytopic"), vec!["mytopic"]);
        assert_eq!(
            subscribed_topics(br#"{"version":1,"subscription":{"a":1},"pattern":"static","timestamp":"1"}"#),
            vec!["a"]
        );
        assert_eq!(owner_topic("b'tt'"), "tt");
        assert_eq!(owner_topic("tt"), "tt");
        assert_eq!(owner_partition("3"), Some(3));
        assert_eq!(owner_partition("1-7"), Some(7));
        assert_eq!(owner_partition("x"), None);
        assert!(owns("g_host-1-abc", "g_host-1-abc-0"));
        assert!(owns("host:uuid", "host:uuid"));
        assert!(!owns("host:uuid", "host:uuid2"));
        assert_eq!(host_of("g", "g_myhost-1700000000000-1a2b3c4d"), "myhost");
        assert_eq!(host_of("g", "my.host:0b2e-11"), "my.host");
    }
}
