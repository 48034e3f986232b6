//! RecordBatch v2 (magic 2) framing: the 61-byte header, whole-batch
//! validation, splitting a buffer of concatenated batches, and the in-place
//! stamps the broker applies on append.
//!
//! Header layout (big-endian): baseOffset i64 @0, batchLength i32 @8,
//! partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17, attributes i16 @21,
//! lastOffsetDelta i32 @23, firstTimestamp i64 @27, maxTimestamp i64 @35,
//! producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53,
//! recordCount i32 @57. The CRC-32C covers attributes through the batch end,
//! so the base offset and leader epoch can be stamped without recomputing it.

use super::compression::Compression;
use super::error::{RecordError, Result};
use super::legacy::{describe_entry, is_legacy_entry, MESSAGE_OVERHEAD_V0};
use super::reader::{i32_at, Reader};

pub const BATCH_HEADER_LEN: usize = 61;
/// The offset and length fields that precede every batch or legacy message.
pub const LOG_OVERHEAD: usize = 12;
pub const MAGIC_V2: i8 = 2;
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
pub const NO_TIMESTAMP: i64 = -1;

const LENGTH_AT: usize = 8;
const PARTITION_LEADER_EPOCH_AT: usize = 12;
pub(crate) const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const MAX_TIMESTAMP_AT: usize = 35;
/// batchLength counts from the leader epoch on, so a header-only batch has 49.
const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Attribute bit 3: timestamps are LogAppendTime (else CreateTime).
    pub const TIMESTAMP_TYPE_BIT: i16 = 0x08;
    pub const TRANSACTIONAL_BIT: i16 = 0x10;
    pub const CONTROL_BIT: i16 = 0x20;

    /// Reads the header at the start of `buf` (at least 61 bytes, magic 2).
    /// Only the header is looked at: no length or CRC checks.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader> {
        let mut reader = Reader::new(buf.get(..BATCH_HEADER_LEN).ok_or(RecordError::Truncated)?);
        let base_offset = reader.i64()?;
        let batch_length = reader.i32()?;
        let partition_leader_epoch = reader.i32()?;
        let magic = reader.i8()?;
        if magic != MAGIC_V2 {
            return Err(RecordError::UnsupportedMagic(magic));
        }
        Ok(BatchHeader {
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc: reader.u32()?,
            attributes: reader.i16()?,
            last_offset_delta: reader.i32()?,
            first_timestamp: reader.i64()?,
            max_timestamp: reader.i64()?,
            producer_id: reader.i64()?,
            producer_epoch: reader.i16()?,
            base_sequence: reader.i32()?,
            record_count: reader.i32()?,
        })
    }

    /// Bytes of the whole batch including the offset and length fields.
    /// A negative `batch_length` (only possible before validation) counts as 0.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD.saturating_add(usize::try_from(self.batch_length).unwrap_or(0))
    }

    /// Saturates so that a garbage base offset cannot overflow.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }

    pub fn compression(&self) -> Result<Compression> {
        Compression::from_attributes(self.attributes)
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & Self::TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & Self::CONTROL_BIT != 0
    }

    pub fn timestamp_type_log_append(&self) -> bool {
        self.attributes & Self::TIMESTAMP_TYPE_BIT != 0
    }

    /// The sequence of the last record; sequences wrap from i32::MAX to 0
    /// (Kafka's `DefaultRecordBatch.incrementSequence`).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past i32::MAX to 0 as Kafka does (with
/// Java's int arithmetic, so nonsense deltas from the wire cannot overflow).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX.wrapping_sub(increment) {
        increment.wrapping_sub(i32::MAX.wrapping_sub(sequence)).wrapping_sub(1)
    } else {
        sequence.wrapping_add(increment)
    }
}

fn corrupt(what: String) -> RecordError {
    RecordError::CorruptMessage(what)
}

/// Checks that `buf` is exactly one whole, intact v2 batch: magic, length,
/// CRC-32C and a non-negative record count (all Kafka requires of any batch;
/// produce-only rules such as count == lastOffsetDelta + 1 are the caller's).
pub fn validate_batch(buf: &[u8]) -> Result<BatchHeader> {
    let header = BatchHeader::parse(buf)?;
    if header.batch_length < MIN_BATCH_LENGTH {
        return Err(corrupt(format!(
            "batch length {} is below the minimum {MIN_BATCH_LENGTH}",
            header.batch_length
        )));
    }
    let total_len = header.total_len();
    if buf.len() < total_len {
        return Err(RecordError::Truncated);
    }
    if buf.len() > total_len {
        return Err(corrupt(format!(
            "batch length {} does not match the {} bytes given",
            header.batch_length,
            buf.len() - LOG_OVERHEAD
        )));
    }
    let computed = batch_crc(buf);
    if computed != header.crc {
        return Err(corrupt(format!(
            "batch CRC mismatch: stored {:#010x}, computed {computed:#010x}",
            header.crc
        )));
    }
    if header.record_count < 0 {
        return Err(RecordError::InvalidRecord(format!(
            "negative record count {}",
            header.record_count
        )));
    }
    Ok(header)
}

/// CRC-32C of a batch: attributes through the end of `batch`.
fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES_AT..).unwrap_or_default())
}

/// The header of one whole stored entry: a v2 batch's own (only its first 61
/// bytes are read), or a legacy message's as `describe_entry` derives it.
pub fn stored_entry_header(entry: &[u8]) -> Result<BatchHeader> {
    if is_legacy_entry(entry) == Some(true) {
        return describe_entry(entry).map(|(header, _)| header);
    }
    BatchHeader::parse(entry)
}

/// Iterates over concatenated stored entries: v2 batches (CRCs not checked)
/// and legacy magic 0/1 messages (decoded, so checked), each with its header.
pub fn split_batches(buf: &[u8]) -> BatchIter<'_> {
    BatchIter {
        buf,
        pos: 0,
        partial_tail: false,
        finished: false,
    }
}

/// Yields each whole batch with its parsed header. A trailing partial batch
/// (as Fetch responses and log reads may end with) stops iteration quietly and
/// sets `partial_tail`; a malformed header yields one error and stops.
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    partial_tail: bool,
    finished: bool,
}

impl<'a> BatchIter<'a> {
    /// Whether iteration stopped at an incomplete trailing batch.
    pub fn partial_tail(&self) -> bool {
        self.partial_tail
    }

    /// Bytes of the buffer covered by the batches yielded so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    fn next_batch(&mut self) -> Result<Option<(BatchHeader, &'a [u8])>> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        // Every whole entry reaches past the magic byte; a shorter rest is a partial one.
        let (Some(batch_length), Some(legacy)) = (i32_at(rest, LENGTH_AT), is_legacy_entry(rest)) else {
            self.partial_tail = true;
            return Ok(None);
        };
        let min_length = if legacy {
            MESSAGE_OVERHEAD_V0 as i32
        } else {
            MIN_BATCH_LENGTH
        };
        if batch_length < min_length {
            return Err(corrupt(format!(
                "batch length {batch_length} at byte {} is below the minimum {min_length}",
                self.pos
            )));
        }
        let total_len = LOG_OVERHEAD.saturating_add(batch_length as usize);
        let Some(batch) = rest.get(..total_len) else {
            self.partial_tail = true;
            return Ok(None);
        };
        let header = stored_entry_header(batch)?;
        self.pos += total_len;
        Ok(Some((header, batch)))
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<(BatchHeader, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = self.next_batch().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.finished = true;
        }
        item
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> Result<()> {
    buf.get_mut(at..at + bytes.len())
        .ok_or(RecordError::Truncated)?
        .copy_from_slice(bytes);
    Ok(())
}

/// Stamps the base offset; the CRC does not cover it.
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) -> Result<()> {
    BatchHeader::parse(buf)?;
    put(buf, 0, &base_offset.to_be_bytes())
}

/// Stamps the partition leader epoch; the CRC does not cover it.
pub fn set_partition_leader_epoch(buf: &mut [u8], epoch: i32) -> Result<()> {
    BatchHeader::parse(buf)?;
    put(buf, PARTITION_LEADER_EPOCH_AT, &epoch.to_be_bytes())
}

/// Marks the batch LogAppendTime with `timestamp` as its max timestamp and
/// recomputes the CRC (Kafka's `setMaxTimestamp(LOG_APPEND_TIME, now)`).
/// `buf` must hold the whole batch.
pub fn set_log_append_time(buf: &mut [u8], timestamp: i64) -> Result<()> {
    let header = BatchHeader::parse(buf)?;
    let batch = buf.get_mut(..header.total_len()).ok_or(RecordError::Truncated)?;
    let attributes = header.attributes | BatchHeader::TIMESTAMP_TYPE_BIT;
    put(batch, ATTRIBUTES_AT, &attributes.to_be_bytes())?;
    put(batch, MAX_TIMESTAMP_AT, &timestamp.to_be_bytes())?;
    let crc = batch_crc(batch);
    put(batch, CRC_AT, &crc.to_be_bytes())
}

/// Writes the CRC of a fully built batch.
pub(crate) fn seal_crc(batch: &mut [u8]) -> Result<()> {
    let crc = batch_crc(batch);
    put(batch, CRC_AT, &crc.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::record::{encode_batch, Record};

    fn sample_batch(base_offset: i64, count: usize) -> Vec<u8> {
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                offset: i as i64,
                timestamp: 1_000 + i as i64,
                key: None,
                value: Some(bytes::Bytes::from(vec![i as u8; 10])),
                headers: Vec::new(),
            })
            .collect();
        encode_batch(&records, Compression::None, base_offset, 7, 1, 5, None).unwrap()
    }

    #[test]
    fn header_accessors() {
        let batch = sample_batch(100, 3);
        let header = validate_batch(&batch).unwrap();
        assert_eq!(header.total_len(), batch.len());
        assert_eq!(header.base_offset, 100);
        assert_eq!(header.last_offset(), 102);
        assert_eq!(header.record_count, 3);
        assert_eq!(header.compression().unwrap(), Compression::None);
        assert!(!header.is_transactional() && !header.is_control());
        assert!(!header.timestamp_type_log_append());
        assert_eq!(header.last_sequence(), 7);
        assert_eq!(header.max_timestamp, 1_002);
    }

    #[test]
    fn sequences_wrap_to_zero() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 2), 7);
        let _ = increment_sequence(i32::MIN, -1); // must not overflow
        let mut header = BatchHeader::parse(&sample_batch(0, 1)).unwrap();
        header.base_sequence = NO_SEQUENCE;
        assert_eq!(header.last_sequence(), NO_SEQUENCE);
    }

    #[test]
    fn validation_catches_damage() {
        let batch = sample_batch(0, 2);
        let mut flipped = batch.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(validate_batch(&flipped), Err(RecordError::CorruptMessage(_))));
        assert_eq!(validate_batch(&batch[..batch.len() - 1]), Err(RecordError::Truncated));
        assert_eq!(validate_batch(&batch[..20]), Err(RecordError::Truncated));
        let mut longer = batch.clone();
        longer.push(0);
        assert!(matches!(validate_batch(&longer), Err(RecordError::CorruptMessage(_))));
        let mut magic1 = batch.clone();
        magic1[MAGIC_AT] = 1;
        assert_eq!(validate_batch(&magic1), Err(RecordError::UnsupportedMagic(1)));
        let mut short_length = batch;
        short_length[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&48i32.to_be_bytes());
        assert!(matches!(
            validate_batch(&short_length),
            Err(RecordError::CorruptMessage(_))
        ));
    }

    #[test]
    fn stamping_offset_and_epoch_keeps_the_crc_valid() {
        let mut batch = sample_batch(0, 2);
        set_base_offset(&mut batch, 42).unwrap();
        set_partition_leader_epoch(&mut batch, 9).unwrap();
        let header = validate_batch(&batch).unwrap();
        assert_eq!((header.base_offset, header.partition_leader_epoch), (42, 9));
        assert_eq!(set_base_offset(&mut [0u8; 10], 1), Err(RecordError::Truncated));
    }

    #[test]
    fn log_append_time_recomputes_the_crc() {
        let mut batch = sample_batch(0, 2);
        set_log_append_time(&mut batch, 555).unwrap();
        let header = validate_batch(&batch).unwrap();
        assert!(header.timestamp_type_log_append());
        assert_eq!(header.max_timestamp, 555);
        let mut cut = sample_batch(0, 2);
        let len = cut.len();
        assert_eq!(set_log_append_time(&mut cut[..len - 1], 1), Err(RecordError::Truncated));
    }

    #[test]
    fn split_reports_partial_tails() {
        let mut buf = sample_batch(0, 2);
        let second = sample_batch(2, 3);
        buf.extend_from_slice(&second);
        buf.extend_from_slice(&second[..30]);
        let mut iter = split_batches(&buf);
        let offsets: Vec<i64> = iter.by_ref().map(|b| b.unwrap().0.base_offset).collect();
        assert_eq!(offsets, [0, 2]);
        assert!(iter.partial_tail());
        assert_eq!(iter.consumed(), buf.len() - 30);

        let whole = sample_batch(0, 1);
        let mut iter = split_batches(&whole);
        assert_eq!(iter.by_ref().count(), 1);
        assert!(!iter.partial_tail());
        let mut tiny = split_batches(&whole[..5]);
        assert!(tiny.next().is_none());
        assert!(tiny.partial_tail());
    }

    #[test]
    fn split_stops_at_a_bad_header() {
        let mut buf = sample_batch(0, 1);
        let mut bad = sample_batch(1, 1);
        bad[MAGIC_AT] = 3; // 0 and 1 would be read as legacy messages
        buf.extend_from_slice(&bad);
        buf.extend_from_slice(&sample_batch(2, 1));
        let items: Vec<_> = split_batches(&buf).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], Err(RecordError::UnsupportedMagic(3)));
    }
}
