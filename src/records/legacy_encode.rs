//! Encoding legacy MessageSets (magic 0 and 1), for down-conversion.

use super::batch::NO_TIMESTAMP;
use super::compression::{compress_for_magic, Compression};
use super::error::{RecordError, Result};
use super::legacy::{
    invalid, LegacyMessage, MAGIC_V0, MAGIC_V1, MESSAGE_OVERHEAD_V0, MESSAGE_OVERHEAD_V1, TIMESTAMP_TYPE_BIT,
};

fn checked_i32(value: usize, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| invalid(format!("{what} of {value} exceeds i32")))
}

/// Appends one entry holding one message, CRC included.
pub(crate) fn write_entry(
    out: &mut Vec<u8>,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<()> {
    let overhead = if magic == MAGIC_V1 {
        MESSAGE_OVERHEAD_V1
    } else {
        MESSAGE_OVERHEAD_V0
    };
    let size = overhead + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&checked_i32(size, "message size")?.to_be_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(magic as u8);
    out.push(attributes as u8);
    if magic == MAGIC_V1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(bytes) => {
                out.extend_from_slice(&checked_i32(bytes.len(), "field length")?.to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
    let crc = crc32fast::hash(out.get(crc_at + 4..).unwrap_or_default());
    if let Some(slot) = out.get_mut(crc_at..crc_at + 4) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

/// Encodes `messages` as a `magic` 0 or 1 MessageSet, using each message's
/// offset, timestamp (magic 1), timestamp type, key and value. Uncompressed:
/// one entry per message. Compressed: one wrapper whose offset is the last
/// message's; magic 1 inner offsets are relative to the first message (Kafka's
/// `MemoryRecordsBuilder`, so gaps survive), magic 0 inner offsets absolute.
pub fn encode_message_set(messages: &[LegacyMessage], magic: i8, codec: Compression) -> Result<Vec<u8>> {
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(RecordError::UnsupportedMagic(magic));
    }
    if codec == Compression::Zstd {
        return Err(RecordError::UnsupportedCompression(codec.id()));
    }
    let timestamp_bit = |log_append_time: bool| {
        if magic == MAGIC_V1 && log_append_time {
            TIMESTAMP_TYPE_BIT
        } else {
            0
        }
    };
    let mut out = Vec::new();
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(out);
    };
    if codec == Compression::None {
        for message in messages {
            let attributes = timestamp_bit(message.log_append_time);
            write_entry(
                &mut out,
                message.offset,
                magic,
                attributes,
                message.timestamp,
                message.key.as_deref(),
                message.value.as_deref(),
            )?;
        }
        return Ok(out);
    }
    let mut inner = Vec::new();
    for message in messages {
        let inner_offset = if magic == MAGIC_V1 {
            message.offset.wrapping_sub(first.offset)
        } else {
            message.offset
        };
        let attributes = timestamp_bit(message.log_append_time);
        write_entry(
            &mut inner,
            inner_offset,
            magic,
            attributes,
            message.timestamp,
            message.key.as_deref(),
            message.value.as_deref(),
        )?;
    }
    let compressed = compress_for_magic(codec, &inner, magic)?;
    let log_append_time = messages.iter().any(|message| message.log_append_time);
    let max_timestamp = messages
        .iter()
        .map(|message| message.timestamp)
        .max()
        .unwrap_or(NO_TIMESTAMP);
    let attributes = codec.id() as i8 | timestamp_bit(log_append_time);
    write_entry(
        &mut out,
        last.offset,
        magic,
        attributes,
        max_timestamp,
        None,
        Some(&compressed),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::legacy::decode_message_set_strict;
    use bytes::Bytes;
    use proptest::prelude::*;

    const LEGACY_CODECS: [Compression; 4] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
    ];

    fn message(offset: i64, magic: i8, timestamp: i64, value: &[u8]) -> LegacyMessage {
        LegacyMessage {
            offset,
            magic,
            timestamp,
            log_append_time: false,
            compression: Compression::None,
            key: None,
            value: Some(Bytes::copy_from_slice(value)),
        }
    }

    #[test]
    fn zstd_and_bad_magic_cannot_be_encoded() {
        let messages = [message(0, 1, 0, b"a")];
        assert_eq!(
            encode_message_set(&messages, 1, Compression::Zstd),
            Err(RecordError::UnsupportedCompression(4))
        );
        assert_eq!(
            encode_message_set(&messages, 2, Compression::None),
            Err(RecordError::UnsupportedMagic(2))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn message_sets_round_trip(
            items in proptest::collection::vec(
                (1..4i64, any::<i64>(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30)),
                 proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30))),
                1..15),
            magic in 0..2i8,
            codec_index in 0..4usize,
        ) {
            let codec = LEGACY_CODECS[codec_index];
            let mut offset = 100;
            let messages: Vec<LegacyMessage> = items
                .into_iter()
                .map(|(gap, timestamp, key, value)| {
                    offset += gap;
                    LegacyMessage {
                        offset,
                        magic,
                        timestamp: if magic == MAGIC_V0 { NO_TIMESTAMP } else { timestamp },
                        log_append_time: false,
                        compression: codec,
                        key: key.map(Bytes::from),
                        value: value.map(Bytes::from),
                    }
                })
                .collect();
            let set = encode_message_set(&messages, magic, codec).unwrap();
            prop_assert_eq!(decode_message_set_strict(&set).unwrap(), messages);
        }
    }
}
