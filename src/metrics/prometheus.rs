//! Prometheus text exposition format 0.0.4, written by hand: it is a few
//! dozen lines and the broker needs no more of a client library than this.
//!
//! A [`PromWriter`] collects samples from any number of sources (broker
//! counters, scrape-time log gauges, group lag) in any order and writes each
//! family once: `# HELP`, `# TYPE`, then its series in the order they were
//! first added. Families appear in the order they were first declared. So
//! callers may interleave families freely, and [`PromWriter::merge`] joins
//! writers filled separately.
//!
//! The format's rules are enforced here rather than trusted to callers:
//! names are sanitised to `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels without `:`),
//! label values and help text are escaped, a series added twice keeps its
//! first value (a scraper rejects duplicates), and a sample whose family
//! already has another type is dropped. Topic and group names come from
//! clients, so none of this may panic.

use std::borrow::Cow;
use std::fmt::Write;

use indexmap::IndexMap;

use super::HistogramSnapshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

struct Family {
    help: String,
    kind: MetricType,
    /// Rendered label set (`{a="x"}` or empty) to the lines of that series
    /// (one line, or a histogram's buckets, sum and count).
    series: IndexMap<String, String>,
}

/// Collects samples and renders one exposition body. See the module doc.
#[derive(Default)]
pub struct PromWriter {
    families: IndexMap<String, Family>,
}

impl PromWriter {
    pub fn new() -> PromWriter {
        PromWriter::default()
    }

    /// Declares a family so its `# HELP`/`# TYPE` appear even with no
    /// samples (e.g. a lag gauge while no group exists). Returns false if the
    /// name is already taken by another type.
    pub fn declare(&mut self, name: &str, help: &str, kind: MetricType) -> bool {
        self.family(name, help, kind).is_some()
    }

    /// A counter sample. By convention the name ends in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.sample(name, help, MetricType::Counter, labels, value);
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.sample(name, help, MetricType::Gauge, labels, value);
    }

    /// A histogram series: cumulative `_bucket{le=...}` lines ending with
    /// `+Inf`, then `_sum` and `_count`. A `le` among `labels` is ignored.
    pub fn histogram(&mut self, name: &str, help: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let labels: Vec<(&str, &str)> = labels.iter().copied().filter(|(k, _)| *k != "le").collect();
        let key = label_block(&labels, None);
        let Some((name, family)) = self.family(name, help, MetricType::Histogram) else {
            return;
        };
        if family.series.contains_key(&key) {
            return;
        }
        let mut lines = String::new();
        let mut cumulative = 0u64;
        for (i, bound) in h.bounds.iter().enumerate() {
            cumulative = cumulative.saturating_add(h.counts.get(i).copied().unwrap_or(0));
            let le = format_value(*bound);
            let block = label_block(&labels, Some(("le", &le)));
            let _ = writeln!(lines, "{name}_bucket{block} {cumulative}");
        }
        let count = h.count();
        let block = label_block(&labels, Some(("le", "+Inf")));
        let _ = writeln!(lines, "{name}_bucket{block} {count}");
        let _ = writeln!(lines, "{name}_sum{key} {}", format_value(h.sum));
        let _ = writeln!(lines, "{name}_count{key} {count}");
        family.series.insert(key, lines);
    }

    /// Appends `other`'s families and series as if they had been added here
    /// after everything already present.
    pub fn merge(&mut self, other: PromWriter) {
        for (name, theirs) in other.families {
            let Some((_, ours)) = self.family(&name, &theirs.help, theirs.kind) else {
                continue;
            };
            for (key, lines) in theirs.series {
                ours.series.entry(key).or_insert(lines);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// The exposition body (serve it as `text/plain; version=0.0.4`).
    pub fn finish(self) -> String {
        let mut out = String::new();
        for (name, family) in self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for lines in family.series.values() {
                out.push_str(lines);
            }
        }
        out
    }

    fn sample(&mut self, name: &str, help: &str, kind: MetricType, labels: &[(&str, &str)], value: f64) {
        let key = label_block(labels, None);
        let Some((name, family)) = self.family(name, help, kind) else {
            return;
        };
        if !family.series.contains_key(&key) {
            let line = format!("{name}{key} {}\n", format_value(value));
            family.series.insert(key, line);
        }
    }

    /// The family `name` (sanitised), created on first use; `None` when it
    /// exists with another type.
    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> Option<(String, &mut Family)> {
        let name = sanitize_name(name, true).into_owned();
        let family = self.families.entry(name.clone()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            series: IndexMap::new(),
        });
        if family.kind != kind {
            tracing::warn!(metric = %name, "metric family written with two types; sample dropped");
            return None;
        }
        Some((name, family))
    }
}

/// `{a="x",b="y"}` (empty for no labels), with `extra` last. A label name
/// given twice keeps its first value.
fn label_block(labels: &[(&str, &str)], extra: Option<(&str, &str)>) -> String {
    let mut out = String::new();
    let mut seen: Vec<Cow<'_, str>> = Vec::with_capacity(labels.len() + 1);
    for (name, value) in labels.iter().copied().chain(extra) {
        let name = sanitize_name(name, false);
        if seen.contains(&name) {
            continue;
        }
        out.push(if seen.is_empty() { '{' } else { ',' });
        let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
        seen.push(name);
    }
    if !out.is_empty() {
        out.push('}');
    }
    out
}

/// Metric names may hold `[a-zA-Z0-9_:]` (label names no `:`) and may not
/// start with a digit; anything else becomes `_`.
fn sanitize_name(name: &str, allow_colon: bool) -> Cow<'_, str> {
    let ok = |i: usize, c: char| {
        c.is_ascii_alphabetic() || c == '_' || (allow_colon && c == ':') || (i > 0 && c.is_ascii_digit())
    };
    if !name.is_empty() && name.chars().enumerate().all(|(i, c)| ok(i, c)) {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if ok(i, c) || (i == 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    Cow::Owned(out)
}

/// Label values escape backslash, double quote and newline.
fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// Help text escapes backslash and newline (quotes are literal there).
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Go's float syntax as Prometheus parses it: `+Inf`, `-Inf`, `NaN`, and
/// integers without a fraction.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
