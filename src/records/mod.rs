//! Record formats, sans-IO: RecordBatch v2 (what the log stores), the legacy
//! MessageSet (magic 0 and 1), compression codecs, and conversion between them.
//!
//! Every decoder here is total: any input yields a value or a `RecordError`,
//! never a panic, and no allocation is sized by a length field beyond what the
//! input (or, after decompression, `MAX_DECOMPRESSED_LEN`) can back.

mod batch;
mod compression;
mod convert;
mod error;
mod legacy;
mod legacy_encode;
mod lz4;
mod reader;
mod record;
mod snappy;
mod varint;

#[cfg(test)]
mod fuzz_tests;

pub use batch::{
    increment_sequence, set_base_offset, set_log_append_time, set_partition_leader_epoch, split_batches,
    stored_entry_header, validate_batch, BatchHeader, BatchIter, BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP,
};
pub use compression::{compress, decompress, decompress_with_limit, Compression, MAX_DECOMPRESSED_LEN};
pub use convert::{down_convert, needs_down_conversion, produce_to_batches, to_legacy_entries};
pub use error::RecordError;
pub use legacy::{decode_message_set, decode_message_set_strict, LegacyMessage, MAGIC_V0, MAGIC_V1};
pub use legacy_encode::encode_message_set;
pub use record::{decode_batch_records, encode_batch, encode_control_batch, rebuild_batch, recompress, Record};
pub use varint::{read_varint, read_varlong, varint_len, varlong_len, write_varint, write_varlong};
