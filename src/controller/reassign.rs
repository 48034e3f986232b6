//! Partition reassignment, Kafka's way (KIP-455's phases on the ZooKeeper
//! layout): for each partition in `/admin/reassign_partitions` the
//! controller, one step per round,
//! 1. widens the assignment to target + current replicas (the new ones are
//!    opened by their brokers and start following),
//! 2. waits until every target replica is in the ISR,
//! 3. moves leadership into the target set if the leader is leaving,
//! 4. narrows the assignment and the ISR to the target (brokers dropped
//!    delete their replica),
//!
//! and removes the partition from the request once done. A request naming
//! an unknown topic or partition is dropped with a warning.

use std::sync::Arc;

use crate::broker::Broker;
use crate::metadata::PartitionState;

use super::write_state;

pub async fn run(broker: &Arc<Broker>, live: &[i32]) -> usize {
    let pending = match broker.layout.pending_reassignment().await {
        Ok(Some(p)) => p,
        Ok(None) => return 0,
        Err(e) => {
            tracing::warn!(error = %e, "removing an unreadable /admin/reassign_partitions");
            let _ = broker.layout.set_pending_reassignment(&Default::default(), false).await;
            return 0;
        }
    };
    let mut remaining = pending.clone();
    let mut written = 0;
    for ((topic, partition), target) in &pending {
        match step(broker, live, topic, *partition, target).await {
            Step::Done => {
                tracing::info!(topic, partition, replicas = ?target, "reassignment completed");
                remaining.remove(&(topic.clone(), *partition));
            }
            Step::Invalid(why) => {
                tracing::warn!(topic, partition, why, "dropping an invalid reassignment");
                remaining.remove(&(topic.clone(), *partition));
            }
            Step::Progress => written += 1,
            Step::Waiting => {}
        }
    }
    if remaining != pending {
        if let Err(e) = broker.layout.set_pending_reassignment(&remaining, false).await {
            tracing::warn!(error = %e, "cannot update /admin/reassign_partitions");
        }
    }
    written
}

enum Step {
    Done,
    Progress,
    Waiting,
    Invalid(String),
}

async fn step(broker: &Arc<Broker>, live: &[i32], topic: &str, partition: i32, target: &[i32]) -> Step {
    let assignment = match broker.layout.topic_assignment(topic).await {
        Ok(Some(a)) => a,
        Ok(None) => return Step::Invalid("no such topic".into()),
        Err(_) => return Step::Waiting,
    };
    let Some(current) = assignment.get(&partition).cloned() else {
        return Step::Invalid("no such partition".into());
    };
    let Ok(Some((state, version))) = broker.layout.partition_state(topic, partition).await else {
        return Step::Waiting;
    };
    // Done only once every target replica is in sync: a move that only
    // adds replicas has the target as its widened assignment from the start.
    if current == target {
        return if target.iter().all(|r| state.isr.contains(r)) {
            Step::Done
        } else {
            Step::Waiting
        };
    }
    let epoch = broker.controller_epoch();
    // 1. Widen.
    if !target.iter().all(|r| current.contains(r)) {
        let mut widened: Vec<i32> = target.to_vec();
        widened.extend(current.iter().filter(|r| !target.contains(r)));
        let mut next = assignment.clone();
        next.insert(partition, widened);
        return match broker.layout.set_topic_assignment(topic, &next).await {
            Ok(()) => Step::Progress,
            Err(e) => {
                tracing::warn!(topic, partition, error = %e, "cannot widen the assignment");
                Step::Waiting
            }
        };
    }
    // 2. Wait for the target replicas to catch up.
    if !target.iter().all(|r| state.isr.contains(r)) {
        return Step::Waiting;
    }
    // 3. Leadership into the target set.
    if !target.contains(&state.leader) {
        let Some(leader) = target
            .iter()
            .copied()
            .find(|r| state.isr.contains(r) && live.contains(r))
        else {
            return Step::Waiting;
        };
        let next = PartitionState {
            leader,
            leader_epoch: state.leader_epoch + 1,
            isr: state.isr.clone(),
            controller_epoch: epoch,
        };
        return if write_state(broker, topic, partition, &state, &next, version).await {
            Step::Progress
        } else {
            Step::Waiting
        };
    }
    // 4. Narrow the ISR, then the assignment.
    let isr: Vec<i32> = state.isr.iter().copied().filter(|r| target.contains(r)).collect();
    if isr != state.isr {
        let next = PartitionState {
            leader: state.leader,
            leader_epoch: state.leader_epoch + 1,
            isr,
            controller_epoch: epoch,
        };
        if !write_state(broker, topic, partition, &state, &next, version).await {
            return Step::Waiting;
        }
    }
    let mut next = assignment.clone();
    next.insert(partition, target.to_vec());
    match broker.layout.set_topic_assignment(topic, &next).await {
        Ok(()) => Step::Progress,
        Err(e) => {
            tracing::warn!(topic, partition, error = %e, "cannot narrow the assignment");
            Step::Waiting
        }
    }
}
