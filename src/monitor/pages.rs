//! The HTML pages: one layout, the group list and the cluster page here,
//! the group and topic pages (with charts) in `pages_detail`. Every value
//! from the cluster is escaped; links carry percent-encoded names.

use std::fmt::Write;
use std::time::Duration;

use super::duration::format_duration;
use super::snapshot::{Coordination, GroupRow, Snapshot, TopicRow};

/// What every page needs besides its own data.
pub struct PageContext<'a> {
    pub snapshot: &'a Snapshot,
    /// Where the data comes from ("ZooKeeper host:2181", "this broker").
    pub source: &'a str,
    pub refresh: Duration,
    pub retain: Duration,
}

/// The page around `content`: navigation, the refresh line, the error banner.
pub fn layout(ctx: &PageContext, title: &str, content: &str) -> String {
    let s = ctx.snapshot;
    let mut banner = String::new();
    if !s.errors.is_empty() {
        banner.push_str(r#"<div class="banner" role="alert"><strong>Problems during the last refresh</strong><ul>"#);
        for e in &s.errors {
            let _ = write!(banner, "<li>{}</li>", escape(e));
        }
        banner.push_str("</ul>");
        if s.data_as_of_ms > 0 && s.data_as_of_ms < s.taken_at_ms {
            let _ = write!(
                banner,
                "<p>Showing the data of {} (the last successful refresh).</p>",
                escape(&format_time(s.data_as_of_ms))
            );
        }
        banner.push_str("</div>");
    }
    let refreshed = if s.taken_at_ms > 0 {
        format!("refreshed {}", format_time(s.taken_at_ms))
    } else {
        "first refresh pending".to_string()
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · krab monitor</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/style.css">
<script src="/assets/app.js" defer></script></head>
<body data-refresh-ms="{refresh_ms}">
<header><a class="brand" href="/">krab monitor</a><nav><a href="/">Groups</a><a href="/cluster">Cluster</a></nav>
<span class="status" id="status">{source} · every {every} · history {retain} · {refreshed}</span></header>
<div id="banner">{banner}</div>
<main id="content">{content}</main>
</body></html>
"#,
        title = escape(title),
        refresh_ms = ctx.refresh.as_millis(),
        source = escape(ctx.source),
        every = format_duration(ctx.refresh),
        retain = format_duration(ctx.retain),
        refreshed = escape(&refreshed),
    )
}

/// The group list: every group with its state and total lag.
pub fn groups_page(ctx: &PageContext) -> String {
    let s = ctx.snapshot;
    let mut html = String::from("<h1>Consumer groups</h1>");
    if s.groups.is_empty() {
        html.push_str(r#"<p class="empty">No consumer group has committed an offset or registered yet.</p>"#);
        return layout(ctx, "Consumer groups", &html);
    }
    html.push_str(
        r#"<table class="groups"><thead><tr><th>Group</th><th>State</th><th>Coordination</th><th>Members</th><th>Topics</th><th class="num">Total lag</th></tr></thead><tbody>"#,
    );
    for (name, g) in &s.groups {
        let topics: Vec<String> = g
            .topics()
            .iter()
            .map(|t| format!(r#"<a href="/topic/{}">{}</a>"#, encode(t), escape(t)))
            .collect();
        let _ = write!(
            html,
            r#"<tr class="group-row" data-group="{attr}"><td><a href="/group/{link}">{text}</a></td><td>{state}</td><td>{coordination}</td><td class="num">{members}</td><td>{topics}</td><td class="num lag">{lag}</td></tr>"#,
            attr = escape(name),
            link = encode(name),
            text = escape(name),
            state = escape(&g.state),
            coordination = coordination_name(g.coordination),
            members = g.members.len(),
            topics = topics.join(", "),
            lag = lag_text(g),
        );
    }
    html.push_str("</tbody></table>");
    layout(ctx, "Consumer groups", &html)
}

/// Brokers and topics.
pub fn cluster_page(ctx: &PageContext) -> String {
    let s = ctx.snapshot;
    let partitions: usize = s.topics.values().map(|t| t.partitions.len()).sum();
    let under: usize = s.topics.values().map(TopicRow::under_replicated).sum();
    let offline: usize = s.topics.values().map(TopicRow::offline).sum();
    let mut html = format!(
        r#"<h1>Cluster</h1><p class="partition-health">{partitions} partitions, <span class="under-replicated-total">{under}</span> under-replicated, <span class="offline-total">{offline}</span> offline</p>"#
    );
    html.push_str(
        r#"<h2>Brokers</h2><table class="brokers"><thead><tr><th>ID</th><th>Host</th><th>Port</th><th>Rack</th><th>Role</th></tr></thead><tbody>"#,
    );
    for b in &s.brokers {
        let _ = write!(
            html,
            r#"<tr class="broker-row"><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            b.id,
            escape(&b.host),
            b.port,
            escape(b.rack.as_deref().unwrap_or("-")),
            if s.controller == Some(b.id) { "controller" } else { "" },
        );
    }
    html.push_str(
        r#"</tbody></table><h2>Topics</h2><table class="topics"><thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Replication</th><th class="num">Under-replicated</th><th class="num">Offline</th><th class="num">LogSize</th><th class="num">Groups</th></tr></thead><tbody>"#,
    );
    for (name, t) in &s.topics {
        let groups = s
            .groups
            .values()
            .filter(|g| g.partitions.iter().any(|r| &r.topic == name))
            .count();
        let _ = write!(
            html,
            r#"<tr class="topic-row"><td><a href="/topic/{}">{}</a></td><td class="num">{}</td><td class="num">{}</td><td class="num under-replicated">{}</td><td class="num offline">{}</td><td class="num">{}</td><td class="num">{groups}</td></tr>"#,
            encode(name),
            escape(name),
            t.partitions.len(),
            t.partitions.first().map_or(0, |p| p.replicas.len()),
            t.under_replicated(),
            t.offline(),
            t.log_size().map_or_else(|| "?".to_string(), |v| v.to_string()),
        );
    }
    html.push_str("</tbody></table>");
    layout(ctx, "Cluster", &html)
}

/// A page saying what was not found (served with status 404).
pub fn not_found_page(ctx: &PageContext, what: &str) -> String {
    let html = format!(
        r#"<h1>Not found</h1><p class="not-found">{}</p><p><a href="/">All consumer groups</a> · <a href="/cluster">Cluster</a></p>"#,
        escape(what)
    );
    layout(ctx, "Not found", &html)
}

/// A page for a request the monitor cannot answer (served with status 400).
pub fn bad_request_page(ctx: &PageContext, why: &str) -> String {
    let html = format!(r#"<h1>Bad request</h1><p class="bad-request">{}</p>"#, escape(why));
    layout(ctx, "Bad request", &html)
}

/// The total lag, as a lower bound ("≥ 12") when some partition's is unknown.
pub fn lag_text(g: &GroupRow) -> String {
    if g.lag_complete() {
        g.total_lag().to_string()
    } else {
        format!("≥ {}", g.total_lag())
    }
}

pub fn coordination_name(c: Coordination) -> &'static str {
    match c {
        Coordination::Zookeeper => "ZooKeeper",
        Coordination::Broker => "broker",
        Coordination::None => "-",
    }
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-11-26 01:02:03 UTC` from ms since the epoch.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// "3m 5s ago", relative to `now_ms`.
pub fn format_age(ms: i64, now_ms: i64) -> String {
    let secs = ((now_ms - ms) / 1000).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m {}s ago", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h {}m ago", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h ago", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_age(0, 61_000), "1m 1s ago");
        assert_eq!(format_age(5_000, 0), "0s ago");
    }

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(encode("g 1/é"), "g%201%2F%C3%A9");
        assert_eq!(encode("my-topic_1.x"), "my-topic_1.x");
    }
}
