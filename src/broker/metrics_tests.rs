//! BrokerMetrics against a real in-process broker: what clients do shows up
//! in the rendered text with the right numbers.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::*;
use crate::broker::response_errors::ErrorTally;
use crate::config::{BrokerConfig, RawConfig};
use crate::protocol::ErrorCode;
use crate::records::{encode_batch, Compression, Record};
use crate::tools::client::Client;

const TOPIC: &str = "metrics-t";

/// The value of the sample whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn must(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

fn batch(n: i64) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            offset: i,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: vec![],
        })
        .collect();
    Bytes::from(encode_batch(&records, Compression::None, 0, -1, -1, -1, None).unwrap())
}

fn produce(client: &mut Client, partition: i32, records: Bytes) -> i16 {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_data(vec![produce_request::PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    client.send(&req, 8).unwrap().responses[0].partition_responses[0].error_code
}

/// Fetches `(partition, offset)`s at `version`; the record bytes returned.
fn fetch(client: &mut Client, partitions: &[(i32, i64)], version: i16) -> u64 {
    let parts = partitions
        .iter()
        .map(|(p, offset)| {
            fetch_request::FetchPartition::default()
                .with_partition(*p)
                .with_fetch_offset(*offset)
                .with_partition_max_bytes(1 << 20)
        })
        .collect();
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partitions(parts)]);
    let response = client.send(&req, version).unwrap();
    response.responses[0]
        .partitions
        .iter()
        .map(|p| {
            assert_eq!(p.error_code, 0);
            p.records.as_ref().map_or(0, |r| r.len() as u64)
        })
        .sum()
}

/// Sends a raw frame and waits for the broker to close the connection.
fn send_and_expect_close(addr: &str, frame: &[u8]) {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(frame).unwrap();
    let mut sink = Vec::new();
    let _ = socket.read_to_end(&mut sink);
}

fn wait_for_no_connections(broker: &Broker) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker.metrics.open_connections() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_requests_errors_and_logs_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::new();
    raw.insert("listeners".into(), "PLAINTEXT://127.0.0.1:0".into());
    raw.insert("log.dirs".into(), dir.path().display().to_string());
    let (config, _) = BrokerConfig::from_raw(&raw).unwrap();
    let running = crate::broker::run(config).await.unwrap();
    let broker = running.broker.clone();
    broker
        .create_topic(TOPIC, 2, 1, None, BTreeMap::new(), false)
        .await
        .unwrap();
    let addr = running.local_addr.to_string();

    let (bytes_in, bytes_out, while_open) = tokio::task::spawn_blocking({
        let broker = broker.clone();
        move || {
            let mut client = Client::connect(&addr).unwrap();
            let (three, two) = (batch(3), batch(2));
            let bytes_in = (three.len() + two.len()) as u64;
            assert_eq!(produce(&mut client, 0, three), 0);
            assert_eq!(produce(&mut client, 1, two), 0);
            assert_eq!(
                produce(&mut client, 7, batch(1)),
                ErrorCode::UnknownTopicOrPartition.code()
            );
            // All five records as stored, then two of partition 0's three
            // down-converted to magic 1 (v2 reads v0-3 formats).
            let mut bytes_out = fetch(&mut client, &[(0, 0), (1, 0)], 11);
            bytes_out += fetch(&mut client, &[(0, 1)], 2);
            let while_open = broker.metrics.render(&broker);
            // Undecodable Produce body: the connection is closed.
            send_and_expect_close(&addr, &[0, 0, 0, 11, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
            // Unknown API key, then a negative frame size: refused before dispatch.
            send_and_expect_close(&addr, &[0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]);
            send_and_expect_close(&addr, &[0xff, 0xff, 0xff, 0xff]);
            drop(client);
            wait_for_no_connections(&broker);
            (bytes_in, bytes_out, while_open)
        }
    })
    .await
    .unwrap();

    assert_eq!(must(&while_open, "krab_open_connections"), 1.0);
    let text = broker.metrics.render(&broker);
    let t = |name: &str| format!("{name}{{topic=\"{TOPIC}\"}}");
    let tp = |name: &str, p: i32| format!("{name}{{topic=\"{TOPIC}\",partition=\"{p}\"}}");
    assert_eq!(must(&text, &t("krab_topic_messages_in_total")), 5.0);
    assert_eq!(must(&text, &t("krab_topic_bytes_in_total")), bytes_in as f64);
    assert_eq!(must(&text, &t("krab_topic_messages_out_total")), 7.0);
    assert_eq!(must(&text, &t("krab_topic_bytes_out_total")), bytes_out as f64);
    assert_eq!(must(&text, &t("krab_partitions")), 2.0);
    assert_eq!(must(&text, &tp("krab_log_end_offset", 0)), 3.0);
    assert_eq!(must(&text, &tp("krab_log_end_offset", 1)), 2.0);
    assert_eq!(must(&text, &tp("krab_high_watermark", 1)), 2.0);
    assert_eq!(must(&text, &tp("krab_log_start_offset", 0)), 0.0);
    assert_eq!(must(&text, &tp("krab_log_segments", 0)), 1.0);
    assert_eq!(
        must(&text, &tp("krab_log_size_bytes", 0)) + must(&text, &tp("krab_log_size_bytes", 1)),
        bytes_in as f64
    );

    assert_eq!(must(&text, "krab_requests_total{api=\"Produce\"}"), 4.0);
    assert_eq!(must(&text, "krab_request_duration_seconds_count{api=\"Produce\"}"), 4.0);
    assert_eq!(
        must(
            &text,
            "krab_request_duration_seconds_bucket{api=\"Produce\",le=\"+Inf\"}"
        ),
        4.0
    );
    assert_eq!(must(&text, "krab_requests_total{api=\"Fetch\"}"), 2.0);
    assert_eq!(must(&text, "krab_request_errors_total{api=\"Fetch\"}"), 0.0);
    assert_eq!(must(&text, "krab_request_errors_total{api=\"Produce\"}"), 2.0);
    let code = |e: &str| format!("krab_request_error_codes_total{{api=\"Produce\",error=\"{e}\"}}");
    assert_eq!(must(&text, &code("UnknownTopicOrPartition")), 1.0);
    assert_eq!(must(&text, &code("ConnectionClosed")), 1.0);
    assert_eq!(
        must(&text, "krab_requests_total{api=\"DeleteRecords\"}"),
        0.0,
        "supported APIs always listed"
    );
    assert_eq!(
        value(&text, "krab_request_duration_seconds_count{api=\"DeleteRecords\"}"),
        None
    );
    assert_eq!(must(&text, "krab_invalid_requests_total"), 2.0);
    assert_eq!(must(&text, "krab_connections_accepted_total"), 4.0);
    assert_eq!(must(&text, "krab_open_connections"), 0.0);
    assert_eq!(must(&text, "krab_local_partitions"), 2.0);
    assert_eq!(must(&text, "krab_topics"), 1.0);
    let info = format!(
        "krab_broker_info{{broker_id=\"0\",cluster_id=\"{}\"}}",
        broker.cluster_id
    );
    assert_eq!(must(&text, &info), 1.0);

    broker.delete_topic(TOPIC).await.unwrap();
    let text = broker.metrics.render(&broker);
    assert!(!text.contains(TOPIC), "deleted topic still exported:\n{text}");
    assert_eq!(must(&text, "krab_topics"), 0.0);
    running.shutdown().await;
}

#[test]
fn connection_guard_decrements_on_every_exit() {
    let metrics = BrokerMetrics::new();
    let a = metrics.connection_opened();
    let b = metrics.connection_opened();
    assert_eq!(metrics.open_connections(), 2);
    drop(a);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = b;
        panic!("connection task failed");
    }));
    assert!(unwound.is_err());
    assert_eq!(metrics.open_connections(), 0);
    assert_eq!(metrics.connections_accepted.get(), 2);
}

#[test]
fn errors_are_counted_per_api_and_code() {
    let metrics = BrokerMetrics::new();
    let mut tally = ErrorTally::default();
    tally.add(3);
    tally.add(3);
    tally.add(0);
    tally.add(-1);
    metrics.record_request(ApiKey::ListOffsets, Duration::from_micros(300), Some(&tally));
    metrics.record_request(ApiKey::ListOffsets, Duration::from_secs(2), None);
    metrics.record_request(ApiKey::Metadata, Duration::from_millis(3), Some(&ErrorTally::default()));
    let mut w = PromWriter::new();
    metrics.write_requests(&mut w);
    let text = w.finish();
    assert_eq!(must(&text, "krab_requests_total{api=\"ListOffsets\"}"), 2.0);
    assert_eq!(must(&text, "krab_request_errors_total{api=\"ListOffsets\"}"), 4.0);
    let code = |e: &str| format!("krab_request_error_codes_total{{api=\"ListOffsets\",error=\"{e}\"}}");
    assert_eq!(must(&text, &code("UnknownTopicOrPartition")), 2.0);
    assert_eq!(must(&text, &code("UnknownServerError")), 1.0);
    assert_eq!(must(&text, &code("ConnectionClosed")), 1.0);
    let bucket = |le: &str| format!("krab_request_duration_seconds_bucket{{api=\"ListOffsets\",le=\"{le}\"}}");
    assert_eq!(must(&text, &bucket("0.0005")), 1.0);
    assert_eq!(must(&text, &bucket("1")), 1.0);
    assert_eq!(must(&text, &bucket("2.5")), 2.0);
    assert_eq!(must(&text, "krab_request_errors_total{api=\"Metadata\"}"), 0.0);
    assert_eq!(
        value(&text, "krab_requests_total{api=\"DescribeDelegationToken\"}"),
        None,
        "unused, unsupported"
    );
    // An unsupported API is listed once a client tries it (and is refused).
    metrics.record_request(ApiKey::DescribeDelegationToken, Duration::from_micros(50), None);
    let mut w = PromWriter::new();
    metrics.write_requests(&mut w);
    let text = w.finish();
    assert_eq!(must(&text, "krab_requests_total{api=\"DescribeDelegationToken\"}"), 1.0);
    assert_eq!(
        must(&text, "krab_request_errors_total{api=\"DescribeDelegationToken\"}"),
        1.0
    );
    assert_eq!(error_name(1000), "1000");
}
