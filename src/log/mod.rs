//! The partition log: segments on disk, sparse indexes, recovery and retention.
//!
//! A partition directory holds segments named by their 20-digit base offset:
//! `.log` (batches exactly as appended), `.index` and `.timeindex` (sparse
//! indexes in Kafka's file format), plus the small `log-start-offset` and
//! `recovery-point` checkpoints. `PartitionLog` is the entry point.

mod batch_header;
mod checkpoint;
pub mod cleaner;
mod config;
mod error;
mod index_file;
mod offset_index;
mod partition_log;
mod recovery;
mod retention;
mod scanner;
mod segment;
mod time_index;

pub use config::LogConfig;
pub use error::LogError;
pub use partition_log::{control_record_type, AppendInfo, BatchInfo, PartitionLog, ReadResult};
