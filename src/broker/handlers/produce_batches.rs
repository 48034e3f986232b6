//! Produce's batch rules, sans-IO (bytes in, batches or a refusal out):
//! turning a partition's records into v2 batches checked against the size
//! limit and the request version, the topic's `compression.type`
//! (recompression) and its timestamp rules (LogAppendTime stamping,
//! `message.timestamp.difference.max.ms` with per-record errors).

use crate::broker::topic_config_defs::format_magic;
use crate::protocol::ErrorCode;
use crate::records::{
    decode_batch_records, produce_to_batches, recompress, set_log_append_time, BatchHeader, Compression, RecordError,
    MAGIC_V2,
};

/// Why a partition's records were refused: Kafka's error code, and for v8+
/// a message and the records (by index in their batch) at fault.
#[derive(Debug)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: Option<String>,
    pub record_errors: Vec<(i32, String)>,
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Refusal {
        Refusal {
            code,
            message: None,
            record_errors: Vec::new(),
        }
    }
}

pub type Batches = (Vec<Vec<u8>>, Vec<BatchHeader>);

/// Turns a partition's records into v2 batches and checks them against the
/// size limit and the request version.
pub fn prepare(records: &[u8], version: i16, max_bytes: usize) -> Result<Batches, Refusal> {
    let batches = produce_to_batches(records, version).map_err(record_error_code)?;
    let mut headers = Vec::with_capacity(batches.len());
    for batch in &batches {
        let header = BatchHeader::parse(batch).map_err(record_error_code)?;
        if batch.len() > max_bytes {
            return Err(ErrorCode::MessageTooLarge.into());
        }
        if version < 7 && header.compression().ok() == Some(Compression::Zstd) {
            return Err(ErrorCode::UnsupportedCompressionType.into());
        }
        // Clients never write control batches (markers come from the
        // transaction coordinator); a transactional batch needs an id.
        if header.is_control() || (header.is_transactional() && header.producer_id < 0) {
            return Err(ErrorCode::InvalidRecord.into());
        }
        // Kafka's LogValidator checks on producer batches: offsets dense
        // from 0, and a sequence for every idempotent batch.
        let count_matches =
            header.record_count > 0 && header.record_count as i64 == header.last_offset_delta as i64 + 1;
        if !count_matches || (header.producer_id >= 0 && header.base_sequence < 0) {
            return Err(ErrorCode::InvalidRecord.into());
        }
        headers.push(header);
    }
    Ok((batches, headers))
}

/// The magic a topic stores: 2, or 0/1 when its `message.format.version`
/// names a release before 0.11 (0.8.x/0.9.x: 0, 0.10.x: 1).
pub fn storage_magic(setting: impl Fn(&str) -> Option<String>) -> i8 {
    setting("message.format.version")
        .and_then(|version| format_magic(version.trim()))
        .map_or(MAGIC_V2, |magic| magic.min(MAGIC_V2))
}

/// Refuses, as Kafka's LogValidator does, what a magic 0/1 topic cannot
/// hold: idempotent or transactional batches, zstd, record headers.
pub fn check_storable(batches: Batches, magic: i8) -> Result<Batches, Refusal> {
    if magic >= MAGIC_V2 {
        return Ok(batches);
    }
    let refuse = |code: ErrorCode, message: String| Refusal {
        code,
        message: Some(message),
        record_errors: Vec::new(),
    };
    for (batch, header) in batches.0.iter().zip(&batches.1) {
        if header.producer_id >= 0 {
            return Err(refuse(
                ErrorCode::UnsupportedForMessageFormat,
                format!("Idempotent records cannot be used with magic version {magic}"),
            ));
        }
        if header.compression().ok() == Some(Compression::Zstd) {
            return Err(refuse(
                ErrorCode::UnsupportedCompressionType,
                format!("Produce requests with ZStandard compression are not allowed for magic version {magic}"),
            ));
        }
        let (_, records) = decode_batch_records(batch).map_err(record_error_code)?;
        if records.iter().any(|record| !record.headers.is_empty()) {
            return Err(refuse(
                ErrorCode::InvalidRecord,
                format!("Magic v{magic} does not support record headers"),
            ));
        }
    }
    Ok(batches)
}

/// Whether a topic's `cleanup.policy` includes `compact`.
pub fn is_compacted(setting: impl Fn(&str) -> Option<String>) -> bool {
    setting("cleanup.policy").is_some_and(|policy| policy.split(',').any(|p| p.trim() == "compact"))
}

/// A compacted topic refuses records without a key, as Kafka's
/// LogValidator does: the whole partition's records with INVALID_RECORD,
/// naming each keyless record (v8+ `record_errors`).
pub fn check_keys(batches: Batches, compacted: bool, topic: &str, partition: i32) -> Result<Batches, Refusal> {
    if !compacted {
        return Ok(batches);
    }
    let message = format!("Compacted topic cannot accept message without key in topic partition {topic}-{partition}.");
    let mut record_errors = Vec::new();
    for batch in &batches.0 {
        let (_, records) = decode_batch_records(batch).map_err(record_error_code)?;
        for (index, record) in records.iter().enumerate() {
            if record.key.is_none() {
                record_errors.push((i32::try_from(index).unwrap_or(i32::MAX), message.clone()));
            }
        }
    }
    if record_errors.is_empty() {
        return Ok(batches);
    }
    Err(Refusal {
        code: ErrorCode::InvalidRecord,
        message: Some(message),
        record_errors,
    })
}

/// The codec a topic's `compression.type` asks for; `None` keeps the
/// producer's (`producer`, the default).
pub fn topic_compression(setting: impl Fn(&str) -> Option<String>) -> Option<Compression> {
    match setting("compression.type")?.trim().to_ascii_lowercase().as_str() {
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

/// Batches whose codec differs from the topic's are recompressed, as Kafka
/// does; the result must still fit `max.message.bytes`.
pub fn recompress_batches(
    (mut batches, mut headers): Batches,
    codec: Option<Compression>,
    max_bytes: usize,
) -> Result<Batches, Refusal> {
    let Some(codec) = codec else {
        return Ok((batches, headers));
    };
    for (batch, header) in batches.iter_mut().zip(headers.iter_mut()) {
        if header.compression().ok() == Some(codec) {
            continue;
        }
        *batch = recompress(batch, codec).map_err(record_error_code)?;
        if batch.len() > max_bytes {
            return Err(ErrorCode::MessageTooLarge.into());
        }
        *header = BatchHeader::parse(batch).map_err(record_error_code)?;
    }
    Ok((batches, headers))
}

/// The topic's `message.timestamp.type` and, for CreateTime,
/// `message.timestamp.difference.max.ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampRule {
    LogAppendTime,
    CreateTime { max_difference_ms: Option<i64> },
}

impl TimestampRule {
    pub fn of(setting: impl Fn(&str) -> Option<String>) -> TimestampRule {
        let append = setting("message.timestamp.type").is_some_and(|v| v.trim().eq_ignore_ascii_case("LogAppendTime"));
        if append {
            return TimestampRule::LogAppendTime;
        }
        let max_difference_ms = setting("message.timestamp.difference.max.ms")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v < i64::MAX);
        TimestampRule::CreateTime { max_difference_ms }
    }
}

/// LogAppendTime: every batch gets the broker's clock as its max timestamp
/// (Kafka's `setMaxTimestamp(LOG_APPEND_TIME, now)`; consumers read it as
/// every record's timestamp). CreateTime with a maximum difference: a batch
/// holding a record further from the broker's clock is refused with
/// INVALID_TIMESTAMP, naming each such record (Kafka's LogValidator).
pub fn apply_timestamps((mut batches, mut headers): Batches, rule: TimestampRule) -> Result<Batches, Refusal> {
    let now = crate::broker::now_ms();
    match rule {
        TimestampRule::LogAppendTime => {
            for (batch, header) in batches.iter_mut().zip(headers.iter_mut()) {
                set_log_append_time(batch, now).map_err(record_error_code)?;
                *header = BatchHeader::parse(batch).map_err(record_error_code)?;
            }
        }
        TimestampRule::CreateTime {
            max_difference_ms: Some(max),
        } => {
            for batch in &batches {
                let errors = timestamps_out_of_range(batch, now, max)?;
                if !errors.is_empty() {
                    return Err(Refusal {
                        code: ErrorCode::InvalidTimestamp,
                        message: Some("One or more records have been rejected due to invalid timestamp".into()),
                        record_errors: errors,
                    });
                }
            }
        }
        TimestampRule::CreateTime {
            max_difference_ms: None,
        } => {}
    }
    Ok((batches, headers))
}

/// The records of `batch` whose CreateTime is more than `max` ms from `now`.
fn timestamps_out_of_range(batch: &[u8], now: i64, max: i64) -> Result<Vec<(i32, String)>, Refusal> {
    let (_, records) = decode_batch_records(batch).map_err(record_error_code)?;
    let low = now.saturating_sub(max);
    let high = now.saturating_add(max);
    Ok(records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.timestamp >= 0 && !(low..=high).contains(&r.timestamp))
        .map(|(i, r)| {
            let message = format!(
                "Timestamp {} of message with offset {} is out of range. The timestamp should be within [{low}, {high}]",
                r.timestamp, i
            );
            (i32::try_from(i).unwrap_or(i32::MAX), message)
        })
        .collect())
}

fn record_error_code(e: RecordError) -> Refusal {
    let code = match &e {
        RecordError::UnsupportedCompression(_) => ErrorCode::UnsupportedCompressionType,
        RecordError::InvalidRecord(_) | RecordError::UnsupportedMagic(_) => ErrorCode::InvalidRecord,
        _ => ErrorCode::CorruptMessage,
    };
    Refusal {
        code,
        message: Some(e.to_string()),
        record_errors: Vec::new(),
    }
}
