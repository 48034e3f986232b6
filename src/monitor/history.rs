//! Offsets and log sizes over the `--retain` window, one sample per refresh,
//! kept on disk so a restarted monitor still draws its charts.
//!
//! Files: `<dir>/history-<20-digit start ms>-<span ms>.jsonl`, one JSON line
//! per refresh. A file covers samples from its start for its span (a 24th of
//! the window, 1 s to 1 h) or until the next file starts, so pruning deletes
//! whole files once every sample in them is older than the window, whatever
//! `--retain` was when they were written. A line that does not parse (a torn tail after a crash) is
//! skipped on load, and never stops the monitor.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::snapshot::Snapshot;

/// Charts draw at most this many points; older ones are thinned.
pub const MAX_POINTS: usize = 360;
/// In memory, samples of the last hour are all kept; older ones only one per
/// `retain / THINNED_SAMPLES` (a chart over a longer range thins to
/// `MAX_POINTS` anyway). This bounds memory whatever the window; the files
/// keep every sample.
const FULL_RESOLUTION_MS: i64 = 3_600_000;
const THINNED_SAMPLES: i64 = 1_000;

/// What one refresh saw: (partition, value) lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t: i64,
    /// topic → (partition, log end offset)
    pub topics: BTreeMap<String, Vec<(i32, i64)>>,
    /// group → topic → (partition, committed offset)
    pub groups: BTreeMap<String, BTreeMap<String, Vec<(i32, i64)>>>,
}

impl Sample {
    /// The known values of a successful refresh.
    pub fn of(snapshot: &Snapshot) -> Sample {
        let mut sample = Sample {
            t: snapshot.taken_at_ms,
            ..Sample::default()
        };
        for (name, topic) in &snapshot.topics {
            let sizes: Vec<(i32, i64)> = topic
                .partitions
                .iter()
                .filter_map(|p| Some((p.partition, p.log_size?)))
                .collect();
            if !sizes.is_empty() {
                let mut sizes = sizes;
                sizes.sort_unstable(); // by partition: series look partitions up by binary search
                sample.topics.insert(name.clone(), sizes);
            }
        }
        for (name, group) in &snapshot.groups {
            let mut topics: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
            for row in &group.partitions {
                if let Some(offset) = row.offset {
                    topics
                        .entry(row.topic.clone())
                        .or_default()
                        .push((row.partition, offset));
                }
            }
            if !topics.is_empty() {
                sample.groups.insert(name.clone(), topics);
            }
        }
        sample
    }
}

/// One chart point: sums over the chosen partitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Point {
    pub t: i64,
    pub offset: i64,
    pub log_size: i64,
    pub lag: i64,
}

pub struct History {
    dir: PathBuf,
    retain_ms: i64,
    span_ms: i64,
    samples: VecDeque<Sample>,
    /// Samples older than this have been thinned already.
    thinned_until: i64,
    /// The file being appended to and the start of its span.
    current: Option<(i64, BufWriter<File>)>,
}

impl History {
    /// Opens `dir` (created if missing) and loads what is inside the window.
    /// Files wholly older than the window are not read; unreadable files and
    /// lines are skipped with a warning; samples from the future (a clock
    /// that was set back) are dropped.
    pub fn open(dir: &Path, retain_ms: i64, now_ms: i64) -> Result<History, String> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut history = History {
            dir: dir.to_path_buf(),
            retain_ms,
            span_ms: (retain_ms / 24).clamp(1_000, 3_600_000),
            samples: VecDeque::new(),
            thinned_until: i64::MIN,
            current: None,
        };
        let horizon = now_ms - retain_ms;
        let files = history.files()?;
        let mut skipped = 0;
        for (i, file) in files.iter().enumerate() {
            if file.end(files.get(i + 1)) <= horizon {
                continue; // pruned below, unread
            }
            let path = &file.path;
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable history file");
                    continue;
                }
            };
            for line in BufReader::new(file).split(b'\n') {
                let Ok(line) = line else {
                    skipped += 1;
                    break;
                };
                match serde_json::from_slice::<Sample>(&line) {
                    Ok(sample) if sample.t >= horizon && sample.t <= now_ms => history.samples.push_back(sample),
                    Ok(_) => {}
                    Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
                    Err(_) => skipped += 1,
                }
            }
        }
        if skipped > 0 {
            tracing::warn!(dir = %dir.display(), skipped, "skipped unreadable history lines");
        }
        history.samples.make_contiguous().sort_by_key(|s| s.t);
        history.prune(now_ms);
        history.prune_files(now_ms);
        Ok(history)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn oldest(&self) -> Option<i64> {
        self.samples.front().map(|s| s.t)
    }

    /// Appends a sample to memory and disk, then prunes. A write failure is
    /// reported and the sample still kept in memory.
    pub fn record(&mut self, sample: Sample) -> Result<(), String> {
        let now = sample.t;
        // The clock went back: what looks newer is from the old, wrong time.
        while self.samples.back().is_some_and(|s| s.t >= now) {
            self.samples.pop_back();
        }
        let written = self.write(&sample);
        self.samples.push_back(sample);
        self.prune(now);
        written
    }

    fn write(&mut self, sample: &Sample) -> Result<(), String> {
        let start = sample.t - sample.t.rem_euclid(self.span_ms);
        if self.current.as_ref().is_none_or(|(s, _)| *s != start) {
            let path = self.dir.join(format!("history-{start:020}-{}.jsonl", self.span_ms));
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            if !ends_with_newline(&path) {
                // A torn line: end it, so the next sample starts clean.
                file.write_all(b"\n")
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            self.current = Some((start, BufWriter::new(file)));
            // A new file is the only moment an older one can have aged out.
            self.prune_files(sample.t);
        }
        let Some((_, writer)) = self.current.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(sample).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let result = writer.write_all(&line).and_then(|_| writer.flush());
        result.map_err(|e| {
            self.current = None; // reopen (and start a clean line) next time
            format!("cannot write history in {}: {e}", self.dir.display())
        })
    }

    /// Forgets samples older than the window (in memory).
    fn prune(&mut self, now_ms: i64) {
        let horizon = now_ms - self.retain_ms;
        while self.samples.front().is_some_and(|s| s.t < horizon) {
            self.samples.pop_front();
        }
        self.thin_old(now_ms);
    }

    /// Deletes the files whose samples are all older than the window.
    fn prune_files(&mut self, now_ms: i64) {
        let horizon = now_ms - self.retain_ms;
        let Ok(files) = self.files() else {
            return;
        };
        for (i, file) in files.iter().enumerate() {
            if file.end(files.get(i + 1)) > horizon {
                continue;
            }
            if self.current.as_ref().is_some_and(|(s, _)| *s == file.start) {
                self.current = None;
            }
            if let Err(e) = fs::remove_file(&file.path) {
                tracing::warn!(path = %file.path.display(), error = %e, "cannot delete old history");
            }
        }
    }

    /// Keeps the first sample of each `retain / THINNED_SAMPLES` bucket among
    /// those older than `FULL_RESOLUTION_MS` (buckets, so that thinning again,
    /// or after a reload, keeps the same ones); runs once a minute has aged.
    fn thin_old(&mut self, now_ms: i64) {
        let boundary = now_ms - FULL_RESOLUTION_MS;
        if boundary < self.thinned_until.saturating_add(60_000) {
            return;
        }
        let spacing = (self.retain_ms / THINNED_SAMPLES).max(1);
        let mut last_bucket = None;
        self.samples.retain(|s| {
            if s.t >= boundary {
                return true;
            }
            let bucket = s.t.div_euclid(spacing);
            let keep = last_bucket != Some(bucket);
            last_bucket = Some(bucket);
            keep
        });
        self.thinned_until = boundary;
    }

    /// History files by start time.
    fn files(&self) -> Result<Vec<HistoryFile>, String> {
        let entries = fs::read_dir(&self.dir).map_err(|e| format!("cannot list {}: {e}", self.dir.display()))?;
        let mut files: Vec<HistoryFile> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let (start, span) = name.strip_prefix("history-")?.strip_suffix(".jsonl")?.split_once('-')?;
                Some(HistoryFile {
                    start: start.parse().ok()?,
                    span: span.parse().ok()?,
                    path: entry.path(),
                })
            })
            .collect();
        files.sort_by_key(|f| f.start);
        Ok(files)
    }

    /// A group's offsets, the log sizes of the same partitions and the lag,
    /// summed over `partition` or every partition of `topic`, since `since_ms`.
    pub fn group_series(&self, group: &str, topic: &str, partition: Option<i32>, since_ms: i64) -> Vec<Point> {
        let points = self.samples.iter().filter(|s| s.t >= since_ms).filter_map(|s| {
            let offsets = s.groups.get(group)?.get(topic)?;
            let sizes = s.topics.get(topic)?;
            let mut point = Point {
                t: s.t,
                offset: 0,
                log_size: 0,
                lag: 0,
            };
            let mut any = false;
            for (p, offset) in offsets.iter().filter(|(p, _)| partition.is_none_or(|want| want == *p)) {
                // A partition whose leader did not answer: no point rather than a dip.
                let i = sizes.binary_search_by_key(p, |(q, _)| *q).ok()?;
                let size = sizes[i].1;
                any = true;
                point.offset = point.offset.saturating_add(*offset);
                point.log_size = point.log_size.saturating_add(size);
                point.lag = point.lag.saturating_add(size.saturating_sub(*offset).max(0));
            }
            any.then_some(point)
        });
        thin(points.collect())
    }

    /// A topic's total log size since `since_ms` (offset and lag left 0).
    pub fn topic_series(&self, topic: &str, since_ms: i64) -> Vec<Point> {
        let points = self.samples.iter().filter(|s| s.t >= since_ms).filter_map(|s| {
            let sizes = s.topics.get(topic)?;
            Some(Point {
                t: s.t,
                offset: 0,
                log_size: sizes.iter().fold(0i64, |sum, (_, size)| sum.saturating_add(*size)),
                lag: 0,
            })
        });
        thin(points.collect())
    }
}

#[derive(Clone, Debug)]
struct HistoryFile {
    start: i64,
    span: i64,
    path: PathBuf,
}

impl HistoryFile {
    /// Every sample in the file is older than this.
    fn end(&self, next: Option<&HistoryFile>) -> i64 {
        let end = self.start.saturating_add(self.span);
        next.map_or(end, |n| end.min(n.start))
    }
}

/// True for an empty file or one whose last byte is a newline.
fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else {
        return true;
    };
    let mut last = [b'\n'];
    if file.seek(SeekFrom::End(-1)).is_ok() {
        let _ = file.read_exact(&mut last);
    }
    last[0] == b'\n'
}

/// At most `MAX_POINTS`, evenly spaced in index, always keeping the newest.
fn thin(points: Vec<Point>) -> Vec<Point> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let step = points.len().div_ceil(MAX_POINTS);
    let last = points.len() - 1;
    points
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (last - i).is_multiple_of(step))
        .map(|(_, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64, offset: i64, size: i64) -> Sample {
        let mut s = Sample { t, ..Sample::default() };
        s.topics.insert("t".into(), vec![(0, size), (1, size)]);
        s.groups
            .entry("g".into())
            .or_default()
            .insert("t".into(), vec![(0, offset), (1, offset + 100)]);
        s
    }

    #[test]
    fn survives_reopen_and_sums_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 60_000, 1_000_000).unwrap();
        h.record(sample(1_000_000, 5, 50)).unwrap();
        h.record(sample(1_001_000, 10, 60)).unwrap();
        drop(h);
        let h = History::open(dir.path(), 60_000, 1_002_000).unwrap();
        assert_eq!(h.len(), 2);
        let all = h.group_series("g", "t", None, 0);
        // partition 1's offset is past its log size: its lag counts as 0
        assert_eq!(
            all[1],
            Point {
                t: 1_001_000,
                offset: 120,
                log_size: 120,
                lag: 50
            }
        );
        let one = h.group_series("g", "t", Some(0), 0);
        assert_eq!((one[0].offset, one[0].log_size, one[0].lag), (5, 50, 45));
        assert!(h.group_series("nope", "t", None, 0).is_empty());
        assert_eq!(h.topic_series("t", 1_000_500)[0].log_size, 120);
    }

    #[test]
    fn prunes_memory_and_files_past_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 10_000, 0).unwrap();
        for i in 0..30 {
            h.record(sample(i * 1_000, i, 100)).unwrap();
        }
        assert_eq!(h.oldest(), Some(19_000));
        let files = h.files().unwrap();
        assert!(files.iter().all(|f| f.start + 1_000 > 19_000), "{files:?}");
        drop(h);
        let h = History::open(dir.path(), 10_000, 100_000).unwrap();
        assert!(h.is_empty());
        assert!(h.files().unwrap().is_empty());
    }

    #[test]
    fn a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 60_000, 5_000).unwrap();
        h.record(sample(5_000, 1, 2)).unwrap();
        drop(h);
        let path = History::open(dir.path(), 60_000, 5_000).unwrap().files().unwrap()[0]
            .path
            .clone();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"t\":6000,\"topi").unwrap();
        let mut h = History::open(dir.path(), 60_000, 7_000).unwrap();
        assert_eq!(h.len(), 1);
        h.record(sample(7_000, 3, 4)).unwrap();
        drop(h);
        assert_eq!(History::open(dir.path(), 60_000, 7_000).unwrap().len(), 2);
    }

    #[test]
    fn a_clock_set_back_drops_the_wrong_future() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 60_000, 0).unwrap();
        h.record(sample(10_000, 1, 2)).unwrap();
        h.record(sample(50_000, 1, 2)).unwrap(); // clock ran ahead...
        h.record(sample(20_000, 1, 2)).unwrap(); // ...and was corrected
        let times: Vec<i64> = h.samples.iter().map(|s| s.t).collect();
        assert_eq!(times, vec![10_000, 20_000]);
        drop(h);
        // on load, samples after "now" are dropped too
        assert_eq!(History::open(dir.path(), 60_000, 30_000).unwrap().len(), 2);
    }

    #[test]
    fn a_shorter_retain_keeps_samples_still_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 24 * 3_600_000, 0).unwrap(); // 1 h files
        for t in [0, 600_000, 1_200_000] {
            h.record(sample(t, 1, 2)).unwrap();
        }
        drop(h);
        // retain 1 min (1 s files) at 20.5 min: the sample at 20 min is inside
        let h = History::open(dir.path(), 60_000, 1_230_000).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h.files().unwrap().len(), 1);
    }

    #[test]
    fn a_partition_without_log_size_is_a_gap_not_a_dip() {
        let mut s = sample(1_000, 5, 50);
        s.topics.insert("t".into(), vec![(0, 50)]); // partition 1's leader did not answer
        let dir = tempfile::tempdir().unwrap();
        let mut h = History::open(dir.path(), 60_000, 0).unwrap();
        h.record(s).unwrap();
        assert!(h.group_series("g", "t", None, 0).is_empty());
        assert_eq!(h.group_series("g", "t", Some(0), 0).len(), 1);
    }

    #[test]
    fn old_samples_are_thinned_in_memory_but_kept_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let day = 86_400_000;
        let mut h = History::open(dir.path(), day, 0).unwrap();
        // 3 hours at one sample per 5 s: 2160 samples
        for i in 0..2_160 {
            h.record(sample(i * 5_000, i, i + 10)).unwrap();
        }
        let now = 2_159 * 5_000;
        let recent = h.samples.iter().filter(|s| s.t >= now - FULL_RESOLUTION_MS).count();
        let older = h.samples.len() - recent;
        assert!(recent >= 719, "the last hour is whole: {recent}");
        // two hours at one per 86.4 s: about 84, not 1440
        assert!((70..=100).contains(&older), "{older}");
        drop(h);
        let reloaded = History::open(dir.path(), day, now).unwrap();
        // the same buckets; only the last minute before the boundary may differ
        let live = recent + older;
        assert!(
            reloaded.len() <= live && reloaded.len() + 12 >= live,
            "{} vs {live}",
            reloaded.len()
        );
    }

    #[test]
    fn thinning_keeps_the_newest() {
        let points: Vec<Point> = (0..1000)
            .map(|t| Point {
                t,
                offset: t,
                log_size: t,
                lag: 0,
            })
            .collect();
        let thinned = thin(points);
        assert!(thinned.len() <= MAX_POINTS);
        assert_eq!(thinned.last().unwrap().t, 999);
    }
}
