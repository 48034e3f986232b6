//! The controller: the one broker holding the ephemeral `/controller` znode
//! (with `/controller_epoch` bumped on every takeover). Each round it reads
//! the live brokers and every partition's state znode and writes the states
//! Kafka's rules ask for (`election`): a new leader where the leader is
//! gone, ISR members that are gone removed, leaderless partitions given a
//! leader when an ISR member returns. Writes are conditional on the znode
//! version read in the same round, and a controller that finds a state
//! written under a newer controller epoch, or `/controller` naming someone
//! else, steps down before writing anything.
//! Brokers follow the state znodes themselves (see
//! `Broker::sync_partition_states`) instead of receiving LeaderAndIsr
//! requests.

pub mod election;
pub mod preferred;
pub mod reassign;

use std::sync::Arc;

use crate::broker::Broker;
use crate::metadata::{LayoutError, PartitionState, StoreError};

/// One pass over every partition. Returns how many states were written.
pub async fn run_round(broker: &Arc<Broker>) -> usize {
    if !still_controller(broker).await {
        return 0;
    }
    let live: Vec<i32> = match broker.layout.live_brokers().await {
        Ok(brokers) => brokers.into_iter().map(|b| b.id).collect(),
        Err(e) => {
            tracing::debug!(error = %e, "controller cannot list live brokers");
            return 0;
        }
    };
    let epoch = broker.controller_epoch();
    let mut written = 0;
    for name in broker.topic_names() {
        let Some(topic) = broker.topic(&name) else { continue };
        let unclean = broker.unclean_leader_election(&topic);
        for (index, meta) in topic.meta().iter().enumerate() {
            let p = index as i32;
            let (state, version) = match broker.layout.partition_state(&name, p).await {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(topic = %name, partition = p, error = %e, "controller cannot read state");
                    continue;
                }
            };
            if state.controller_epoch > epoch {
                tracing::warn!(
                    epoch,
                    newer = state.controller_epoch,
                    "a newer controller wrote partition state; stepping down"
                );
                broker.set_controller(false, epoch);
                return written;
            }
            if let Some(next) = election::after_broker_change(&state, &meta.replicas, &live, unclean, epoch) {
                if write_state(broker, &name, p, &state, &next, version).await {
                    written += 1;
                }
            }
        }
    }
    written += reassign::run(broker, &live).await;
    written += preferred::run(broker, &live).await;
    if let Err(e) = broker.layout.clear_isr_change_notifications().await {
        tracing::debug!(error = %e, "cannot clear ISR change notifications");
    }
    written
}

/// `/controller` still names this broker (a controller whose session
/// expired has lost it and must not write).
async fn still_controller(broker: &Broker) -> bool {
    if !broker.is_controller() {
        return false;
    }
    match broker.layout.controller_id().await {
        Ok(Some(id)) if id == broker.config.broker_id => true,
        Ok(_) => {
            tracing::info!("no longer the controller");
            broker.set_controller(false, broker.controller_epoch());
            false
        }
        Err(_) => false,
    }
}

/// Writes `next` over `current` (read at `version`); true if written.
pub(crate) async fn write_state(
    broker: &Arc<Broker>,
    topic: &str,
    partition: i32,
    current: &PartitionState,
    next: &PartitionState,
    version: i32,
) -> bool {
    match broker
        .layout
        .write_partition_state(topic, partition, next, Some(version))
        .await
    {
        Ok(new_version) => {
            tracing::info!(
                topic,
                partition,
                leader = next.leader,
                epoch = next.leader_epoch,
                isr = ?next.isr,
                previous_leader = current.leader,
                "controller changed partition state"
            );
            broker.apply_partition_state(topic, partition, next, new_version);
            true
        }
        // Changed meanwhile (an ISR write by the leader): next round.
        Err(LayoutError::Store(StoreError::BadVersion(_))) => false,
        Err(e) => {
            tracing::warn!(topic, partition, error = %e, "controller cannot write partition state");
            false
        }
    }
}
