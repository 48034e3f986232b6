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
    /// When the notification was written (0 if it was purged meanwhile).
    pub ctime_ms: i64,
}

/// `{"version":2,"entity_path":"topics/<t>"}` (Kafka ≥ 0.10.1) or
/// `{"version":1,"entity_type":"topics","entity_name":"<t>"}` (0.9).
fn changed_topic(data: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    if let Some(path) = value.get("entity_path").and_then(|p| p.as_str()) {
        return path.strip_prefix("topics/").map(str::to_owned);
    }
    match (value.get("entity_type"), value.get("entity_name")) {
        (Some(t), Some(n)) if t == "topics" => n.as_str().map(str::to_owned),
        _ => None,
    }
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
        let note = json!({"version": 2, "entity_path": format!("topics/{name}")}).to_string();
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
            let (topic, ctime_ms) = match self.store().get(&path).await? {
                Some((data, stat)) => (changed_topic(&data), stat.ctime_ms),
                None => (None, 0), // purged meanwhile
            };
            out.push(ConfigChange {
                sequence,
                topic,
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
