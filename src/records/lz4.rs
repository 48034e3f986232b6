//! The LZ4 *frame* format Kafka uses, parsed here over `lz4_flex::block` so
//! that quirks of Kafka clients can be tolerated:
//! - the header checksum is never enforced: pre-0.10 clients computed it over
//!   the magic too (KAFKA-3160), and Kafka ignores it for magic 0;
//! - linked (dependent) blocks are decoded, as some non-Java encoders emit them.
//!
//! Frame: magic 0x184D2204 (LE), FLG, BD, [content size u64], [dict id u32],
//! HC, then blocks of [u32 LE size, high bit = stored uncompressed] [data]
//! [xxh32 if block checksums], a zero end mark, [content xxh32].

use super::error::{RecordError, Result};
use super::reader::Reader;

const FRAME_MAGIC: u32 = 0x184D_2204;
const FLG_VERSION_MASK: u8 = 0b1100_0000;
const FLG_VERSION_01: u8 = 0b0100_0000;
const FLG_BLOCK_INDEPENDENCE: u8 = 0b0010_0000;
const FLG_BLOCK_CHECKSUM: u8 = 0b0001_0000;
const FLG_CONTENT_SIZE: u8 = 0b0000_1000;
const FLG_CONTENT_CHECKSUM: u8 = 0b0000_0100;
const FLG_DICT_ID: u8 = 0b0000_0001;
const BLOCK_UNCOMPRESSED_BIT: u32 = 0x8000_0000;
/// LZ4 back-references reach at most 64 KiB into earlier output.
const WINDOW_LEN: usize = 64 * 1024;
/// What Kafka's producer writes: 64 KiB blocks (BD = 4 << 4).
const ENCODE_BLOCK_LEN: usize = 64 * 1024;
const ENCODE_BD: u8 = 4 << 4;
/// Upper bound on LZ4's expansion: a match of length 255·k costs k bytes.
const MAX_EXPANSION: usize = 255;

fn compression_error(what: impl std::fmt::Display) -> RecordError {
    RecordError::Compression(format!("lz4: {what}"))
}

/// Decodes one LZ4 frame; more than `limit` output bytes is an error.
pub(crate) fn decompress_frame(frame: &[u8], limit: usize) -> Result<Vec<u8>> {
    let truncated = |_| compression_error("frame ends prematurely");
    let mut reader = Reader::new(frame);
    let magic = u32::from_le_bytes(four(reader.take(4).map_err(truncated)?));
    if magic != FRAME_MAGIC {
        return Err(compression_error(format!("bad frame magic {magic:#010x}")));
    }
    let flg = reader.u8().map_err(truncated)?;
    let bd = reader.u8().map_err(truncated)?;
    if flg & FLG_VERSION_MASK != FLG_VERSION_01 {
        return Err(compression_error(format!(
            "unsupported frame version in FLG {flg:#04x}"
        )));
    }
    if flg & FLG_DICT_ID != 0 {
        return Err(compression_error("preset dictionaries are not supported"));
    }
    let max_block_len = match (bd >> 4) & 0x7 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        other => return Err(compression_error(format!("bad block size id {other}"))),
    };
    if flg & FLG_CONTENT_SIZE != 0 {
        reader.take(8).map_err(truncated)?;
    }
    // Header checksum: read and deliberately not checked (see module doc).
    reader.u8().map_err(truncated)?;

    let linked = flg & FLG_BLOCK_INDEPENDENCE == 0;
    let mut out = Vec::new();
    loop {
        let size_word = u32::from_le_bytes(four(reader.take(4).map_err(truncated)?));
        if size_word == 0 {
            if flg & FLG_CONTENT_CHECKSUM != 0 {
                // Kafka skips the content checksum too; the batch CRC covers it.
                let _ = reader.take(4);
            }
            return Ok(out);
        }
        let stored = size_word & BLOCK_UNCOMPRESSED_BIT != 0;
        let block_len = (size_word & !BLOCK_UNCOMPRESSED_BIT) as usize;
        if block_len > max_block_len {
            return Err(compression_error(format!(
                "block of {block_len} bytes exceeds the frame's maximum {max_block_len}"
            )));
        }
        let block = reader.take(block_len).map_err(truncated)?;
        if flg & FLG_BLOCK_CHECKSUM != 0 {
            let expected = u32::from_le_bytes(four(reader.take(4).map_err(truncated)?));
            if xxh32(block, 0) != expected {
                return Err(compression_error("block checksum mismatch"));
            }
        }
        if stored {
            ensure_within(out.len(), block.len(), limit)?;
            out.extend_from_slice(block);
            continue;
        }
        let capacity = max_block_len.min(block_len.saturating_mul(MAX_EXPANSION).saturating_add(16));
        let mut decoded = vec![0u8; capacity];
        let decoded_len = if linked {
            let dict = out.get(out.len().saturating_sub(WINDOW_LEN)..).unwrap_or_default();
            lz4_flex::block::decompress_into_with_dict(block, &mut decoded, dict)
        } else {
            lz4_flex::block::decompress_into(block, &mut decoded)
        }
        .map_err(compression_error)?;
        ensure_within(out.len(), decoded_len, limit)?;
        out.extend_from_slice(decoded.get(..decoded_len).unwrap_or_default());
    }
}

fn ensure_within(current: usize, adding: usize, limit: usize) -> Result<()> {
    if current.saturating_add(adding) > limit {
        return Err(compression_error(format!("output exceeds the {limit} byte limit")));
    }
    Ok(())
}

fn four(bytes: &[u8]) -> [u8; 4] {
    let mut array = [0u8; 4];
    for (slot, byte) in array.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    array
}

/// Encodes `data` as one LZ4 frame of independent 64 KiB blocks, as Kafka's
/// `KafkaLZ4BlockOutputStream` does. With `kafka_3160_checksum` the header
/// checksum covers the magic too, which is what Kafka writes for magic 0 so
/// that 0.8/0.9-era consumers accept it.
pub(crate) fn compress_frame(data: &[u8], kafka_3160_checksum: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    out.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
    out.push(FLG_VERSION_01 | FLG_BLOCK_INDEPENDENCE);
    out.push(ENCODE_BD);
    let checksummed = if kafka_3160_checksum { &out[..] } else { &out[4..] };
    let header_checksum = (xxh32(checksummed, 0) >> 8) as u8;
    out.push(header_checksum);
    for chunk in data.chunks(ENCODE_BLOCK_LEN) {
        let compressed = lz4_flex::block::compress(chunk);
        // Chunks are at most 64 KiB, so their lengths fit the 31-bit field.
        if compressed.len() < chunk.len() {
            out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
            out.extend_from_slice(&compressed);
        } else {
            out.extend_from_slice(&(chunk.len() as u32 | BLOCK_UNCOMPRESSED_BIT).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

const PRIME32_1: u32 = 0x9E37_79B1;
const PRIME32_2: u32 = 0x85EB_CA77;
const PRIME32_3: u32 = 0xC2B2_AE3D;
const PRIME32_4: u32 = 0x27D4_EB2F;
const PRIME32_5: u32 = 0x1656_67B1;

/// XXH32, the checksum of the LZ4 frame format (lz4_flex keeps its own
/// private; twox-hash is not a direct dependency).
pub(crate) fn xxh32(data: &[u8], seed: u32) -> u32 {
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(PRIME32_2))
            .rotate_left(13)
            .wrapping_mul(PRIME32_1)
    }
    fn word(bytes: &[u8]) -> u32 {
        u32::from_le_bytes(four(bytes))
    }
    let mut stripes = data.chunks_exact(16);
    let mut hash = if data.len() >= 16 {
        let mut lanes = [
            seed.wrapping_add(PRIME32_1).wrapping_add(PRIME32_2),
            seed.wrapping_add(PRIME32_2),
            seed,
            seed.wrapping_sub(PRIME32_1),
        ];
        for stripe in &mut stripes {
            for (lane, bytes) in lanes.iter_mut().zip(stripe.chunks_exact(4)) {
                *lane = round(*lane, word(bytes));
            }
        }
        lanes[0]
            .rotate_left(1)
            .wrapping_add(lanes[1].rotate_left(7))
            .wrapping_add(lanes[2].rotate_left(12))
            .wrapping_add(lanes[3].rotate_left(18))
    } else {
        seed.wrapping_add(PRIME32_5)
    };
    // XXH32 folds the length in modulo 2^32 by definition.
    hash = hash.wrapping_add(data.len() as u32);
    let tail = stripes.remainder();
    let mut words = tail.chunks_exact(4);
    for bytes in &mut words {
        hash = hash
            .wrapping_add(word(bytes).wrapping_mul(PRIME32_3))
            .rotate_left(17)
            .wrapping_mul(PRIME32_4);
    }
    for &byte in words.remainder() {
        hash = hash
            .wrapping_add(u32::from(byte).wrapping_mul(PRIME32_5))
            .rotate_left(11)
            .wrapping_mul(PRIME32_1);
    }
    hash ^= hash >> 15;
    hash = hash.wrapping_mul(PRIME32_2);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(PRIME32_3);
    hash ^ (hash >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, FrameDecoder, FrameEncoder, FrameInfo};
    use std::io::{Read, Write};

    const LIMIT: usize = 64 << 20;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    fn encode_with_lz4_flex(data: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn xxh32_known_values() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
    }

    #[test]
    fn xxh32_agrees_with_lz4_flex_content_checksum() {
        for len in [1, 15, 16, 17, 100, 70_000] {
            let data = sample(len);
            let frame = encode_with_lz4_flex(&data, FrameInfo::new().content_checksum(true));
            let trailer = &frame[frame.len() - 4..];
            assert_eq!(xxh32(&data, 0).to_le_bytes(), trailer, "len {len}");
        }
    }

    #[test]
    fn our_frames_pass_a_strict_decoder() {
        for len in [0, 10, 65_536, 200_000] {
            let data = sample(len);
            let frame = compress_frame(&data, false);
            let mut decoded = Vec::new();
            FrameDecoder::new(&frame[..]).read_to_end(&mut decoded).unwrap();
            assert_eq!(decoded, data);
            assert_eq!(decompress_frame(&frame, LIMIT).unwrap(), data);
        }
    }

    #[test]
    fn incompressible_blocks_are_stored() {
        let mut state = 0x1234_5678u32;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (state >> 16) as u8
            })
            .collect();
        let frame = compress_frame(&noise, false);
        let size_word = u32::from_le_bytes(frame[7..11].try_into().unwrap());
        assert_ne!(size_word & BLOCK_UNCOMPRESSED_BIT, 0);
        assert_eq!(decompress_frame(&frame, LIMIT).unwrap(), noise);
    }

    #[test]
    fn kafka_3160_header_checksum_is_tolerated() {
        let data = sample(1000);
        let broken = compress_frame(&data, true);
        let correct = compress_frame(&data, false);
        assert_ne!(broken[6], correct[6], "the two checksums should differ");
        assert_eq!(broken[6], (xxh32(&broken[..6], 0) >> 8) as u8);
        assert_eq!(decompress_frame(&broken, LIMIT).unwrap(), data);
        let mut garbage_checksum = correct.clone();
        garbage_checksum[6] ^= 0x5a;
        assert_eq!(decompress_frame(&garbage_checksum, LIMIT).unwrap(), data);
    }

    #[test]
    fn decodes_lz4_flex_frames_of_every_flavour() {
        let data = sample(300_000);
        let flavours = [
            FrameInfo::new(),
            FrameInfo::new().block_mode(BlockMode::Linked),
            FrameInfo::new().block_checksums(true).content_checksum(true),
            FrameInfo::new().content_size(Some(data.len() as u64)),
        ];
        for info in flavours {
            let frame = encode_with_lz4_flex(&data, info);
            assert_eq!(decompress_frame(&frame, LIMIT).unwrap(), data);
        }
    }

    #[test]
    fn bad_block_checksum_and_truncation_are_errors() {
        let data = sample(1000);
        let mut frame = encode_with_lz4_flex(&data, FrameInfo::new().block_checksums(true));
        let end_mark_at = frame.len() - 4;
        frame[end_mark_at - 1] ^= 1; // last byte of the block checksum
        assert!(decompress_frame(&frame, LIMIT).is_err());
        let good = compress_frame(&data, false);
        for cut in 0..good.len() {
            assert!(decompress_frame(&good[..cut], LIMIT).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn output_limit_is_enforced() {
        let zeros = vec![0u8; 1 << 20];
        let frame = compress_frame(&zeros, false);
        assert!(frame.len() < 10_000);
        assert!(decompress_frame(&frame, (1 << 20) - 1).is_err());
        assert_eq!(decompress_frame(&frame, 1 << 20).unwrap().len(), 1 << 20);
    }
}
