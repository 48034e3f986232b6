//! Append, read, lookup and recovery tests of `PartitionLog` on real directories.
//! Maintenance (flush, retention, truncation) is tested in `maintenance.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::log::batch_header::test_support::{batch, producer_batch};

/// 61-byte header + 100 bytes of filler.
pub(super) const BATCH_BYTES: u64 = 161;

/// Three 161-byte batches per segment, an index entry every other batch.
pub(super) fn small_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 3 * BATCH_BYTES,
        index_interval_bytes: 200,
        ..LogConfig::default()
    }
}

/// Appends one 3-offset batch per timestamp; returns the stored bytes of each.
pub(super) fn append_batches(log: &mut PartitionLog, timestamps: impl IntoIterator<Item = i64>) -> Vec<Vec<u8>> {
    timestamps
        .into_iter()
        .map(|timestamp| {
            let mut bytes = batch(3, timestamp, 100);
            log.append(&mut bytes).unwrap();
            bytes
        })
        .collect()
}

pub(super) fn segment_log(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}

/// Ten batches at offsets 0, 3, .., 27 in segments based at 0, 9, 18 and 27.
pub(super) fn ten_batch_log(dir: &Path) -> (PartitionLog, Vec<Vec<u8>>) {
    let mut log = PartitionLog::open(dir, small_segments()).unwrap();
    let batches = append_batches(&mut log, 1000..1010);
    assert_eq!(log.segment_base_offsets(), vec![0, 9, 18, 27]);
    (log, batches)
}

fn read_all(log: &PartitionLog, offset: i64) -> Vec<u8> {
    log.read(offset, usize::MAX).unwrap().data.to_vec()
}

#[test]
fn the_log_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PartitionLog>();
}

#[test]
fn append_assigns_offsets_and_reads_round_trip_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut first = batch(3, 1000, 100);
    let now = wall_clock_ms();
    let info = log.append_at(&mut first, now).unwrap();
    assert_eq!(
        info,
        AppendInfo {
            base_offset: 0,
            last_offset: 2,
            log_append_time: now,
            position: 0
        }
    );
    let mut rest = append_batches(&mut log, 1001..1010);
    rest.insert(0, first);
    let batches = rest;

    assert_eq!(log.log_end_offset(), 30);
    assert_eq!(log.log_start_offset(), 0);
    assert_eq!(log.size_bytes(), 10 * BATCH_BYTES);
    assert_eq!(log.segment_base_offsets(), vec![0, 9, 18, 27]);
    for base in [0, 9, 18, 27] {
        assert!(segment_log(dir.path(), base).exists());
        assert!(dir.path().join(format!("{base:020}.index")).exists());
        assert!(dir.path().join(format!("{base:020}.timeindex")).exists());
    }
    for (i, stored) in batches.iter().enumerate() {
        assert_eq!(
            i64::from_be_bytes(stored[..8].try_into().unwrap()),
            3 * i as i64,
            "base offset stamped in place"
        );
        for offset in 3 * i as i64..3 * i as i64 + 3 {
            let read = log.read(offset, 1).unwrap();
            assert_eq!(
                read.data.as_ref(),
                stored.as_slice(),
                "offset {offset} reads its whole batch"
            );
            assert_eq!((read.log_start_offset, read.log_end_offset), (0, 30));
        }
    }
    assert_eq!(read_all(&log, 0), batches.concat());
    assert_eq!(
        read_all(&log, 13),
        batches[4..].concat(),
        "reads continue across segments"
    );
}

#[test]
fn max_bytes_takes_whole_batches_but_at_least_one() {
    let dir = tempfile::tempdir().unwrap();
    let (log, batches) = ten_batch_log(dir.path());
    let batch_count = |offset, max_bytes| {
        let data = log.read(offset, max_bytes).unwrap().data;
        assert_eq!(data.len() as u64 % BATCH_BYTES, 0);
        data.len() as u64 / BATCH_BYTES
    };
    assert_eq!(batch_count(0, 0), 1);
    assert_eq!(batch_count(0, 160), 1);
    assert_eq!(batch_count(0, 2 * 161), 2);
    assert_eq!(batch_count(0, 3 * 161 - 1), 2);
    assert_eq!(batch_count(4, 4 * 161), 4, "spans segments 0 and 9");
    assert_eq!(batch_count(27, 10_000), 1, "the active segment ends the log");
    assert_eq!(
        log.read(4, 4 * 161).unwrap().data.as_ref(),
        batches[1..5].concat().as_slice()
    );
    assert!(
        log.read_batches(4, 160, false).unwrap().data.is_empty(),
        "no minimum: nothing fits"
    );
    assert_eq!(
        log.read_batches(4, 161, false).unwrap().data.as_ref(),
        batches[1].as_slice()
    );
}

#[test]
fn offsets_outside_the_log_are_out_of_range_and_the_end_reads_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = ten_batch_log(dir.path());
    for offset in [-1, 31, i64::MAX] {
        match log.read(offset, 100) {
            Err(LogError::OffsetOutOfRange {
                offset: reported,
                start: 0,
                end: 30,
            }) => assert_eq!(reported, offset),
            other => panic!("offset {offset}: {other:?}"),
        }
    }
    let at_end = log.read(30, 100).unwrap();
    assert!(at_end.data.is_empty());
    assert_eq!(at_end.log_end_offset, 30);
    assert!(matches!(
        log.batch_infos_from(31),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(log.batch_infos_from(30).unwrap().is_empty());

    let empty_dir = tempfile::tempdir().unwrap();
    let empty = PartitionLog::open(&empty_dir.path().join("fresh"), LogConfig::default()).unwrap();
    assert_eq!(
        (empty.log_start_offset(), empty.log_end_offset(), empty.size_bytes()),
        (0, 0, 0)
    );
    assert!(empty.read(0, 100).unwrap().data.is_empty());
    assert!(empty.lookup_timestamp(0).unwrap().is_none());
}

#[test]
fn reopening_gives_the_same_log_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (log, mut batches) = ten_batch_log(dir.path());
    drop(log); // no flush: the next open must recover every segment
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 30));
    assert_eq!(log.segment_base_offsets(), vec![0, 9, 18, 27]);
    assert_eq!(read_all(&log, 0), batches.concat());
    batches.extend(append_batches(&mut log, [5000, 5001]));
    assert_eq!(log.log_end_offset(), 36);
    log.close().unwrap();

    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 36);
    assert_eq!(log.unflushed_messages(), 0, "close flushed and checkpointed");
    assert_eq!(read_all(&log, 0), batches.concat());
    assert_eq!(log.lookup_timestamp(5001).unwrap().unwrap().0, 33);
}

#[test]
fn a_torn_tail_is_truncated_on_open_and_appends_continue_there() {
    for damage in ["cut mid-batch", "flip a payload byte", "flip a length byte"] {
        let dir = tempfile::tempdir().unwrap();
        let (log, batches) = ten_batch_log(dir.path());
        // The active segment (base 27) holds one batch; make it two, then damage the second.
        let mut log = log;
        let mut second = batch(3, 2000, 100);
        log.append(&mut second).unwrap();
        drop(log);
        let path = segment_log(dir.path(), 27);
        let mut bytes = fs::read(&path).unwrap();
        match damage {
            "cut mid-batch" => bytes.truncate(bytes.len() - 40),
            "flip a payload byte" => bytes[BATCH_BYTES as usize + 100] ^= 0x01,
            _ => bytes[BATCH_BYTES as usize + 9] ^= 0x40,
        }
        fs::write(&path, &bytes).unwrap();

        let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(log.log_end_offset(), 30, "{damage}");
        assert_eq!(fs::metadata(&path).unwrap().len(), BATCH_BYTES, "{damage}");
        assert_eq!(read_all(&log, 0), batches.concat(), "{damage}");
        let mut next = batch(2, 3000, 100);
        assert_eq!(log.append(&mut next).unwrap().base_offset, 30, "{damage}");
        assert_eq!(log.read(31, 0).unwrap().data.as_ref(), next.as_slice());
    }
}

#[test]
fn damage_in_an_unflushed_sealed_segment_drops_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, batches) = ten_batch_log(dir.path());
    drop(log);
    let path = segment_log(dir.path(), 9);
    let mut bytes = fs::read(&path).unwrap();
    bytes[BATCH_BYTES as usize + 80] ^= 0x01; // second batch of segment 9: offsets 12..15
    fs::write(&path, &bytes).unwrap();

    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(log.segment_base_offsets(), vec![0, 9]);
    assert!(!segment_log(dir.path(), 18).exists() && !segment_log(dir.path(), 27).exists());
    assert_eq!(read_all(&log, 0), batches[..4].concat());
}

#[test]
fn flushed_sealed_segments_are_trusted_without_a_crc_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = ten_batch_log(dir.path());
    log.flush().unwrap();
    drop(log);
    let path = segment_log(dir.path(), 9);
    let mut bytes = fs::read(&path).unwrap();
    bytes[BATCH_BYTES as usize + 80] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(
        log.log_end_offset(),
        30,
        "below the recovery point only indexes are checked"
    );
    assert_eq!(log.recovery_point(), 30);
}

#[test]
fn missing_or_garbage_indexes_are_rebuilt_and_reads_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, batches) = ten_batch_log(dir.path());
    log.flush().unwrap();
    drop(log);
    let index = |base: i64, suffix: &str| dir.path().join(format!("{base:020}.{suffix}"));
    let originals: Vec<Vec<u8>> = [0, 9, 18]
        .iter()
        .flat_map(|&b| [index(b, "index"), index(b, "timeindex")])
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert!(originals.iter().all(|bytes| !bytes.is_empty()));

    fs::remove_file(index(0, "index")).unwrap();
    fs::write(index(9, "index"), [0xee; 24]).unwrap();
    fs::write(index(9, "timeindex"), b"not a time index").unwrap();
    fs::remove_file(index(18, "timeindex")).unwrap();
    let log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let rebuilt: Vec<Vec<u8>> = [0, 9, 18]
        .iter()
        .flat_map(|&b| [index(b, "index"), index(b, "timeindex")])
        .map(|p| fs::read(p).unwrap())
        .collect();
    assert_eq!(rebuilt, originals);
    for offset in 0..30 {
        assert_eq!(
            log.read(offset, 0).unwrap().data.as_ref(),
            batches[offset as usize / 3].as_slice()
        );
    }
    assert_eq!(log.lookup_timestamp(1005).unwrap().unwrap().0, 15);
}

#[test]
fn stray_files_are_cleaned_and_garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(segment_log(dir.path(), 0), b"").unwrap(); // empty and not last: stray
    fs::write(dir.path().join(format!("{:020}.index", 5)), b"12345678").unwrap(); // no log
    fs::write(
        segment_log(dir.path(), 40),
        (0..3000u32).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    fs::write(dir.path().join("leader-epoch-checkpoint"), b"0\n0\n").unwrap();
    fs::write(dir.path().join("recovery-point"), b"garbage").unwrap();

    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![40]);
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset(), log.size_bytes()),
        (40, 40, 0)
    );
    assert!(!segment_log(dir.path(), 0).exists());
    assert!(!dir.path().join(format!("{:020}.index", 5)).exists());
    assert!(dir.path().join("leader-epoch-checkpoint").exists());
    let mut next = batch(1, 0, 10);
    assert_eq!(log.append(&mut next).unwrap().base_offset, 40);
}

#[test]
fn lookup_timestamp_finds_the_first_batch_reaching_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let batches = append_batches(&mut log, [10, 30, 20, 50, 40, 60, 15]);
    let found = |log: &PartitionLog, timestamp| {
        log.lookup_timestamp(timestamp)
            .unwrap()
            .map(|(offset, bytes)| (offset, bytes.to_vec()))
    };
    assert_eq!(found(&log, 0), Some((0, batches[0].clone())));
    assert_eq!(found(&log, 25), Some((3, batches[1].clone())));
    assert_eq!(found(&log, 30), Some((3, batches[1].clone())));
    assert_eq!(found(&log, 45), Some((9, batches[3].clone())), "in the second segment");
    assert_eq!(found(&log, 60), Some((15, batches[5].clone())));
    assert_eq!(found(&log, 61), None);
    log.advance_log_start_offset(5).unwrap();
    assert_eq!(
        found(&log, 25).map(|f| f.0),
        Some(3),
        "the batch holding the log start still counts"
    );
    log.advance_log_start_offset(6).unwrap();
    assert_eq!(found(&log, 25).map(|f| f.0), Some(9));
}

#[test]
fn batch_infos_from_reports_headers_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    for (i, producer_id) in [7i64, 7, 8, 7, 9].into_iter().enumerate() {
        let mut bytes = producer_batch(2, 100 + i as i64, 100, producer_id, 1, 2 * i as i32);
        log.append(&mut bytes).unwrap();
    }
    let infos = log.batch_infos_from(3).unwrap();
    assert_eq!(infos.len(), 4, "starts at the batch containing offset 3");
    assert_eq!(
        infos[0],
        BatchInfo {
            base_offset: 2,
            last_offset: 3,
            max_timestamp: 101,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 2,
            record_count: 2,
            partition_leader_epoch: 0,
            attributes: 0,
            control_type: None,
        }
    );
    assert_eq!(
        infos.iter().map(|info| info.producer_id).collect::<Vec<_>>(),
        vec![7, 8, 7, 9]
    );
    assert!(!infos[0].is_transactional() && !infos[0].is_control());
    assert_eq!(log.batch_infos_from(0).unwrap().len(), 5);
}

#[test]
fn invalid_batches_are_rejected_without_poisoning() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let good = batch(1, 0, 10);
    let mut short = good[..50].to_vec();
    let mut longer = [good.clone(), vec![0]].concat();
    let mut wrong_magic = good.clone();
    wrong_magic[16] = 1;
    for bytes in [&mut short, &mut longer, &mut wrong_magic] {
        assert!(matches!(log.append(bytes), Err(LogError::InvalidBatch(_))));
    }
    assert_eq!(log.log_end_offset(), 0);
    assert!(!log.is_poisoned());
    assert_eq!(log.append(&mut good.clone()).unwrap().base_offset, 0);
}

#[test]
fn a_failed_write_poisons_the_log_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topic-0");
    let mut log = PartitionLog::open(&path, small_segments()).unwrap();
    append_batches(&mut log, [1, 2, 3]);
    fs::remove_dir_all(&path).unwrap(); // the roll below cannot create its files
    assert!(matches!(log.append(&mut batch(3, 4, 100)), Err(LogError::Io { .. })));
    fs::create_dir_all(&path).unwrap();
    assert!(matches!(log.append(&mut batch(3, 5, 100)), Err(LogError::Poisoned)));
    assert!(matches!(log.flush(), Err(LogError::Poisoned)));
    assert!(log.is_poisoned());
    assert_eq!(log.log_end_offset(), 9);
    let mut reopened = PartitionLog::open(&path, small_segments()).unwrap();
    assert_eq!(
        reopened.append(&mut batch(1, 6, 10)).unwrap().base_offset,
        0,
        "the directory was emptied"
    );
}

#[test]
fn rolls_by_time_from_the_first_append() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    for (now, expected_segments) in [
        (10_000, 1),
        (10_900, 1),
        (11_000, 1),
        (11_001, 2),
        (11_500, 2),
        (12_002, 3),
    ] {
        log.append_at(&mut batch(1, now, 10), now).unwrap();
        assert_eq!(log.segment_base_offsets().len(), expected_segments, "at {now}");
    }
    drop(log);
    // After a restart the first batch's timestamp (12_002) restarts the clock.
    let mut log = PartitionLog::open(dir.path(), config).unwrap();
    log.append_at(&mut batch(1, 0, 10), 13_002).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 3, 5]);
    log.append_at(&mut batch(1, 0, 10), 13_003).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 3, 5, 7]);
}

#[test]
fn a_batch_larger_than_a_segment_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(
        dir.path(),
        LogConfig {
            segment_bytes: 100,
            ..LogConfig::default()
        },
    )
    .unwrap();
    for _ in 0..3 {
        log.append(&mut batch(1, 0, 500)).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 1, 2]);
    assert_eq!(log.read(1, 0).unwrap().data.len(), 561);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn garbage_after_valid_batches_is_cut_on_open(valid in 0usize..4, garbage in proptest::collection::vec(any::<u8>(), 1..600)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        let batches = append_batches(&mut log, (0..valid as i64).map(|i| i * 10));
        drop(log);
        let path = segment_log(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&garbage);
        fs::write(&path, &bytes).unwrap();

        let mut log = PartitionLog::open(dir.path(), LogConfig::default()).unwrap();
        prop_assert_eq!(log.log_end_offset(), 3 * valid as i64);
        prop_assert_eq!(fs::metadata(&path).unwrap().len(), valid as u64 * BATCH_BYTES);
        prop_assert_eq!(read_all(&log, 0), batches.concat());
        prop_assert_eq!(log.append(&mut batch(1, 0, 5)).unwrap().base_offset, 3 * valid as i64);
    }

    #[test]
    fn any_file_contents_open_without_panicking(contents in proptest::collection::vec(any::<u8>(), 0..400), index in proptest::collection::vec(any::<u8>(), 0..64)) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(segment_log(dir.path(), 0), &contents).unwrap();
        fs::write(dir.path().join(format!("{:020}.index", 0)), &index).unwrap();
        fs::write(dir.path().join(format!("{:020}.timeindex", 0)), &index).unwrap();
        fs::write(segment_log(dir.path(), 100), &contents).unwrap();
        fs::write(dir.path().join("recovery-point"), b"100").unwrap();
        let log = PartitionLog::open(dir.path(), LogConfig::default());
        prop_assert!(log.is_ok(), "{:?}", log.err());
    }
}

/// Magic 1 messages (a topic at message.format.version 0.10) as the broker
/// stores them: offsets from `base`, one message per value, or a gzip wrapper.
fn legacy_entries(base: i64, values: &[&str], gzip: bool) -> Vec<u8> {
    use crate::records::{encode_message_set, Compression, LegacyMessage};
    let codec = if gzip { Compression::Gzip } else { Compression::None };
    let messages: Vec<LegacyMessage> = values
        .iter()
        .zip(base..)
        .map(|(value, offset)| LegacyMessage {
            offset,
            magic: 1,
            timestamp: 5_000 + offset,
            log_append_time: false,
            compression: codec,
            key: None,
            value: Some(bytes::Bytes::copy_from_slice(value.as_bytes())),
        })
        .collect();
    encode_message_set(&messages, 1, codec).unwrap()
}

#[test]
fn legacy_messages_are_appended_read_looked_up_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    let mut stored = Vec::new();
    for (values, gzip) in [
        (&["a", "b"][..], false),
        (&["c", "d", "e"][..], true),
        (&["f"][..], false),
    ] {
        let entries = legacy_entries(log.log_end_offset(), values, gzip);
        for item in crate::records::split_batches(&entries) {
            let (_, entry) = item.unwrap();
            let mut entry = entry.to_vec();
            log.append_keeping_offsets(&mut entry, 0).unwrap();
            stored.extend_from_slice(&entry);
        }
    }
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(read_all(&log, 0), stored);
    // Offset 3 is inside the gzip wrapper (offsets 2-4): the read starts at the wrapper.
    let wrapper_and_after = legacy_entries(2, &["c", "d", "e"], true);
    assert!(read_all(&log, 3).starts_with(&wrapper_and_after));
    assert_eq!(log.lookup_timestamp(5_003).unwrap().unwrap().0, 2);
    // The log assigns offsets only to v2 batches; a legacy message must fit the log end.
    let mut stale = legacy_entries(2, &["x"], false);
    assert!(matches!(
        log.append_keeping_offsets(&mut stale, 0),
        Err(LogError::InvalidBatch(_))
    ));
    assert!(matches!(
        log.append(&mut legacy_entries(6, &["y"], false)),
        Err(LogError::InvalidBatch(_))
    ));
    drop(log); // unflushed: reopening scans and CRC-checks every entry

    let path = segment_log(dir.path(), 0);
    let mut bytes = fs::read(&path).unwrap();
    let intact = bytes.len();
    bytes.extend_from_slice(&legacy_entries(6, &["torn"], false)[..20]);
    fs::write(&path, &bytes).unwrap();
    let mut log = PartitionLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(
        fs::metadata(&path).unwrap().len() as usize,
        intact,
        "the torn message is cut off"
    );
    assert_eq!(read_all(&log, 0), stored);
    let mut next = legacy_entries(6, &["g"], false);
    assert_eq!(log.append_keeping_offsets(&mut next, 0).unwrap().base_offset, 6);
}

#[test]
fn preallocated_segments_are_full_size_while_active_and_trimmed_when_sealed_or_closed() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        preallocate: true,
        segment_ms: 0, // the 1970 timestamps below would roll by time after a reopen
        ..small_segments()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    let len = |base: i64| fs::metadata(segment_log(dir.path(), base)).unwrap().len();
    let batches = append_batches(&mut log, 1000..1004); // segments at 0 (3 batches) and 9
    assert_eq!(len(0), 3 * BATCH_BYTES, "sealed: trimmed to its batches");
    assert_eq!(len(9), config.segment_bytes, "active: preallocated");
    assert_eq!(read_all(&log, 0), batches.concat());
    drop(log); // a crash: the active file still ends in zeros

    let mut log = PartitionLog::open(dir.path(), config.clone()).unwrap();
    assert_eq!(log.log_end_offset(), 12, "recovery stops at the zeros");
    assert_eq!(read_all(&log, 0), batches.concat());
    let mut next = batch(3, 2000, 100);
    assert_eq!(log.append(&mut next).unwrap().base_offset, 12);
    assert_eq!(log.segment_base_offsets(), vec![0, 9]);
    log.close().unwrap();
    assert_eq!(len(9), 2 * BATCH_BYTES, "closed: trimmed");
    let log = PartitionLog::open(dir.path(), config).unwrap();
    assert_eq!(log.log_end_offset(), 15);
}
