//! Replication: what a partition replica knows of its role (leader with its
//! followers' progress, or follower of a leader), the leader epoch cache,
//! the follower's fetch task, the leader's ISR upkeep and the high-watermark
//! checkpoint file. The controller that decides leaders lives in
//! `crate::controller`; partition state reaches replicas through the state
//! znodes (`/brokers/topics/<t>/partitions/<p>/state`), which every broker
//! follows.

pub mod checkpoint_file;
pub mod epoch_cache;
pub mod fetcher;
pub mod isr;
pub mod peer;
pub mod progress;
pub mod throttle;

pub use epoch_cache::EpochCache;
pub use progress::LeaderProgress;

/// What this broker does for one partition.
#[derive(Clone, Debug)]
pub enum Role {
    /// Not yet told (just opened), or the partition has no leader.
    None,
    Leader(Box<LeaderProgress>),
    Follower {
        leader: i32,
    },
}

/// A replica's view of the partition state znode and its role in it.
#[derive(Clone, Debug)]
pub struct ReplicaState {
    pub me: i32,
    pub role: Role,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<i32>,
    /// Version of the state znode this view was read or written at: the
    /// leader's ISR writes are conditional on it.
    pub zk_version: i32,
    pub controller_epoch: i32,
}

impl ReplicaState {
    pub fn new(me: i32) -> ReplicaState {
        ReplicaState {
            me,
            role: Role::None,
            leader: -1,
            leader_epoch: -1,
            isr: Vec::new(),
            replicas: Vec::new(),
            zk_version: -1,
            controller_epoch: 0,
        }
    }
}
