//! The group page (KafkaOffsetMonitor's table: Topic, Partition, Offset,
//! LogSize, Lag, Owner, Created, Last Seen, with charts of offset, log size
//! and lag) and the topic page (its partitions and every group reading it).

use std::fmt::Write;
use std::time::Duration;

use super::chart::{line_chart, Series};
use super::duration::format_duration;
use super::history::Point;
use super::pages::{coordination_name, encode, escape, format_age, format_time, lag_text, layout, PageContext};
use super::snapshot::{GroupRow, TopicRow};

/// The chart ranges offered, when not longer than the history kept.
const RANGES: [Duration; 5] = [
    Duration::from_secs(60),
    Duration::from_secs(600),
    Duration::from_secs(3_600),
    Duration::from_secs(6 * 3_600),
    Duration::from_secs(86_400),
];

/// Line colours for groups on the topic page (style.css), reused in turn.
const GROUP_CLASSES: [&str; 6] = ["g0", "g1", "g2", "g3", "g4", "g5"];

/// What the charts show: a window ending now, maybe one partition.
pub struct ChartChoice {
    pub range: Duration,
    pub partition: Option<i32>,
    pub from_ms: i64,
    pub to_ms: i64,
}

pub fn group_page(
    ctx: &PageContext,
    name: &str,
    group: &GroupRow,
    charts: &[(String, Vec<Point>)],
    choice: &ChartChoice,
) -> String {
    let now = ctx.snapshot.taken_at_ms;
    let mut html = format!(
        r#"<h1>Group <span class="name">{}</span></h1><p class="summary">State <b class="state">{}</b> · coordination {} · {} member(s) · total lag <b class="total-lag">{}</b></p>"#,
        escape(name),
        escape(&group.state),
        coordination_name(group.coordination),
        group.members.len(),
        lag_text(group)
    );
    html.push_str(
        r#"<table class="offsets"><thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Offset</th><th class="num">LogSize</th><th class="num">Lag</th><th>Owner</th><th>Created</th><th>Last Seen</th></tr></thead><tbody>"#,
    );
    let link = encode(name);
    for row in &group.partitions {
        let offset = match (&row.invalid, row.offset) {
            (Some(reason), _) => format!(r#"<span class="invalid" title="{}">invalid</span>"#, escape(reason)),
            (None, Some(o)) => o.to_string(),
            (None, None) => "-".to_string(),
        };
        let time = |ms: Option<i64>| match ms {
            Some(ms) => format!(
                r#"<span title="{}">{}</span>"#,
                escape(&format_time(ms)),
                format_age(ms, now)
            ),
            None => "-".to_string(),
        };
        let _ = write!(
            html,
            r#"<tr class="offset-row{invalid}" data-topic="{topic_attr}" data-partition="{p}"><td><a href="/topic/{topic_link}">{topic}</a></td><td class="num"><a href="/group/{link}?partition={p}">{p}</a></td><td class="num offset">{offset}</td><td class="num logsize">{size}</td><td class="num lag">{lag}</td><td class="owner">{owner}</td><td>{created}</td><td>{seen}</td></tr>"#,
            invalid = if row.invalid.is_some() { " invalid" } else { "" },
            topic_attr = escape(&row.topic),
            topic_link = encode(&row.topic),
            topic = escape(&row.topic),
            p = row.partition,
            size = row.log_size.map_or_else(|| "?".to_string(), |v| v.to_string()),
            lag = row.lag.map_or_else(|| "-".to_string(), |v| v.to_string()),
            owner = escape(&row.owner),
            created = time(row.created_ms),
            seen = time(row.last_seen_ms),
        );
    }
    html.push_str("</tbody></table>");
    if !group.members.is_empty() {
        html.push_str(
            r#"<h2>Members</h2><table class="members"><thead><tr><th>Member</th><th>Client</th><th>Host</th></tr></thead><tbody>"#,
        );
        for m in &group.members {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.id),
                escape(if m.client_id.is_empty() { "-" } else { &m.client_id }),
                escape(&m.host)
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str(&range_links(ctx, &format!("/group/{link}"), choice));
    for (topic, points) in charts {
        let scope = match choice.partition {
            Some(p) => format!("{topic} partition {p}"),
            None => format!("{topic} (all partitions)"),
        };
        let _ = write!(html, r#"<section class="charts"><h2>{}</h2>"#, escape(&scope));
        html.push_str(&line_chart(
            &format!("Offset and LogSize of {scope}"),
            &[
                Series {
                    name: "Offset",
                    class: "offset",
                    points: points.iter().map(|p| (p.t, p.offset)).collect(),
                },
                Series {
                    name: "LogSize",
                    class: "logsize",
                    points: points.iter().map(|p| (p.t, p.log_size)).collect(),
                },
            ],
            choice.from_ms,
            choice.to_ms,
            false,
        ));
        html.push_str(&line_chart(
            &format!("Lag of {scope}"),
            &[Series {
                name: "Lag",
                class: "lag",
                points: points.iter().map(|p| (p.t, p.lag)).collect(),
            }],
            choice.from_ms,
            choice.to_ms,
            true,
        ));
        html.push_str("</section>");
    }
    layout(ctx, &format!("Group {name}"), &html)
}

/// Consumption of one topic by a group: offsets and lag summed over partitions.
pub struct TopicConsumer<'a> {
    pub group: &'a str,
    pub state: &'a str,
    pub offset: i64,
    pub lag: i64,
}

pub fn topic_page(
    ctx: &PageContext,
    name: &str,
    topic: &TopicRow,
    consumers: &[TopicConsumer],
    points: &[Point],
    by_group: &[(&str, Vec<Point>)],
    choice: &ChartChoice,
) -> String {
    let mut html = format!(
        r#"<h1>Topic <span class="name">{}</span></h1><p class="summary">{} partition(s) · LogSize {}</p>"#,
        escape(name),
        topic.partitions.len(),
        topic.log_size().map_or_else(|| "?".to_string(), |v| v.to_string())
    );
    html.push_str(
        r#"<h2>Consumer groups</h2><table class="consumers"><thead><tr><th>Group</th><th>State</th><th class="num">Offset</th><th class="num">Lag</th></tr></thead><tbody>"#,
    );
    for c in consumers {
        let _ = write!(
            html,
            r#"<tr class="consumer-row" data-group="{}"><td><a href="/group/{}">{}</a></td><td>{}</td><td class="num">{}</td><td class="num lag">{}</td></tr>"#,
            escape(c.group),
            encode(c.group),
            escape(c.group),
            escape(c.state),
            c.offset,
            c.lag
        );
    }
    if consumers.is_empty() {
        html.push_str(r#"<tr><td colspan="4" class="empty">No group has an offset for this topic.</td></tr>"#);
    }
    html.push_str(
        r#"</tbody></table><h2>Partitions</h2><table class="partitions"><thead><tr><th class="num">Partition</th><th class="num">Leader</th><th>Replicas</th><th>ISR</th><th class="num">LogSize</th></tr></thead><tbody>"#,
    );
    for p in &topic.partitions {
        let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        let _ = write!(
            html,
            r#"<tr class="partition-row"><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="num logsize">{}</td></tr>"#,
            p.partition,
            p.leader,
            list(&p.replicas),
            list(&p.isr),
            p.log_size.map_or_else(|| "?".to_string(), |v| v.to_string())
        );
    }
    html.push_str("</tbody></table>");
    html.push_str(&range_links(ctx, &format!("/topic/{}", encode(name)), choice));
    // The topic's consumption history: its log size with each group's
    // committed offset (summed over the partitions it committed), and lags.
    let mut offsets = vec![Series {
        name: "LogSize",
        class: "logsize",
        points: points.iter().map(|p| (p.t, p.log_size)).collect(),
    }];
    let mut lags = Vec::new();
    for (i, (group, series)) in by_group.iter().enumerate() {
        let class = GROUP_CLASSES[i % GROUP_CLASSES.len()];
        offsets.push(Series {
            name: group,
            class,
            points: series.iter().map(|p| (p.t, p.offset)).collect(),
        });
        lags.push(Series {
            name: group,
            class,
            points: series.iter().map(|p| (p.t, p.lag)).collect(),
        });
    }
    html.push_str(&line_chart(
        &format!("LogSize of {name} and each group's offset"),
        &offsets,
        choice.from_ms,
        choice.to_ms,
        false,
    ));
    if !lags.is_empty() {
        html.push_str(&line_chart(
            &format!("Lag of each group on {name}"),
            &lags,
            choice.from_ms,
            choice.to_ms,
            true,
        ));
    }
    layout(ctx, &format!("Topic {name}"), &html)
}

/// Links to the chart ranges that fit in the history kept.
fn range_links(ctx: &PageContext, base: &str, choice: &ChartChoice) -> String {
    let mut ranges: Vec<Duration> = RANGES.iter().copied().filter(|r| *r < ctx.retain).collect();
    ranges.push(ctx.retain);
    let partition = choice.partition.map_or(String::new(), |p| format!("&partition={p}"));
    let mut html = String::from(r#"<p class="ranges">Charts over "#);
    for r in ranges {
        let label = format_duration(r);
        if r == choice.range {
            let _ = write!(html, r#"<b>{label}</b> "#);
        } else {
            let _ = write!(html, r#"<a href="{base}?range={label}{partition}">{label}</a> "#);
        }
    }
    if choice.partition.is_some() {
        let _ = write!(
            html,
            r#"· <a href="{base}?range={}">all partitions</a>"#,
            format_duration(choice.range)
        );
    }
    html.push_str("</p>");
    html
}
