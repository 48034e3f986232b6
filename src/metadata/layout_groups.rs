//! What krab keeps about a group beyond Kafka's ZooKeeper layout, in a
//! sibling tree the old tools never look into:
//!
//! * `/consumers/<g>/krab/offsets/<t>/<p>`: JSON `{"version":1,"offset":N,
//!   "leader_epoch":E,"metadata":"..."}`, the committed leader epoch and
//!   commit metadata of the offset in `/consumers/<g>/offsets/<t>/<p>`. That
//!   znode stays a plain decimal (zkCli, Burrow and the old consumer read it).
//!   The details count only while their `offset` equals the decimal, so an
//!   offset a person sets with zkCli never comes back with a stale epoch.
//! * `/consumers/<g>/krab/group`: JSON `{"version":1,"protocol_type":"consumer",
//!   "protocol":"range"}`, written when a broker-managed member first commits,
//!   so an Empty group with offsets is still listed as the consumer group it was.

use serde::{Deserialize, Serialize};

use super::layout::{paths, validate_group_name, validate_topic_name, KafkaLayout, LayoutError};
use super::store::StoreError;

/// A commit's leader epoch and metadata, as kept beside the offset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetDetails {
    pub version: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    #[serde(default)]
    pub metadata: String,
}

/// The group's protocol as its members last ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub version: i32,
    pub protocol_type: String,
    #[serde(default)]
    pub protocol: String,
}

fn group_base(group: &str) -> String {
    format!("{}/{group}", paths::CONSUMERS)
}

pub fn offset_details_path(group: &str, topic: &str, partition: i32) -> String {
    format!("{}/krab/offsets/{topic}/{partition}", group_base(group))
}

pub fn group_record_path(group: &str) -> String {
    format!("{}/krab/group", group_base(group))
}

impl KafkaLayout {
    /// Writes the details of a commit (the offset itself is written by `commit_offset`).
    pub async fn commit_offset_details(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
        details: &OffsetDetails,
    ) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let data = serde_json::to_vec(details).map_err(|e| LayoutError::InvalidArgument(e.to_string()))?;
        self.upsert(&offset_details_path(group, topic, partition), &data)
            .await?;
        Ok(())
    }

    /// The details stored for a partition, if any and readable.
    pub async fn fetch_offset_details(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<OffsetDetails>, LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let path = offset_details_path(group, topic, partition);
        let Some((data, _)) = self.store().get(&path).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&data) {
            Ok(details) => Ok(Some(details)),
            Err(e) => {
                tracing::warn!(%path, error = %e, "ignoring unreadable offset details");
                Ok(None)
            }
        }
    }

    /// Removes a partition's details (a commit without epoch or metadata).
    pub async fn delete_offset_details(&self, group: &str, topic: &str, partition: i32) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        self.store()
            .delete(&offset_details_path(group, topic, partition), false)
            .await?;
        Ok(())
    }

    /// OffsetDelete of one partition: the offset, its details, and the
    /// topic's directories once empty. Whether an offset was there.
    pub async fn delete_offset(&self, group: &str, topic: &str, partition: i32) -> Result<bool, LayoutError> {
        validate_group_name(group)?;
        validate_topic_name(topic)?;
        let offset = paths::consumer_offset(group, topic, partition);
        let existed = self.store().get(&offset).await?.is_some();
        self.store().delete(&offset, true).await?;
        self.store()
            .delete(&offset_details_path(group, topic, partition), true)
            .await?;
        let base = group_base(group);
        for dir in [
            format!("{base}/offsets/{topic}"),
            format!("{base}/krab/offsets/{topic}"),
        ] {
            delete_if_empty(self, &dir).await?;
        }
        Ok(existed)
    }

    /// After offsets were deleted: if none is left, the group's record and
    /// its now-empty directories go too (what DeleteGroups leaves behind).
    pub async fn forget_group_if_no_offsets(&self, group: &str) -> Result<(), LayoutError> {
        let left = self.group_offset_partitions(group).await?;
        if left.iter().any(|(_, partitions)| !partitions.is_empty()) {
            return Ok(());
        }
        self.delete_group(group).await?;
        Ok(())
    }

    pub async fn write_group_record(&self, group: &str, record: &GroupRecord) -> Result<(), LayoutError> {
        validate_group_name(group)?;
        let data = serde_json::to_vec(record).map_err(|e| LayoutError::InvalidArgument(e.to_string()))?;
        self.upsert(&group_record_path(group), &data).await?;
        Ok(())
    }

    pub async fn group_record(&self, group: &str) -> Result<Option<GroupRecord>, LayoutError> {
        validate_group_name(group)?;
        let path = group_record_path(group);
        let Some((data, _)) = self.store().get(&path).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&data).ok())
    }
}

/// Deletes `path` unless it has children (another partition's offset).
async fn delete_if_empty(layout: &KafkaLayout, path: &str) -> Result<(), LayoutError> {
    match layout.store().delete(path, false).await {
        Ok(()) | Err(StoreError::NotEmpty(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
