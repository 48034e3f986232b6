//! Cleaning passes over real partition directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::*;
use crate::log::partition_log::wall_clock_ms;
use crate::log::{LogConfig, PartitionLog};
use crate::records::{decode_batch_records, encode_batch, split_batches, Compression, Record};

fn compacted(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 256,
        compact: true,
        delete_retention_ms: 60_000,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    }
}

/// Appends one batch of `(key, value)` records (None: keyless / tombstone).
fn append(log: &mut PartitionLog, entries: &[(Option<&str>, Option<&str>)], codec: Compression) {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            offset: i as i64,
            timestamp: 1_000,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Vec::new(),
        })
        .collect();
    let mut batch = encode_batch(&records, codec, 0, -1, -1, -1, None).unwrap();
    log.append(&mut batch).unwrap();
}

/// Every record from the log start: offset → (key, value).
fn contents(log: &PartitionLog) -> BTreeMap<i64, (Option<String>, Option<String>)> {
    let data = log.read(log.log_start_offset(), usize::MAX).unwrap().data;
    let text = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    let mut out = BTreeMap::new();
    for item in split_batches(&data) {
        let (_, batch) = item.unwrap();
        for record in decode_batch_records(batch).unwrap().1 {
            out.insert(record.offset, (text(&record.key), text(&record.value)));
        }
    }
    out
}

/// The latest (offset, value) of every key in `contents`.
fn latest(contents: &BTreeMap<i64, (Option<String>, Option<String>)>) -> BTreeMap<String, (i64, Option<String>)> {
    let mut out = BTreeMap::new();
    for (offset, (key, value)) in contents {
        if let Some(key) = key {
            out.insert(key.clone(), (*offset, value.clone()));
        }
    }
    out
}

fn pass(log: &mut PartitionLog, checkpoint: Option<i64>, capacity: usize, now_ms: i64) -> PassOutcome {
    let summary = log.cleanable_summary(checkpoint, i64::MAX, now_ms).unwrap();
    let job = log.prepare_clean(&summary).unwrap();
    run_pass(&job, capacity, now_ms, &mut None, |group| log.swap_cleaned(group)).unwrap()
}

/// 40 batches of 5 records over 20 keys, a keyless record in every tenth.
fn busy_log(dir: &Path, codec: Compression) -> PartitionLog {
    let mut log = PartitionLog::open(dir, compacted(512)).unwrap();
    busy_append_with(&mut log, 0..40, codec);
    log
}

fn busy_append(log: &mut PartitionLog, batches: std::ops::Range<usize>) {
    busy_append_with(log, batches, Compression::None)
}

fn busy_append_with(log: &mut PartitionLog, batches: std::ops::Range<usize>, codec: Compression) {
    for b in batches {
        let mut entries: Vec<(Option<String>, Option<String>)> = (0..5)
            .map(|i| (Some(format!("k{}", (b * 5 + i) % 20)), Some(format!("v{b}-{i}"))))
            .collect();
        if b % 10 == 0 {
            entries[2].0 = None;
        }
        let borrowed: Vec<(Option<&str>, Option<&str>)> =
            entries.iter().map(|(k, v)| (k.as_deref(), v.as_deref())).collect();
        append(log, &borrowed, codec);
    }
}

#[test]
fn a_pass_keeps_the_latest_value_of_every_key_at_its_offset() {
    for codec in [Compression::None, Compression::Lz4] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = busy_log(dir.path(), codec);
        let before = contents(&log);
        let segments_before = log.segment_count();
        assert!(segments_before > 5, "{segments_before}");
        let active_base = *log.segment_base_offsets().last().unwrap();
        let outcome = pass(&mut log, None, 1000, wall_clock_ms());
        assert_eq!(outcome.next_first_dirty, active_base);
        assert!(outcome.groups_swapped >= 1 && outcome.groups_abandoned == 0);
        assert!(outcome.stats.records_removed > 100, "{outcome:?}");
        let after = contents(&log);
        assert_eq!(
            latest(&after),
            latest(&before),
            "every key keeps its latest value and offset"
        );
        let mapped: BTreeMap<_, _> = before.range(..active_base).map(|(o, r)| (*o, r.clone())).collect();
        for (offset, (key, _)) in &after {
            if *offset < active_base {
                let key = key.as_ref().expect("keyless records are removed");
                assert_eq!(latest(&mapped)[key].0, *offset, "only the latest record of {key} stays");
            }
        }
        let tail: Vec<_> = before.range(active_base..).collect();
        assert_eq!(
            after.range(active_base..).collect::<Vec<_>>(),
            tail,
            "the active segment is untouched"
        );
        assert_eq!(log.log_end_offset(), 200);
        assert!(log.segment_count() < segments_before, "emptied groups leave no segment");
        // A second pass with nothing dirty changes nothing.
        pass(&mut log, Some(outcome.next_first_dirty), 1000, wall_clock_ms());
        assert_eq!(contents(&log), after);

        // The cleaned log reads the same after a restart.
        drop(log);
        let reopened = PartitionLog::open(dir.path(), compacted(512)).unwrap();
        assert_eq!(contents(&reopened), after);
        assert!(fs::read_dir(dir.path()).unwrap().all(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            !name.ends_with(CLEANED_SUFFIX) && !name.ends_with(SWAP_SUFFIX)
        }));
    }
}

#[test]
fn a_small_map_cleans_in_several_passes_to_the_same_result() {
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = busy_log(full_dir.path(), Compression::None);
    pass(&mut full, None, 1000, wall_clock_ms());

    let dir = tempfile::tempdir().unwrap();
    let mut log = busy_log(dir.path(), Compression::None);
    let active_base = *log.segment_base_offsets().last().unwrap();
    let mut checkpoint = None;
    for _ in 0..40 {
        let outcome = pass(&mut log, checkpoint, 8, wall_clock_ms());
        checkpoint = Some(outcome.next_first_dirty);
        if outcome.next_first_dirty == active_base {
            break;
        }
    }
    assert_eq!(
        checkpoint,
        Some(active_base),
        "passes of 8 keys reach the active segment"
    );
    assert_eq!(contents(&log), contents(&full));
}

#[test]
fn tombstones_stay_for_delete_retention_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), compacted(300)).unwrap();
    append(
        &mut log,
        &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
        Compression::None,
    );
    append(&mut log, &[(Some("a"), None)], Compression::None);
    for _ in 0..3 {
        append(
            &mut log,
            &[(Some("c"), Some("filler filler filler filler"))],
            Compression::None,
        );
    }
    let now = wall_clock_ms();
    let outcome = pass(&mut log, None, 100, now);
    let kept = contents(&log);
    assert_eq!(
        kept.get(&2),
        Some(&(Some("a".into()), None)),
        "a young tombstone is kept"
    );
    assert!(!kept.contains_key(&0), "the value it deletes is gone");
    let due = outcome.tombstone_due_ms.expect("a kept tombstone has a due time");
    assert!(due > now && due <= now + 60_000 + 1000, "{due}");

    // Past delete.retention.ms, a pass with nothing dirty removes it.
    let outcome = pass(&mut log, Some(outcome.next_first_dirty), 100, due + 1);
    assert!(outcome.tombstone_due_ms.is_none());
    let gone = contents(&log);
    assert!(gone.values().all(|(key, _)| key.as_deref() != Some("a")), "{gone:?}");
    assert_eq!(gone.get(&1), Some(&(Some("b".into()), Some("1".into()))));
}

#[test]
fn nothing_above_the_high_watermark_is_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = busy_log(dir.path(), Compression::None);
    let bases = log.segment_base_offsets();
    let upper = bases[2] + 1;
    let summary = log.cleanable_summary(None, upper, wall_clock_ms()).unwrap();
    assert_eq!(
        summary.first_uncleanable, bases[2],
        "the segment holding the high watermark is not cleaned"
    );
    let before = contents(&log);
    let job = log.prepare_clean(&summary).unwrap();
    let outcome = run_pass(&job, 1000, wall_clock_ms(), &mut None, |g| log.swap_cleaned(g)).unwrap();
    assert_eq!(outcome.next_first_dirty, bases[2]);
    let after = contents(&log);
    assert_eq!(
        after.range(bases[2]..).collect::<Vec<_>>(),
        before.range(bases[2]..).collect::<Vec<_>>()
    );

    let lagged = LogConfig {
        min_compaction_lag_ms: 60_000,
        ..compacted(512)
    };
    log.set_config(lagged);
    let summary = log.cleanable_summary(None, i64::MAX, 1_000 + 30_000).unwrap();
    assert_eq!(
        (summary.first_uncleanable, summary.dirty_bytes),
        (log.segment_base_offsets()[0], 0),
        "records younger than min.compaction.lag.ms are not cleanable"
    );
}

#[test]
fn dirty_ratio_and_max_lag() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = busy_log(dir.path(), Compression::None);
    let summary = log.cleanable_summary(None, i64::MAX, 2_000).unwrap();
    assert_eq!(summary.clean_bytes, 0);
    assert!(summary.dirty_bytes > 0 && summary.dirty_ratio() == 1.0);
    assert!(!summary.max_lag_overdue);
    let outcome = pass(&mut log, None, 1000, wall_clock_ms());
    let summary = log
        .cleanable_summary(Some(outcome.next_first_dirty), i64::MAX, 2_000)
        .unwrap();
    assert_eq!((summary.dirty_bytes, summary.dirty_ratio()), (0, 0.0));
    assert!(summary.clean_bytes > 0);
    // Records stamped 1_000 are overdue once max.compaction.lag.ms passes.
    log.set_config(LogConfig {
        max_compaction_lag_ms: 500,
        ..compacted(512)
    });
    let summary = log.cleanable_summary(None, i64::MAX, 2_000).unwrap();
    assert!(summary.max_lag_overdue);
}

#[test]
fn a_pass_whose_sources_changed_is_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = busy_log(dir.path(), Compression::None);
    let summary = log.cleanable_summary(None, i64::MAX, wall_clock_ms()).unwrap();
    let job = log.prepare_clean(&summary).unwrap();
    let second_base = log.segment_base_offsets()[1];
    log.advance_log_start_offset(second_base).unwrap(); // deletes the first segment
    let before = contents(&log);
    let outcome = run_pass(&job, 1000, wall_clock_ms(), &mut None, |g| log.swap_cleaned(g)).unwrap();
    assert!(outcome.groups_abandoned >= 1);
    assert_eq!(
        outcome.next_first_dirty, summary.first_dirty,
        "the checkpoint does not move"
    );
    let after = contents(&log);
    assert_eq!(latest(&after), latest(&before));
    assert!(fs::read_dir(dir.path())
        .unwrap()
        .all(|e| { !e.unwrap().file_name().to_string_lossy().ends_with(CLEANED_SUFFIX) }));
}

#[test]
fn restarts_finish_or_forget_an_interrupted_pass() {
    // Crash before the commit point: the .cleaned file is forgotten.
    let dir = tempfile::tempdir().unwrap();
    let log = busy_log(dir.path(), Compression::None);
    let before = contents(&log);
    let summary = log.cleanable_summary(None, i64::MAX, wall_clock_ms()).unwrap();
    let job = log.prepare_clean(&summary).unwrap();
    let mut map = OffsetMap::with_capacity(1000);
    let mut stats = CleanStats::default();
    let end = job.build_offset_map(&mut map, &mut None, &mut stats).unwrap();
    let groups = job.groups(end);
    let cleaned = job
        .clean_group(&groups[0], &map, end, wall_clock_ms(), &mut None, &mut stats)
        .unwrap();
    assert!(cleaned.path.exists());
    drop((cleaned, log));
    let log = PartitionLog::open(dir.path(), compacted(512)).unwrap();
    assert_eq!(contents(&log), before, "an unfinished pass changes nothing");
    assert!(!cleaned_path(dir.path(), job.segments[0].base_offset).exists());

    // Crash after the commit point (.swap written, some sources already
    // renamed .deleted): the swap is completed. A first pass shrinks the
    // segments so that the interrupted one merges them.
    let mut log = log;
    let first = pass(&mut log, None, 1000, wall_clock_ms());
    busy_append(&mut log, 40..60);
    let before = contents(&log);
    log.set_config(compacted(4096));
    let summary = log
        .cleanable_summary(Some(first.next_first_dirty), i64::MAX, wall_clock_ms())
        .unwrap();
    let job = log.prepare_clean(&summary).unwrap();
    let mut map = OffsetMap::with_capacity(1000);
    let end = job.build_offset_map(&mut map, &mut None, &mut stats).unwrap();
    let groups = job.groups(end);
    let group = &groups[0];
    assert!(group.len() >= 2, "{groups:?}");
    let cleaned = job
        .clean_group(group, &map, end, wall_clock_ms(), &mut None, &mut stats)
        .unwrap();
    let base = cleaned.base_offset;
    fs::rename(&cleaned.path, swap_path(dir.path(), base)).unwrap();
    let second = &job.segments[group[1]].path;
    let mut deleted = second.clone().into_os_string();
    deleted.push(".deleted");
    fs::rename(second, deleted).unwrap();
    drop((cleaned, log, job));
    let log = PartitionLog::open(dir.path(), compacted(4096)).unwrap();
    let after = contents(&log);
    assert_eq!(latest(&after), latest(&before), "no latest value is lost");
    assert!(after.len() < before.len(), "the cleaned group is in place");
    assert!(!swap_path(dir.path(), base).exists());
}
