//! `krab topics --zookeeper`: kafka-topics.sh's ZooKeeper mode, which reads
//! and writes the znodes itself, as Kafka's TopicCommand did: creation
//! writes /config/topics/<t> then /brokers/topics/<t> (the controller
//! creates the state znodes), `--alter` rewrites the assignment or the
//! config with a /config/changes notification, `--delete` only writes the
//! /admin/delete_topics/<t> marker. Every check runs before the first write.

use std::collections::BTreeMap;

use crate::broker::topic_rules::{
    assign_replicas_from, validate_topic_config, validate_topic_name, TopicError, MAX_PARTITIONS,
};
use crate::metadata::{KafkaLayout, LayoutError};

use super::cluster::{connect_zookeeper, runtime};
use super::topics::{describe_header, describe_partition, DescribeFilter, TopicsAction};

fn zk(e: LayoutError) -> String {
    format!("ZooKeeper: {e}")
}

fn command_error(e: impl std::fmt::Display) -> String {
    format!("Error while executing topic command : {e}")
}

/// Runs the action against ZooKeeper at `connect`.
pub fn run(connect: &str, action: TopicsAction) -> Result<String, String> {
    let rt = runtime()?;
    let layout = connect_zookeeper(&rt, connect)?;
    rt.block_on(run_async(&layout, action))
}

async fn live_ids(layout: &KafkaLayout) -> Result<Vec<i32>, String> {
    Ok(layout.live_brokers().await.map_err(zk)?.iter().map(|b| b.id).collect())
}

/// Checks explicit replica lists against the live brokers.
fn check_manual(lists: &[Vec<i32>], first_partition: usize, live: &[i32]) -> Result<(), String> {
    for (i, replicas) in lists.iter().enumerate() {
        if let Some(unknown) = replicas.iter().find(|r| !live.contains(r)) {
            return Err(command_error(TopicError::InvalidAssignment(format!(
                "partition {}: broker {unknown} is not a live broker (live: {live:?})",
                first_partition + i
            ))));
        }
    }
    Ok(())
}

async fn run_async(layout: &KafkaLayout, action: TopicsAction) -> Result<String, String> {
    match action {
        TopicsAction::Create {
            topic,
            partitions,
            replication_factor,
            config,
            replica_assignment,
            if_not_exists,
        } => {
            validate_topic_name(&topic).map_err(command_error)?;
            validate_topic_config(&config).map_err(command_error)?;
            let live = live_ids(layout).await?;
            let assignment: BTreeMap<i32, Vec<i32>> = match replica_assignment {
                Some(lists) => {
                    check_manual(&lists, 0, &live)?;
                    lists.into_iter().enumerate().map(|(p, r)| (p as i32, r)).collect()
                }
                None => {
                    if partitions < 1 {
                        return Err(command_error(TopicError::InvalidPartitions(partitions)));
                    }
                    if partitions > MAX_PARTITIONS {
                        return Err(command_error(TopicError::TooManyPartitions(partitions)));
                    }
                    if replication_factor < 1 || replication_factor as usize > live.len() {
                        return Err(command_error(TopicError::InvalidReplicationFactor(
                            replication_factor,
                            live.len(),
                        )));
                    }
                    assign_replicas_from(&live, 0, partitions, replication_factor, None)
                }
            };
            match layout.create_topic(&topic, &assignment, &config).await {
                Ok(()) => Ok(format!("Created topic {topic}.")),
                Err(LayoutError::TopicExists(_)) if if_not_exists => Ok(String::new()),
                Err(LayoutError::TopicExists(_)) => Err(command_error(format!("Topic '{topic}' already exists."))),
                Err(e) => Err(command_error(zk(e))),
            }
        }
        TopicsAction::List => {
            let mut out = Vec::new();
            for name in layout.list_topics().await.map_err(zk)? {
                if layout.is_marked_for_deletion(&name).await.unwrap_or(false) {
                    out.push(format!("{name} - marked for deletion"));
                } else {
                    out.push(name);
                }
            }
            Ok(out.join("\n"))
        }
        TopicsAction::Describe { topic, filter } => {
            let live: Vec<i32> = layout
                .live_brokers()
                .await
                .map_err(zk)?
                .into_iter()
                .map(|b| b.id)
                .collect();
            let names = match topic {
                Some(t) => vec![t],
                None => layout.list_topics().await.map_err(zk)?,
            };
            let mut out = Vec::new();
            for name in names {
                let Some(assignment) = layout.topic_assignment(&name).await.map_err(zk)? else {
                    return Err(command_error(format!("Topic '{name}' does not exist as expected")));
                };
                let config = layout.topic_config(&name).await.map_err(zk)?.unwrap_or_default();
                let rf = assignment.values().next().map_or(0, Vec::len);
                let mut header = describe_header(&name, assignment.len(), rf, &config);
                if layout.is_marked_for_deletion(&name).await.map_err(zk)? {
                    header.push_str("\tMarkedForDeletion: true");
                }
                if filter == DescribeFilter::All {
                    out.push(header);
                }
                let min_isr = config
                    .get("min.insync.replicas")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                for (p, replicas) in &assignment {
                    let (leader, isr) = match layout.partition_state(&name, *p).await.map_err(zk)? {
                        Some((state, _)) => (state.leader, state.isr),
                        None => (-1, vec![]),
                    };
                    if filter.keeps(leader, replicas, &isr, &live, min_isr) {
                        out.push(describe_partition(&name, *p, leader, replicas, &isr));
                    }
                }
            }
            Ok(out.join("\n"))
        }
        TopicsAction::Alter {
            topic,
            partitions,
            replica_assignment,
            set_config,
            delete_config,
            if_exists,
        } => {
            let Some(existing) = layout.topic_assignment(&topic).await.map_err(zk)? else {
                if if_exists {
                    return Ok(String::new());
                }
                return Err(command_error(format!("Topic '{topic}' does not exist as expected")));
            };
            if partitions.is_none() && set_config.is_empty() && delete_config.is_empty() {
                return Err(command_error("--alter needs --partitions, --config or --delete-config"));
            }
            // Check everything before writing anything.
            let mut new_config = None;
            if !set_config.is_empty() || !delete_config.is_empty() {
                let mut config = layout.topic_config(&topic).await.map_err(zk)?.unwrap_or_default();
                config.extend(set_config);
                for k in &delete_config {
                    config.remove(k);
                }
                validate_topic_config(&config).map_err(command_error)?;
                new_config = Some(config);
            }
            let mut new_assignment = None;
            if let Some(count) = partitions {
                let current = existing.len();
                if count <= current as i32 {
                    return Err(command_error(TopicError::PartitionsNotIncreased(topic, current, count)));
                }
                if count > MAX_PARTITIONS {
                    return Err(command_error(TopicError::TooManyPartitions(count)));
                }
                let adding = count - current as i32;
                let live = live_ids(layout).await?;
                let added = match replica_assignment {
                    Some(lists) => {
                        if lists.len() != adding as usize {
                            return Err(command_error(format!(
                                "--replica-assignment lists {} partitions, {adding} are being added",
                                lists.len()
                            )));
                        }
                        check_manual(&lists, current, &live)?;
                        lists
                            .into_iter()
                            .enumerate()
                            .map(|(i, r)| ((current + i) as i32, r))
                            .collect()
                    }
                    None => {
                        let rf = existing.values().next().map_or(1, Vec::len);
                        if rf > live.len() {
                            return Err(command_error(TopicError::InvalidReplicationFactor(
                                rf as i16,
                                live.len(),
                            )));
                        }
                        let mut sorted = live.clone();
                        sorted.sort_unstable();
                        let start = existing
                            .get(&0)
                            .and_then(|r| r.first())
                            .and_then(|l| sorted.iter().position(|b| b == l));
                        assign_replicas_from(&live, current as i32, adding, rf as i16, start)
                    }
                };
                let mut full = existing.clone();
                full.extend(added);
                new_assignment = Some(full);
            }
            let mut out = Vec::new();
            if let Some(full) = new_assignment {
                layout.set_topic_assignment(&topic, &full).await.map_err(zk)?;
                out.push("Adding partitions succeeded!".to_string());
            }
            if let Some(config) = new_config {
                layout.change_topic_config(&topic, &config).await.map_err(zk)?;
                out.push(format!("Updated config for topic {topic}."));
            }
            Ok(out.join("\n"))
        }
        TopicsAction::Delete { topic, if_exists } => {
            if layout.topic_assignment(&topic).await.map_err(zk)?.is_none() {
                if if_exists {
                    return Ok(String::new());
                }
                return Err(command_error(format!("Topic '{topic}' does not exist as expected")));
            }
            if layout.mark_topic_for_deletion(&topic).await.map_err(zk)? {
                Ok(format!(
                    "Topic {topic} is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true."
                ))
            } else {
                Ok(format!("Topic {topic} is already marked for deletion."))
            }
        }
    }
}
