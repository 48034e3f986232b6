//! `krab consumer-groups --zookeeper HOST:PORT`: reads and writes the
//! `/consumers/<group>` znodes directly, as kafka-consumer-groups.sh did for
//! ZooKeeper-based consumers: groups are the children of `/consumers`,
//! offsets the `offsets` znodes, members the `ids` and their partitions the
//! `owners`. Log end offsets come from the brokers registered under
//! `/brokers/ids`. Live consumers' znodes are never written or deleted.
//! `--delete-offsets` removes offset znodes (with krab's details of them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::consumer_groups::{
    broker_members, check_inactive, deletion_message, describe_table, reset_plan, reset_table, GroupView, GroupsAction,
    MemberRow,
};
use super::consumer_groups_offsets::{result_table, summary};
use crate::group::zk_consumers;
use crate::metadata::{KafkaLayout, ZkStore};

pub fn run(connect: &str, action: GroupsAction) -> Result<String, String> {
    // Multi-threaded so the blocking broker calls can run in place.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    runtime.block_on(async {
        let store = ZkStore::connect(connect, Duration::from_secs(10))
            .await
            .map_err(|e| format!("Error: cannot connect to ZooKeeper at {connect}: {e}"))?;
        let layout = KafkaLayout::new(Arc::new(store));
        let failed = |e: crate::metadata::LayoutError| format!("Error: ZooKeeper: {e}");
        match action {
            GroupsAction::List => Ok(layout.list_groups().await.map_err(failed)?.join("\n")),
            GroupsAction::Describe { group } => {
                let mut view = read_group(&layout, &group).await.map_err(failed)?;
                let bootstrap = some_broker(&layout).await?;
                tokio::task::block_in_place(|| {
                    add_broker_members(&bootstrap, &group, &mut view);
                    describe_table(&bootstrap, &group, &view)
                })
            }
            GroupsAction::ResetOffsets {
                group,
                topic,
                to,
                execute,
            } => {
                let mut view = read_group(&layout, &group).await.map_err(failed)?;
                let bootstrap = some_broker(&layout).await?;
                let plan = tokio::task::block_in_place(|| {
                    add_broker_members(&bootstrap, &group, &mut view);
                    check_inactive(&group, &view)?;
                    reset_plan(&bootstrap, &topic, &to)
                })?;
                if execute {
                    for (partition, offset) in &plan {
                        layout
                            .commit_offset(&group, &topic, *partition, *offset)
                            .await
                            .map_err(failed)?;
                    }
                }
                Ok(reset_table(&group, &topic, &plan, execute))
            }
            GroupsAction::Delete { group } => {
                let mut view = read_group(&layout, &group).await.map_err(failed)?;
                if let Ok(bootstrap) = some_broker(&layout).await {
                    tokio::task::block_in_place(|| add_broker_members(&bootstrap, &group, &mut view));
                }
                if !view.members.is_empty() {
                    return deletion_message(&group, 68);
                }
                let existed = layout.delete_group(&group).await.map_err(failed)?;
                deletion_message(&group, if existed { 0 } else { 69 })
            }
            GroupsAction::DeleteOffsets { group, topics } => delete_offsets(&layout, &group, &topics).await,
        }
    })
}

/// Members of a group the brokers coordinate are not in ZooKeeper: ask the
/// group's coordinator too (an unreachable broker only hides them).
fn add_broker_members(bootstrap: &str, group: &str, view: &mut GroupView) {
    match broker_members(bootstrap, group) {
        Ok(members) if !members.is_empty() => {
            view.state = "Stable".into();
            view.members.extend(members);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot ask the brokers about group members"),
    }
}

async fn read_group(layout: &KafkaLayout, group: &str) -> Result<GroupView, crate::metadata::LayoutError> {
    let members = zk_consumers::members(layout, group).await?;
    let mut view = GroupView {
        exists: layout.group_exists(group).await?,
        state: if members.is_empty() {
            "Empty".into()
        } else {
            "Stable".into()
        },
        ..GroupView::default()
    };
    for (topic, partitions) in layout.group_offset_partitions(group).await? {
        for p in partitions {
            if let Some(offset) = layout.fetch_offset(group, &topic, p).await? {
                view.offsets.insert((topic.clone(), p), offset);
            }
        }
    }
    view.members = members
        .into_iter()
        .map(|m| MemberRow {
            id: m.id,
            host: m.host,
            client_id: String::new(),
            partitions: m.owned,
        })
        .collect();
    Ok(view)
}

/// `--delete-offsets` on the znodes: refused for topics a ZooKeeper-registered
/// consumer subscribes to or a broker-coordinated member is assigned.
async fn delete_offsets(layout: &KafkaLayout, group: &str, topics: &[(String, Vec<i32>)]) -> Result<String, String> {
    let failed = |e: crate::metadata::LayoutError| format!("Error: ZooKeeper: {e}");
    if !layout.group_exists(group).await.map_err(failed)? {
        return Err(summary(group, topics, 69));
    }
    let mut consumed: BTreeSet<String> = zk_consumers::members(layout, group)
        .await
        .map_err(failed)?
        .into_iter()
        .flat_map(|m| m.topics)
        .collect();
    let mut has_members = !consumed.is_empty();
    if let Ok(bootstrap) = some_broker(layout).await {
        match tokio::task::block_in_place(|| broker_members(&bootstrap, group)) {
            Ok(members) => {
                has_members |= !members.is_empty();
                consumed.extend(members.into_iter().flat_map(|m| m.partitions).map(|(t, _)| t));
            }
            Err(e) => tracing::warn!(error = %e, "cannot ask the brokers about group members"),
        }
    }
    let with_offsets: BTreeMap<String, Vec<i32>> = layout
        .group_offset_partitions(group)
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    let mut results = BTreeMap::new();
    for (topic, partitions) in topics {
        let partitions = if partitions.is_empty() {
            with_offsets.get(topic).cloned().unwrap_or_default()
        } else {
            partitions.clone()
        };
        for p in partitions {
            let code = if consumed.contains(topic) {
                86 // GROUP_SUBSCRIBED_TO_TOPIC
            } else {
                layout.delete_offset(group, topic, p).await.map_err(failed)?;
                0
            };
            results.insert((topic.clone(), p), code);
        }
    }
    if !has_members {
        layout.forget_group_if_no_offsets(group).await.map_err(failed)?;
    }
    result_table(summary(group, topics, 0), &results, true)
}

async fn some_broker(layout: &KafkaLayout) -> Result<String, String> {
    let brokers = layout
        .live_brokers()
        .await
        .map_err(|e| format!("Error: ZooKeeper: {e}"))?;
    brokers
        .first()
        .map(|b| format!("{}:{}", b.host, b.port))
        .ok_or_else(|| "Error: No brokers found in ZK.".to_string())
}
