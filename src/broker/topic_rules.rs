//! The rules a topic must satisfy before anything is written: its name,
//! partition count, replication factor and configs; and Kafka's replica
//! assignment. Pure functions, shared by the API handlers and the tools.

use std::collections::BTreeMap;

use rand::Rng;

use crate::protocol::ErrorCode;

/// A topic-level failure, mapped to a Kafka error code at the handler edge.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("invalid topic name {0:?}: {1}")]
    InvalidName(String, String),
    #[error("topic {0} already exists")]
    Exists(String),
    #[error("number of partitions must be at least 1, got {0}")]
    InvalidPartitions(i32),
    #[error("replication factor {0} is invalid with {1} live broker(s)")]
    InvalidReplicationFactor(i16, usize),
    #[error("invalid replica assignment: {0}")]
    InvalidAssignment(String),
    #[error("invalid config {0}: {1}")]
    InvalidConfig(String, String),
    #[error("topic {0} does not exist")]
    Unknown(String),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    DeletionDisabled,
    #[error("metadata store: {0}")]
    Store(String),
    #[error("log: {0}")]
    Log(String),
}

impl TopicError {
    pub fn code(&self) -> ErrorCode {
        match self {
            TopicError::InvalidName(..) => ErrorCode::InvalidTopicException,
            TopicError::Exists(_) => ErrorCode::TopicAlreadyExists,
            TopicError::InvalidPartitions(_) => ErrorCode::InvalidPartitions,
            TopicError::InvalidReplicationFactor(..) => ErrorCode::InvalidReplicationFactor,
            TopicError::InvalidAssignment(_) => ErrorCode::InvalidReplicaAssignment,
            TopicError::InvalidConfig(..) => ErrorCode::InvalidConfig,
            TopicError::Unknown(_) => ErrorCode::UnknownTopicOrPartition,
            TopicError::DeletionDisabled => ErrorCode::TopicDeletionDisabled,
            TopicError::Store(_) | TopicError::Log(_) => ErrorCode::UnknownServerError,
        }
    }
}

/// Kafka's rules (`[a-zA-Z0-9._-]`, at most 249 characters, not `.`/`..`),
/// the same check the metadata layer applies before writing a znode.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    crate::metadata::layout::validate_topic_name(name).map_err(|e| match e {
        crate::metadata::LayoutError::InvalidName { reason, .. } => TopicError::InvalidName(name.to_string(), reason),
        other => TopicError::Store(other.to_string()),
    })
}

/// Kafka's rack-unaware assignment: replicas round-robin over the brokers
/// from a random start, the followers shifted so that leadership and
/// replicas spread evenly.
pub fn assign_replicas(brokers: &[i32], partitions: i32, replication_factor: i16) -> BTreeMap<i32, Vec<i32>> {
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let mut out = BTreeMap::new();
    if n == 0 {
        return out;
    }
    let mut rng = rand::thread_rng();
    let start = rng.gen_range(0..n);
    let mut shift = rng.gen_range(0..n);
    for p in 0..partitions.max(0) as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start) % n;
        let mut replicas = vec![sorted[first]];
        for j in 0..(replication_factor.max(1) as usize - 1) {
            let step = 1 + (shift + j) % (n - 1).max(1);
            replicas.push(sorted[(first + step) % n]);
        }
        out.insert(p as i32, replicas);
    }
    out
}

/// Topic-level overrides that the log honours.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "max.message.bytes",
    "flush.messages",
    "flush.ms",
    "cleanup.policy",
];

pub fn validate_topic_config(config: &BTreeMap<String, String>) -> Result<(), TopicError> {
    for (key, value) in config {
        if !TOPIC_CONFIG_KEYS.contains(&key.as_str()) {
            return Err(TopicError::InvalidConfig(key.clone(), "unknown topic config".into()));
        }
        if key == "cleanup.policy" {
            if value != "delete" {
                return Err(TopicError::InvalidConfig(
                    key.clone(),
                    "only 'delete' is supported".into(),
                ));
            }
            continue;
        }
        if value.parse::<i64>().is_err() {
            return Err(TopicError::InvalidConfig(
                key.clone(),
                format!("{value:?} is not an integer"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("my-topic00").is_ok());
        assert!(validate_topic_name("a.b_c-D9").is_ok());
        for bad in ["", ".", "..", "a b", "a/b", "ü"] {
            assert!(validate_topic_name(bad).is_err(), "{bad}");
        }
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
    }

    #[test]
    fn assignment_spreads_leaders_and_replicas() {
        let a = assign_replicas(&[3, 1, 2], 6, 2);
        assert_eq!(a.len(), 6);
        let mut leaders = HashMap::new();
        for replicas in a.values() {
            assert_eq!(replicas.len(), 2);
            assert_ne!(replicas[0], replicas[1]);
            *leaders.entry(replicas[0]).or_insert(0) += 1;
        }
        assert!(leaders.values().all(|n| *n == 2), "{leaders:?}");
        let single = assign_replicas(&[0], 3, 1);
        assert!(single.values().all(|r| r == &vec![0]));
    }

    #[test]
    fn topic_config_validation() {
        let ok: BTreeMap<String, String> = [("retention.ms".to_string(), "1000".to_string())].into();
        assert!(validate_topic_config(&ok).is_ok());
        let bad: BTreeMap<String, String> = [("retention.ms".to_string(), "soon".to_string())].into();
        assert!(validate_topic_config(&bad).is_err());
        let unknown: BTreeMap<String, String> = [("foo".to_string(), "1".to_string())].into();
        assert!(validate_topic_config(&unknown).is_err());
    }
}
