//! `krab console-producer`: kafka-console-producer.sh. Reads lines from
//! stdin and produces each as one record: keyed lines (`parse.key`) go to
//! the partition Kafka's default partitioner picks (murmur2), unkeyed ones
//! to one partition per batch, rotating (Kafka's sticky partitioner). Lines
//! typed at a terminal are sent at once; piped input is batched.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::ProduceRequest;
use rand::Rng;

use crate::records::{encode_batch, Compression, Record};

use super::client::Client;
use super::cluster::{leaders_via_metadata, topic_name};
use super::fetcher::Fetcher;

/// Produce v7: record batches, and zstd (which needs v7+).
const PRODUCE_VERSION: i16 = 7;

/// Error codes worth another attempt: UNKNOWN_TOPIC_OR_PARTITION,
/// LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS.
const RETRIABLE: [i16; 6] = [3, 5, 6, 7, 19, 20];
const MAX_RETRIES: usize = 10;

/// kafka-console-producer.sh's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ProducerArgs {
    /// The brokers to produce to: HOST:PORT[,HOST:PORT...] (Kafka's older name for --bootstrap-server).
    #[arg(long, value_name = "HOST:PORT")]
    pub broker_list: Option<String>,
    /// The brokers to produce to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// The topic to produce to (auto-created if the broker allows it).
    #[arg(long)]
    pub topic: String,
    /// Line reader properties: parse.key=true, key.separator=<sep> (default a tab), ignore.error=true.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Acknowledgements to wait for: 0, 1 or all (-1).
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub request_required_acks: String,
    /// Compression: none, gzip (the default when the flag has no value), snappy, lz4 or zstd.
    #[arg(long, num_args = 0..=1, default_missing_value = "gzip")]
    pub compression_codec: Option<String>,
    /// Most lines sent in one request.
    #[arg(long, default_value_t = 200)]
    pub batch_size: usize,
    /// Send every line in its own request.
    #[arg(long)]
    pub sync: bool,
    /// Producer config, as Kafka's tool takes it: acks=..., compression.type=... (others are ignored).
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    pub producer_properties: Vec<String>,
}

/// Kafka's murmur2 (Utils.murmur2), used to pick the partition of a key.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

pub(super) fn parse_properties(list: &[String]) -> Result<BTreeMap<String, String>, String> {
    list.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("--property expects key=value, got {p:?}"))
        })
        .collect()
}

fn parse_acks(text: &str) -> Result<i16, String> {
    match text.trim() {
        "all" | "-1" => Ok(-1),
        "0" => Ok(0),
        "1" => Ok(1),
        other => Err(format!(
            "--request-required-acks must be 0, 1, all or -1, got {other:?}"
        )),
    }
}

fn parse_codec(text: &str) -> Result<Compression, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "snappy" => Ok(Compression::Snappy),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        other => Err(format!(
            "unknown compression codec {other:?} (none, gzip, snappy, lz4, zstd)"
        )),
    }
}

struct Settings {
    acks: i16,
    codec: Compression,
    parse_key: bool,
    key_separator: String,
    ignore_error: bool,
}

fn settings(args: &ProducerArgs) -> Result<Settings, String> {
    let props = parse_properties(&args.properties)?;
    let producer_props = parse_properties(&args.producer_properties)?;
    let acks = producer_props
        .get("acks")
        .map_or(args.request_required_acks.as_str(), |s| s);
    let codec = args
        .compression_codec
        .as_deref()
        .or(producer_props.get("compression.type").map(|s| s.as_str()));
    Ok(Settings {
        acks: parse_acks(acks)?,
        codec: codec.map_or(Ok(Compression::None), parse_codec)?,
        parse_key: props.get("parse.key").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        key_separator: props.get("key.separator").cloned().unwrap_or_else(|| "\t".into()),
        ignore_error: props
            .get("ignore.error")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

/// Produces every line of `input`; returns how many records were acknowledged
/// (or sent, with acks=0). Any failed record makes the result an error.
pub fn run(args: &ProducerArgs, input: Box<dyn BufRead + Send>) -> Result<u64, String> {
    let bootstrap = args
        .bootstrap_server
        .as_deref()
        .or(args.broker_list.as_deref())
        .ok_or("one of --broker-list or --bootstrap-server is required")?;
    let s = settings(args)?;
    let mut leaders = leaders_via_metadata(bootstrap, &args.topic, true)?.leaders;
    let partitions: Vec<i32> = leaders.keys().copied().collect();
    let mut connections = Fetcher::new(&args.topic);
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Vec<u8>>>(10_000);
    std::thread::spawn(move || {
        let mut input = input;
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        line.pop();
                    }
                    if tx.send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    let max_batch = if args.sync { 1 } else { args.batch_size.max(1) };
    let mut sticky = rand::thread_rng().gen_range(0..partitions.len());
    let (mut line_number, mut sent, mut failed) = (0u64, 0u64, 0u64);
    while let Ok(first) = rx.recv() {
        let mut lines = vec![first.map_err(|e| format!("reading stdin: {e}"))?];
        while lines.len() < max_batch {
            match rx.try_recv() {
                Ok(line) => lines.push(line.map_err(|e| format!("reading stdin: {e}"))?),
                Err(_) => break,
            }
        }
        let mut per_partition: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
        let now = crate::broker::now_ms();
        for line in lines {
            line_number += 1;
            let (key, value) = if s.parse_key {
                let sep = s.key_separator.as_bytes();
                match line.windows(sep.len().max(1)).position(|w| w == sep) {
                    Some(i) => (Some(line[..i].to_vec()), line[i + sep.len()..].to_vec()),
                    None if s.ignore_error => (None, line),
                    None => {
                        return Err(format!(
                            "No key found on line {line_number}: {}",
                            String::from_utf8_lossy(&line)
                        ))
                    }
                }
            } else {
                (None, line)
            };
            let partition = match &key {
                Some(k) => partitions[((murmur2(k) & 0x7fff_ffff) as usize) % partitions.len()],
                None => partitions[sticky % partitions.len()],
            };
            let records = per_partition.entry(partition).or_default();
            records.push(Record {
                offset: records.len() as i64,
                timestamp: now,
                key: key.map(Bytes::from),
                value: Some(Bytes::from(value)),
                headers: vec![],
            });
        }
        sticky = sticky.wrapping_add(1);
        // Retriable errors (a leader that has not heard of the topic yet, a
        // moved leader) are retried with fresh metadata, as Kafka's producer does.
        let mut pending = per_partition;
        for attempt in 0.. {
            let (ok, failures) = send(&mut connections, &args.topic, &leaders, &pending, &s)?;
            sent += ok;
            let retry = attempt < MAX_RETRIES && failures.values().all(|code| RETRIABLE.contains(code));
            if failures.is_empty() || !retry {
                for (p, code) in &failures {
                    let n = pending.get(p).map_or(0, Vec::len);
                    failed += n as u64;
                    eprintln!(
                        "ERROR Error when sending {n} message(s) to topic {} partition {p}: {} (error code {code})",
                        args.topic,
                        super::topics::kafka_error_name(*code)
                    );
                }
                break;
            }
            pending.retain(|p, _| failures.contains_key(p));
            std::thread::sleep(std::time::Duration::from_millis(100 * (attempt as u64 + 1)));
            leaders = leaders_via_metadata(bootstrap, &args.topic, true)?.leaders;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {} messages were not acknowledged", sent + failed));
    }
    Ok(sent)
}

/// One Produce request per leader; returns the records acknowledged and the
/// error code of each partition that failed.
fn send(
    connections: &mut Fetcher,
    topic: &str,
    leaders: &BTreeMap<i32, String>,
    per_partition: &BTreeMap<i32, Vec<Record>>,
    s: &Settings,
) -> Result<(u64, BTreeMap<i32, i16>), String> {
    let mut by_leader: BTreeMap<&str, Vec<(i32, &Vec<Record>)>> = BTreeMap::new();
    for (p, records) in per_partition {
        let leader = leaders.get(p).ok_or_else(|| format!("no leader for {topic}-{p}"))?;
        by_leader.entry(leader.as_str()).or_default().push((*p, records));
    }
    let (mut ok, mut failures) = (0, BTreeMap::new());
    for (leader, batches) in by_leader {
        let mut counts = BTreeMap::new();
        let mut data = Vec::with_capacity(batches.len());
        for (p, records) in batches {
            counts.insert(p, records.len() as u64);
            let batch = encode_batch(records, s.codec, 0, -1, -1, -1, None).map_err(|e| e.to_string())?;
            data.push(
                PartitionProduceData::default()
                    .with_index(p)
                    .with_records(Some(Bytes::from(batch))),
            );
        }
        let request = ProduceRequest::default()
            .with_acks(s.acks)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(data)]);
        // A leader that went away: retried as NOT_LEADER_OR_FOLLOWER with
        // fresh metadata (the batch may have landed; as with Kafka's
        // non-idempotent producer, a retry can then duplicate it).
        let sent = connections.client(leader).and_then(|client: &mut Client| {
            if s.acks == 0 {
                client.send_oneway(&request, PRODUCE_VERSION).map(|()| None)
            } else {
                client.send(&request, PRODUCE_VERSION).map(Some)
            }
        });
        let response = match sent {
            Ok(Some(response)) => response,
            Ok(None) => {
                ok += counts.values().sum::<u64>();
                continue;
            }
            Err(e) => {
                tracing::debug!(leader, error = %e, "produce request failed");
                connections.drop_client(leader);
                for p in counts.keys() {
                    failures.insert(*p, 6);
                }
                continue;
            }
        };
        for t in &response.responses {
            for p in &t.partition_responses {
                let n = counts.get(&p.index).copied().unwrap_or(0);
                if p.error_code == 0 {
                    ok += n;
                } else {
                    failures.insert(p.index, p.error_code);
                }
            }
        }
    }
    Ok((ok, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn acks_and_codecs() {
        assert_eq!(parse_acks("all"), Ok(-1));
        assert_eq!(parse_acks("0"), Ok(0));
        assert!(parse_acks("2").is_err());
        assert_eq!(parse_codec("SNAPPY"), Ok(Compression::Snappy));
        assert!(parse_codec("brotli").is_err());
    }
}
