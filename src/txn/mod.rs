//! Transactions (KIP-98): the coordinator that keeps each transactional id's
//! state and decides commits and aborts, and the markers that carry the
//! decision into every partition a transaction wrote. The partition side
//! (open transactions, the last stable offset, the aborted index) is
//! `broker::partition_txns`.

pub mod coordinator;
pub mod markers;
pub mod metadata;

pub use coordinator::{TxnCoordinator, TxnProducer};
pub use metadata::{TxnMetadata, TxnState};
