//! Consumer groups: the classic-protocol group coordinator (a sans-IO state
//! machine per group plus the async shell that holds requests and ticks
//! timers), committed offsets in the `/consumers` layout, and the read-only
//! view of groups whose consumers coordinate through ZooKeeper themselves.

pub mod coordinator;
pub mod offsets;
mod rebalance;
pub mod state;
pub mod stored;
pub mod subscriptions;
pub mod timers;
pub mod types;
pub mod zk_consumers;

#[cfg(test)]
mod coordinator_tests;
#[cfg(test)]
mod offsets_tests;
#[cfg(test)]
mod state_tests;

pub use coordinator::GroupCoordinator;
pub use offsets::{Commit, Committed, OffsetKey, OffsetStats, OffsetStore};
pub use state::Group;
pub use subscriptions::GroupSubscriptions;
pub use types::*;

/// A group id must be usable as one znode name.
pub fn valid_group_id(group: &str) -> bool {
    !group.is_empty() && group != "." && group != ".." && !group.contains('/') && !group.chars().any(|c| c.is_control())
}
