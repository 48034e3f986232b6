//! The records inside a v2 batch: decoding a whole batch into absolute-offset
//! `Record`s, and encoding records into a fresh batch.
//!
//! Record: varint length, i8 attributes (unused), varlong timestampDelta,
//! varint offsetDelta, varint keyLen (-1 = null) + key, varint valueLen + value,
//! varint header count, headers of (varint keyLen + utf8 key, varint valueLen
//! (-1 = null) + value).

use std::borrow::Cow;

use bytes::Bytes;

use super::batch::{
    seal_crc, validate_batch, BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD, MAGIC_V2, NO_PARTITION_LEADER_EPOCH,
    NO_TIMESTAMP,
};
use super::compression::{compress, decompress, Compression};
use super::error::{RecordError, Result};
use super::legacy::{describe_entry, is_legacy_entry};
use super::reader::Reader;
use super::varint::{write_varint, write_varlong};

/// The smallest encoded record: seven one-byte fields.
const MIN_RECORD_LEN: usize = 7;
/// The smallest encoded header: empty key and value lengths.
const MIN_HEADER_LEN: usize = 2;

/// One record with its absolute offset and timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

fn invalid(what: impl Into<String>) -> RecordError {
    RecordError::InvalidRecord(what.into())
}

/// Validates one whole batch (length, CRC), decompresses it and decodes its
/// records. Under LogAppendTime every record takes the batch's max timestamp,
/// as Kafka reports it.
///
/// A stored legacy entry (magic 0 or 1: one message or a compressed wrapper)
/// decodes too, with the header `stored_entry_header` gives it.
pub fn decode_batch_records(batch: &[u8]) -> Result<(BatchHeader, Vec<Record>)> {
    if is_legacy_entry(batch) == Some(true) {
        let (header, messages) = describe_entry(batch)?;
        let records = messages
            .into_iter()
            .map(|message| Record {
                offset: message.offset,
                timestamp: message.timestamp,
                key: message.key,
                value: message.value,
                headers: Vec::new(),
            })
            .collect();
        return Ok((header, records));
    }
    let header = validate_batch(batch)?;
    let codec = header.compression()?;
    let count = usize::try_from(header.record_count).unwrap_or(0);
    if count == 0 {
        // Kafka does not decompress an empty batch (e.g. emptied by compaction).
        return Ok((header, Vec::new()));
    }
    let body = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    let data: Cow<[u8]> = match codec {
        Compression::None => Cow::Borrowed(body),
        _ => Cow::Owned(decompress(codec, body)?),
    };
    if count > data.len() / MIN_RECORD_LEN {
        return Err(invalid(format!(
            "record count {count} cannot fit in {} bytes of records",
            data.len()
        )));
    }
    let mut reader = Reader::new(&data);
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let record = read_record(&mut reader, &header).map_err(|error| match error {
            RecordError::Truncated => invalid("record extends past the end of its batch"),
            other => other,
        })?;
        records.push(record);
    }
    if reader.remaining() != 0 {
        return Err(invalid(format!(
            "{} bytes remain after the batch's {count} declared records",
            reader.remaining()
        )));
    }
    Ok((header, records))
}

fn read_record(reader: &mut Reader, header: &BatchHeader) -> Result<Record> {
    let length = reader.varint()?;
    let length = usize::try_from(length).map_err(|_| invalid(format!("negative record length {length}")))?;
    let mut body = Reader::new(reader.take(length)?);
    let _attributes = body.i8()?;
    let timestamp_delta = body.varlong()?;
    let offset_delta = body.varint()?;
    let key = read_nullable(&mut body)?;
    let value = read_nullable(&mut body)?;
    let header_count = body.varint()?;
    let header_count = usize::try_from(header_count)
        .ok()
        .filter(|&count| count <= body.remaining() / MIN_HEADER_LEN)
        .ok_or_else(|| invalid(format!("bad header count {header_count}")))?;
    let mut headers = Vec::with_capacity(header_count);
    for _ in 0..header_count {
        let key_len = body.varint()?;
        let key_len = usize::try_from(key_len).map_err(|_| invalid("null or negative header key length"))?;
        // Java decodes header keys leniently, replacing invalid UTF-8.
        let key = String::from_utf8_lossy(body.take(key_len)?).into_owned();
        headers.push((key, read_nullable(&mut body)?));
    }
    if body.remaining() != 0 {
        return Err(invalid(format!(
            "record declared {length} bytes but its fields used {}",
            body.position()
        )));
    }
    let timestamp = if header.timestamp_type_log_append() {
        header.max_timestamp
    } else {
        header.first_timestamp.wrapping_add(timestamp_delta)
    };
    Ok(Record {
        offset: header.base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp,
        key,
        value,
        headers,
    })
}

/// A varint length and that many bytes; any negative length means null.
fn read_nullable(reader: &mut Reader) -> Result<Option<Bytes>> {
    let len = reader.varint()?;
    match usize::try_from(len) {
        Ok(len) => Ok(Some(Bytes::copy_from_slice(reader.take(len)?))),
        Err(_) => Ok(None),
    }
}

fn checked_i32(value: usize, what: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| invalid(format!("{what} of {value} exceeds i32")))
}

fn write_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) -> Result<()> {
    match bytes {
        None => write_varint(out, -1),
        Some(bytes) => {
            write_varint(out, checked_i32(bytes.len(), "field length")?);
            out.extend_from_slice(bytes);
        }
    }
    Ok(())
}

fn write_record(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    record: &Record,
    offset_delta: i32,
    timestamp_delta: i64,
) -> Result<()> {
    scratch.clear();
    scratch.push(0); // attributes: none defined for records
    write_varlong(scratch, timestamp_delta);
    write_varint(scratch, offset_delta);
    write_nullable(scratch, record.key.as_deref())?;
    write_nullable(scratch, record.value.as_deref())?;
    write_varint(scratch, checked_i32(record.headers.len(), "header count")?);
    for (key, value) in &record.headers {
        write_nullable(scratch, Some(key.as_bytes()))?;
        write_nullable(scratch, value.as_deref())?;
    }
    write_varint(out, checked_i32(scratch.len(), "record size")?);
    out.extend_from_slice(scratch);
    Ok(())
}

/// Builds one v2 batch holding `records`. Offset deltas are taken relative to
/// the first record's offset (so offsets must strictly increase) and the batch
/// starts at `base_offset`; timestamps are stored relative to the first
/// record's. With `log_append_time`, the batch is marked LogAppendTime and that
/// time becomes its max timestamp (record timestamps are kept, as in Kafka).
pub fn encode_batch(
    records: &[Record],
    codec: Compression,
    base_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    log_append_time: Option<i64>,
) -> Result<Vec<u8>> {
    let first_offset = records.first().map_or(0, |record| record.offset);
    let first_timestamp = records.first().map_or(NO_TIMESTAMP, |record| record.timestamp);
    let mut raw = Vec::new();
    let mut scratch = Vec::new();
    let mut previous_offset: Option<i64> = None;
    let mut last_offset_delta = 0i32;
    let mut max_timestamp = NO_TIMESTAMP;
    for record in records {
        if previous_offset.is_some_and(|previous| record.offset <= previous) {
            return Err(invalid(format!(
                "record offsets must increase: {} follows {previous_offset:?}",
                record.offset
            )));
        }
        previous_offset = Some(record.offset);
        let offset_delta = record
            .offset
            .checked_sub(first_offset)
            .and_then(|delta| i32::try_from(delta).ok())
            .ok_or_else(|| invalid(format!("offset {} is too far from {first_offset}", record.offset)))?;
        last_offset_delta = offset_delta;
        max_timestamp = max_timestamp.max(record.timestamp);
        let timestamp_delta = record.timestamp.wrapping_sub(first_timestamp);
        write_record(&mut raw, &mut scratch, record, offset_delta, timestamp_delta)?;
    }
    let body = if records.is_empty() || codec == Compression::None {
        raw
    } else {
        compress(codec, &raw)?
    };
    let mut attributes = i16::from(codec.id());
    if log_append_time.is_some() {
        attributes |= BatchHeader::TIMESTAMP_TYPE_BIT;
    }
    let header = BatchHeader {
        base_offset,
        batch_length: 0, // computed by `assemble`
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        magic: MAGIC_V2,
        crc: 0,
        attributes,
        last_offset_delta,
        first_timestamp,
        max_timestamp: log_append_time.unwrap_or(max_timestamp),
        producer_id,
        producer_epoch,
        base_sequence,
        record_count: checked_i32(records.len(), "record count")?,
    };
    assemble(&header, &body)
}

/// A v2 batch of `header`'s fields (its batch length and CRC computed here)
/// followed by the encoded (and possibly compressed) records in `body`.
fn assemble(header: &BatchHeader, body: &[u8]) -> Result<Vec<u8>> {
    let batch_length = checked_i32(BATCH_HEADER_LEN - LOG_OVERHEAD + body.len(), "batch length")?;
    let mut batch = Vec::with_capacity(BATCH_HEADER_LEN + body.len());
    batch.extend_from_slice(&header.base_offset.to_be_bytes());
    batch.extend_from_slice(&batch_length.to_be_bytes());
    batch.extend_from_slice(&header.partition_leader_epoch.to_be_bytes());
    batch.push(MAGIC_V2 as u8);
    batch.extend_from_slice(&0u32.to_be_bytes()); // CRC, sealed below
    batch.extend_from_slice(&header.attributes.to_be_bytes());
    batch.extend_from_slice(&header.last_offset_delta.to_be_bytes());
    batch.extend_from_slice(&header.first_timestamp.to_be_bytes());
    batch.extend_from_slice(&header.max_timestamp.to_be_bytes());
    batch.extend_from_slice(&header.producer_id.to_be_bytes());
    batch.extend_from_slice(&header.producer_epoch.to_be_bytes());
    batch.extend_from_slice(&header.base_sequence.to_be_bytes());
    batch.extend_from_slice(&header.record_count.to_be_bytes());
    batch.extend_from_slice(body);
    seal_crc(&mut batch)?;
    Ok(batch)
}

/// A transaction marker: a control batch (transactional and control bits
/// set) of one record whose key is (version 0, type: 0 abort, 1 commit) and
/// whose value is (version 0, the coordinator's epoch), as Kafka writes it.
pub fn encode_control_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Result<Vec<u8>> {
    let key = [0u8, 0, 0, u8::from(commit)];
    let mut value = vec![0u8, 0];
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        offset: 0,
        timestamp,
        key: Some(Bytes::copy_from_slice(&key)),
        value: Some(Bytes::from(value)),
        headers: Vec::new(),
    };
    let mut batch = encode_batch(&[record], Compression::None, 0, producer_id, producer_epoch, -1, None)?;
    let attributes = BatchHeader::TRANSACTIONAL_BIT | BatchHeader::CONTROL_BIT;
    batch[21..23].copy_from_slice(&attributes.to_be_bytes());
    seal_crc(&mut batch)?;
    Ok(batch)
}

/// The batch `header` describes, holding only `records` (some of its own, in
/// order): what the log cleaner writes. As Kafka's cleaner does, the base
/// offset, last offset delta, attributes (codec, timestamp type,
/// transactional), producer id, epoch and base sequence and the leader epoch
/// are kept, so offsets and producer state read the same; the max timestamp
/// is recomputed (kept under LogAppendTime) and the CRC sealed anew.
pub fn rebuild_batch(header: &BatchHeader, records: &[Record]) -> Result<Vec<u8>> {
    let codec = header.compression()?;
    let first_timestamp = records.first().map_or(NO_TIMESTAMP, |record| record.timestamp);
    let mut raw = Vec::new();
    let mut scratch = Vec::new();
    let mut max_timestamp = NO_TIMESTAMP;
    for record in records {
        let offset_delta = record
            .offset
            .checked_sub(header.base_offset)
            .and_then(|delta| i32::try_from(delta).ok())
            .filter(|delta| (0..=header.last_offset_delta).contains(delta))
            .ok_or_else(|| invalid(format!("offset {} is outside the batch", record.offset)))?;
        max_timestamp = max_timestamp.max(record.timestamp);
        let timestamp_delta = record.timestamp.wrapping_sub(first_timestamp);
        write_record(&mut raw, &mut scratch, record, offset_delta, timestamp_delta)?;
    }
    let body = if records.is_empty() || codec == Compression::None {
        raw
    } else {
        compress(codec, &raw)?
    };
    if header.timestamp_type_log_append() {
        max_timestamp = header.max_timestamp;
    }
    let rebuilt = BatchHeader {
        first_timestamp,
        max_timestamp,
        record_count: checked_i32(records.len(), "record count")?,
        ..*header
    };
    assemble(&rebuilt, &body)
}

/// The same batch with its records compressed by `codec` (a topic's
/// `compression.type` differing from the producer's): offsets, timestamps,
/// producer id, epoch and sequence are kept; the CRC is recomputed.
pub fn recompress(batch: &[u8], codec: Compression) -> Result<Vec<u8>> {
    let (header, records) = decode_batch_records(batch)?;
    if header.compression()? == codec || records.is_empty() {
        return Ok(batch.to_vec());
    }
    let log_append_time = header.timestamp_type_log_append().then_some(header.max_timestamp);
    let mut out = encode_batch(
        &records,
        codec,
        header.base_offset,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        log_append_time,
    )?;
    super::batch::set_partition_leader_epoch(&mut out, header.partition_leader_epoch)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_batches_keep_offsets_and_producer_fields() {
        let records: Vec<Record> = (0..6).map(|i| record(i, 1_000 + i, "some value")).collect();
        for codec in [Compression::None, Compression::Lz4] {
            let mut batch = encode_batch(&records, codec, 0, 42, 3, 7, None).unwrap();
            super::super::batch::set_base_offset(&mut batch, 100).unwrap();
            super::super::batch::set_partition_leader_epoch(&mut batch, 9).unwrap();
            let (header, decoded) = decode_batch_records(&batch).unwrap();
            let kept = vec![decoded[1].clone(), decoded[4].clone()];
            let rebuilt = rebuild_batch(&header, &kept).unwrap();
            let (new_header, new_records) = decode_batch_records(&rebuilt).unwrap();
            assert_eq!(new_records, kept, "offsets 101 and 104 are kept, not renumbered");
            assert_eq!((new_header.base_offset, new_header.last_offset()), (100, 105));
            assert_eq!(
                (
                    new_header.producer_id,
                    new_header.producer_epoch,
                    new_header.base_sequence
                ),
                (42, 3, 7)
            );
            assert_eq!((new_header.partition_leader_epoch, new_header.record_count), (9, 2));
            assert_eq!(new_header.compression().unwrap(), codec);
            assert_eq!(new_header.max_timestamp, 1_004);
            let stray = record(110, 0, "x");
            assert!(
                rebuild_batch(&header, &[stray]).is_err(),
                "an offset outside the batch is refused"
            );
        }
    }

    #[test]
    fn recompression_keeps_records_and_producer_fields() {
        let records: Vec<Record> = (0..5).map(|i| record(i, 1_000 + i, "value value value")).collect();
        let plain = encode_batch(&records, Compression::None, 0, 42, 3, 7, None).unwrap();
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = recompress(&plain, codec).unwrap();
            let (header, decoded) = decode_batch_records(&packed).unwrap();
            assert_eq!(header.compression().unwrap(), codec);
            assert_eq!(
                (header.producer_id, header.producer_epoch, header.base_sequence),
                (42, 3, 7)
            );
            assert_eq!(header.max_timestamp, 1_004);
            assert_eq!(decoded, records);
            let back = recompress(&packed, Compression::None).unwrap();
            assert_eq!(decode_batch_records(&back).unwrap().1, records);
        }
    }
    use crate::records::batch::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
    use proptest::prelude::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn record(offset: i64, timestamp: i64, value: &str) -> Record {
        Record {
            offset,
            timestamp,
            key: Some(Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: vec![("h".into(), None), ("trace".into(), Some(Bytes::from_static(b"x")))],
        }
    }

    #[test]
    fn offsets_and_timestamps_are_rebased() {
        let records = vec![record(10, 5_000, "a"), record(11, 4_000, "b"), record(13, 7_000, "c")];
        let batch = encode_batch(
            &records,
            Compression::None,
            100,
            NO_PRODUCER_ID,
            NO_PRODUCER_EPOCH,
            NO_SEQUENCE,
            None,
        )
        .unwrap();
        let (header, decoded) = decode_batch_records(&batch).unwrap();
        assert_eq!(
            (header.base_offset, header.last_offset_delta, header.record_count),
            (100, 3, 3)
        );
        assert_eq!((header.first_timestamp, header.max_timestamp), (5_000, 7_000));
        let offsets: Vec<i64> = decoded.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [100, 101, 103]);
        assert_eq!(decoded[1].timestamp, 4_000);
        assert_eq!(decoded[2].headers, records[2].headers);
    }

    #[test]
    fn log_append_time_overrides_record_timestamps() {
        let records = vec![record(0, 1, "a"), record(1, 2, "b")];
        let batch = encode_batch(&records, Compression::Lz4, 0, 1, 0, 0, Some(99)).unwrap();
        let (header, decoded) = decode_batch_records(&batch).unwrap();
        assert!(header.timestamp_type_log_append());
        assert!(decoded.iter().all(|r| r.timestamp == 99));
    }

    #[test]
    fn empty_batches_encode_and_decode() {
        for codec in ALL {
            let batch = encode_batch(&[], codec, 5, -1, -1, -1, None).unwrap();
            assert_eq!(batch.len(), BATCH_HEADER_LEN);
            let (header, records) = decode_batch_records(&batch).unwrap();
            assert_eq!(header.record_count, 0);
            assert!(records.is_empty());
        }
    }

    #[test]
    fn encoder_rejects_unordered_offsets() {
        let records = vec![record(5, 0, "a"), record(5, 0, "b")];
        assert!(matches!(
            encode_batch(&records, Compression::None, 0, -1, -1, -1, None),
            Err(RecordError::InvalidRecord(_))
        ));
    }

    /// Re-seals a batch after its body was edited, so decoding gets past the CRC.
    fn with_body(batch: &[u8], body: &[u8], count: i32) -> Vec<u8> {
        let mut out = batch[..BATCH_HEADER_LEN].to_vec();
        out.extend_from_slice(body);
        let length = (out.len() - LOG_OVERHEAD) as i32;
        out[8..12].copy_from_slice(&length.to_be_bytes());
        out[57..61].copy_from_slice(&count.to_be_bytes());
        seal_crc(&mut out).unwrap();
        out
    }

    #[test]
    fn structural_lies_are_errors_not_allocations() {
        let batch = encode_batch(&[record(0, 0, "v")], Compression::None, 0, -1, -1, -1, None).unwrap();
        let body = batch[BATCH_HEADER_LEN..].to_vec();
        assert!(decode_batch_records(&with_body(&batch, &body, i32::MAX)).is_err());
        assert!(decode_batch_records(&with_body(&batch, &body, 2)).is_err());
        let mut extra = body.clone();
        extra.push(0);
        assert!(decode_batch_records(&with_body(&batch, &extra, 1)).is_err());
        // Header count of a million in a tiny record.
        let mut huge_headers = vec![0u8, 0, 0, 1, 1];
        write_varint(&mut huge_headers, 1_000_000);
        let mut lying = Vec::new();
        write_varint(&mut lying, huge_headers.len() as i32);
        lying.extend_from_slice(&huge_headers);
        lying.extend_from_slice(&[0; 8]);
        assert!(decode_batch_records(&with_body(&batch, &lying, 1)).is_err());
    }

    fn arb_records() -> impl Strategy<Value = Vec<Record>> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from));
        let headers = proptest::collection::vec((".{0,8}", bytes()), 0..3);
        proptest::collection::vec((1..5i64, any::<i64>(), bytes(), bytes(), headers), 0..20).prop_map(|items| {
            let mut offset = 0;
            items
                .into_iter()
                .map(|(gap, timestamp, key, value, headers)| {
                    offset += gap;
                    Record {
                        offset,
                        timestamp,
                        key,
                        value,
                        headers,
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn batches_round_trip_for_every_codec(
            records in arb_records(),
            codec_index in 0..5usize,
            base_offset in 0..i64::MAX / 2,
        ) {
            let codec = ALL[codec_index];
            let batch = encode_batch(&records, codec, base_offset, 3, 4, 5, None).unwrap();
            let (header, decoded) = decode_batch_records(&batch).unwrap();
            prop_assert_eq!(header.compression().unwrap(), codec);
            prop_assert_eq!(header.record_count as usize, records.len());
            let first = records.first().map_or(0, |r| r.offset);
            let expected: Vec<Record> = records
                .iter()
                .map(|r| Record { offset: r.offset - first + base_offset, ..r.clone() })
                .collect();
            prop_assert_eq!(decoded, expected);
        }
    }
}
