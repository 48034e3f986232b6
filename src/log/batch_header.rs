//! The fixed 61-byte header of a RecordBatch v2. The log only needs offsets, sizes,
//! timestamps, producer fields and the CRC, so it parses them here rather than
//! depending on the record codecs.

/// baseOffset (8) + batchLength (4): the bytes not counted by batchLength.
pub(crate) const LENGTH_PREFIX_LEN: usize = 12;
pub(crate) const HEADER_LEN: usize = 61;
/// The smallest batchLength a header-only batch can have.
pub(crate) const MIN_BATCH_LENGTH: i32 = (HEADER_LEN - LENGTH_PREFIX_LEN) as i32;
const MAGIC_V2: i8 = 2;
#[cfg(test)]
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
/// CRC-32C covers attributes through the end of the batch.
const CRC_COVERS_FROM: usize = 21;

/// The log reads headers with the record codec's parser, plus the checks an
/// append or a recovery scan needs.
pub(crate) use crate::records::BatchHeader;

/// Parses and sanity-checks the header at the start of `bytes` (the CRC is
/// checked separately, by `crc_is_valid`, because it needs the whole batch).
///
/// A legacy entry (magic 0/1, a topic kept in an old `message.format.version`)
/// must be given whole: its header is derived from its messages.
pub(crate) fn parse_header(bytes: &[u8]) -> Result<BatchHeader, String> {
    if is_legacy(bytes) {
        return crate::records::stored_entry_header(bytes).map_err(|e| e.to_string());
    }
    if bytes.len() < HEADER_LEN {
        return Err(format!("a batch header needs {HEADER_LEN} bytes, got {}", bytes.len()));
    }
    let header = BatchHeader::parse(bytes).map_err(|e| e.to_string())?;
    if header.magic != MAGIC_V2 {
        return Err(format!("magic {} is not {MAGIC_V2}", header.magic));
    }
    if header.batch_length < MIN_BATCH_LENGTH {
        return Err(format!(
            "batchLength {} is below the minimum {MIN_BATCH_LENGTH}",
            header.batch_length
        ));
    }
    if header.last_offset_delta < 0 {
        return Err(format!("negative lastOffsetDelta {}", header.last_offset_delta));
    }
    Ok(header)
}

/// Bytes the whole batch occupies in the log.
pub(crate) fn total_size(header: &BatchHeader) -> u64 {
    header.total_len() as u64
}

/// batchLength from the 12-byte length prefix; `prefix` must hold at least 12 bytes.
pub(crate) fn batch_length_of(prefix: &[u8]) -> i32 {
    i32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]])
}

/// Bytes up to and including the magic byte, which tells a v2 batch from a
/// legacy message (both start with offset and length).
pub(crate) const MAGIC_END: usize = 17;
/// The smallest legacy message (magic 0, null key and value).
pub(crate) const MIN_LEGACY_LENGTH: i32 = 14;

/// Whether `bytes` (at least through the magic byte) start a magic 0/1 message.
pub(crate) fn is_legacy(bytes: &[u8]) -> bool {
    bytes.get(MAGIC_END - 1).is_some_and(|&magic| magic == 0 || magic == 1)
}

/// Whether the stored CRC-32C matches the whole batch in `batch` (for a
/// legacy message, its CRC-32 of magic through the end).
pub(crate) fn crc_is_valid(batch: &[u8]) -> bool {
    if is_legacy(batch) {
        let stored = u32::from_be_bytes([batch[12], batch[13], batch[14], batch[15]]);
        return crc32fast::hash(&batch[MAGIC_END - 1..]) == stored;
    }
    if batch.len() < HEADER_LEN {
        return false;
    }
    let stored = u32::from_be_bytes([batch[CRC_AT], batch[CRC_AT + 1], batch[CRC_AT + 2], batch[CRC_AT + 3]]);
    crc32c::crc32c(&batch[CRC_COVERS_FROM..]) == stored
}

/// Stamps the base offset; the CRC does not cover it, so the batch stays valid.
pub(crate) fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A valid v2 batch of `records` offsets with `payload_len` filler bytes standing
    /// in for the records (the log never looks past the header).
    pub(crate) fn batch(records: i32, max_timestamp: i64, payload_len: usize) -> Vec<u8> {
        producer_batch(records, max_timestamp, payload_len, -1, -1, -1)
    }

    pub(crate) fn producer_batch(
        records: i32,
        max_timestamp: i64,
        payload_len: usize,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Vec<u8> {
        assert!(records >= 1);
        let batch_length = (HEADER_LEN - LENGTH_PREFIX_LEN + payload_len) as i32;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload_len);
        bytes.extend_from_slice(&0i64.to_be_bytes());
        bytes.extend_from_slice(&batch_length.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes()); // partitionLeaderEpoch
        bytes.push(MAGIC_V2 as u8);
        bytes.extend_from_slice(&0u32.to_be_bytes()); // crc, filled in below
        bytes.extend_from_slice(&0i16.to_be_bytes()); // attributes
        bytes.extend_from_slice(&(records - 1).to_be_bytes());
        bytes.extend_from_slice(&max_timestamp.to_be_bytes()); // firstTimestamp
        bytes.extend_from_slice(&max_timestamp.to_be_bytes());
        bytes.extend_from_slice(&producer_id.to_be_bytes());
        bytes.extend_from_slice(&producer_epoch.to_be_bytes());
        bytes.extend_from_slice(&base_sequence.to_be_bytes());
        bytes.extend_from_slice(&records.to_be_bytes());
        bytes.extend((0..payload_len).map(|i| (i * 7 + records as usize) as u8));
        let crc = crc32c::crc32c(&bytes[CRC_COVERS_FROM..]);
        bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn parses_the_fields_the_builder_wrote() {
        let mut bytes = producer_batch(5, 1_700_000_000_123, 20, 42, 3, 17);
        set_base_offset(&mut bytes, 1000);
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.base_offset, 1000);
        assert_eq!(header.last_offset(), 1004);
        assert_eq!(total_size(&header), bytes.len() as u64);
        assert_eq!(header.max_timestamp, 1_700_000_000_123);
        assert_eq!(
            (header.producer_id, header.producer_epoch, header.base_sequence),
            (42, 3, 17)
        );
        assert_eq!(header.record_count, 5);
        assert!(crc_is_valid(&bytes), "stamping the base offset must not break the CRC");
    }

    #[test]
    fn crc_catches_a_flipped_byte_anywhere_it_covers() {
        let bytes = batch(3, 10, 30);
        for at in CRC_COVERS_FROM..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            assert!(!crc_is_valid(&damaged), "flip at {at} went unnoticed");
        }
        assert!(!crc_is_valid(&bytes[..HEADER_LEN - 1]));
    }

    #[test]
    fn rejects_short_wrong_magic_small_length_and_negative_delta() {
        let good = batch(1, 0, 0);
        assert!(parse_header(&good[..60]).is_err());
        let mut wrong_magic = good.clone();
        wrong_magic[MAGIC_AT] = 3; // 0 and 1 are legacy messages
        assert!(parse_header(&wrong_magic).unwrap_err().contains("magic"));
        let mut short_length = good.clone();
        short_length[8..12].copy_from_slice(&48i32.to_be_bytes());
        assert!(parse_header(&short_length).unwrap_err().contains("batchLength"));
        let mut negative_delta = good.clone();
        negative_delta[23..27].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(parse_header(&negative_delta).unwrap_err().contains("lastOffsetDelta"));
    }

    #[test]
    fn garbage_base_offset_saturates_instead_of_overflowing() {
        let mut bytes = batch(10, 0, 0);
        set_base_offset(&mut bytes, i64::MAX - 2);
        assert_eq!(BatchHeader::parse(&bytes).unwrap().last_offset(), i64::MAX);
    }
}
