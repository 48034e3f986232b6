//! Which URL shows what. Pages and `/api/` answer from the same snapshot and
//! history; names in paths are percent-decoded, query parameters checked
//! (unknown, repeated or malformed ones get 400), unknown groups and topics
//! 404.

use std::collections::BTreeMap;

use serde_json::json;

use super::duration::{format_duration, parse_duration};
use super::history::Point;
use super::http::{Request, Response};
use super::pages::{self, PageContext};
use super::pages_detail::{self, ChartChoice, TopicConsumer};
use super::snapshot::Snapshot;
use super::MonitorState;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

static STYLE: &str = include_str!("assets/style.css");
static SCRIPT: &str = include_str!("assets/app.js");

pub fn route(state: &MonitorState, request: &Request) -> Response {
    let snapshot = state.snapshot();
    let ctx = PageContext {
        snapshot: &snapshot,
        source: &state.source,
        refresh: state.refresh,
        retain: state.retain,
    };
    let segments: Vec<String> = match request
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect::<Result<_, _>>()
    {
        Ok(s) => s,
        Err(why) => return bad_request(&ctx, request, &why),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = match parse_query(&request.query) {
        Ok(q) => q,
        Err(why) => return bad_request(&ctx, request, &why),
    };
    let result = match segments.as_slice() {
        [] => only(&query, &[]).map(|_| html(pages::groups_page(&ctx))),
        ["cluster"] => only(&query, &[]).map(|_| html(pages::cluster_page(&ctx))),
        ["group", name] => group_page(state, &ctx, name, &query),
        ["topic", name] => topic_page(state, &ctx, name, &query),
        ["assets", "style.css"] => Ok(asset("text/css; charset=utf-8", STYLE)),
        ["assets", "app.js"] => Ok(asset("text/javascript; charset=utf-8", SCRIPT)),
        ["metrics"] => only(&query, &[]).map(|_| Response::new(200, PROMETHEUS, state.metrics_text(&snapshot))),
        ["api", rest @ ..] => api(state, &snapshot, rest, &query),
        _ => Err(Problem::NotFound(format!("There is no page at {}.", request.path))),
    };
    match result {
        Ok(response) => response,
        Err(Problem::NotFound(what)) if request.path.starts_with("/api/") => {
            Response::new(404, JSON, json!({ "error": what }).to_string())
        }
        Err(Problem::NotFound(what)) => Response::new(404, HTML, pages::not_found_page(&ctx, &what)),
        Err(Problem::Bad(why)) => bad_request(&ctx, request, &why),
    }
}

enum Problem {
    NotFound(String),
    Bad(String),
}

type Query = BTreeMap<String, String>;

fn group_page(state: &MonitorState, ctx: &PageContext, name: &str, query: &Query) -> Result<Response, Problem> {
    only(query, &["range", "partition"])?;
    let group = ctx
        .snapshot
        .groups
        .get(name)
        .ok_or_else(|| Problem::NotFound(format!("No consumer group named \"{name}\" is known.")))?;
    let choice = chart_choice(state, query)?;
    if let Some(p) = choice.partition {
        if !group.partitions.iter().any(|r| r.partition == p) {
            return Err(Problem::Bad(format!("group {name} has no partition {p}")));
        }
    }
    let history = state.history();
    let charts: Vec<(String, Vec<Point>)> = group
        .topics()
        .into_iter()
        .map(|t| {
            let points = history.group_series(name, t, choice.partition, choice.from_ms);
            (t.to_string(), points)
        })
        .collect();
    Ok(html(pages_detail::group_page(ctx, name, group, &charts, &choice)))
}

fn topic_page(state: &MonitorState, ctx: &PageContext, name: &str, query: &Query) -> Result<Response, Problem> {
    only(query, &["range"])?;
    let topic = ctx
        .snapshot
        .topics
        .get(name)
        .ok_or_else(|| Problem::NotFound(format!("No topic named \"{name}\" is known.")))?;
    let choice = chart_choice(state, query)?;
    let consumers = consumers_of(ctx.snapshot, name);
    let history = state.history();
    let points = history.topic_series(name, choice.from_ms);
    let by_group: Vec<(&str, Vec<Point>)> = consumers
        .iter()
        .map(|c| (c.group, history.group_series(c.group, name, None, choice.from_ms)))
        .collect();
    drop(history);
    Ok(html(pages_detail::topic_page(
        ctx, name, topic, &consumers, &points, &by_group, &choice,
    )))
}

/// Every group with an offset or owner in `topic`, with its sums.
fn consumers_of<'a>(snapshot: &'a Snapshot, topic: &str) -> Vec<TopicConsumer<'a>> {
    snapshot
        .groups
        .iter()
        .filter_map(|(name, g)| {
            let rows: Vec<_> = g.partitions.iter().filter(|r| r.topic == topic).collect();
            (!rows.is_empty()).then(|| TopicConsumer {
                group: name,
                state: &g.state,
                offset: rows.iter().filter_map(|r| r.offset).fold(0, i64::saturating_add),
                lag: rows.iter().filter_map(|r| r.lag).fold(0, i64::saturating_add),
            })
        })
        .collect()
}

fn api(state: &MonitorState, snapshot: &Snapshot, path: &[&str], query: &Query) -> Result<Response, Problem> {
    let status = json!({
        "taken_at_ms": snapshot.taken_at_ms,
        "data_as_of_ms": snapshot.data_as_of_ms,
        "errors": snapshot.errors,
    });
    let body = match path {
        ["groups"] => {
            only(query, &[])?;
            let groups: Vec<_> = snapshot
                .groups
                .iter()
                .map(|(name, g)| {
                    json!({
                        "name": name,
                        "state": g.state,
                        "coordination": g.coordination,
                        "members": g.members.len(),
                        "topics": g.topics(),
                        "total_lag": g.total_lag(),
                        "lag_complete": g.lag_complete(),
                    })
                })
                .collect();
            json!({ "status": status, "groups": groups })
        }
        ["groups", name] => {
            only(query, &[])?;
            let g = snapshot
                .groups
                .get(*name)
                .ok_or_else(|| Problem::NotFound(format!("no consumer group named {name:?}")))?;
            json!({ "status": status, "name": name, "total_lag": g.total_lag(), "lag_complete": g.lag_complete(),
                    "group": g })
        }
        ["groups", name, "history"] => {
            only(query, &["topic", "partition", "range"])?;
            if !snapshot.groups.contains_key(*name) {
                return Err(Problem::NotFound(format!("no consumer group named {name:?}")));
            }
            let topic = query
                .get("topic")
                .ok_or_else(|| Problem::Bad("the topic parameter is required".into()))?;
            let choice = chart_choice(state, query)?;
            let points = state
                .history()
                .group_series(name, topic, choice.partition, choice.from_ms);
            json!({ "status": status, "group": name, "topic": topic, "partition": choice.partition,
                    "range": format_duration(choice.range), "points": points })
        }
        ["topics"] => {
            only(query, &[])?;
            let topics: Vec<_> = snapshot
                .topics
                .iter()
                .map(|(name, t)| json!({ "name": name, "partitions": t.partitions.len(), "log_size": t.log_size() }))
                .collect();
            json!({ "status": status, "topics": topics })
        }
        ["topics", name] => {
            only(query, &[])?;
            let t = snapshot
                .topics
                .get(*name)
                .ok_or_else(|| Problem::NotFound(format!("no topic named {name:?}")))?;
            let consumers: Vec<_> = consumers_of(snapshot, name)
                .iter()
                .map(|c| json!({ "group": c.group, "state": c.state, "offset": c.offset, "lag": c.lag }))
                .collect();
            json!({ "status": status, "name": name, "log_size": t.log_size(), "partitions": t.partitions,
                    "consumers": consumers })
        }
        ["topics", name, "history"] => {
            only(query, &["range"])?;
            if !snapshot.topics.contains_key(*name) {
                return Err(Problem::NotFound(format!("no topic named {name:?}")));
            }
            let choice = chart_choice(state, query)?;
            let points = state.history().topic_series(name, choice.from_ms);
            json!({ "status": status, "topic": name, "range": format_duration(choice.range), "points": points })
        }
        ["cluster"] => {
            only(query, &[])?;
            let health: serde_json::Map<String, serde_json::Value> = snapshot
                .topics
                .iter()
                .map(|(name, t)| {
                    let counts = json!({ "partitions": t.partitions.len(),
                                         "under_replicated": t.under_replicated(), "offline": t.offline() });
                    (name.clone(), counts)
                })
                .collect();
            json!({ "status": status, "brokers": snapshot.brokers, "controller": snapshot.controller,
                    "topics": snapshot.topics.keys().collect::<Vec<_>>(),
                    "under_replicated_partitions": snapshot.topics.values().map(|t| t.under_replicated()).sum::<usize>(),
                    "offline_partitions": snapshot.topics.values().map(|t| t.offline()).sum::<usize>(),
                    "partition_health": health })
        }
        _ => return Err(Problem::NotFound(format!("no API at /api/{}", path.join("/")))),
    };
    Ok(Response::new(200, JSON, body.to_string()).with_header("Cache-Control", "no-store"))
}

/// `range` (at most the history kept; default all of it) and `partition`.
fn chart_choice(state: &MonitorState, query: &Query) -> Result<ChartChoice, Problem> {
    let range = match query.get("range") {
        None => state.retain,
        Some(text) => {
            let range = parse_duration(text).map_err(|e| Problem::Bad(format!("range: {e}")))?;
            if range > state.retain {
                return Err(Problem::Bad(format!(
                    "range {} is longer than the history kept ({})",
                    format_duration(range),
                    format_duration(state.retain)
                )));
            }
            range
        }
    };
    let partition = match query.get("partition") {
        None => None,
        Some(text) => Some(
            text.parse::<i32>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| Problem::Bad(format!("partition {text:?} is not a partition number")))?,
        ),
    };
    let to_ms = super::now_ms();
    Ok(ChartChoice {
        range,
        partition,
        from_ms: to_ms - range.as_millis() as i64,
        to_ms,
    })
}

/// Refuses parameters other than `allowed`.
fn only(query: &Query, allowed: &[&str]) -> Result<(), Problem> {
    match query.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) if allowed.is_empty() => Err(Problem::Bad(format!("unknown parameter {k:?}: this page takes none"))),
        Some(k) => Err(Problem::Bad(format!(
            "unknown parameter {k:?} (allowed: {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn parse_query(query: &str) -> Result<Query, String> {
    let mut out = Query::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(&key.replace('+', " "))?, decode(&value.replace('+', " "))?);
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("parameter {key:?} given twice"));
        }
    }
    Ok(out)
}

/// Percent-decoding into UTF-8; malformed escapes and bytes are refused.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("malformed percent-escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8"))
}

fn html(body: String) -> Response {
    Response::new(200, HTML, body).with_header("Cache-Control", "no-store")
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    Response::new(200, content_type, body).with_header("Cache-Control", "max-age=300")
}

fn bad_request(ctx: &PageContext, request: &Request, why: &str) -> Response {
    if request.path.starts_with("/api/") {
        Response::new(400, JSON, json!({ "error": why }).to_string())
    } else {
        Response::new(400, HTML, pages::bad_request_page(ctx, why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded_and_checked() {
        let q = parse_query("range=1h&topic=a%2Fb+c").unwrap();
        assert_eq!(q["topic"], "a/b c");
        assert!(parse_query("a=1&a=2").is_err());
        assert!(parse_query("a=%zz").is_err());
        assert!(parse_query("a=%ff").is_err());
        assert!(only(&q, &["range"]).is_err());
        assert!(only(&q, &["range", "topic"]).is_ok());
    }
}
