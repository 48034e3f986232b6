//! `krab consumer-groups`: kafka-consumer-groups.sh. With `--bootstrap-server`
//! it goes through the group APIs (ListGroups, DescribeGroups, OffsetFetch,
//! OffsetCommit, DeleteGroups, OffsetDelete); with `--zookeeper` it reads and writes the
//! `/consumers` znodes directly, as Kafka's tool did for ZooKeeper-based
//! consumers (see `consumer_groups_zk`). Both print the same tables.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Buf;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, DeleteGroupsRequest, DescribeGroupsRequest, GroupId, ListGroupsRequest,
    MetadataRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use super::client::Client;
use super::partition_offsets::{commit_simple, coordinator, offsets_at, partition_counts, EARLIEST, LATEST};

#[derive(Clone, Debug)]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(i64),
}

#[derive(Clone, Debug)]
pub enum GroupsAction {
    List,
    Describe {
        group: String,
    },
    ResetOffsets {
        group: String,
        topic: String,
        to: ResetTo,
        execute: bool,
    },
    Delete {
        group: String,
    },
    /// (topic, partitions; empty: all of them)
    DeleteOffsets {
        group: String,
        topics: Vec<(String, Vec<i32>)>,
    },
}

/// One member as the tables show it.
#[derive(Clone, Debug, Default)]
pub struct MemberRow {
    pub id: String,
    pub host: String,
    pub client_id: String,
    pub partitions: Vec<(String, i32)>,
}

/// What either source knows about a group.
#[derive(Clone, Debug, Default)]
pub struct GroupView {
    pub state: String,
    pub members: Vec<MemberRow>,
    /// Committed offsets: (topic, partition) → offset.
    pub offsets: BTreeMap<(String, i32), i64>,
    pub exists: bool,
}

/// Runs an action through the broker's APIs; `Ok` is what to print.
pub fn run(bootstrap: &str, action: GroupsAction) -> Result<String, String> {
    match action {
        GroupsAction::List => {
            // Each broker lists the groups it coordinates: ask them all.
            let mut groups = BTreeSet::new();
            for address in broker_addresses(bootstrap)? {
                let response = Client::connect(&address)?.send(&ListGroupsRequest::default(), 2)?;
                if response.error_code != 0 {
                    return Err(format!(
                        "Error: ListGroups to {address} failed with error code {}",
                        response.error_code
                    ));
                }
                groups.extend(response.groups.iter().map(|g| g.group_id.to_string()));
            }
            Ok(groups.into_iter().collect::<Vec<_>>().join("\n"))
        }
        GroupsAction::Describe { group } => {
            let view = describe_via_broker(bootstrap, &group)?;
            describe_table(bootstrap, &group, &view)
        }
        GroupsAction::ResetOffsets {
            group,
            topic,
            to,
            execute,
        } => {
            let view = describe_via_broker(bootstrap, &group)?;
            check_inactive(&group, &view)?;
            let plan = reset_plan(bootstrap, &topic, &to)?;
            if execute {
                commit_via_broker(bootstrap, &group, &topic, &plan)?;
            }
            Ok(reset_table(&group, &topic, &plan, execute))
        }
        GroupsAction::Delete { group } => {
            let mut client = coordinator(bootstrap, &group)?;
            let request = DeleteGroupsRequest::default().with_groups_names(vec![gid(&group)]);
            let response = client.send(&request, 1)?;
            let code = response.results.first().map_or(-1, |r| r.error_code);
            deletion_message(&group, code)
        }
        GroupsAction::DeleteOffsets { group, topics } => {
            super::consumer_groups_offsets::delete_via_broker(bootstrap, &group, &topics)
        }
    }
}

/// HOST:PORT of every broker in the cluster (from Metadata).
fn broker_addresses(bootstrap: &str) -> Result<Vec<String>, String> {
    let metadata = Client::connect(bootstrap)?.send(&MetadataRequest::default().with_topics(Some(vec![])), 1)?;
    let mut out: Vec<String> = metadata
        .brokers
        .iter()
        .map(|b| format!("{}:{}", b.host, b.port))
        .collect();
    if out.is_empty() {
        out.push(bootstrap.to_string());
    }
    Ok(out)
}

pub fn deletion_message(group: &str, code: i16) -> Result<String, String> {
    match code {
        0 => Ok(format!(
            "Deletion of requested consumer groups ('{group}') was successful."
        )),
        68 => Err(format!(
            "Error: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: \
             NON_EMPTY_GROUP (the group has active members)"
        )),
        69 => Err(format!(
            "Error: Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: \
             GROUP_ID_NOT_FOUND (no such group)"
        )),
        code => Err(format!("Error: deleting group '{group}' failed with error code {code}")),
    }
}

fn gid(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

/// The members a broker coordinates for `group` (for `--zookeeper` mode,
/// which otherwise sees only ZooKeeper-registered consumers).
pub fn broker_members(bootstrap: &str, group: &str) -> Result<Vec<MemberRow>, String> {
    let mut client = coordinator(bootstrap, group)?;
    let described = client.send(&DescribeGroupsRequest::default().with_groups(vec![gid(group)]), 4)?;
    let g = described.groups.first().ok_or("empty DescribeGroups response")?;
    if g.error_code != 0 || g.protocol_data.as_str() == crate::group::zk_consumers::ZOOKEEPER_PROTOCOL {
        return Ok(vec![]);
    }
    Ok(member_rows(g))
}

fn member_rows(g: &kafka_protocol::messages::describe_groups_response::DescribedGroup) -> Vec<MemberRow> {
    let consumer_protocol = g.protocol_type.as_str() == "consumer";
    g.members
        .iter()
        .map(|m| MemberRow {
            id: m.member_id.to_string(),
            host: m.client_host.to_string(),
            client_id: m.client_id.to_string(),
            partitions: if consumer_protocol {
                decode_assignment(&m.member_assignment)
            } else {
                vec![]
            },
        })
        .collect()
}

fn describe_via_broker(bootstrap: &str, group: &str) -> Result<GroupView, String> {
    let mut client = coordinator(bootstrap, group)?;
    let described = client.send(&DescribeGroupsRequest::default().with_groups(vec![gid(group)]), 4)?;
    let g = described.groups.first().ok_or("empty DescribeGroups response")?;
    if g.error_code != 0 {
        return Err(format!(
            "Error: describing group '{group}' failed with error code {}",
            g.error_code
        ));
    }
    let members = member_rows(g);
    let offsets = committed_offsets(&mut client, group)
        .map_err(|e| format!("Error: fetching offsets of group '{group}' failed: {e}"))?;
    let state = g.group_state.to_string();
    Ok(GroupView {
        exists: state != "Dead" || !offsets.is_empty(),
        state,
        members,
        offsets,
    })
}

/// Every committed offset of `group` (OffsetFetch v3, all topics), asked of
/// `client`, which must be connected to the group's coordinator.
pub fn committed_offsets(client: &mut Client, group: &str) -> Result<BTreeMap<(String, i32), i64>, String> {
    let request = OffsetFetchRequest::default()
        .with_group_id(gid(group))
        .with_topics(None);
    let fetched = client.send(&request, 3)?;
    if fetched.error_code != 0 {
        return Err(format!("error code {}", fetched.error_code));
    }
    let mut offsets = BTreeMap::new();
    for t in &fetched.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                offsets.insert((t.name.to_string(), p.partition_index), p.committed_offset);
            }
        }
    }
    Ok(offsets)
}

/// The (topic, partition) list of a consumer-protocol assignment; empty if unreadable.
pub(crate) fn decode_assignment(bytes: &bytes::Bytes) -> Vec<(String, i32)> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return vec![];
    }
    let version = buf.get_i16().clamp(0, 3);
    match ConsumerProtocolAssignment::decode(&mut buf, version) {
        Ok(a) => a
            .assigned_partitions
            .iter()
            .flat_map(|tp| tp.partitions.iter().map(move |p| (tp.topic.to_string(), *p)))
            .collect(),
        Err(_) => vec![],
    }
}

pub fn check_inactive(group: &str, view: &GroupView) -> Result<(), String> {
    if view.members.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Error: Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
        view.state
    ))
}

/// New offset per partition of `topic`; --to-offset is clamped to the log's range, as Kafka does.
pub fn reset_plan(bootstrap: &str, topic: &str, to: &ResetTo) -> Result<Vec<(i32, i64)>, String> {
    let counts = partition_counts(bootstrap, &[topic.to_string()])?;
    let count = *counts
        .get(topic)
        .ok_or_else(|| format!("Error: topic '{topic}' does not exist"))?;
    let partitions: Vec<(String, i32)> = (0..count).map(|p| (topic.to_string(), p)).collect();
    let earliest = offsets_at(bootstrap, &partitions, EARLIEST)?;
    let latest = offsets_at(bootstrap, &partitions, LATEST)?;
    let mut plan = Vec::new();
    for key in &partitions {
        let (lo, hi) = match (earliest.get(key), latest.get(key)) {
            (Some(lo), Some(hi)) => (*lo, *hi),
            _ => return Err(format!("Error: no leader answered for {}-{}", key.0, key.1)),
        };
        let offset = match to {
            ResetTo::Earliest => lo,
            ResetTo::Latest => hi,
            ResetTo::Offset(n) => (*n).clamp(lo, hi),
        };
        plan.push((key.1, offset));
    }
    Ok(plan)
}

fn commit_via_broker(bootstrap: &str, group: &str, topic: &str, plan: &[(i32, i64)]) -> Result<(), String> {
    let mut client = coordinator(bootstrap, group)?;
    commit_simple(&mut client, group, topic, plan).map_err(|e| format!("Error: committing the new offset of {e}"))
}

pub fn reset_table(group: &str, topic: &str, plan: &[(i32, i64)], executed: bool) -> String {
    let rows: Vec<Vec<String>> = plan
        .iter()
        .map(|(p, o)| vec![group.to_string(), topic.to_string(), p.to_string(), o.to_string()])
        .collect();
    let mut out = table(&["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], &rows);
    if !executed {
        out.push_str("\nWARN: No action was performed as the --execute option is missing.");
    }
    out
}

/// Kafka's describe table: one row per partition the group has an offset
/// for or a member owns, with the log end offset and lag from the leaders.
pub fn describe_table(bootstrap: &str, group: &str, view: &GroupView) -> Result<String, String> {
    if !view.exists && view.members.is_empty() {
        return Err(format!("Error: Consumer group '{group}' does not exist."));
    }
    let mut partitions: BTreeSet<(String, i32)> = view.offsets.keys().cloned().collect();
    for m in &view.members {
        partitions.extend(m.partitions.iter().cloned());
    }
    let list: Vec<(String, i32)> = partitions.iter().cloned().collect();
    let ends = offsets_at(bootstrap, &list, LATEST)?;
    let mut rows = Vec::new();
    for key in &list {
        let owner = view.members.iter().find(|m| m.partitions.contains(key));
        let current = view.offsets.get(key).copied();
        let end = ends.get(key).copied();
        let dash = || "-".to_string();
        rows.push(vec![
            key.0.clone(),
            key.1.to_string(),
            current.map_or_else(dash, |c| c.to_string()),
            end.map_or_else(dash, |e| e.to_string()),
            match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => dash(),
            },
            owner.map_or_else(dash, |m| m.id.clone()),
            owner.map_or_else(dash, |m| non_empty(&m.host)),
            owner.map_or_else(dash, |m| non_empty(&m.client_id)),
        ]);
    }
    let mut out = String::new();
    if view.members.is_empty() {
        out.push_str(&format!("Consumer group '{group}' has no active members.\n\n"));
    }
    out.push_str(&table(
        &[
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    ));
    Ok(out)
}

fn non_empty(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// Left-aligned columns, each as wide as its widest cell, one space apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        padded.join(" ").trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}
