//! The two format conversions the broker performs: client produce data into
//! storable v2 batches, and stored v2 batches down to a legacy MessageSet for
//! fetch requests too old to read magic 2.

use super::batch::{
    split_batches, validate_batch, BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_AT, NO_PRODUCER_EPOCH, NO_PRODUCER_ID,
    NO_SEQUENCE, NO_TIMESTAMP,
};
use super::compression::Compression;
use super::error::{RecordError, Result};
use super::legacy::{decode_entry, split_entry, LegacyMessage, MAGIC_V0, MAGIC_V1};
use super::legacy_encode::encode_message_set;
use super::record::{decode_batch_records, encode_batch, Record};

/// Produce v3 introduced magic 2 as the only accepted format.
const FIRST_V2_ONLY_PRODUCE_VERSION: i16 = 3;
/// Produce v7 is the first that may carry zstd (KIP-110).
const FIRST_ZSTD_PRODUCE_VERSION: i16 = 7;
/// Smallest legacy message: crc, magic, attributes, key and value lengths.
const MIN_LEGACY_MESSAGE_SIZE: usize = 14;
const MIN_BATCH_SIZE: usize = BATCH_HEADER_LEN - LOG_OVERHEAD;

fn partial_entry() -> RecordError {
    RecordError::CorruptMessage("produce data ends in a partial message or batch".into())
}

/// Turns the records of one partition of a Produce request into v2 batches
/// ready to append (the broker stamps offsets later).
///
/// From produce v3 the data must be whole magic 2 batches, validated and
/// passed through. Before v3, Kafka does not check the magic (pykafka sends
/// magic 0 and 1 in Produce v0): each run of legacy entries becomes one v2
/// batch with offsets 0..n-1, the codec of its first compressed wrapper, and
/// the messages' timestamps (-1 for magic 0); v2 batches still pass through.
/// Zstd before produce v7 is `UnsupportedCompression`, as in Kafka.
pub fn produce_to_batches(records: &[u8], produce_version: i16) -> Result<Vec<Vec<u8>>> {
    let mut batches = Vec::new();
    let mut legacy_run: Vec<LegacyMessage> = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let magic = rest.get(MAGIC_AT).map(|&byte| byte as i8).ok_or_else(partial_entry)?;
        match magic {
            2 => {
                let (batch, after) = split_entry(rest, MIN_BATCH_SIZE)?.ok_or_else(partial_entry)?;
                let header = validate_batch(batch)?;
                let codec = header.compression()?;
                if codec == Compression::Zstd && produce_version < FIRST_ZSTD_PRODUCE_VERSION {
                    return Err(RecordError::UnsupportedCompression(codec.id()));
                }
                flush_legacy_run(&mut legacy_run, &mut batches)?;
                batches.push(batch.to_vec());
                rest = after;
            }
            MAGIC_V0 | MAGIC_V1 if produce_version < FIRST_V2_ONLY_PRODUCE_VERSION => {
                let (entry, after) = split_entry(rest, MIN_LEGACY_MESSAGE_SIZE)?.ok_or_else(partial_entry)?;
                decode_entry(entry, &mut legacy_run)?;
                rest = after;
            }
            other => return Err(RecordError::UnsupportedMagic(other)),
        }
    }
    flush_legacy_run(&mut legacy_run, &mut batches)?;
    Ok(batches)
}

fn flush_legacy_run(run: &mut Vec<LegacyMessage>, batches: &mut Vec<Vec<u8>>) -> Result<()> {
    if run.is_empty() {
        return Ok(());
    }
    let codec = run
        .iter()
        .map(|message| message.compression)
        .find(|&codec| codec != Compression::None)
        .unwrap_or(Compression::None);
    let records: Vec<Record> = run
        .drain(..)
        .zip(0i64..)
        .map(|(message, offset)| Record {
            offset,
            timestamp: message.timestamp,
            key: message.key,
            value: message.value,
            headers: Vec::new(),
        })
        .collect();
    batches.push(encode_batch(
        &records,
        codec,
        0,
        NO_PRODUCER_ID,
        NO_PRODUCER_EPOCH,
        NO_SEQUENCE,
        None,
    )?);
    Ok(())
}

/// Whether any stored entry in `stored` has a newer format than `target_magic`
/// (what Fetch v0-3 must convert; a trailing partial entry is ignored).
pub fn needs_down_conversion(stored: &[u8], target_magic: i8) -> bool {
    split_batches(stored)
        .map_while(|item| item.ok())
        .any(|(header, _)| header.magic > target_magic)
}

/// A v2 batch, as validated for a produce, re-encoded for a topic stored at
/// magic 0 or 1 (`message.format.version` before 0.11) with its offsets from
/// `base_offset` on: one message per record, or one wrapper in the batch's
/// codec, keeping timestamps (magic 1) and the LogAppendTime flag. Refused as
/// Kafka refuses them: producer ids (`UnsupportedMagic`, which the broker
/// answers UNSUPPORTED_FOR_MESSAGE_FORMAT), zstd, and record headers.
pub fn to_legacy_entries(batch: &[u8], base_offset: i64, magic: i8) -> Result<Vec<u8>> {
    let (header, records) = decode_batch_records(batch)?;
    if header.producer_id != NO_PRODUCER_ID || header.is_transactional() || header.is_control() {
        return Err(RecordError::UnsupportedMagic(magic));
    }
    let codec = header.compression()?;
    if records.iter().any(|record| !record.headers.is_empty()) {
        return Err(RecordError::InvalidRecord(format!(
            "magic v{magic} does not support record headers (the topic's message.format.version is below 0.11)"
        )));
    }
    let log_append_time = magic == MAGIC_V1 && header.timestamp_type_log_append();
    let messages: Vec<LegacyMessage> = records
        .into_iter()
        .map(|record| LegacyMessage {
            offset: base_offset.saturating_add(record.offset - header.base_offset),
            magic,
            timestamp: match magic {
                MAGIC_V1 if log_append_time => header.max_timestamp,
                MAGIC_V1 => record.timestamp,
                _ => NO_TIMESTAMP,
            },
            log_append_time,
            compression: codec,
            key: record.key,
            value: record.value,
        })
        .collect();
    encode_message_set(&messages, magic, codec)
}

/// Re-encodes stored v2 batches as a `target_magic` (0 or 1) MessageSet for an
/// old fetch: a trailing partial batch is ignored, control batches and records
/// below `fetch_offset` are dropped, headers are dropped, offsets are kept. An
/// uncompressed batch yields one message per record, a compressed one a single
/// wrapper in the same codec; zstd has no legacy form (`UnsupportedCompression`).
pub fn down_convert(stored: &[u8], target_magic: i8, fetch_offset: i64) -> Result<Vec<u8>> {
    if target_magic != MAGIC_V0 && target_magic != MAGIC_V1 {
        return Err(RecordError::UnsupportedMagic(target_magic));
    }
    let mut out = Vec::new();
    for item in split_batches(stored) {
        let (header, batch) = item?;
        if header.is_control() || header.last_offset() < fetch_offset {
            continue;
        }
        if header.magic <= target_magic {
            // Stored in a format the client reads (a topic kept at magic 0/1):
            // passed on whole, as Kafka does.
            out.extend_from_slice(batch);
            continue;
        }
        let codec = header.compression()?;
        if codec == Compression::Zstd {
            return Err(RecordError::UnsupportedCompression(codec.id()));
        }
        let (_, records) = decode_batch_records(batch)?;
        let messages: Vec<LegacyMessage> = records
            .into_iter()
            .filter(|record| record.offset >= fetch_offset)
            .map(|record| LegacyMessage {
                offset: record.offset,
                magic: target_magic,
                timestamp: if target_magic == MAGIC_V1 {
                    record.timestamp
                } else {
                    NO_TIMESTAMP
                },
                log_append_time: header.timestamp_type_log_append(),
                compression: codec,
                key: record.key,
                value: record.value,
            })
            .collect();
        out.extend_from_slice(&encode_message_set(&messages, target_magic, codec)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::{set_base_offset, BatchHeader};
    use crate::records::legacy::decode_message_set;
    use bytes::Bytes;

    fn record(offset: i64, timestamp: i64) -> Record {
        Record {
            offset,
            timestamp,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(format!("v{offset}"))),
            headers: vec![("dropped".into(), None)],
        }
    }

    fn stored_batch(base: i64, count: i64, codec: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..count).map(|i| record(base + i, 1_000 + i)).collect();
        encode_batch(&records, codec, base, -1, -1, -1, None).unwrap()
    }

    fn legacy(offset: i64, magic: i8, timestamp: i64, value: &str) -> LegacyMessage {
        LegacyMessage {
            offset,
            magic,
            timestamp,
            log_append_time: false,
            compression: Compression::None,
            key: None,
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
        }
    }

    #[test]
    fn v3_produce_passes_batches_through() {
        let mut data = stored_batch(0, 2, Compression::Snappy);
        data.extend(stored_batch(0, 1, Compression::None));
        let batches = produce_to_batches(&data, 8).unwrap();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches.concat(), data);
        assert!(produce_to_batches(&[], 3).unwrap().is_empty());
    }

    #[test]
    fn v3_produce_rejects_legacy_partial_and_early_zstd() {
        let legacy_set = encode_message_set(&[legacy(0, 1, 5, "x")], 1, Compression::None).unwrap();
        assert_eq!(
            produce_to_batches(&legacy_set, 3),
            Err(RecordError::UnsupportedMagic(1))
        );
        let batch = stored_batch(0, 2, Compression::None);
        let cut = &batch[..batch.len() - 1];
        assert!(matches!(
            produce_to_batches(cut, 3),
            Err(RecordError::CorruptMessage(_))
        ));
        assert!(matches!(
            produce_to_batches(&batch[..10], 3),
            Err(RecordError::CorruptMessage(_))
        ));
        let zstd = stored_batch(0, 1, Compression::Zstd);
        assert_eq!(
            produce_to_batches(&zstd, 6),
            Err(RecordError::UnsupportedCompression(4))
        );
        assert_eq!(produce_to_batches(&zstd, 7).unwrap().len(), 1);
    }

    #[test]
    fn legacy_produce_becomes_one_v2_batch() {
        // Two compressed magic 1 wrappers with client-chosen offsets, as pykafka sends.
        let mut data =
            encode_message_set(&[legacy(50, 1, 10, "a"), legacy(51, 1, 30, "b")], 1, Compression::Gzip).unwrap();
        data.extend(encode_message_set(&[legacy(9, 1, 20, "c")], 1, Compression::Gzip).unwrap());
        let batches = produce_to_batches(&data, 2).unwrap();
        assert_eq!(batches.len(), 1);
        let (header, records) = decode_batch_records(&batches[0]).unwrap();
        assert_eq!(header.compression().unwrap(), Compression::Gzip);
        assert_eq!(
            (header.base_offset, header.last_offset_delta, header.max_timestamp),
            (0, 2, 30)
        );
        let seen: Vec<(i64, i64, &[u8])> = records
            .iter()
            .map(|r| (r.offset, r.timestamp, r.value.as_deref().unwrap()))
            .collect();
        assert_eq!(seen, [(0, 10, &b"a"[..]), (1, 30, &b"b"[..]), (2, 20, &b"c"[..])]);
    }

    #[test]
    fn magic_0_produce_gets_no_timestamp() {
        let data = encode_message_set(
            &[legacy(0, 0, NO_TIMESTAMP, "a"), legacy(1, 0, NO_TIMESTAMP, "b")],
            0,
            Compression::None,
        )
        .unwrap();
        let batches = produce_to_batches(&data, 0).unwrap();
        let (header, records) = decode_batch_records(&batches[0]).unwrap();
        assert_eq!(header.compression().unwrap(), Compression::None);
        assert!(records.iter().all(|r| r.timestamp == NO_TIMESTAMP));
        let mut cut = data.clone();
        cut.pop();
        assert!(matches!(
            produce_to_batches(&cut, 0),
            Err(RecordError::CorruptMessage(_))
        ));
        let mut bad_crc = data;
        *bad_crc.last_mut().unwrap() ^= 1;
        assert!(matches!(
            produce_to_batches(&bad_crc, 0),
            Err(RecordError::CorruptMessage(_))
        ));
    }

    #[test]
    fn down_convert_uncompressed_trims_and_keeps_offsets() {
        let mut stored = stored_batch(10, 3, Compression::None);
        stored.extend(stored_batch(13, 2, Compression::None));
        let partial = stored_batch(15, 2, Compression::None);
        stored.extend_from_slice(&partial[..partial.len() - 5]);
        let out = down_convert(&stored, 1, 11).unwrap();
        let messages = decode_message_set(&out).unwrap();
        let seen: Vec<(i64, i64)> = messages.iter().map(|m| (m.offset, m.timestamp)).collect();
        assert_eq!(seen, [(11, 1_001), (12, 1_002), (13, 1_000), (14, 1_001)]);
        assert!(messages
            .iter()
            .all(|m| m.magic == 1 && m.compression == Compression::None));
        let v0 = decode_message_set(&down_convert(&stored, 0, 0).unwrap()).unwrap();
        assert_eq!(v0.len(), 5);
        assert!(v0.iter().all(|m| m.magic == 0 && m.timestamp == NO_TIMESTAMP));
        assert_eq!(v0[0].key.as_deref(), Some(&b"k10"[..]));
    }

    #[test]
    fn down_convert_compressed_makes_one_wrapper_per_batch() {
        for (magic, codec) in [
            (1, Compression::Lz4),
            (0, Compression::Snappy),
            (1, Compression::Gzip),
            (0, Compression::Lz4),
        ] {
            let mut stored = stored_batch(100, 4, codec);
            stored.extend(stored_batch(104, 1, codec));
            let out = down_convert(&stored, magic, 102).unwrap();
            // Wrapper offsets: the last inner offset of each batch.
            let wrapper_offsets: Vec<i64> = {
                let (first, rest) = split_entry(&out, 14).unwrap().unwrap();
                let (second, tail) = split_entry(rest, 14).unwrap().unwrap();
                assert!(tail.is_empty());
                [first, second]
                    .iter()
                    .map(|e| i64::from_be_bytes(e[..8].try_into().unwrap()))
                    .collect()
            };
            assert_eq!(wrapper_offsets, [103, 104]);
            let messages = decode_message_set(&out).unwrap();
            let offsets: Vec<i64> = messages.iter().map(|m| m.offset).collect();
            assert_eq!(offsets, [102, 103, 104], "{magic} {codec:?}");
            assert!(messages.iter().all(|m| m.compression == codec));
        }
    }

    #[test]
    fn down_convert_keeps_compacted_gaps() {
        let records = vec![record(7, 1), record(9, 2), record(12, 3)];
        let stored = encode_batch(&records, Compression::Gzip, 7, -1, -1, -1, None).unwrap();
        let offsets: Vec<i64> = decode_message_set(&down_convert(&stored, 1, 0).unwrap())
            .unwrap()
            .iter()
            .map(|m| m.offset)
            .collect();
        assert_eq!(offsets, [7, 9, 12]);
    }

    #[test]
    fn down_convert_drops_control_batches_and_rejects_zstd() {
        let mut control = stored_batch(0, 1, Compression::None);
        let attributes = BatchHeader::CONTROL_BIT.to_be_bytes();
        control[21..23].copy_from_slice(&attributes);
        crate::records::batch::seal_crc(&mut control).unwrap();
        let mut stored = control;
        stored.extend(stored_batch(1, 1, Compression::None));
        let messages = decode_message_set(&down_convert(&stored, 1, 0).unwrap()).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].offset, 1);
        let zstd = stored_batch(0, 1, Compression::Zstd);
        assert_eq!(down_convert(&zstd, 1, 0), Err(RecordError::UnsupportedCompression(4)));
        assert_eq!(down_convert(&zstd, 2, 0), Err(RecordError::UnsupportedMagic(2)));
    }

    #[test]
    fn down_convert_log_append_time_batch() {
        let mut stored = stored_batch(0, 2, Compression::None);
        crate::records::batch::set_log_append_time(&mut stored, 4_242).unwrap();
        set_base_offset(&mut stored, 20).unwrap();
        let messages = decode_message_set(&down_convert(&stored, 1, 0).unwrap()).unwrap();
        assert!(messages.iter().all(|m| m.timestamp == 4_242 && m.log_append_time));
        assert_eq!(messages[1].offset, 21);
    }

    #[test]
    fn batches_stored_at_magic_0_and_1_keep_offsets_timestamps_and_codec() {
        for (magic, codec) in [
            (1, Compression::None),
            (1, Compression::Gzip),
            (0, Compression::Snappy),
            (0, Compression::None),
        ] {
            let mut batch = stored_batch(0, 4, codec);
            // Producer batches carry no headers in this test (they would be refused).
            let (header, mut records) = decode_batch_records(&batch).unwrap();
            records.iter_mut().for_each(|r| r.headers.clear());
            batch = encode_batch(&records, codec, 0, -1, -1, -1, None).unwrap();
            let stored = to_legacy_entries(&batch, 100, magic).unwrap();
            let entries: Vec<(BatchHeader, &[u8])> = split_batches(&stored).map(Result::unwrap).collect();
            let expected_entries = if codec == Compression::None { 4 } else { 1 };
            assert_eq!(entries.len(), expected_entries, "{magic} {codec:?}");
            let (first, last) = (entries[0].0, entries[entries.len() - 1].0);
            assert_eq!((first.base_offset, last.last_offset()), (100, 103));
            assert!(entries
                .iter()
                .all(|(h, _)| h.magic == magic && h.compression().unwrap() == codec));
            let all: Vec<Record> = entries
                .iter()
                .flat_map(|(_, bytes)| decode_batch_records(bytes).unwrap().1)
                .collect();
            assert_eq!(
                all.iter().map(|r| r.offset).collect::<Vec<_>>(),
                vec![100, 101, 102, 103]
            );
            let expected_ts: Vec<i64> = if magic == 1 {
                vec![1_000, 1_001, 1_002, 1_003]
            } else {
                vec![-1; 4]
            };
            assert_eq!(all.iter().map(|r| r.timestamp).collect::<Vec<_>>(), expected_ts);
            assert_eq!(all[2].value.as_deref(), Some(&b"v2"[..]));
            assert_eq!(header.record_count, 4);
            // A reader of this magic or newer gets the bytes as stored; an older one a conversion.
            assert!(!needs_down_conversion(&stored, 1));
            assert_eq!(down_convert(&stored, 1, 0).unwrap(), stored);
            assert_eq!(needs_down_conversion(&stored, 0), magic == 1);
            let as_v0 = decode_message_set(&down_convert(&stored, 0, 102).unwrap()).unwrap();
            assert!(as_v0.iter().all(|m| m.magic == 0));
            assert!(as_v0.iter().any(|m| m.offset == 102) && as_v0.iter().all(|m| m.offset >= 100));
        }
    }

    #[test]
    fn what_magic_0_and_1_cannot_hold_is_refused() {
        let with_headers = stored_batch(0, 2, Compression::None);
        assert!(matches!(
            to_legacy_entries(&with_headers, 0, 1),
            Err(RecordError::InvalidRecord(_))
        ));
        let records = vec![Record {
            headers: vec![],
            ..record(0, 5)
        }];
        let idempotent = encode_batch(&records, Compression::None, 0, 7, 0, 0, None).unwrap();
        assert_eq!(
            to_legacy_entries(&idempotent, 0, 1),
            Err(RecordError::UnsupportedMagic(1))
        );
        let zstd = encode_batch(&records, Compression::Zstd, 0, -1, -1, -1, None).unwrap();
        assert_eq!(
            to_legacy_entries(&zstd, 0, 1),
            Err(RecordError::UnsupportedCompression(Compression::Zstd.id()))
        );
    }
}
