//! Snappy as Kafka carries it. Java producers wrap raw snappy in the
//! snappy-java ("xerial") stream framing: the 8-byte magic `\x82SNAPPY\0`, two
//! big-endian i32 versions, then repeated [i32 BE length][raw snappy block].
//! Other clients may send a bare raw snappy block. Both are read; xerial is
//! written, since Java consumers require it and librdkafka, kafka-python,
//! pykafka, sarama and franz-go all detect it by its magic.

use super::error::{RecordError, Result};
use super::reader::Reader;

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;
const XERIAL_VERSION: i32 = 1;
const XERIAL_MIN_COMPATIBLE_VERSION: i32 = 1;
/// snappy-java's default block size, which Kafka's producer uses.
const XERIAL_BLOCK_LEN: usize = 32 * 1024;
/// A concatenated xerial stream repeats its header where a length would be;
/// read as an i32 length, the magic's first four bytes are this value.
const XERIAL_MAGIC_AS_LENGTH: u32 = 0x8253_4E41;
/// Snappy's densest element is a 3-byte copy of 64 bytes (ratio < 22); a
/// claimed length beyond 32× the input is a lie and is not allocated.
const MAX_EXPANSION: usize = 32;

fn compression_error(what: impl std::fmt::Display) -> RecordError {
    RecordError::Compression(format!("snappy: {what}"))
}

/// Decodes xerial-framed or raw snappy; more than `limit` output bytes is an error.
pub(crate) fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    if data.len() >= XERIAL_HEADER_LEN && data.starts_with(XERIAL_MAGIC) {
        decompress_xerial(data.get(XERIAL_HEADER_LEN..).unwrap_or_default(), limit)
    } else {
        let mut out = Vec::new();
        decompress_raw_into(data, limit, &mut out)?;
        Ok(out)
    }
}

fn decompress_xerial(blocks: &[u8], limit: usize) -> Result<Vec<u8>> {
    let truncated = |_| compression_error("xerial stream ends inside a block");
    let mut reader = Reader::new(blocks);
    let mut out = Vec::new();
    while reader.remaining() > 0 {
        let length_word = reader.u32().map_err(truncated)?;
        if length_word == XERIAL_MAGIC_AS_LENGTH {
            reader.take(XERIAL_HEADER_LEN - 4).map_err(truncated)?;
            continue;
        }
        let block_len = i32::try_from(length_word)
            .ok()
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| compression_error(format!("negative block length {length_word:#x}")))?;
        let block = reader.take(block_len).map_err(truncated)?;
        decompress_raw_into(block, limit, &mut out)?;
    }
    Ok(out)
}

fn decompress_raw_into(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<()> {
    let claimed_len = snap::raw::decompress_len(block).map_err(compression_error)?;
    if claimed_len > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(compression_error(format!(
            "a {}-byte block claims {claimed_len} bytes",
            block.len()
        )));
    }
    if out.len().saturating_add(claimed_len) > limit {
        return Err(compression_error(format!("output exceeds the {limit} byte limit")));
    }
    let start = out.len();
    out.resize(start + claimed_len, 0);
    let tail = out.get_mut(start..).unwrap_or_default();
    let written = snap::raw::Decoder::new()
        .decompress(block, tail)
        .map_err(compression_error)?;
    out.truncate(start + written);
    Ok(())
}

/// Encodes `data` in xerial framing with 32 KiB blocks, as Kafka's producer does.
pub(crate) fn compress_xerial(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 32);
    out.extend_from_slice(XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_MIN_COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    let mut write_block = |chunk: &[u8]| -> Result<()> {
        let block = encoder.compress_vec(chunk).map_err(compression_error)?;
        // A block of at most 32 KiB compresses to well under i32::MAX bytes.
        out.extend_from_slice(&(block.len() as u32).to_be_bytes());
        out.extend_from_slice(&block);
        Ok(())
    };
    // An empty input still gets one (empty) block: kafka-python and librdkafka
    // only recognise the framing when something follows the header.
    if data.is_empty() {
        write_block(&[])?;
    }
    for chunk in data.chunks(XERIAL_BLOCK_LEN) {
        write_block(chunk)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 64 << 20;

    fn raw(data: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(data).unwrap()
    }

    #[test]
    fn reads_a_hand_built_xerial_stream() {
        let mut stream = b"\x82SNAPPY\x00".to_vec();
        stream.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for part in [&b"hello, "[..], &b"xerial world"[..]] {
            let block = raw(part);
            stream.extend_from_slice(&(block.len() as u32).to_be_bytes());
            stream.extend_from_slice(&block);
        }
        assert_eq!(decompress(&stream, LIMIT).unwrap(), b"hello, xerial world");
    }

    #[test]
    fn reads_concatenated_xerial_streams() {
        let mut stream = compress_xerial(b"first ").unwrap();
        stream.extend_from_slice(&compress_xerial(b"second").unwrap());
        assert_eq!(decompress(&stream, LIMIT).unwrap(), b"first second");
    }

    #[test]
    fn reads_raw_snappy() {
        assert_eq!(decompress(&raw(b"plain raw block"), LIMIT).unwrap(), b"plain raw block");
    }

    #[test]
    fn writes_xerial_framing_that_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let stream = compress_xerial(&data).unwrap();
        assert!(stream.starts_with(XERIAL_MAGIC));
        assert_eq!(&stream[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(decompress(&stream, LIMIT).unwrap(), data);
        let empty = compress_xerial(b"").unwrap();
        assert!(empty.len() > XERIAL_HEADER_LEN);
        assert_eq!(decompress(&empty, LIMIT).unwrap(), b"");
    }

    #[test]
    fn lying_lengths_and_limits_are_errors() {
        // Raw block claiming ~4 GiB from 6 bytes.
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], LIMIT).is_err());
        let data = vec![0u8; 100_000];
        assert!(decompress(&compress_xerial(&data).unwrap(), 99_999).is_err());
        let mut stream = compress_xerial(b"abc").unwrap();
        stream.truncate(stream.len() - 1);
        assert!(decompress(&stream, LIMIT).is_err());
        let mut negative = compress_xerial(b"abc").unwrap();
        negative[16] = 0xff;
        assert!(decompress(&negative, LIMIT).is_err());
    }
}
