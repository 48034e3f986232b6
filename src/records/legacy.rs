//! The legacy MessageSet (magic 0 and 1).
//!
//! Entry: offset i64, message size i32, then the message: crc u32 (CRC-32 IEEE
//! of magic..end), magic i8, attributes i8 (bits 0-2 codec, bit 3 timestamp
//! type in magic 1), timestamp i64 (magic 1 only), key and value as i32 length
//! (negative = null) + bytes. A compressed message is a wrapper whose value is
//! a compressed inner MessageSet. Magic 0 inner offsets are absolute; magic 1
//! inner offsets are relative and the wrapper carries the last inner absolute
//! offset.

use bytes::Bytes;

use super::batch::{
    BatchHeader, LOG_OVERHEAD, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP,
};
use super::compression::{decompress, Compression};
use super::error::{RecordError, Result};
use super::reader::{i32_at, Reader};

pub const MAGIC_V0: i8 = 0;
pub const MAGIC_V1: i8 = 1;
/// crc, magic, attributes, key length, value length.
pub(crate) const MESSAGE_OVERHEAD_V0: usize = 14;
/// The v0 fields plus the timestamp.
pub(crate) const MESSAGE_OVERHEAD_V1: usize = 22;
pub(crate) const TIMESTAMP_TYPE_BIT: i8 = 0x08;
const CODEC_MASK: i8 = 0x07;

/// One message of a legacy set, flattened out of any compressed wrapper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyMessage {
    /// Absolute offset (inner offsets of magic 1 wrappers already resolved).
    pub offset: i64,
    pub magic: i8,
    /// `NO_TIMESTAMP` (-1) for magic 0.
    pub timestamp: i64,
    /// The timestamp type bit: LogAppendTime rather than CreateTime.
    pub log_append_time: bool,
    /// The codec of the wrapper this message travelled in (`None` if none).
    pub compression: Compression,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

fn corrupt(what: impl Into<String>) -> RecordError {
    RecordError::CorruptMessage(what.into())
}

pub(crate) fn invalid(what: impl Into<String>) -> RecordError {
    RecordError::InvalidRecord(what.into())
}

/// Decodes a MessageSet, validating every CRC and expanding compressed
/// wrappers. A trailing partial entry is ignored, as Kafka does for fetches.
pub fn decode_message_set(buf: &[u8]) -> Result<Vec<LegacyMessage>> {
    decode_entries(buf).map(|(messages, _)| messages)
}

/// As `decode_message_set`, but a trailing partial entry is `CorruptMessage`
/// (what produce requests need).
pub fn decode_message_set_strict(buf: &[u8]) -> Result<Vec<LegacyMessage>> {
    let (messages, partial_tail) = decode_entries(buf)?;
    if partial_tail {
        return Err(corrupt("message set ends in a partial message"));
    }
    Ok(messages)
}

/// Decodes whole entries; also says whether a partial one was left over.
fn decode_entries(buf: &[u8]) -> Result<(Vec<LegacyMessage>, bool)> {
    let mut messages = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let Some((entry, after)) = split_entry(rest, MESSAGE_OVERHEAD_V0)? else {
            return Ok((messages, true));
        };
        decode_entry(entry, &mut messages)?;
        rest = after;
    }
    Ok((messages, false))
}

/// Splits the first [offset][size][size bytes] entry off `buf`; `None` when
/// `buf` ends before the entry does. Sizes below `min_size` are corrupt.
pub(crate) fn split_entry(buf: &[u8], min_size: usize) -> Result<Option<(&[u8], &[u8])>> {
    let Some(size) = i32_at(buf, 8) else {
        return Ok(None);
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|&size| size >= min_size)
        .ok_or_else(|| corrupt(format!("message size {size} is below the minimum {min_size}")))?;
    let total = LOG_OVERHEAD + size;
    Ok(buf.get(..total).zip(buf.get(total..)))
}

/// One message's fields, borrowed from the buffer.
struct RawMessage<'a> {
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

impl RawMessage<'_> {
    fn codec(&self) -> Result<Compression> {
        Compression::from_attributes(i16::from(self.attributes & CODEC_MASK))
    }

    fn log_append_time(&self) -> bool {
        self.magic == MAGIC_V1 && self.attributes & TIMESTAMP_TYPE_BIT != 0
    }
}

/// Parses and CRC-checks one whole entry.
fn parse_entry(entry: &[u8]) -> Result<RawMessage<'_>> {
    let mut reader = Reader::new(entry);
    let offset = reader.i64()?;
    let _size = reader.i32()?;
    let message = reader.rest();
    let mut reader = Reader::new(message);
    let stored_crc = reader.u32()?;
    let magic = reader.i8()?;
    let overhead = match magic {
        MAGIC_V0 => MESSAGE_OVERHEAD_V0,
        MAGIC_V1 => MESSAGE_OVERHEAD_V1,
        other => return Err(RecordError::UnsupportedMagic(other)),
    };
    if message.len() < overhead {
        return Err(corrupt(format!(
            "magic {magic} message of {} bytes is too short",
            message.len()
        )));
    }
    let computed = crc32fast::hash(message.get(4..).unwrap_or_default());
    if computed != stored_crc {
        return Err(corrupt(format!(
            "message CRC mismatch at offset {offset}: stored {stored_crc:#010x}, computed {computed:#010x}"
        )));
    }
    let attributes = reader.i8()?;
    let timestamp = if magic == MAGIC_V1 { reader.i64()? } else { NO_TIMESTAMP };
    let truncated = |_| corrupt(format!("key or value overruns the message at offset {offset}"));
    let key = read_nullable(&mut reader).map_err(truncated)?;
    let value = read_nullable(&mut reader).map_err(truncated)?;
    Ok(RawMessage {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn read_nullable<'a>(reader: &mut Reader<'a>) -> Result<Option<&'a [u8]>> {
    let len = reader.i32()?;
    match usize::try_from(len) {
        Ok(len) => reader.take(len).map(Some),
        Err(_) => Ok(None),
    }
}

fn to_message(raw: &RawMessage, offset: i64, compression: Compression) -> LegacyMessage {
    LegacyMessage {
        offset,
        magic: raw.magic,
        timestamp: raw.timestamp,
        log_append_time: raw.log_append_time(),
        compression,
        key: raw.key.map(Bytes::copy_from_slice),
        value: raw.value.map(Bytes::copy_from_slice),
    }
}

/// Decodes one whole entry into `out`, expanding a compressed wrapper with
/// Kafka's rules (`AbstractLegacyRecordBatch.DeepRecordsIterator`).
pub(crate) fn decode_entry(entry: &[u8], out: &mut Vec<LegacyMessage>) -> Result<()> {
    let wrapper = parse_entry(entry)?;
    let codec = wrapper.codec()?;
    if codec == Compression::None {
        out.push(to_message(&wrapper, wrapper.offset, codec));
        return Ok(());
    }
    if codec == Compression::Zstd {
        return Err(RecordError::UnsupportedCompression(codec.id()));
    }
    let compressed = wrapper
        .value
        .ok_or_else(|| invalid("compressed message set with a null value"))?;
    let inner_set = decompress(codec, compressed)?;
    let mut inner = Vec::new();
    let mut rest = &inner_set[..];
    // A short inner tail ends the set, as Kafka's DataLogInputStream does.
    while let Some((inner_entry, after)) = split_entry(rest, MESSAGE_OVERHEAD_V0)? {
        let message = parse_entry(inner_entry)?;
        if message.codec()? != Compression::None {
            return Err(invalid("inner messages must not be compressed"));
        }
        inner.push(message);
        rest = after;
    }
    let last_inner_offset = inner
        .last()
        .map(|message| message.offset)
        .ok_or_else(|| invalid("compressed message set with no inner messages"))?;
    let absolute_base = match wrapper.magic {
        // librdkafka sends wrapper offset 0; then inner offsets stand as they are.
        MAGIC_V1 if wrapper.offset == 0 => 0,
        MAGIC_V1 if wrapper.offset < last_inner_offset => {
            return Err(invalid(format!(
                "wrapper offset {} is below its last inner offset {last_inner_offset}",
                wrapper.offset
            )))
        }
        MAGIC_V1 => wrapper.offset.wrapping_sub(last_inner_offset),
        _ => 0,
    };
    for message in &inner {
        let mut decoded = to_message(message, absolute_base.wrapping_add(message.offset), codec);
        if message.magic == MAGIC_V1 && wrapper.log_append_time() {
            decoded.timestamp = wrapper.timestamp;
            decoded.log_append_time = true;
        }
        out.push(decoded);
    }
    Ok(())
}

/// One stored legacy entry (a message, or a compressed wrapper) described the
/// way the log describes a v2 batch, so a topic kept in magic 0 or 1
/// (`message.format.version` below 0.11) is indexed, read and replicated by
/// the same code: base and last offset of its messages, max timestamp (the
/// wrapper's under LogAppendTime), codec and timestamp-type attribute bits
/// (at the same positions as in v2), no producer fields. The whole entry is
/// needed (a wrapper is decompressed to find its first offset); its CRC is
/// checked. Returns the messages too.
pub(crate) fn describe_entry(entry: &[u8]) -> Result<(BatchHeader, Vec<LegacyMessage>)> {
    let wrapper = parse_entry(entry)?;
    let mut messages = Vec::new();
    decode_entry(entry, &mut messages)?;
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Err(invalid("legacy entry without messages"));
    };
    let last_offset_delta = last
        .offset
        .checked_sub(first.offset)
        .and_then(|delta| i32::try_from(delta).ok())
        .filter(|&delta| delta >= 0)
        .ok_or_else(|| invalid("inner message offsets are out of order"))?;
    let max_timestamp = if wrapper.log_append_time() {
        wrapper.timestamp
    } else {
        messages
            .iter()
            .map(|message| message.timestamp)
            .max()
            .unwrap_or(NO_TIMESTAMP)
    };
    let header = BatchHeader {
        base_offset: first.offset,
        batch_length: i32_at(entry, 8).unwrap_or(0),
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        magic: wrapper.magic,
        crc: entry
            .get(12..16)
            .map_or(0, |crc| u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]])),
        attributes: i16::from(wrapper.attributes & (CODEC_MASK | TIMESTAMP_TYPE_BIT)),
        last_offset_delta,
        first_timestamp: first.timestamp,
        max_timestamp,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        base_sequence: NO_SEQUENCE,
        record_count: i32::try_from(messages.len()).unwrap_or(i32::MAX),
    };
    Ok((header, messages))
}

/// Whether the entry at the start of `buf` is a legacy message (magic 0 or 1);
/// `None` while `buf` is too short to hold the magic byte.
pub(crate) fn is_legacy_entry(buf: &[u8]) -> Option<bool> {
    buf.get(super::batch::MAGIC_AT)
        .map(|&magic| matches!(magic as i8, MAGIC_V0 | MAGIC_V1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::compression::compress_for_magic;
    use crate::records::legacy_encode::{encode_message_set, write_entry};

    fn message(offset: i64, magic: i8, timestamp: i64, value: &[u8]) -> LegacyMessage {
        LegacyMessage {
            offset,
            magic,
            timestamp: if magic == MAGIC_V0 { NO_TIMESTAMP } else { timestamp },
            log_append_time: false,
            compression: Compression::None,
            key: Some(Bytes::from_static(b"key")),
            value: Some(Bytes::copy_from_slice(value)),
        }
    }

    #[test]
    fn hand_built_v0_message_decodes() {
        // offset 7, magic 0, no attributes, null key, value "hi".
        let body = [0u8, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'h', b'i'];
        let mut entry = 7i64.to_be_bytes().to_vec();
        entry.extend_from_slice(&(4 + body.len() as i32).to_be_bytes());
        entry.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        entry.extend_from_slice(&body);
        let decoded = decode_message_set_strict(&entry).unwrap();
        assert_eq!(decoded.len(), 1);
        assert_eq!((decoded[0].offset, decoded[0].timestamp), (7, NO_TIMESTAMP));
        assert_eq!(decoded[0].key, None);
        assert_eq!(decoded[0].value.as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn compressed_v1_wrapper_resolves_relative_offsets() {
        let messages = vec![
            message(40, 1, 5, b"a"),
            message(41, 1, 9, b"b"),
            message(43, 1, 7, b"c"),
        ];
        let set = encode_message_set(&messages, MAGIC_V1, Compression::Gzip).unwrap();
        let wrapper = parse_entry(&set).unwrap();
        assert_eq!((wrapper.offset, wrapper.timestamp), (43, 9));
        let decoded = decode_message_set(&set).unwrap();
        let offsets: Vec<i64> = decoded.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, [40, 41, 43]);
        assert!(decoded.iter().all(|m| m.compression == Compression::Gzip));
    }

    #[test]
    fn wrapper_log_append_time_overrides_inner_timestamps() {
        let mut messages = vec![message(0, 1, 5, b"a"), message(1, 1, 6, b"b")];
        for m in &mut messages {
            m.log_append_time = true;
            m.timestamp = 77;
        }
        messages[0].timestamp = 3; // the wrapper's (max) timestamp must win
        let decoded =
            decode_message_set(&encode_message_set(&messages, MAGIC_V1, Compression::Snappy).unwrap()).unwrap();
        assert!(decoded.iter().all(|m| m.timestamp == 77 && m.log_append_time));
    }

    #[test]
    fn librdkafka_zero_wrapper_offset_is_accepted() {
        let messages = vec![message(0, 1, 1, b"a"), message(1, 1, 1, b"b")];
        let mut set = encode_message_set(&messages, MAGIC_V1, Compression::Lz4).unwrap();
        set[..8].copy_from_slice(&0i64.to_be_bytes()); // offset is outside the CRC
        let offsets: Vec<i64> = decode_message_set(&set).unwrap().iter().map(|m| m.offset).collect();
        assert_eq!(offsets, [0, 1]);
    }

    #[test]
    fn partial_tails_and_damage() {
        let set = encode_message_set(
            &[message(0, 0, 0, b"x"), message(1, 0, 0, b"y")],
            MAGIC_V0,
            Compression::None,
        )
        .unwrap();
        let cut = &set[..set.len() - 3];
        assert_eq!(decode_message_set(cut).unwrap().len(), 1);
        assert!(matches!(
            decode_message_set_strict(cut),
            Err(RecordError::CorruptMessage(_))
        ));
        let mut flipped = set.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decode_message_set(&flipped),
            Err(RecordError::CorruptMessage(_))
        ));
        let mut magic5 = set;
        magic5[16] = 5;
        assert_eq!(decode_message_set(&magic5), Err(RecordError::UnsupportedMagic(5)));
    }

    #[test]
    fn empty_compressed_wrapper_is_invalid() {
        let mut set = Vec::new();
        let empty = compress_for_magic(Compression::Gzip, &[], 1).unwrap();
        write_entry(&mut set, 0, 1, Compression::Gzip.id() as i8, 0, None, Some(&empty)).unwrap();
        assert!(matches!(decode_message_set(&set), Err(RecordError::InvalidRecord(_))));
    }
}
