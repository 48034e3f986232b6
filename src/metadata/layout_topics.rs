//! Topics, partition state, topic deletion, ZooKeeper-stored consumer offsets and
//! producer-id blocks in Kafka's layout.

use std::collections::BTreeMap;

use super::kafka_json as codec;
use super::layout::{
    malformed, paths, validate_assignment, validate_group_name, validate_topic_name, KafkaLayout, LayoutError,
    PartitionState, MAX_ATTEMPTS, PRODUCER_ID_BLOCK_SIZE,
};
use super::store::{NodeKind, StoreError};

impl KafkaLayout {
    /// Writes /config/topics/<t> then /brokers/topics/<t>, in that order like Kafka's
    /// AdminZkClient, so a watcher of /brokers/topics always finds the config.
    pub async fn create_topic(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
        config: &BTreeMap<String, String>,
    ) -> Result<(), LayoutError> {
        validate_topic_name(name)?;
        validate_assignment(assignment)?;
        let topic_path = paths::topic(name);
        if self.store().get(&topic_path).await?.is_some() {
            return Err(LayoutError::TopicExists(name.to_owned()));
        }
        self.upsert(&paths::topic_config(name), &codec::entity_config(config))
            .await?;
        match self
            .store()
            .create_with_parents(&topic_path, &codec::topic_assignment(assignment), NodeKind::Persistent)
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::NodeExists(_)) => Err(LayoutError::TopicExists(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Topic names, sorted (includes topics marked for deletion).
    pub async fn list_topics(&self) -> Result<Vec<String>, LayoutError> {
        self.children_or_empty(paths::BROKER_TOPICS).await
    }

    /// Partition → replicas (first = preferred leader), or `None` for an unknown topic.
    pub async fn topic_assignment(&self, name: &str) -> Result<Option<BTreeMap<i32, Vec<i32>>>, LayoutError> {
        validate_topic_name(name)?;
        let path = paths::topic(name);
        match self.store().get(&path).await? {
            None => Ok(None),
            Some((data, _)) => codec::parse_topic_assignment(&data)
                .map(Some)
                .map_err(|r| malformed(&path, r)),
        }
    }

    /// Replaces the assignment of an existing topic (e.g. to add partitions), keeping any
    /// other keys Kafka may have written, with a version check against concurrent writers.
    pub async fn set_topic_assignment(
        &self,
        name: &str,
        assignment: &BTreeMap<i32, Vec<i32>>,
    ) -> Result<(), LayoutError> {
        validate_topic_name(name)?;
        validate_assignment(assignment)?;
        let path = paths::topic(name);
        for _ in 0..MAX_ATTEMPTS {
            let Some((existing, stat)) = self.store().get(&path).await? else {
                return Err(LayoutError::UnknownTopic(name.to_owned()));
            };
            let data = codec::replace_partitions(&existing, assignment);
            match self.store().set(&path, &data, Some(stat.version)).await {
                Ok(_) => return Ok(()),
                Err(StoreError::BadVersion(_)) => continue,
                Err(StoreError::NoNode(_)) => return Err(LayoutError::UnknownTopic(name.to_owned())),
                Err(e) => return Err(e.into()),
            }
        }
        Err(LayoutError::Contention(path))
    }

    /// Topic config overrides, or `None` if /config/topics/<t> does not exist.
    pub async fn topic_config(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, LayoutError> {
        validate_topic_name(name)?;
        let path = paths::topic_config(name);
        match self.store().get(&path).await? {
            None => Ok(None),
            Some((data, _)) => codec::parse_entity_config(&data)
                .map(Some)
                .map_err(|r| malformed(&path, r)),
        }
    }

    /// Replaces the topic's config overrides (no /config/changes notification is written).
    pub async fn set_topic_config(&self, name: &str, config: &BTreeMap<String, String>) -> Result<(), LayoutError> {
        validate_topic_name(name)?;
        self.upsert(&paths::topic_config(name), &codec::entity_config(config))
            .await?;
        Ok(())
    }

    /// Writes …/partitions/<p>/state and returns its new znode version. With
    /// `expected_version` the write is conditional (a stale writer gets
    /// `Store(BadVersion)`); without, the node is created (with parents) if absent.
    pub async fn write_partition_state(
        &self,
        topic: &str,
        partition: i32,
        state: &PartitionState,
        expected_version: Option<i32>,
    ) -> Result<i32, LayoutError> {
        validate_topic_name(topic)?;
        let path = paths::partition_state(topic, partition);
        let data = codec::partition_state(state);
        if let Some(version) = expected_version {
            return Ok(self.store().set(&path, &data, Some(version)).await?.version);
        }
        match self.store().set(&path, &data, None).await {
            Err(StoreError::NoNode(_)) => {}
            other => return Ok(other?.version),
        }
        // Creating parents must not resurrect a topic that does not exist.
        if self.store().get(&paths::topic(topic)).await?.is_none() {
            return Err(LayoutError::UnknownTopic(topic.to_owned()));
        }
        Ok(self.upsert(&path, &data).await?.version)
    }

    /// Announces ISR changes as Kafka's leaders do:
    /// `/isr_change_notification/isr_change_<seq>` holding the partitions.
    pub async fn notify_isr_change(&self, partitions: &[(&str, i32)]) -> Result<(), LayoutError> {
        let list: Vec<serde_json::Value> = partitions
            .iter()
            .map(|(topic, partition)| serde_json::json!({"topic": topic, "partition": partition}))
            .collect();
        let data = serde_json::json!({"version": 1, "partitions": list}).to_string();
        self.store()
            .create_with_parents(
                "/isr_change_notification/isr_change_",
                data.as_bytes(),
                NodeKind::PersistentSequential,
            )
            .await?;
        Ok(())
    }

    /// The partitions listed in /admin/preferred_replica_election, if a
    /// preferred election was requested.
    pub async fn preferred_election_request(&self) -> Result<Option<Vec<(String, i32)>>, LayoutError> {
        let path = "/admin/preferred_replica_election";
        let Some((data, _)) = self.store().get(path).await? else {
            return Ok(None);
        };
        codec::parse_partition_list(&data)
            .map(Some)
            .map_err(|r| malformed(path, r))
    }

    pub async fn clear_preferred_election_request(&self) -> Result<(), LayoutError> {
        self.store().delete("/admin/preferred_replica_election", false).await?;
        Ok(())
    }

    /// Writes /admin/preferred_replica_election; fails with NodeExists while
    /// an earlier request is still pending (as Kafka's tool reports).
    pub async fn request_preferred_election(&self, partitions: &[(String, i32)]) -> Result<(), LayoutError> {
        let data = codec::partition_list(partitions);
        self.store()
            .create_with_parents("/admin/preferred_replica_election", &data, NodeKind::Persistent)
            .await?;
        Ok(())
    }

    /// The pending reassignment in /admin/reassign_partitions, if any.
    pub async fn pending_reassignment(&self) -> Result<Option<codec::Reassignment>, LayoutError> {
        let path = "/admin/reassign_partitions";
        let Some((data, _)) = self.store().get(path).await? else {
            return Ok(None);
        };
        codec::parse_reassignment(&data)
            .map(Some)
            .map_err(|r| malformed(path, r))
    }

    /// Writes the pending reassignment (none left: the znode is removed).
    /// `create_only` refuses to replace a reassignment in progress, as
    /// Kafka's tool does (Store(NodeExists)).
    pub async fn set_pending_reassignment(
        &self,
        partitions: &codec::Reassignment,
        create_only: bool,
    ) -> Result<(), LayoutError> {
        let path = "/admin/reassign_partitions";
        if partitions.is_empty() {
            self.store().delete(path, false).await?;
            return Ok(());
        }
        let data = codec::reassignment(partitions);
        if create_only {
            self.store()
                .create_with_parents(path, &data, NodeKind::Persistent)
                .await?;
            return Ok(());
        }
        self.upsert(path, &data).await?;
        Ok(())
    }

    /// Removes ISR change notifications (the controller has read the states).
    pub async fn clear_isr_change_notifications(&self) -> Result<usize, LayoutError> {
        let Some(children) = self.store().children("/isr_change_notification").await? else {
            return Ok(0);
        };
        for child in &children {
            self.store()
                .delete(&format!("/isr_change_notification/{child}"), false)
                .await?;
        }
        Ok(children.len())
    }

    /// The partition's leader/ISR and the znode version to pass back for a conditional write.
    pub async fn partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<(PartitionState, i32)>, LayoutError> {
        validate_topic_name(topic)?;
        let path = paths::partition_state(topic, partition);
        match self.store().get(&path).await? {
            None => Ok(None),
            Some((data, stat)) => codec::parse_partition_state(&data)
                .map(|s| Some((s, stat.version)))
                .map_err(|r| malformed(&path, r)),
        }
    }

    /// Creates /admin/delete_topics/<t>. Returns false if it was already marked.
    pub async fn mark_topic_for_deletion(&self, name: &str) -> Result<bool, LayoutError> {
        validate_topic_name(name)?;
        match self
            .store()
            .create_with_parents(&paths::delete_topic_marker(name), b"", NodeKind::Persistent)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::NodeExists(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn topics_marked_for_deletion(&self) -> Result<Vec<String>, LayoutError> {
        self.children_or_empty(paths::DELETE_TOPICS).await
    }

    /// Kafka's TopicDeletionManager.completeDeleteTopic: assignment and partition states,
    /// config, then the deletion marker (last, so an interrupted deletion is retried).
    pub async fn delete_topic_znodes(&self, name: &str) -> Result<(), LayoutError> {
        validate_topic_name(name)?;
        self.store().delete(&paths::topic(name), true).await?;
        self.store().delete(&paths::topic_config(name), true).await?;
        self.store().delete(&paths::delete_topic_marker(name), true).await?;
        Ok(())
    }

    /// /consumers/<group>/offsets/<topic>/<partition> = the next offset as plain decimal.
    pub async fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        self.upsert(
            &paths::consumer_offset(group, topic, partition),
            offset.to_string().as_bytes(),
        )
        .await?;
        Ok(())
    }

    /// The committed offset; a znode that is not a decimal counts as no offset.
    pub async fn fetch_offset(&self, group: &str, topic: &str, partition: i32) -> Result<Option<i64>, LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let path = paths::consumer_offset(group, topic, partition);
        let Some((data, _)) = self.store().get(&path).await? else {
            return Ok(None);
        };
        match codec::parse_decimal(&data) {
            Ok(offset) => Ok(Some(offset)),
            Err(reason) => {
                tracing::warn!(%path, %reason, "ignoring unparsable consumer offset");
                Ok(None)
            }
        }
    }

    /// Every (topic, partitions) with a committed offset under
    /// /consumers/<group>/offsets, for OffsetFetch's "all topics" form.
    pub async fn group_offset_partitions(&self, group: &str) -> Result<Vec<(String, Vec<i32>)>, LayoutError> {
        validate_group_name(group)?;
        let base = format!("{}/{group}/offsets", paths::CONSUMERS);
        let mut out = Vec::new();
        for topic in self.children_or_empty(&base).await? {
            let mut partitions: Vec<i32> = self
                .children_or_empty(&format!("{base}/{topic}"))
                .await?
                .iter()
                .filter_map(|p| p.parse().ok())
                .collect();
            partitions.sort_unstable();
            out.push((topic, partitions));
        }
        Ok(out)
    }

    /// Whether /consumers/<group> exists (offsets committed or consumers registered).
    pub async fn group_exists(&self, group: &str) -> Result<bool, LayoutError> {
        validate_group_name(group)?;
        Ok(self
            .store()
            .get(&format!("{}/{group}", paths::CONSUMERS))
            .await?
            .is_some())
    }

    /// Deletes a group's committed offsets (with krab's details of them) and, if nothing else is left in
    /// them, its empty `ids`/`owners` directories and the group znode. Live
    /// consumers' ephemerals are never touched. Returns whether the group existed.
    pub async fn delete_group(&self, group: &str) -> Result<bool, LayoutError> {
        validate_group_name(group)?;
        if !self.group_exists(group).await? {
            return Ok(false);
        }
        let base = format!("{}/{group}", paths::CONSUMERS);
        self.store().delete(&format!("{base}/offsets"), true).await?;
        // krab's commit details and group record (see layout_groups).
        self.store().delete(&format!("{base}/krab"), true).await?;
        let owners = format!("{base}/owners");
        for topic in self.children_or_empty(&owners).await? {
            // Per-topic owner directories (persistent): removed only when empty.
            if let Err(e) = self.store().delete(&format!("{owners}/{topic}"), false).await {
                tracing::debug!(path = %owners, error = %e, "kept");
            }
        }
        for dir in ["owners", "ids"] {
            let path = format!("{base}/{dir}");
            if let Err(e) = self.store().delete(&path, false).await {
                tracing::debug!(path = %path, error = %e, "kept");
            }
        }
        if let Err(e) = self.store().delete(&base, false).await {
            tracing::debug!(path = %base, error = %e, "kept");
        }
        Ok(true)
    }

    /// Children of /consumers, sorted.
    pub async fn list_groups(&self) -> Result<Vec<String>, LayoutError> {
        self.children_or_empty(paths::CONSUMERS).await
    }

    /// Claims the next block of [`PRODUCER_ID_BLOCK_SIZE`] producer ids (inclusive bounds)
    /// via a conditional write of /latest_producer_id_block.
    pub async fn next_producer_id_block(&self, broker_id: i32) -> Result<(i64, i64), LayoutError> {
        let path = paths::LATEST_PRODUCER_ID_BLOCK;
        for _ in 0..MAX_ATTEMPTS {
            let current = self.store().get(path).await?;
            let start = match &current {
                Some((data, _)) if !data.is_empty() => {
                    let end = codec::parse_producer_id_block_end(data).map_err(|r| malformed(path, r))?;
                    end.checked_add(1)
                        .ok_or_else(|| malformed(path, "producer ids exhausted".into()))?
                }
                _ => 0,
            };
            let end = start
                .checked_add(PRODUCER_ID_BLOCK_SIZE - 1)
                .ok_or_else(|| malformed(path, "producer ids exhausted".into()))?;
            let data = codec::producer_id_block(broker_id, start, end);
            let written = match current {
                Some((_, stat)) => self.store().set(path, &data, Some(stat.version)).await.map(drop),
                None => self
                    .store()
                    .create_with_parents(path, &data, NodeKind::Persistent)
                    .await
                    .map(drop),
            };
            match written {
                Ok(()) => return Ok((start, end)),
                Err(StoreError::BadVersion(_) | StoreError::NodeExists(_) | StoreError::NoNode(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LayoutError::Contention(path.to_owned()))
    }
}
