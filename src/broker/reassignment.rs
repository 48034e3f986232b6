//! A broker following a partition reassignment (the controller rewrites
//! the topic's assignment in `/brokers/topics/<t>`): replicas newly assigned
//! here are opened and start following the leader; replicas moved away are
//! stopped and their directories removed, as Kafka's StopReplica with
//! deletion does.

use std::collections::BTreeMap;

use super::topics::{Topic, TopicError};
use super::Broker;

impl Broker {
    pub(super) async fn apply_reassignment(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
    ) -> Result<(), TopicError> {
        let Some(old) = self.topic(name) else { return Ok(()) };
        let me = self.config.broker_id;
        let log_config = self.log_config_for(&old.config);
        let mut meta = old.meta();
        let mut partitions = old.partitions.clone();
        let mut removed = Vec::new();
        for (p, replicas) in assignment {
            let Some(slot) = usize::try_from(*p).ok().filter(|i| *i < meta.len()) else {
                continue;
            };
            if meta[slot].replicas == *replicas {
                continue;
            }
            tracing::info!(topic = name, partition = p, from = ?meta[slot].replicas, to = ?replicas, "assignment changed");
            let local = partitions[slot].clone();
            match (replicas.contains(&me), local) {
                (true, None) => {
                    let (partition_meta, opened) = self.open_partition(name, *p, replicas, &log_config).await?;
                    meta[slot] = partition_meta;
                    partitions[slot] = opened;
                }
                (false, Some(partition)) => {
                    partition.set_fetcher(None);
                    removed.push(partition);
                    partitions[slot] = None;
                    meta[slot].replicas = replicas.clone();
                }
                (true, Some(partition)) => {
                    partition.set_replicas(replicas, super::now_ms());
                    meta[slot].replicas = replicas.clone();
                }
                (false, None) => meta[slot].replicas = replicas.clone(),
            }
        }
        self.put_topic(Topic {
            name: name.to_string(),
            meta: std::sync::RwLock::new(meta),
            partitions,
            config: old.config.clone(),
        });
        for partition in removed {
            tracing::info!(
                topic = name,
                partition = partition.index,
                "replica moved away; deleting it"
            );
            if let Err(e) = partition.delete_files() {
                tracing::warn!(topic = name, partition = partition.index, error = %e, "cannot remove the moved replica");
            }
        }
        Ok(())
    }
}
