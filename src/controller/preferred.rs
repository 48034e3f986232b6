//! Preferred-replica elections: requested through
//! `/admin/preferred_replica_election` (what `kafka-preferred-replica-election.sh`
//! writes) or made by the controller itself when
//! `auto.leader.rebalance.enable` finds a broker leading more than
//! `leader.imbalance.per.broker.percentage` of the partitions it prefers.

use std::sync::Arc;
use std::time::Instant;

use crate::broker::Broker;

use super::{election, write_state};

/// Runs requested elections, and the automatic one when due. Returns the
/// number of states written.
pub async fn run(broker: &Arc<Broker>, live: &[i32]) -> usize {
    let mut written = 0;
    match broker.layout.preferred_election_request().await {
        Ok(Some(partitions)) => {
            written += elect(broker, live, &partitions).await;
            if let Err(e) = broker.layout.clear_preferred_election_request().await {
                tracing::warn!(error = %e, "cannot remove /admin/preferred_replica_election");
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable /admin/preferred_replica_election");
            let _ = broker.layout.clear_preferred_election_request().await;
        }
    }
    if broker.config.auto_leader_rebalance_enable && auto_check_due(broker) {
        let imbalanced = imbalanced_partitions(broker, live);
        if !imbalanced.is_empty() {
            written += elect(broker, live, &imbalanced).await;
        }
    }
    written
}

fn auto_check_due(broker: &Broker) -> bool {
    let every = std::time::Duration::from_secs(broker.config.leader_imbalance_check_interval_seconds);
    let mut last = broker.last_rebalance_check.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match *last {
        Some(at) if now.duration_since(at) < every => false,
        Some(_) => {
            *last = Some(now);
            true
        }
        None => {
            // The first check comes one interval after start, as in Kafka.
            *last = Some(now);
            false
        }
    }
}

/// Partitions whose preferred replica is live but does not lead, for
/// brokers whose share of such partitions is above the allowed percentage.
fn imbalanced_partitions(broker: &Broker, live: &[i32]) -> Vec<(String, i32)> {
    let mut per_broker: std::collections::BTreeMap<i32, (usize, Vec<(String, i32)>)> = Default::default();
    for name in broker.topic_names() {
        let Some(topic) = broker.topic(&name) else { continue };
        for (index, meta) in topic.meta().iter().enumerate() {
            let Some(&preferred) = meta.replicas.first() else {
                continue;
            };
            let entry = per_broker.entry(preferred).or_default();
            entry.0 += 1;
            if meta.leader != preferred && live.contains(&preferred) && meta.isr.contains(&preferred) {
                entry.1.push((name.clone(), index as i32));
            }
        }
    }
    let allowed = broker.config.leader_imbalance_per_broker_percentage as usize;
    per_broker
        .into_values()
        .filter(|(total, off)| *total > 0 && off.len() * 100 / total > allowed)
        .flat_map(|(_, off)| off)
        .collect()
}

/// Moves leadership of `partitions` to their preferred replicas where possible.
pub async fn elect(broker: &Arc<Broker>, live: &[i32], partitions: &[(String, i32)]) -> usize {
    let epoch = broker.controller_epoch();
    let mut written = 0;
    for (topic, partition) in partitions {
        let Some(replicas) = broker.topic(topic).and_then(|t| {
            t.meta()
                .get(usize::try_from(*partition).ok()?)
                .map(|m| m.replicas.clone())
        }) else {
            continue;
        };
        let Ok(Some((state, version))) = broker.layout.partition_state(topic, *partition).await else {
            continue;
        };
        if let Some(next) = election::preferred(&state, &replicas, live, epoch) {
            if write_state(broker, topic, *partition, &state, &next, version).await {
                written += 1;
            }
        }
    }
    written
}

/// One election asked for through ElectLeaders: preferred (the first
/// assigned replica, if live and in the ISR) or unclean (any live replica,
/// only when the partition has no live leader). The answer is the
/// partition's error code.
pub async fn elect_one(broker: &Arc<Broker>, topic: &str, partition: i32, unclean: bool) -> crate::protocol::ErrorCode {
    use crate::protocol::ErrorCode;
    let Some(replicas) = broker.topic(topic).and_then(|t| {
        t.meta()
            .get(usize::try_from(partition).ok()?)
            .map(|m| m.replicas.clone())
    }) else {
        return ErrorCode::UnknownTopicOrPartition;
    };
    let live = broker.live_broker_ids().await;
    let Ok(Some((state, version))) = broker.layout.partition_state(topic, partition).await else {
        return ErrorCode::UnknownTopicOrPartition;
    };
    let epoch = broker.controller_epoch();
    let next = if unclean {
        if state.leader >= 0 && live.contains(&state.leader) {
            return ErrorCode::ElectionNotNeeded;
        }
        match election::after_broker_change(&state, &replicas, &live, true, epoch) {
            Some(next) if next.leader >= 0 => next,
            _ => return ErrorCode::EligibleLeadersNotAvailable,
        }
    } else {
        if replicas.first() == Some(&state.leader) {
            return ErrorCode::ElectionNotNeeded;
        }
        match election::preferred(&state, &replicas, &live, epoch) {
            Some(next) => next,
            None => return ErrorCode::PreferredLeaderNotAvailable,
        }
    };
    if write_state(broker, topic, partition, &state, &next, version).await {
        ErrorCode::None
    } else {
        // The state changed under us; the client may ask again.
        ErrorCode::PreferredLeaderNotAvailable
    }
}

/// Moves a partition's leadership to `to`, a live in-sync replica (fault
/// injection: `krab fault move-leader`). Written like any election: a new
/// leader epoch, compare-and-set on the state znode.
pub async fn move_leader(broker: &Arc<Broker>, topic: &str, partition: i32, to: i32) -> Result<i32, String> {
    let Ok(Some((state, version))) = broker.layout.partition_state(topic, partition).await else {
        return Err(format!("unknown partition {topic}-{partition}"));
    };
    if state.leader == to {
        return Err(format!("broker {to} already leads {topic}-{partition}"));
    }
    let live = broker.live_broker_ids().await;
    if !live.contains(&to) || !state.isr.contains(&to) {
        return Err(format!(
            "broker {to} is not a live in-sync replica of {topic}-{partition} (ISR {:?}, live {:?})",
            state.isr, live
        ));
    }
    let next = crate::metadata::PartitionState {
        leader: to,
        leader_epoch: state.leader_epoch + 1,
        isr: state.isr.clone(),
        controller_epoch: broker.controller_epoch(),
    };
    if write_state(broker, topic, partition, &state, &next, version).await {
        Ok(next.leader_epoch)
    } else {
        Err("the partition's state changed meanwhile; try again".into())
    }
}
