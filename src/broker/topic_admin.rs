//! Changes to existing topics: more partitions (CreatePartitions, or
//! kafka-topics --alter writing /brokers/topics/<t> directly), per-topic
//! config overrides (AlterConfigs, or a /config/changes notification from
//! another broker or tool), and the values DescribeConfigs reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use crate::metadata::LayoutError;

use super::dynamic_config::DynamicSource;
use super::topic_config_defs::{TopicConfigDef, TOPIC_CONFIGS};
use super::topic_rules::{assign_replicas_from, validate_topic_config, TopicError};
use super::topics::Topic;
use super::Broker;
use crate::config::BrokerConfig;

fn store_error(e: LayoutError) -> TopicError {
    match e {
        LayoutError::UnknownTopic(t) => TopicError::Unknown(t),
        other => TopicError::Store(other.to_string()),
    }
}

/// What the metadata sync loop remembers between rounds.
#[derive(Debug, Default)]
pub struct TopicWatch {
    /// The last /config/changes notification applied (None: replay all).
    pub config_seen: Option<u64>,
    /// czxid of each served topic's /brokers/topics/<t> and the local topic
    /// it was seen with, to notice a topic deleted and created again by
    /// someone else between two rounds.
    pub creations: HashMap<String, (i64, Weak<Topic>)>,
}

impl Broker {
    /// CreatePartitions: grows `name` to `total` partitions, with the given
    /// replicas for the new ones or Kafka's assignment continuing the
    /// existing pattern. Nothing is written unless every check passes.
    pub async fn add_partitions(
        &self,
        name: &str,
        total: i32,
        manual: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let _guard = self.topic_lock.lock().await;
        let Some(existing) = self.layout.topic_assignment(name).await.map_err(store_error)? else {
            return Err(TopicError::Unknown(name.to_string()));
        };
        let current = existing.len();
        if total <= current as i32 {
            return Err(TopicError::PartitionsNotIncreased(name.to_string(), current, total));
        }
        if total > super::topic_rules::MAX_PARTITIONS {
            return Err(TopicError::TooManyPartitions(total));
        }
        let adding = total - current as i32;
        let rf = existing.values().next().map_or(1, Vec::len);
        let live = self.live_broker_ids().await;
        let new = match manual {
            Some(lists) => {
                if lists.len() != adding as usize {
                    return Err(TopicError::InvalidAssignment(format!(
                        "{} replica lists for {adding} new partitions",
                        lists.len()
                    )));
                }
                let mut out = BTreeMap::new();
                for (i, replicas) in lists.into_iter().enumerate() {
                    let mut distinct = replicas.clone();
                    distinct.sort_unstable();
                    distinct.dedup();
                    if replicas.is_empty()
                        || distinct.len() != replicas.len()
                        || replicas.iter().any(|r| !live.contains(r))
                    {
                        return Err(TopicError::InvalidAssignment(format!(
                            "partition {}: replicas {replicas:?} must be distinct live brokers {live:?}",
                            current + i
                        )));
                    }
                    out.insert((current + i) as i32, replicas);
                }
                out
            }
            None => {
                if rf > live.len() {
                    return Err(TopicError::InvalidReplicationFactor(rf as i16, live.len()));
                }
                let start = existing
                    .get(&0)
                    .and_then(|r| r.first())
                    .and_then(|leader| live.iter().position(|b| b == leader));
                assign_replicas_from(&live, current as i32, adding, rf as i16, start)
            }
        };
        if validate_only {
            return Ok(());
        }
        let mut full = existing;
        full.extend(new.clone());
        self.layout
            .set_topic_assignment(name, &full)
            .await
            .map_err(store_error)?;
        for (p, replicas) in &new {
            let state = self.initial_state(replicas, &live);
            self.layout
                .write_partition_state(name, *p, &state, None)
                .await
                .map_err(store_error)?;
        }
        tracing::info!(topic = name, from = current, to = total, "added partitions");
        self.extend_local_topic(name, &full).await
    }

    /// Opens the partitions of `assignment` this broker does not know yet,
    /// keeping the open ones, and swaps the topic in the registry.
    async fn extend_local_topic(&self, name: &str, assignment: &BTreeMap<i32, Vec<i32>>) -> Result<(), TopicError> {
        let Some(old) = self.topic(name) else {
            return Ok(()); // not loaded yet: the next sync opens it whole
        };
        let log_config = self.log_config_for(&old.config);
        let mut meta = old.meta();
        let mut partitions = old.partitions.clone();
        for (p, replicas) in assignment.range(meta.len() as i32..) {
            let (partition_meta, local) = self.open_partition(name, *p, replicas, &log_config).await?;
            meta.push(partition_meta);
            partitions.push(local);
        }
        self.put_topic(Topic {
            name: name.to_string(),
            meta: std::sync::RwLock::new(meta),
            partitions,
            config: old.config.clone(),
        });
        Ok(())
    }

    pub(super) fn put_topic(&self, topic: Topic) {
        self.topics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(topic.name.clone(), Arc::new(topic));
    }

    /// AlterConfigs: replaces the topic's overrides in the store (with a
    /// change notification for the other brokers) and applies them here.
    pub async fn alter_topic_config(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        validate_topic_config(&config)?;
        if self.topic(name).is_none() && self.layout.topic_assignment(name).await.map_err(store_error)?.is_none() {
            return Err(TopicError::Unknown(name.to_string()));
        }
        if validate_only {
            return Ok(());
        }
        self.layout
            .change_topic_config(name, &config)
            .await
            .map_err(store_error)?;
        self.apply_topic_config(name, config);
        Ok(())
    }

    /// The topic's current overrides (empty for an unknown topic).
    pub fn topic_overrides(&self, name: &str) -> BTreeMap<String, String> {
        self.topic(name).map(|t| t.config.clone()).unwrap_or_default()
    }

    fn apply_topic_config(&self, name: &str, config: BTreeMap<String, String>) {
        let Some(old) = self.topic(name) else { return };
        if old.config == config {
            return;
        }
        let log_config = self.log_config_for(&config);
        for p in old.partitions.iter().flatten() {
            p.set_log_config(log_config.clone());
        }
        tracing::info!(topic = name, ?config, "topic config changed");
        self.put_topic(Topic {
            name: old.name.clone(),
            meta: std::sync::RwLock::new(old.meta()),
            partitions: old.partitions.clone(),
            config,
        });
    }

    /// Follows changes made elsewhere to topics this broker serves: config
    /// notifications after `seen` (updated), and partitions added by a tool
    /// writing /brokers/topics/<t> directly. The controller also purges
    /// notifications older than 15 minutes, as Kafka does.
    pub async fn follow_topic_changes(&self, watch: &mut TopicWatch) -> Result<(), TopicError> {
        let seen = &mut watch.config_seen;
        let changes = self.layout.config_changes_after(*seen).await.map_err(store_error)?;
        let me = self.config.broker_id.to_string();
        for change in changes {
            let ours =
                |entity: &String| entity == &me || entity == crate::metadata::layout_admin::BROKER_DEFAULT_ENTITY;
            if change.broker.as_ref().is_some_and(ours) {
                self.reload_dynamic_config().await;
            }
            if let Some(topic) = change.topic.as_deref().filter(|t| self.topic(t).is_some()) {
                match self.layout.topic_config(topic).await {
                    Ok(config) => self.apply_topic_config(topic, config.unwrap_or_default()),
                    Err(e) => tracing::warn!(topic, error = %e, "cannot read changed topic config"),
                }
            }
            *seen = Some(change.sequence);
            if self.is_controller() && super::now_ms() - change.ctime_ms > 15 * 60 * 1000 {
                let _ = self.layout.delete_config_change(change.sequence).await;
            }
        }
        let names = self.topic_names();
        watch.creations.retain(|name, _| names.contains(name));
        for name in names {
            let Some(current) = self.topic(&name) else {
                continue;
            };
            let known = current.partition_count();
            let Some((assignment, czxid)) = self
                .layout
                .topic_assignment_and_creation(&name)
                .await
                .map_err(store_error)?
            else {
                continue; // gone: sync_topics drops it
            };
            let seen = watch.creations.insert(name.clone(), (czxid, Arc::downgrade(&current)));
            // Only the same local topic under a new znode is stale: one this
            // broker reopened itself (or changed) is taken as it is now.
            let stale =
                seen.is_some_and(|(old, topic)| old != czxid && Weak::ptr_eq(&topic, &Arc::downgrade(&current)));
            if stale {
                // Deleted and created again before this broker noticed: the
                // old data must not show under the new topic.
                let _guard = self.topic_lock.lock().await;
                tracing::info!(topic = %name, "topic was re-created in the metadata store; reopening it");
                self.drop_local_topic(&name);
                watch.creations.remove(&name);
                continue; // the next sync_topics opens the new one
            }
            if assignment.len() > known {
                let _guard = self.topic_lock.lock().await;
                tracing::info!(topic = %name, partitions = assignment.len(), "partitions added in the metadata store");
                self.extend_local_topic(&name, &assignment).await?;
            }
            let moved = current
                .meta()
                .iter()
                .enumerate()
                .any(|(p, m)| assignment.get(&(p as i32)).is_some_and(|r| *r != m.replicas));
            if moved {
                let _guard = self.topic_lock.lock().await;
                self.apply_reassignment(&name, &assignment).await?;
            }
        }
        Ok(())
    }

    /// Every Kafka 2.8 topic config with its value for a topic whose
    /// overrides are `overrides`, and where that value comes from.
    pub fn topic_config_entries(&self, overrides: &BTreeMap<String, String>) -> Vec<TopicConfigEntry> {
        let dynamic = self.dynamic_config();
        TOPIC_CONFIGS
            .iter()
            .map(|def| {
                let dynamic_value = def.synonym.and_then(|s| dynamic.get(s)).map(|(v, source)| {
                    let source = match source {
                        DynamicSource::PerBroker => ConfigSource::DynamicBroker,
                        DynamicSource::ClusterDefault => ConfigSource::DynamicDefaultBroker,
                    };
                    (v.to_string(), source)
                });
                let dynamic_value = dynamic_value.filter(|_| dynamic.topic_defaults().contains_key(def.name));
                let broker_value = self.broker_topic_default(def.name);
                let (value, source) = match (overrides.get(def.name), &dynamic_value, &broker_value) {
                    (Some(v), _, _) => (v.clone(), ConfigSource::Topic),
                    (None, Some((v, source)), _) => (v.clone(), *source),
                    (None, None, Some(v)) => (v.clone(), ConfigSource::Broker),
                    (None, None, None) => (def.default.to_string(), ConfigSource::Default),
                };
                let broker_value = dynamic_value.map(|(v, _)| v).or(broker_value);
                TopicConfigEntry {
                    def,
                    value,
                    source,
                    broker_value,
                    topic_value: overrides.get(def.name).cloned(),
                }
            })
            .collect()
    }

    /// The broker's own setting behind a topic config (its `log.*` synonym),
    /// when it differs from Kafka's default or was set.
    pub fn broker_topic_default(&self, key: &str) -> Option<String> {
        let c = &self.config;
        let d = BrokerConfig::default();
        let changed = |now: String, default: String| (now != default).then_some(now);
        match key {
            "retention.ms" => changed(c.log_retention_ms.to_string(), d.log_retention_ms.to_string()),
            "retention.bytes" => changed(c.log_retention_bytes.to_string(), d.log_retention_bytes.to_string()),
            "segment.bytes" => changed(c.log_segment_bytes.to_string(), d.log_segment_bytes.to_string()),
            "segment.ms" => changed(c.log_roll_ms.to_string(), d.log_roll_ms.to_string()),
            "max.message.bytes" => changed(c.message_max_bytes.to_string(), d.message_max_bytes.to_string()),
            "flush.messages" => changed(
                c.log_flush_interval_messages.min(i64::MAX as u64).to_string(),
                d.log_flush_interval_messages.min(i64::MAX as u64).to_string(),
            ),
            "flush.ms" => c.log_flush_interval_ms.map(|v| v.to_string()),
            "file.delete.delay.ms" => changed(
                c.log_segment_delete_delay_ms.to_string(),
                d.log_segment_delete_delay_ms.to_string(),
            ),
            "min.insync.replicas" => changed(c.min_insync_replicas.to_string(), d.min_insync_replicas.to_string()),
            "unclean.leader.election.enable" => changed(
                c.unclean_leader_election_enable.to_string(),
                d.unclean_leader_election_enable.to_string(),
            ),
            _ => c.topic_defaults.get(key).cloned(),
        }
    }
}

/// Where a topic config's value comes from (DescribeConfigs' config_source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    Topic,
    DynamicBroker,
    DynamicDefaultBroker,
    Broker,
    Default,
}

/// One topic config as DescribeConfigs reports it.
#[derive(Clone, Debug)]
pub struct TopicConfigEntry {
    pub def: &'static TopicConfigDef,
    pub value: String,
    pub source: ConfigSource,
    /// The broker's synonym value, if set.
    pub broker_value: Option<String>,
    /// The topic's override, if any.
    pub topic_value: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_partitions_continue_the_existing_pattern() {
        let brokers = [1, 2, 3];
        let first = assign_replicas_from(&brokers, 0, 3, 2, Some(1));
        let more = assign_replicas_from(&brokers, 3, 3, 2, Some(1));
        assert_eq!(more.keys().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        // Leaders keep rotating from where partition 0 started.
        assert_eq!(first[&0][0], 2);
        assert_eq!(more[&3][0], 2);
        assert!(more.values().all(|r| r.len() == 2 && r[0] != r[1]));
    }
}
