//! The leader's ISR upkeep (Kafka's `maybeShrinkIsr` / `maybeExpandIsr`):
//! followers that have not caught up for `replica.lag.time.max.ms` leave the
//! ISR, followers that reached the high watermark and this epoch's start
//! join it. Each change is a conditional write of the state znode on the
//! version this leader last saw, so a leader that lost its leadership (the
//! controller bumped the epoch meanwhile) cannot change the ISR: its write
//! fails and it learns the new state instead. Every change is announced
//! under `/isr_change_notification` as Kafka does.

use std::sync::Arc;

use crate::broker::{now_ms, Broker};
use crate::metadata::LayoutError;

pub async fn maintain(broker: &Arc<Broker>) {
    let lag_max = broker.config.replica_lag_time_max_ms as i64;
    for partition in broker.local_partitions() {
        let Some(change) = partition.wanted_isr_change(now_ms(), lag_max) else {
            continue;
        };
        let written = broker
            .layout
            .write_partition_state(
                &partition.topic,
                partition.index,
                &change.state,
                Some(change.expected_version),
            )
            .await;
        match written {
            Ok(version) => {
                tracing::info!(topic = %partition.topic, partition = partition.index, isr = ?change.state.isr, "ISR changed");
                partition.isr_written(&change, version);
                broker
                    .metrics
                    .count_isr_change(change.previous_isr.len(), change.state.isr.len());
                broker.update_partition_meta(&partition.topic, partition.index, &change.state);
                if let Err(e) = broker
                    .layout
                    .notify_isr_change(&[(partition.topic.as_str(), partition.index)])
                    .await
                {
                    tracing::debug!(error = %e, "cannot write the ISR change notification");
                }
            }
            Err(LayoutError::Store(crate::metadata::StoreError::BadVersion(_))) => {
                // Someone else (the controller) changed the state: follow it.
                tracing::info!(topic = %partition.topic, partition = partition.index, "ISR write fenced; re-reading the partition state");
                broker.refresh_partition_state(&partition.topic, partition.index).await;
            }
            Err(e) => {
                tracing::warn!(topic = %partition.topic, partition = partition.index, error = %e, "cannot write the ISR change")
            }
        }
    }
}
