//! The rules a topic must satisfy before anything is written: its name,
//! partition count, replication factor and configs; and Kafka's replica
//! assignment. Pure functions, shared by the API handlers and the tools.

use std::collections::BTreeMap;

use rand::Rng;

use crate::protocol::ErrorCode;

use super::topic_config_defs;

/// The most partitions a topic may have (librdkafka's limit too): every
/// partition is a directory and a map entry, so an absurd count from a
/// request must not be honoured.
pub const MAX_PARTITIONS: i32 = 100_000;

/// A topic-level failure, mapped to a Kafka error code at the handler edge.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("invalid topic name {0:?}: {1}")]
    InvalidName(String, String),
    #[error("topic {0} already exists")]
    Exists(String),
    #[error("number of partitions must be at least 1, got {0}")]
    InvalidPartitions(i32),
    #[error("number of partitions {0} is above the limit of {MAX_PARTITIONS}")]
    TooManyPartitions(i32),
    #[error("topic {0} has {1} partitions; the partition count can only be increased (requested {2})")]
    PartitionsNotIncreased(String, usize, i32),
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
            TopicError::InvalidPartitions(_)
            | TopicError::TooManyPartitions(_)
            | TopicError::PartitionsNotIncreased(..) => ErrorCode::InvalidPartitions,
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
    assign_replicas_from(brokers, 0, partitions, replication_factor, None)
}

/// Kafka's `AdminUtils.assignReplicasToBrokers`: `count` partitions numbered
/// from `first_partition`. `fixed_start` (the index of the existing partition
/// 0's leader among the sorted brokers, when adding partitions) replaces the
/// random start and shift, so new partitions continue the existing pattern.
pub fn assign_replicas_from(
    brokers: &[i32],
    first_partition: i32,
    count: i32,
    replication_factor: i16,
    fixed_start: Option<usize>,
) -> BTreeMap<i32, Vec<i32>> {
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let mut out = BTreeMap::new();
    if n == 0 {
        return out;
    }
    let mut rng = rand::thread_rng();
    let start = fixed_start.map(|s| s % n).unwrap_or_else(|| rng.gen_range(0..n));
    let mut shift = fixed_start.unwrap_or_else(|| rng.gen_range(0..n));
    let first_partition = first_partition.max(0) as usize;
    for p in first_partition..first_partition + count.max(0) as usize {
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

/// Parses kafka-topics' `--replica-assignment`: partitions separated by
/// commas, the replicas of one partition by colons (`0:1,1:2`).
pub fn parse_replica_assignment(text: &str) -> Result<Vec<Vec<i32>>, TopicError> {
    let mut out = Vec::new();
    for (p, part) in text.split(',').enumerate() {
        let mut replicas = Vec::new();
        for r in part.split(':') {
            let id = r.trim().parse::<i32>().map_err(|_| {
                TopicError::InvalidAssignment(format!("partition {p}: {r:?} is not a broker id in {text:?}"))
            })?;
            if replicas.contains(&id) {
                return Err(TopicError::InvalidAssignment(format!(
                    "partition {p}: broker {id} appears twice"
                )));
            }
            replicas.push(id);
        }
        if let Some(first) = out.first().map(Vec::len) {
            if first != replicas.len() {
                return Err(TopicError::InvalidAssignment(format!(
                    "partition {p} has {} replicas, partition 0 has {first}",
                    replicas.len()
                )));
            }
        }
        out.push(replicas);
    }
    Ok(out)
}

/// Checks every key against Kafka 2.8's topic configs (type, range, valid
/// values). Valid keys krab does not act on yet are accepted and stored.
pub fn validate_topic_config(config: &BTreeMap<String, String>) -> Result<(), TopicError> {
    for (key, value) in config {
        let Some(def) = topic_config_defs::find(key) else {
            return Err(TopicError::InvalidConfig(
                key.clone(),
                "unknown topic config name (not one of Kafka 2.8's topic configs)".into(),
            ));
        };
        topic_config_defs::check(def, value)
            .map_err(|rule| TopicError::InvalidConfig(key.clone(), format!("invalid value {value:?}: {rule}")))?;
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
    fn replica_assignment_text() {
        assert_eq!(
            parse_replica_assignment("0:1,1:2").unwrap(),
            vec![vec![0, 1], vec![1, 2]]
        );
        assert_eq!(parse_replica_assignment("3").unwrap(), vec![vec![3]]);
        assert!(parse_replica_assignment("0:0").is_err(), "a broker twice");
        assert!(parse_replica_assignment("0:1,2").is_err(), "uneven replica counts");
        assert!(parse_replica_assignment("a:b").is_err());
        assert!(parse_replica_assignment("").is_err());
    }

    #[test]
    fn config_errors_name_the_key_the_value_and_the_rule() {
        let one = |k: &str, v: &str| -> BTreeMap<String, String> { [(k.to_string(), v.to_string())].into() };
        let e = validate_topic_config(&one("segment.bytes", "13"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("segment.bytes") && e.contains("13") && e.contains("at least 14"),
            "{e}"
        );
        assert!(validate_topic_config(&one("cleanup.policy", "compact,delete")).is_ok());
        assert!(validate_topic_config(&one("message.format.version", "0.10.2")).is_ok());
        let e = validate_topic_config(&one("retention.hours", "1"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("retention.hours") && e.contains("unknown topic config"),
            "{e}"
        );
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
