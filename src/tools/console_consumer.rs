//! `krab console-consumer`: kafka-console-consumer.sh. With
//! `--bootstrap-server` it reads through the Kafka protocol; `--group`
//! offsets are simple commits (OffsetCommit, generation -1) at the group's
//! coordinator, no group membership. With `--zookeeper` it behaves as the
//! old ZooKeeper consumer did (see `old_consumer.rs`). Without a committed
//! offset it starts at the end, or at the beginning with `--from-beginning`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{GroupId, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;
use super::cluster::{leaders_via_metadata, runtime, topic_name, EARLIEST, LATEST};
use super::console_producer::parse_properties;
use super::fetcher::{Fetcher, Formatter};
use super::partition_offsets::{commit_simple, coordinator};

/// kafka-console-consumer.sh's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsumerArgs {
    /// The brokers to read from: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// The old consumer: ZooKeeper HOST:PORT[,...]; group and offsets under /consumers.
    #[arg(long, value_name = "HOST:PORT")]
    pub zookeeper: Option<String>,
    /// The topic to read.
    #[arg(long)]
    pub topic: String,
    /// Without a committed offset, start at the earliest message instead of the end.
    #[arg(long)]
    pub from_beginning: bool,
    /// Consumer group whose committed offsets are used and updated.
    #[arg(long)]
    pub group: Option<String>,
    /// Exit after printing this many messages.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// With --partition: the offset to start at, a number or earliest / latest.
    #[arg(long, allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Output properties: print.key=true, key.separator=<sep>, print.timestamp, print.partition, print.offset.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Exit when no message arrived for this many milliseconds.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// With --zookeeper: delete the group's offsets first (allows --from-beginning on a used group).
    #[arg(long)]
    pub delete_consumer_offsets: bool,
    /// Consumer config as Kafka's tool takes it; group.id is honoured, others are ignored.
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
}

/// How offsets are committed while consuming.
pub(super) type Committer<'a> = Box<dyn FnMut(&BTreeMap<i32, i64>) -> Result<(), String> + 'a>;

/// Where reading stops.
pub(super) struct Limits {
    pub max_messages: Option<u64>,
    pub timeout: Option<Duration>,
    pub commit_every: Duration,
}

/// Consumes and prints until a limit or `stop`; commits on the way and at
/// the end. Returns the number of messages printed.
pub(super) fn consume(
    fetcher: &mut Fetcher,
    formatter: &Formatter,
    out: &mut dyn Write,
    limits: &Limits,
    stop: &AtomicBool,
    mut commit: Committer<'_>,
) -> Result<u64, String> {
    let mut printed = 0u64;
    let mut consumed = fetcher.positions();
    let mut last_message = Instant::now();
    let mut last_commit = Instant::now();
    let mut dirty = false;
    // The starting positions are committed at once, so a group's offsets
    // (and, for the old consumer, /consumers/<g>/offsets) show where it begins.
    commit(&consumed)?;
    'outer: while !stop.load(Ordering::Acquire) && limits.max_messages.is_none_or(|m| printed < m) {
        let records = fetcher.poll(500)?;
        if !records.is_empty() {
            last_message = Instant::now();
        }
        for r in &records {
            let mut line = formatter.format(r);
            line.push(b'\n');
            out.write_all(&line).map_err(|e| format!("writing output: {e}"))?;
            consumed.insert(r.partition, r.offset + 1);
            dirty = true;
            printed += 1;
            if limits.max_messages.is_some_and(|m| printed >= m) {
                break 'outer;
            }
        }
        out.flush().map_err(|e| format!("writing output: {e}"))?;
        if dirty && last_commit.elapsed() >= limits.commit_every {
            commit(&consumed)?;
            dirty = false;
            last_commit = Instant::now();
        }
        if limits.timeout.is_some_and(|t| last_message.elapsed() >= t) {
            break;
        }
    }
    out.flush().map_err(|e| format!("writing output: {e}"))?;
    commit(&consumed)?;
    Ok(printed)
}

/// Sets the returned flag on SIGINT or SIGTERM, so the consumer can commit
/// and clean up before exiting, as Kafka's shutdown hook does.
pub(super) fn stop_on_signal(rt: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    rt.spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        set.store(true, Ordering::Release);
    });
    flag
}

/// The start offset `--offset` names, if any.
pub(super) fn explicit_offset(text: &str) -> Result<i64, String> {
    match text.trim() {
        "earliest" => Ok(EARLIEST),
        "latest" => Ok(LATEST),
        n => match n.parse::<i64>() {
            Ok(o) if o >= 0 => Ok(o),
            Ok(-1) => Ok(LATEST),
            Ok(-2) => Ok(EARLIEST),
            _ => Err(format!(
                "--offset must be a non-negative number, earliest or latest, got {n:?}"
            )),
        },
    }
}

/// Runs the consumer, printing to `out`; returns the number of messages.
pub fn run(args: &ConsumerArgs, out: &mut dyn Write) -> Result<u64, String> {
    if args.offset.is_some() && args.partition.is_none() {
        return Err("--offset requires --partition".into());
    }
    let consumer_props = parse_properties(&args.consumer_properties)?;
    let group = args.group.clone().or_else(|| consumer_props.get("group.id").cloned());
    let formatter = Formatter::from_properties(&parse_properties(&args.properties)?);
    let rt = runtime()?;
    let stop = stop_on_signal(&rt);
    let count = match (&args.bootstrap_server, &args.zookeeper) {
        (Some(bootstrap), None) => run_bootstrap(args, bootstrap, group, &formatter, out, &stop)?,
        (None, Some(zk)) => super::old_consumer::run(&rt, args, zk, group, &formatter, out, &stop)?,
        _ => return Err("exactly one of --bootstrap-server or --zookeeper is required".into()),
    };
    eprintln!("Processed a total of {count} messages");
    Ok(count)
}

fn run_bootstrap(
    args: &ConsumerArgs,
    bootstrap: &str,
    group: Option<String>,
    formatter: &Formatter,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let leaders = leaders_via_metadata(bootstrap, &args.topic, true)?.leaders;
    let partitions: Vec<i32> = match args.partition {
        Some(p) if leaders.contains_key(&p) => vec![p],
        Some(p) => return Err(format!("topic {} has no partition {p}", args.topic)),
        None => leaders.keys().copied().collect(),
    };
    let mut coordinator = match &group {
        Some(g) => Some(coordinator(bootstrap, g)?),
        None => None,
    };
    let committed = match (&group, coordinator.as_mut()) {
        (Some(g), Some(c)) => fetch_committed(c, g, &args.topic, &partitions)?,
        _ => BTreeMap::new(),
    };
    let mut fetcher = Fetcher::new(&args.topic);
    {
        let (bootstrap, topic) = (bootstrap.to_string(), args.topic.clone());
        fetcher.set_leader_source(Box::new(move || {
            leaders_via_metadata(&bootstrap, &topic, false).map(|l| l.leaders)
        }));
    }
    for p in &partitions {
        let leader = &leaders[p];
        let explicit = args.offset.as_deref().map(explicit_offset).transpose()?;
        fetcher.start_at(*p, leader, explicit, committed.get(p).copied(), args.from_beginning)?;
    }
    let limits = Limits {
        max_messages: args.max_messages,
        timeout: args.timeout_ms.map(Duration::from_millis),
        commit_every: Duration::from_secs(5),
    };
    let topic = args.topic.clone();
    let commit: Committer<'_> = match (group, coordinator) {
        (Some(g), Some(mut c)) => Box::new(move |positions| commit_offsets(&mut c, &g, &topic, positions)),
        _ => Box::new(|_| Ok(())),
    };
    consume(&mut fetcher, formatter, out, &limits, stop, commit)
}

fn fetch_committed(
    client: &mut Client,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<BTreeMap<i32, i64>, String> {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partition_indexes(partitions.to_vec())]));
    let response = client.send(&request, 1)?;
    let mut out = BTreeMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert(p.partition_index, p.committed_offset);
            }
        }
    }
    Ok(out)
}

fn commit_offsets(client: &mut Client, group: &str, topic: &str, positions: &BTreeMap<i32, i64>) -> Result<(), String> {
    let positions: Vec<(i32, i64)> = positions.iter().map(|(p, o)| (*p, *o)).collect();
    commit_simple(client, group, topic, &positions).map_err(|e| format!("commit {e}"))
}
