//! A group as the store shows it when this broker has no members for it:
//! ZooKeeper-registered consumers (Stable) if there are any, else Empty,
//! with the protocol its broker-managed members last committed under (see
//! `metadata::layout_groups`): an Empty group that had consumers stays a
//! "consumer" group while its offsets exist, one that only ever took
//! simple commits has protocol type "", as Kafka reports them.

use super::types::{GroupDescription, GroupState};
use super::zk_consumers;
use crate::metadata::{KafkaLayout, LayoutError};

pub async fn describe_stored(layout: &KafkaLayout, group: &str) -> Result<GroupDescription, LayoutError> {
    let members = zk_consumers::members(layout, group).await?;
    if !members.is_empty() {
        return Ok(zk_consumers::describe(&members));
    }
    let record = match layout.group_record(group).await {
        Ok(record) => record,
        Err(e) => {
            // Only the protocol type is lost: the group is still listed.
            tracing::warn!(group, error = %e, "cannot read the group's record");
            None
        }
    };
    Ok(match record {
        Some(r) => GroupDescription {
            state: GroupState::Empty,
            protocol_type: r.protocol_type,
            protocol_name: r.protocol,
            members: vec![],
        },
        None => zk_consumers::describe(&[]),
    })
}
