//! What one refresh saw: the cluster, every topic's log end offsets and
//! every group's committed offsets. Pages and the JSON API render the same
//! values, so they never disagree.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// When this refresh finished (ms since the epoch); 0 before the first.
    pub taken_at_ms: i64,
    /// Problems of the last refresh (ZooKeeper or a broker unreachable...).
    /// When the refresh failed as a whole, the data is the last good one.
    pub errors: Vec<String>,
    /// When the data was last refreshed successfully.
    pub data_as_of_ms: i64,
    pub brokers: Vec<BrokerRow>,
    pub controller: Option<i32>,
    pub topics: BTreeMap<String, TopicRow>,
    pub groups: BTreeMap<String, GroupRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BrokerRow {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TopicRow {
    pub partitions: Vec<PartitionRow>,
}

impl TopicRow {
    /// Sum of the partitions' log end offsets, if every one is known.
    pub fn log_size(&self) -> Option<i64> {
        self.partitions
            .iter()
            .try_fold(0i64, |sum, p| Some(sum.saturating_add(p.log_size?)))
    }

    /// Partitions whose ISR is smaller than their replica set.
    pub fn under_replicated(&self) -> usize {
        self.partitions.iter().filter(|p| p.is_under_replicated()).count()
    }

    /// Partitions without a leader.
    pub fn offline(&self) -> usize {
        self.partitions.iter().filter(|p| p.leader < 0).count()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PartitionRow {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The log end offset (ListOffsets latest), unknown if the leader did not answer.
    pub log_size: Option<i64>,
}

/// How a group's members coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coordination {
    /// Members register in /consumers/<g>/ids (Kafka's old consumer, pykafka's balanced consumer).
    Zookeeper,
    /// Members joined through the broker's group coordinator (JoinGroup/SyncGroup).
    Broker,
    /// No member right now: only committed offsets.
    None,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupRow {
    pub state: String,
    pub coordination: Coordination,
    pub members: Vec<MemberRow>,
    pub partitions: Vec<OffsetRow>,
}

impl GroupRow {
    /// Sum of the known lags.
    pub fn total_lag(&self) -> i64 {
        self.partitions
            .iter()
            .filter_map(|r| r.lag)
            .fold(0, i64::saturating_add)
    }

    /// False when a committed offset's lag is unknown (its leader did not
    /// answer): the total is then a lower bound.
    pub fn lag_complete(&self) -> bool {
        self.partitions.iter().all(|r| r.offset.is_none() || r.lag.is_some())
    }

    pub fn topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = self.partitions.iter().map(|r| r.topic.as_str()).collect();
        topics.dedup();
        topics
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberRow {
    pub id: String,
    pub client_id: String,
    pub host: String,
}

/// One topic-partition of a group: KafkaOffsetMonitor's row.
#[derive(Clone, Debug, Serialize)]
pub struct OffsetRow {
    pub topic: String,
    pub partition: i32,
    /// The committed offset; `None` if there is none or it is invalid.
    pub offset: Option<i64>,
    /// Why the stored offset could not be read (e.g. a znode that is not a decimal).
    pub invalid: Option<String>,
    pub log_size: Option<i64>,
    /// `log_size - offset`, never negative; unknown if either is.
    pub lag: Option<i64>,
    /// Who consumes the partition: the owner znode's data for ZooKeeper
    /// groups ("none" if unowned), the member id for broker groups.
    pub owner: String,
    /// When the offset was first stored and last written (znode ctime/mtime;
    /// without a store, when this monitor first saw it and saw it change).
    pub created_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
}

impl PartitionRow {
    pub fn is_under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
}

pub fn lag(offset: Option<i64>, log_size: Option<i64>) -> Option<i64> {
    Some(log_size?.saturating_sub(offset?).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_never_negative_and_unknown_when_either_side_is() {
        assert_eq!(lag(Some(5), Some(12)), Some(7));
        assert_eq!(lag(Some(15), Some(12)), Some(0));
        assert_eq!(lag(None, Some(12)), None);
        assert_eq!(lag(Some(1), None), None);
    }

    #[test]
    fn under_replicated_and_offline_partitions_are_counted() {
        let row = |leader, isr: &[i32]| PartitionRow {
            partition: 0,
            leader,
            replicas: vec![0, 1],
            isr: isr.to_vec(),
            log_size: None,
        };
        let t = TopicRow {
            partitions: vec![row(0, &[0, 1]), row(0, &[0]), row(-1, &[1])],
        };
        assert_eq!(t.under_replicated(), 2);
        assert_eq!(t.offline(), 1);
    }
}
