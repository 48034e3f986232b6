//! Admin writes in Kafka's layout: topic config changes with their
//! `/config/changes` notifications, deletion markers as kafka-topics.sh
//! reads them, and the old ZooKeeper consumer's registration znodes.

use std::collections::BTreeMap;

use serde_json::json;

use super::layout::{paths, validate_group_name, validate_topic_name, KafkaLayout, LayoutError};
use super::store::{NodeKind, StoreError};

/// Where brokers look for config change notifications.
pub const CONFIG_CHANGES: &str = "/config/changes";
const CHANGE_PREFIX: &str = "config_change_";

/// One `/config/changes/config_change_<seq>` notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChange {
    pub sequence: u64,
    /// The changed topic, if the notification names one.
    pub topic: Option<String>,
    /// The changed broker entity (`<id>` or `<default>`), if it names one.
    pub broker: Option<String>,
    /// When the notification was written (0 if it was purged meanwhile).
    pub ctime_ms: i64,
}

/// `{"version":2,"entity_path":"topics/<t>"}` (Kafka ≥ 0.10.1) or
/// `{"version":1,"entity_type":"topics","entity_name":"<t>"}` (0.9): the
/// entity type and name.
fn changed_entity(data: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    if let Some(path) = value.get("entity_path").and_then(|p| p.as_str()) {
        let (kind, name) = path.split_once('/')?;
        return Some((kind.to_owned(), name.to_owned()));
    }
    match (value.get("entity_type")?.as_str(), value.get("entity_name")?.as_str()) {
        (Some(t), Some(n)) => Some((t.to_owned(), n.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
fn changed_topic(data: &[u8]) -> Option<String> {
    changed_entity(data).and_then(|(kind, name)| (kind == "topics").then_some(name))
}

/// `/config/brokers/<entity>`: a broker id, or `<default>` for all brokers.
pub const BROKER_DEFAULT_ENTITY: &str = "<default>";

fn broker_config_path(entity: &str) -> Result<String, LayoutError> {
    if entity != BROKER_DEFAULT_ENTITY && entity.parse::<u32>().is_err() {
        return Err(LayoutError::Store(StoreError::Invalid(format!(
            "broker entity {entity:?} is neither a broker id nor {BROKER_DEFAULT_ENTITY}"
        ))));
    }
    Ok(format!("/config/brokers/{entity}"))
}

impl KafkaLayout {
    /// Replaces /config/topics/<t> and announces it under /config/changes,
    /// as kafka-configs.sh does, so every broker reloads the topic's config.
    pub async fn change_topic_config(&self, name: &str, config: &BTreeMap<String, String>) -> Result<(), LayoutError> {
        validate_topic_name(name)?;
        if self.store().get(&paths::topic(name)).await?.is_none() {
            return Err(LayoutError::UnknownTopic(name.to_owned()));
        }
        self.set_topic_config(name, config).await?;
        self.announce_config_change(&format!("topics/{name}")).await
    }

    /// The dynamic config of a broker entity (`/config/brokers/<id>` or
    /// `/config/brokers/<default>`); empty when none was set.
    pub async fn broker_config(&self, entity: &str) -> Result<BTreeMap<String, String>, LayoutError> {
        let path = broker_config_path(entity)?;
        match self.store().get(&path).await? {
            None => Ok(BTreeMap::new()),
            Some((data, _)) => {
                super::kafka_json::parse_entity_config(&data).map_err(|r| super::layout::malformed(&path, r))
            }
        }
    }

    /// Replaces a broker entity's dynamic config and announces it under
    /// /config/changes (`brokers/<entity>`), as kafka-configs.sh does.
    pub async fn change_broker_config(
        &self,
        entity: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), LayoutError> {
        let path = broker_config_path(entity)?;
        self.upsert(&path, &super::kafka_json::entity_config(config)).await?;
        self.announce_config_change(&format!("brokers/{entity}")).await
    }

    pub(super) async fn announce_config_change(&self, entity_path: &str) -> Result<(), LayoutError> {
        let note = json!({"version": 2, "entity_path": entity_path}).to_string();
        self.store()
            .create_with_parents(
                &format!("{CONFIG_CHANGES}/{CHANGE_PREFIX}"),
                note.as_bytes(),
                NodeKind::PersistentSequential,
            )
            .await?;
        Ok(())
    }

    /// Notifications with a sequence number above `after`, oldest first.
    pub async fn config_changes_after(&self, after: Option<u64>) -> Result<Vec<ConfigChange>, LayoutError> {
        let mut sequences: Vec<u64> = self
            .children_or_empty(CONFIG_CHANGES)
            .await?
            .iter()
            .filter_map(|c| c.strip_prefix(CHANGE_PREFIX)?.parse().ok())
            .filter(|s| after.is_none_or(|a| *s > a))
            .collect();
        sequences.sort_unstable();
        let mut out = Vec::with_capacity(sequences.len());
        for sequence in sequences {
            let path = format!("{CONFIG_CHANGES}/{CHANGE_PREFIX}{sequence:010}");
            let (entity, ctime_ms) = match self.store().get(&path).await? {
                Some((data, stat)) => (changed_entity(&data), stat.ctime_ms),
                None => (None, 0), // purged meanwhile
            };
            let named = |kind: &str| entity.as_ref().filter(|(k, _)| k == kind).map(|(_, n)| n.clone());
            out.push(ConfigChange {
                sequence,
                topic: named("topics"),
                broker: named("brokers"),
                ctime_ms,
            });
        }
        Ok(out)
    }

    /// Purges one notification.
    pub async fn delete_config_change(&self, sequence: u64) -> Result<(), LayoutError> {
        let path = format!("{CONFIG_CHANGES}/{CHANGE_PREFIX}{sequence:010}");
        self.store().delete(&path, false).await?;
        Ok(())
    }

    /// The highest notification sequence number present, if any.
    pub async fn latest_config_change(&self) -> Result<Option<u64>, LayoutError> {
        Ok(self
            .children_or_empty(CONFIG_CHANGES)
            .await?
            .iter()
            .filter_map(|c| c.strip_prefix(CHANGE_PREFIX)?.parse().ok())
            .max())
    }

    /// The assignment and the creation id (czxid) of /brokers/topics/<t>; a
    /// topic deleted and created again under the same name has a new one.
    pub async fn topic_assignment_and_creation(
        &self,
        name: &str,
    ) -> Result<Option<(BTreeMap<i32, Vec<i32>>, i64)>, LayoutError> {
        validate_topic_name(name)?;
        let path = paths::topic(name);
        match self.store().get(&path).await? {
            None => Ok(None),
            Some((data, stat)) => super::kafka_json::parse_topic_assignment(&data)
                .map(|a| Some((a, stat.czxid)))
                .map_err(|r| super::layout::malformed(&path, r)),
        }
    }

    /// Whether /admin/delete_topics/<t> exists.
    pub async fn is_marked_for_deletion(&self, name: &str) -> Result<bool, LayoutError> {
        validate_topic_name(name)?;
        Ok(self.store().get(&paths::delete_topic_marker(name)).await?.is_some())
    }

    /// The old consumer's EPHEMERAL /consumers/<g>/ids/<id> with its
    /// subscription JSON.
    pub async fn register_old_consumer(&self, group: &str, id: &str, topic: &str) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let data = json!({
            "version": 1,
            "subscription": {topic: 1},
            "pattern": "static",
            "timestamp": super::layout::now_ms().to_string(),
        })
        .to_string();
        let path = format!("{}/{group}/ids/{id}", paths::CONSUMERS);
        self.store()
            .create_with_parents(&path, data.as_bytes(), NodeKind::Ephemeral)
            .await?;
        Ok(())
    }

    /// Claims EPHEMERAL /consumers/<g>/owners/<t>/<p> for `owner`; false if
    /// another consumer owns it.
    pub async fn claim_partition(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        owner: &str,
    ) -> Result<bool, LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let path = format!("{}/{group}/owners/{topic}/{partition}", paths::CONSUMERS);
        match self
            .store()
            .create_with_parents(&path, owner.as_bytes(), NodeKind::Ephemeral)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::NodeExists(_)) => match self.store().get(&path).await? {
                Some((data, _)) => Ok(data == owner.as_bytes()),
                None => Ok(false),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Whether /consumers/<g>/offsets exists (the old console consumer
    /// refuses `--from-beginning` then).
    pub async fn group_has_offsets(&self, group: &str) -> Result<bool, LayoutError> {
        validate_group_name(group)?;
        let path = format!("{}/{group}/offsets", paths::CONSUMERS);
        Ok(self.store().get(&path).await?.is_some())
    }

    /// Removes /consumers/<g> and everything under it, ephemerals included:
    /// for the old console consumer's own group (on exit, or
    /// `--delete-consumer-offsets`), as Kafka's tool did.
    pub async fn delete_group_tree(&self, group: &str) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        self.store()
            .delete(&format!("{}/{group}", paths::CONSUMERS), true)
            .await?;
        Ok(())
    }

    /// Partition → leader id, from the state znodes (-1 when unknown).
    pub async fn partition_leaders(&self, topic: &str) -> Result<BTreeMap<i32, i32>, LayoutError> {
        let Some(assignment) = self.topic_assignment(topic).await? else {
            return Err(LayoutError::UnknownTopic(topic.to_owned()));
        };
        let mut out = BTreeMap::new();
        for p in assignment.keys() {
            let leader = self
                .partition_state(topic, *p)
                .await?
                .map(|(s, _)| s.leader)
                .unwrap_or(-1);
            out.insert(*p, leader);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::kafka_json as codec;
    use super::*;

    #[test]
    fn both_notification_formats_name_the_topic() {
        assert_eq!(
            changed_topic(br#"{"version":2,"entity_path":"topics/t1"}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(
            changed_topic(br#"{"version":1,"entity_type":"topics","entity_name":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(changed_topic(br#"{"version":2,"entity_path":"clients/c"}"#), None);
        assert_eq!(changed_topic(b"garbage"), None);
        assert_eq!(
            changed_entity(br#"{"version":2,"entity_path":"brokers/<default>"}"#),
            Some(("brokers".to_string(), "<default>".to_string()))
        );
    }

    #[test]
    fn codec_round_trip_of_topic_config() {
        let config: BTreeMap<String, String> = [("retention.ms".to_string(), "10".to_string())].into();
        assert_eq!(
            codec::parse_entity_config(&codec::entity_config(&config)).unwrap(),
            config
        );
    }
}
