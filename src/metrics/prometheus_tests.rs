use super::*;

#[test]
fn families_are_written_once_and_grouped() {
    let mut w = PromWriter::new();
    w.counter("krab_a_total", "A things.", &[("topic", "x")], 1.0);
    w.gauge("krab_b", "B level.", &[], 2.0);
    w.counter("krab_a_total", "ignored second help", &[("topic", "y")], 3.0);
    w.gauge("krab_b", "B level.", &[("k", "v")], 4.5);
    assert_eq!(
        w.finish(),
        "# HELP krab_a_total A things.\n\
         # TYPE krab_a_total counter\n\
         krab_a_total{topic=\"x\"} 1\n\
         krab_a_total{topic=\"y\"} 3\n\
         # HELP krab_b B level.\n\
         # TYPE krab_b gauge\n\
         krab_b 2\n\
         krab_b{k=\"v\"} 4.5\n"
    );
}

#[test]
fn label_values_and_help_are_escaped() {
    let mut w = PromWriter::new();
    w.gauge("g", "line\none \\ \"q\"", &[("topic", "a\\b\"c\nd")], 1.0);
    let text = w.finish();
    assert!(text.contains("# HELP g line\\none \\\\ \"q\"\n"), "{text}");
    assert!(text.contains("g{topic=\"a\\\\b\\\"c\\nd\"} 1\n"), "{text}");
}

#[test]
fn names_are_sanitised() {
    let mut w = PromWriter::new();
    w.gauge("9 bad-name:x", "h", &[("la-bel", "v"), ("2x", "w"), ("", "e")], 1.0);
    let text = w.finish();
    assert!(text.contains("# TYPE _9_bad_name:x gauge\n"), "{text}");
    assert!(
        text.contains("_9_bad_name:x{la_bel=\"v\",_2x=\"w\",_=\"e\"} 1\n"),
        "{text}"
    );
    assert_eq!(sanitize_name("ok_name:1", true), "ok_name:1");
    assert_eq!(sanitize_name("ok:1", false), "ok_1");
}

#[test]
fn histogram_buckets_are_cumulative() {
    let h = HistogramSnapshot {
        bounds: vec![0.005, 0.5, 10.0],
        counts: vec![2, 0, 3, 1],
        sum: 12.25,
    };
    let mut w = PromWriter::new();
    w.histogram("krab_d_seconds", "D.", &[("api", "Fetch"), ("le", "dropped")], &h);
    assert_eq!(
        w.finish(),
        "# HELP krab_d_seconds D.\n\
         # TYPE krab_d_seconds histogram\n\
         krab_d_seconds_bucket{api=\"Fetch\",le=\"0.005\"} 2\n\
         krab_d_seconds_bucket{api=\"Fetch\",le=\"0.5\"} 2\n\
         krab_d_seconds_bucket{api=\"Fetch\",le=\"10\"} 5\n\
         krab_d_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 6\n\
         krab_d_seconds_sum{api=\"Fetch\"} 12.25\n\
         krab_d_seconds_count{api=\"Fetch\"} 6\n"
    );
}

#[test]
fn histogram_with_short_counts_does_not_panic() {
    let h = HistogramSnapshot {
        bounds: vec![1.0, 2.0],
        counts: vec![4],
        sum: 1.0,
    };
    let mut w = PromWriter::new();
    w.histogram("h", "h", &[], &h);
    let text = w.finish();
    assert!(
        text.contains("h_bucket{le=\"2\"} 4\nh_bucket{le=\"+Inf\"} 4\nh_sum 1\nh_count 4\n"),
        "{text}"
    );
}

#[test]
fn duplicate_series_and_type_conflicts_are_dropped() {
    let mut w = PromWriter::new();
    w.gauge("x", "h", &[("a", "1")], 1.0);
    w.gauge("x", "h", &[("a", "1")], 2.0);
    w.counter("x", "h", &[("a", "2")], 3.0);
    assert!(!w.declare("x", "h", MetricType::Counter));
    let text = w.finish();
    assert_eq!(text, "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\n");
}

#[test]
fn merge_joins_families_from_several_writers() {
    let mut broker = PromWriter::new();
    broker.gauge(
        "krab_log_end_offset",
        "LEO.",
        &[("topic", "t"), ("partition", "0")],
        5.0,
    );
    broker.declare("krab_group_lag", "Lag.", MetricType::Gauge);
    let mut monitor = PromWriter::new();
    monitor.gauge(
        "krab_group_lag",
        "Lag.",
        &[("group", "g"), ("topic", "t"), ("partition", "0")],
        2.0,
    );
    monitor.gauge(
        "krab_log_end_offset",
        "LEO.",
        &[("topic", "t"), ("partition", "1")],
        7.0,
    );
    broker.merge(monitor);
    assert_eq!(
        broker.finish(),
        "# HELP krab_log_end_offset LEO.\n\
         # TYPE krab_log_end_offset gauge\n\
         krab_log_end_offset{topic=\"t\",partition=\"0\"} 5\n\
         krab_log_end_offset{topic=\"t\",partition=\"1\"} 7\n\
         # HELP krab_group_lag Lag.\n\
         # TYPE krab_group_lag gauge\n\
         krab_group_lag{group=\"g\",topic=\"t\",partition=\"0\"} 2\n"
    );
}

#[test]
fn declared_family_without_samples_has_only_its_header() {
    let mut w = PromWriter::new();
    assert!(w.is_empty());
    assert!(w.declare("krab_group_lag", "Lag.", MetricType::Gauge));
    assert_eq!(w.finish(), "# HELP krab_group_lag Lag.\n# TYPE krab_group_lag gauge\n");
}

#[test]
fn special_values_use_prometheus_spelling() {
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(3.0), "3");
    assert_eq!(format_value(0.0005), "0.0005");
    assert_eq!(format_value(-2.5), "-2.5");
}
