//! Line charts as inline SVG, drawn on the server: no script or library to
//! load, and the page shows them even with JavaScript off.

use std::fmt::Write;

use super::pages::{escape, format_time};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// One line: a name for the legend, a CSS class for its colour, and (t, value) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub points: Vec<(i64, i64)>,
}

/// An SVG chart of `series` over [from_ms, to_ms], or from the first point
/// if the history is shorter than that (a new monitor's charts are not a
/// sliver at the right edge). `from_zero`: the value axis starts at 0.
pub fn line_chart(title: &str, series: &[Series], from_ms: i64, to_ms: i64, from_zero: bool) -> String {
    let first = series.iter().filter_map(|s| s.points.first()).map(|(t, _)| *t).min();
    let from_ms = first.map_or(from_ms, |first| first.max(from_ms)).min(to_ms - 1);
    let count: usize = series.iter().map(|s| s.points.len()).sum();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<figure class="chart"><figcaption>{}</figcaption><svg class="chart" data-points="{count}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(title),
        escape(title)
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let _ = write!(
        svg,
        r#"<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>"#
    );
    if count == 0 {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{}" y="{}" text-anchor="middle">no samples yet</text></svg></figure>"#,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
        return svg;
    }
    let values = series.iter().flat_map(|s| s.points.iter().map(|(_, v)| *v));
    let (mut lo, mut hi) = values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if from_zero {
        lo = lo.min(0);
    }
    if lo == hi {
        lo = lo.saturating_sub(1).max(0);
        hi = hi.saturating_add(1);
    }
    let span_t = (to_ms - from_ms).max(1) as f64;
    let span_v = (hi - lo) as f64;
    let x = |t: i64| LEFT + ((t - from_ms) as f64 / span_t).clamp(0.0, 1.0) * plot_w;
    let y = |v: i64| TOP + plot_h - ((v - lo) as f64 / span_v) * plot_h;
    for (label, value) in [(hi, hi), (lo, lo)] {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{}" y="{:.1}" text-anchor="end">{label}</text>"#,
            LEFT - 6.0,
            y(value) + 4.0
        );
    }
    for (t, anchor) in [(from_ms, "start"), (to_ms, "end")] {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x(t),
            HEIGHT - 6.0,
            escape(&format_time(t))
        );
    }
    for s in series {
        let points: Vec<String> = s
            .points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series {}" fill="none" points="{}"><title>{}</title></polyline>"#,
            escape(s.class),
            points.join(" "),
            escape(s.name)
        );
    }
    svg.push_str("</svg><div class=\"legend\">");
    for s in series {
        let _ = write!(
            svg,
            r#"<span class="key {}">{}</span>"#,
            escape(s.class),
            escape(s.name)
        );
    }
    svg.push_str("</div></figure>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_polyline_per_series_inside_the_plot() {
        let svg = line_chart(
            "t <offsets>",
            &[
                Series {
                    name: "Offset",
                    class: "offset",
                    points: vec![(0, 10), (1_000, 20)],
                },
                Series {
                    name: "LogSize",
                    class: "logsize",
                    points: vec![(0, 15), (1_000, 30)],
                },
            ],
            0,
            1_000,
            false,
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("data-points=\"4\""));
        assert!(svg.contains("t &lt;offsets&gt;"));
        // the highest value sits on the top edge, the lowest on the bottom
        assert!(svg.contains(&format!("{:.1},{:.1}", WIDTH - RIGHT, TOP)));
        assert!(svg.contains(&format!("{:.1},{:.1}", LEFT, HEIGHT - BOTTOM)));
    }

    #[test]
    fn empty_and_flat_charts() {
        assert!(line_chart("x", &[], 0, 1, true).contains("no samples yet"));
        let flat = line_chart(
            "x",
            &[Series {
                name: "Lag",
                class: "lag",
                points: vec![(0, 0), (5, 0)],
            }],
            0,
            5,
            true,
        );
        assert!(!flat.contains("NaN"));
    }

    #[test]
    fn a_short_history_fills_the_width() {
        let svg = line_chart(
            "x",
            &[Series {
                name: "Lag",
                class: "lag",
                points: vec![(90_000, 5), (100_000, 7)],
            }],
            0,
            100_000,
            true,
        );
        assert!(
            svg.contains(&format!("{:.1},", LEFT)),
            "the first point is on the left edge: {svg}"
        );
        assert!(svg.contains(">0</text>"), "the axis starts at zero");
    }
}
