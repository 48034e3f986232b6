//! "Never panic" property tests: random bytes and randomly damaged valid
//! frames thrown at every public decoder. Errors are fine; panics are not.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;

use super::legacy_encode::write_entry;
use super::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn every_decoder(bytes: &[u8]) {
    let _ = BatchHeader::parse(bytes);
    let _ = validate_batch(bytes);
    let _ = decode_batch_records(bytes);
    for (_, batch) in split_batches(bytes).flatten() {
        let _ = decode_batch_records(batch);
    }
    let _ = decode_message_set(bytes);
    let _ = decode_message_set_strict(bytes);
    for version in [0, 2, 3, 7] {
        let _ = produce_to_batches(bytes, version);
    }
    for magic in [0, 1] {
        let _ = down_convert(bytes, magic, 0);
        let _ = down_convert(bytes, magic, 3);
    }
    for codec in CODECS {
        let _ = decompress_with_limit(codec, bytes, 1 << 20);
    }
    let mut copy = bytes.to_vec();
    let _ = set_base_offset(&mut copy, 1);
    let _ = set_partition_leader_epoch(&mut copy, 1);
    let _ = set_log_append_time(&mut copy, 1);
}

/// Damage recorded as (position, xor) pairs plus a truncation point.
fn damage(mut frame: Vec<u8>, flips: &[(Index, u8)], cut: Index) -> Vec<u8> {
    if !frame.is_empty() {
        for (at, xor) in flips {
            let at = at.index(frame.len());
            frame[at] ^= xor;
        }
    }
    let keep = cut.index(frame.len() + 1);
    frame.truncate(keep);
    frame
}

/// Recomputes a damaged batch's CRC so the damage reaches the record decoder.
fn reseal(frame: &mut [u8]) {
    if frame.len() >= BATCH_HEADER_LEN {
        let crc = crc32c::crc32c(&frame[21..]);
        frame[17..21].copy_from_slice(&crc.to_be_bytes());
    }
}

fn valid_batch(values: &[Vec<u8>], codec: Compression) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .zip(0i64..)
        .map(|(value, offset)| Record {
            offset,
            timestamp: 1_000 + offset,
            key: Some(Bytes::from(offset.to_string())),
            value: Some(Bytes::copy_from_slice(value)),
            headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
        })
        .collect();
    encode_batch(&records, codec, 5, 1, 0, 0, None).unwrap()
}

fn valid_message_set(values: &[Vec<u8>], magic: i8, codec: Compression) -> Vec<u8> {
    let messages: Vec<LegacyMessage> = values
        .iter()
        .zip(0i64..)
        .map(|(value, offset)| LegacyMessage {
            offset,
            magic,
            timestamp: if magic == 0 { NO_TIMESTAMP } else { offset },
            log_append_time: false,
            compression: codec,
            key: None,
            value: Some(Bytes::copy_from_slice(value)),
        })
        .collect();
    encode_message_set(&messages, magic, codec).unwrap()
}

fn values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6)
}

fn flips() -> impl Strategy<Value = Vec<(Index, u8)>> {
    proptest::collection::vec((any::<Index>(), 1..=255u8), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        every_decoder(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_plausible_header_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        magic in 0..3u8,
        attributes in any::<u8>(),
    ) {
        // Give the noise a self-consistent length and magic so it gets past
        // the first checks, and a valid CRC in the v2 case.
        let mut frame = vec![0u8; 8];
        let length = (bytes.len() + 9) as i32;
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0, magic, 0, 0, 0, 0, 0, attributes & 0x3f]);
        frame.extend_from_slice(&bytes);
        reseal(&mut frame);
        every_decoder(&frame);
    }

    #[test]
    fn damaged_batches_never_panic(
        values in values(),
        codec_index in 0..5usize,
        flips in flips(),
        cut in any::<Index>(),
        resealed: bool,
    ) {
        let mut frame = damage(valid_batch(&values, CODECS[codec_index]), &flips, cut);
        if resealed {
            reseal(&mut frame);
        }
        every_decoder(&frame);
    }

    #[test]
    fn damaged_message_sets_never_panic(
        values in values(),
        magic in 0..2i8,
        codec_index in 0..4usize,
        flips in flips(),
        cut in any::<Index>(),
    ) {
        let frame = damage(valid_message_set(&values, magic, CODECS[codec_index]), &flips, cut);
        every_decoder(&frame);
    }

    #[test]
    fn valid_compression_around_garbage_never_panics(
        noise in proptest::collection::vec(any::<u8>(), 0..300),
        values in values(),
        flips in flips(),
        cut in any::<Index>(),
        structured: bool,
        codec_index in 1..4usize,
        magic in 0..2i8,
        count in any::<i32>(),
    ) {
        // The wrapper and the codec are intact, so the garbage (pure noise, or
        // a damaged valid payload) reaches the inner MessageSet parser and the
        // v2 record parser.
        let codec = CODECS[codec_index];
        let (inner_set, records) = if structured {
            let set = valid_message_set(&values, magic, Compression::None);
            let batch = valid_batch(&values, Compression::None);
            (damage(set, &flips, cut), damage(batch[BATCH_HEADER_LEN..].to_vec(), &flips, cut))
        } else {
            (noise.clone(), noise)
        };
        let packed = compress(codec, &inner_set).unwrap();
        let mut wrapper = Vec::new();
        write_entry(&mut wrapper, 0, magic, codec.id() as i8, 0, None, Some(&packed)).unwrap();
        every_decoder(&wrapper);

        let mut batch = valid_batch(&[vec![1]], codec);
        batch.truncate(BATCH_HEADER_LEN);
        batch.extend_from_slice(&compress(codec, &records).unwrap());
        let length = (batch.len() - LOG_OVERHEAD) as i32;
        batch[8..12].copy_from_slice(&length.to_be_bytes());
        let count = if structured { values.len() as i32 } else { count };
        batch[57..61].copy_from_slice(&count.to_be_bytes());
        reseal(&mut batch);
        every_decoder(&batch);
    }

    #[test]
    fn undamaged_frames_decode(values in values(), codec_index in 0..4usize, magic in 0..2i8) {
        let codec = CODECS[codec_index];
        let batch = valid_batch(&values, codec);
        prop_assert_eq!(decode_batch_records(&batch).unwrap().1.len(), values.len());
        prop_assert_eq!(produce_to_batches(&batch, 3).unwrap(), vec![batch.clone()]);
        let legacy = down_convert(&batch, magic, 0).unwrap();
        prop_assert_eq!(decode_message_set_strict(&legacy).unwrap().len(), values.len());
        let set = valid_message_set(&values, magic, codec);
        let converted = produce_to_batches(&set, 2).unwrap();
        prop_assert_eq!(converted.len(), 1);
        prop_assert_eq!(decode_batch_records(&converted[0]).unwrap().1.len(), values.len());
    }
}
