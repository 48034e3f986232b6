//! The metadata store's side of a refresh: every group under /consumers with
//! its offset znodes (value, ctime, mtime: KafkaOffsetMonitor's Offset,
//! Created and Last Seen), owner znodes (its Owner, in Kafka's and pykafka's
//! naming) and registered ZooKeeper consumers.

use std::collections::BTreeMap;

use crate::group::zk_consumers::{self, ZkMember};
use crate::metadata::kafka_json::parse_decimal;
use crate::metadata::layout::paths;
use crate::metadata::{KafkaLayout, LayoutError};

#[derive(Debug, Default)]
pub struct StoredGroup {
    /// Consumers registered under /consumers/<g>/ids.
    pub members: Vec<ZkMember>,
    pub offsets: BTreeMap<(String, i32), StoredOffset>,
    /// Owner znode data per partition.
    pub owners: BTreeMap<(String, i32), String>,
}

#[derive(Debug)]
pub struct StoredOffset {
    /// The offset, or why the znode is not one.
    pub value: Result<i64, String>,
    pub ctime_ms: i64,
    pub mtime_ms: i64,
}

/// Groups read at once: ZooKeeper answers one request per round trip, so a
/// refresh of many groups is bound by latency, not by ZooKeeper's capacity.
const PARALLEL_GROUPS: usize = 16;

pub async fn read_groups(layout: &KafkaLayout) -> Result<BTreeMap<String, StoredGroup>, LayoutError> {
    let mut groups = BTreeMap::new();
    let mut reads = tokio::task::JoinSet::new();
    let mut pending = layout.list_groups().await?.into_iter();
    loop {
        while reads.len() < PARALLEL_GROUPS {
            let Some(group) = pending.next() else {
                break;
            };
            let layout = layout.clone();
            reads.spawn(async move {
                let stored = read_group(&layout, &group).await;
                (group, stored)
            });
        }
        let Some(done) = reads.join_next().await else {
            break;
        };
        match done {
            Ok((group, stored)) => {
                groups.insert(group, stored?);
            }
            Err(e) => tracing::warn!(error = %e, "a group read failed"),
        }
    }
    Ok(groups)
}

async fn read_group(layout: &KafkaLayout, group: &str) -> Result<StoredGroup, LayoutError> {
    let (members, owners) = zk_consumers::members_and_owners(layout, group).await?;
    let mut out = StoredGroup {
        members,
        owners,
        offsets: BTreeMap::new(),
    };
    for (topic, partitions) in layout.group_offset_partitions(group).await? {
        for partition in partitions {
            let path = paths::consumer_offset(group, &topic, partition);
            let Some((data, stat)) = layout.store().get(&path).await? else {
                continue; // deleted while we looked
            };
            let value = parse_decimal(&data).and_then(|v| {
                if v >= 0 {
                    Ok(v)
                } else {
                    Err(format!("negative offset {v}"))
                }
            });
            out.offsets.insert(
                (topic.clone(), partition),
                StoredOffset {
                    value,
                    ctime_ms: stat.ctime_ms,
                    mtime_ms: stat.mtime_ms,
                },
            );
        }
    }
    Ok(out)
}
