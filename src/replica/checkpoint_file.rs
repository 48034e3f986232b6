//! Kafka's per-log-dir offset checkpoint files (`replication-offset-checkpoint`
//! with high watermarks, `recovery-point-offset-checkpoint`): version `0`,
//! the entry count, then `<topic> <partition> <offset>` lines.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::Path;

pub const HIGH_WATERMARK_FILE: &str = "replication-offset-checkpoint";
pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";

pub type Offsets = BTreeMap<(String, i32), i64>;

pub fn render(offsets: &Offsets) -> String {
    let mut text = format!("0\n{}\n", offsets.len());
    for ((topic, partition), offset) in offsets {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    text
}

pub fn parse(text: &str) -> Result<Offsets, String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("0") {
        return Err("version is not 0".into());
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("no entry count")?;
    let mut offsets = Offsets::new();
    for _ in 0..count {
        let line = lines.next().ok_or("fewer entries than counted")?;
        let mut parts = line.split_whitespace();
        let (Some(topic), Some(partition), Some(offset), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("bad line {line:?}"));
        };
        let partition = partition.parse().map_err(|_| format!("bad partition in {line:?}"))?;
        let offset = offset.parse().map_err(|_| format!("bad offset in {line:?}"))?;
        offsets.insert((topic.to_string(), partition), offset);
    }
    Ok(offsets)
}

/// The file's entries; missing or damaged gives none (a lower high
/// watermark is safe: it only delays what consumers see until the ISR
/// confirms it again).
pub fn read(dir: &Path, name: &str) -> Offsets {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).unwrap_or_else(|why| {
            tracing::warn!(path = %path.display(), why, "ignoring unreadable checkpoint");
            Offsets::new()
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Offsets::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read checkpoint");
            Offsets::new()
        }
    }
}

pub fn write(dir: &Path, name: &str, offsets: &Offsets) -> std::io::Result<()> {
    super::epoch_cache::write_atomically(&dir.join(name), &render(offsets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut offsets = Offsets::new();
        offsets.insert(("a".into(), 0), 12);
        offsets.insert(("b.c-d".into(), 7), 0);
        let text = render(&offsets);
        assert_eq!(text, "0\n2\na 0 12\nb.c-d 7 0\n");
        assert_eq!(parse(&text).unwrap(), offsets);
        for bad in [
            "",
            "1\n0\n",
            "0\n1\n",
            "0\n1\na x 1\n",
            "0\n1\na 0\n",
            "0\n1\na 0 1 2\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
