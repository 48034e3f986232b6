//! Compression codecs by Kafka codec id, with a hard cap on decompressed size
//! so that a small "decompression bomb" cannot exhaust memory.

use std::io::{Read, Write};

use super::error::{RecordError, Result};
use super::{lz4, snappy};

/// The most bytes `decompress` will produce from one compressed payload.
pub const MAX_DECOMPRESSED_LEN: usize = 64 << 20;

/// log2 of the largest zstd window accepted: windows beyond the output cap are
/// useless and would only make the decoder allocate.
const ZSTD_WINDOW_LOG_MAX: u32 = 26;
const ZSTD_LEVEL: i32 = 3;

/// A record compression codec; the discriminant is Kafka's codec id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    /// The codec bits (0-2) of batch or message attributes.
    pub const ATTRIBUTE_MASK: i16 = 0x07;

    /// The codec named by the low 3 bits of `attributes`.
    pub fn from_attributes(attributes: i16) -> Result<Self> {
        Self::from_id((attributes & Self::ATTRIBUTE_MASK) as u8)
    }

    /// The codec with Kafka id `id`.
    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(RecordError::UnsupportedCompression(other)),
        }
    }

    /// Kafka's id for this codec.
    pub fn id(self) -> u8 {
        self as u8
    }
}

fn codec_error(codec: Compression, error: impl std::fmt::Display) -> RecordError {
    RecordError::Compression(format!("{codec:?}: {error}"))
}

/// Compresses `data` the way Kafka's own producer would for `codec`.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), flate2::Compression::default());
            encoder.write_all(data).map_err(|e| codec_error(codec, e))?;
            encoder.finish().map_err(|e| codec_error(codec, e))
        }
        Compression::Snappy => snappy::compress_xerial(data),
        Compression::Lz4 => Ok(lz4::compress_frame(data, false)),
        Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL).map_err(|e| codec_error(codec, e)),
    }
}

/// Compresses a legacy (magic 0/1) wrapper's payload. Magic 0 LZ4 gets the
/// header checksum Kafka writes for it (KAFKA-3160), which old consumers check.
pub(crate) fn compress_for_magic(codec: Compression, data: &[u8], magic: i8) -> Result<Vec<u8>> {
    match codec {
        Compression::Lz4 => Ok(lz4::compress_frame(data, magic == 0)),
        _ => compress(codec, data),
    }
}

/// Decompresses `data`, failing beyond `MAX_DECOMPRESSED_LEN` output bytes.
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    decompress_with_limit(codec, data, MAX_DECOMPRESSED_LEN)
}

/// Decompresses `data`, failing beyond `limit` output bytes.
pub fn decompress_with_limit(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(codec_error(codec, format!("exceeds the {limit} byte limit")));
            }
            Ok(data.to_vec())
        }
        // Multi-member: Java's GZIPInputStream reads concatenated members too.
        Compression::Gzip => read_bounded(codec, flate2::read::MultiGzDecoder::new(data), limit),
        Compression::Snappy => snappy::decompress(data, limit),
        Compression::Lz4 => lz4::decompress_frame(data, limit),
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(|e| codec_error(codec, e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| codec_error(codec, e))?;
            read_bounded(codec, decoder, limit)
        }
    }
}

fn read_bounded(codec: Compression, decoder: impl Read, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let read_limit = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(read_limit)
        .read_to_end(&mut out)
        .map_err(|e| codec_error(codec, e))?;
    if out.len() > limit {
        return Err(codec_error(codec, format!("output exceeds the {limit} byte limit")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn codec_ids_and_attributes() {
        for codec in ALL {
            assert_eq!(Compression::from_id(codec.id()).unwrap(), codec);
            assert_eq!(
                Compression::from_attributes(0x7ff8 | i16::from(codec.id())).unwrap(),
                codec
            );
        }
        for bad in 5..8 {
            assert_eq!(
                Compression::from_attributes(bad),
                Err(RecordError::UnsupportedCompression(bad as u8))
            );
        }
    }

    #[test]
    fn bombs_hit_the_cap_for_every_codec() {
        let zeros = vec![0u8; 4 << 20];
        for codec in ALL {
            let packed = compress(codec, &zeros).unwrap();
            let err = decompress_with_limit(codec, &packed, (4 << 20) - 1).unwrap_err();
            assert!(matches!(err, RecordError::Compression(_)), "{codec:?}: {err:?}");
            assert_eq!(decompress_with_limit(codec, &packed, 4 << 20).unwrap().len(), 4 << 20);
        }
    }

    #[test]
    fn concatenated_gzip_members_are_read() {
        let mut both = compress(Compression::Gzip, b"one ").unwrap();
        both.extend(compress(Compression::Gzip, b"two").unwrap());
        assert_eq!(decompress(Compression::Gzip, &both).unwrap(), b"one two");
    }

    #[test]
    fn legacy_magic_0_lz4_uses_the_kafka_3160_checksum() {
        let v0 = compress_for_magic(Compression::Lz4, b"payload", 0).unwrap();
        let v1 = compress_for_magic(Compression::Lz4, b"payload", 1).unwrap();
        assert_ne!(v0[6], v1[6]);
        assert_eq!(v0[6], (lz4::xxh32(&v0[..6], 0) >> 8) as u8);
        assert_eq!(decompress(Compression::Lz4, &v0).unwrap(), b"payload");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_codec_round_trips(data in proptest::collection::vec(any::<u8>(), 0..3000), index in 0..5usize) {
            let codec = ALL[index];
            let packed = compress(codec, &data).unwrap();
            prop_assert_eq!(decompress(codec, &packed).unwrap(), data);
        }

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for codec in ALL {
                let _ = decompress_with_limit(codec, &data, 1 << 20);
            }
        }

        #[test]
        fn mutated_streams_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            index in 0..5usize,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let codec = ALL[index];
            let mut packed = compress(codec, &data).unwrap();
            if packed.is_empty() {
                return Ok(());
            }
            for (at, xor) in flips {
                let at = at.index(packed.len());
                packed[at] ^= xor;
            }
            let _ = decompress_with_limit(codec, &packed, 1 << 20);
            let keep = cut.index(packed.len() + 1);
            let _ = decompress_with_limit(codec, &packed[..keep], 1 << 20);
        }
    }
}
