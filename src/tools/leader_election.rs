//! `krab leader-election` (kafka-leader-election.sh, ElectLeaders to the
//! controller) and `krab preferred-replica-election`
//! (kafka-preferred-replica-election.sh: `/admin/preferred_replica_election`
//! with `--zookeeper`, as Kafka 0.9 did; ElectLeaders with
//! `--bootstrap-server`). Partitions come from `--topic`/`--partition`,
//! `--all-topic-partitions` or Kafka's `--path-to-json-file`
//! (`{"partitions":[{"topic":"t","partition":0}]}`).

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, MetadataRequest};

use crate::metadata::kafka_json::{parse_partition_list, partition_list};
use crate::metadata::{LayoutError, StoreError};

use super::client::Client;
use super::cluster::{connect_zookeeper, runtime, topic_name};

#[derive(clap::Args, Debug)]
pub struct LeaderElectionArgs {
    /// The brokers to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// preferred: the first assigned replica leads; unclean: any live replica of a leaderless partition.
    #[arg(long, value_name = "preferred|unclean")]
    pub election_type: String,
    /// The topic whose partitions to elect (with --partition, one partition).
    #[arg(long, conflicts_with_all = ["all_topic_partitions", "path_to_json_file"])]
    pub topic: Option<String>,
    #[arg(long, requires = "topic")]
    pub partition: Option<i32>,
    /// Every partition of every topic.
    #[arg(long)]
    pub all_topic_partitions: bool,
    /// `{"partitions":[{"topic":"t","partition":0}]}`.
    #[arg(long, value_name = "FILE", conflicts_with = "all_topic_partitions")]
    pub path_to_json_file: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bootstrap_server", "zookeeper"])))]
pub struct PreferredElectionArgs {
    /// Write /admin/preferred_replica_election in ZooKeeper: HOST:PORT[/chroot].
    #[arg(long, value_name = "HOST:PORT")]
    pub zookeeper: Option<String>,
    /// Ask the controller through ElectLeaders instead.
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Partitions to elect (default: all).
    #[arg(long, value_name = "FILE")]
    pub path_to_json_file: Option<std::path::PathBuf>,
}

fn read_partitions(file: &std::path::Path) -> Result<Vec<(String, i32)>, String> {
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let list = parse_partition_list(&text).map_err(|e| format!("invalid partitions file {}: {e}", file.display()))?;
    if list.is_empty() {
        return Err(format!("{} lists no partition", file.display()));
    }
    Ok(list)
}

pub fn run_leader_election(args: &LeaderElectionArgs) -> Result<String, String> {
    let unclean = match args.election_type.to_ascii_lowercase().as_str() {
        "preferred" => false,
        "unclean" => true,
        other => return Err(format!("--election-type must be preferred or unclean, not {other:?}")),
    };
    let partitions = match (&args.topic, &args.path_to_json_file, args.all_topic_partitions) {
        (Some(t), _, _) => Some(Selection::Topic(t.clone(), args.partition)),
        (None, Some(file), _) => Some(Selection::List(read_partitions(file)?)),
        (None, None, true) => None,
        (None, None, false) => {
            return Err("one of --topic, --all-topic-partitions or --path-to-json-file is required".into())
        }
    };
    elect(&args.bootstrap_server, unclean, partitions)
}

pub fn run_preferred(args: &PreferredElectionArgs) -> Result<String, String> {
    let partitions = args.path_to_json_file.as_deref().map(read_partitions).transpose()?;
    if let Some(bootstrap) = &args.bootstrap_server {
        return elect(bootstrap, false, partitions.map(Selection::List));
    }
    let zk = args
        .zookeeper
        .as_deref()
        .ok_or("--zookeeper or --bootstrap-server is required")?;
    let rt = runtime()?;
    let layout = connect_zookeeper(&rt, zk)?;
    let partitions = match partitions {
        Some(p) => p,
        None => rt.block_on(async {
            let mut all = Vec::new();
            for t in layout.list_topics().await.map_err(|e| e.to_string())? {
                if let Some(a) = layout.topic_assignment(&t).await.map_err(|e| e.to_string())? {
                    all.extend(a.keys().map(|p| (t.clone(), *p)));
                }
            }
            Ok::<_, String>(all)
        })?,
    };
    match rt.block_on(layout.request_preferred_election(&partitions)) {
        Ok(()) => {}
        Err(LayoutError::Store(StoreError::NodeExists(_))) => {
            return Err(
                "Preferred replica election is already in progress for /admin/preferred_replica_election".into(),
            )
        }
        Err(e) => return Err(e.to_string()),
    }
    let names: Vec<String> = partitions.iter().map(|(t, p)| format!("[{t},{p}]")).collect();
    Ok(format!(
        "Created preferred replica election path with {}\nSuccessfully started preferred replica election for partitions Set({})",
        String::from_utf8_lossy(&partition_list(&partitions)),
        names.join(", ")
    ))
}

enum Selection {
    Topic(String, Option<i32>),
    List(Vec<(String, i32)>),
}

fn elect(bootstrap: &str, unclean: bool, selection: Option<Selection>) -> Result<String, String> {
    let mut client = Client::connect(bootstrap)?;
    let metadata = client.send(&MetadataRequest::default().with_topics(None), 5)?;
    let controller = metadata.controller_id.0;
    let address = metadata
        .brokers
        .iter()
        .find(|b| b.node_id.0 == controller)
        .map(|b| format!("{}:{}", b.host.as_str(), b.port))
        .ok_or("the cluster has no controller")?;
    let topics = match selection {
        None => None,
        Some(Selection::List(list)) => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
            for (t, p) in list {
                by_topic.entry(t).or_default().push(p);
            }
            Some(by_topic.into_iter().collect::<Vec<_>>())
        }
        Some(Selection::Topic(t, Some(p))) => Some(vec![(t, vec![p])]),
        Some(Selection::Topic(t, None)) => {
            let found = metadata
                .topics
                .iter()
                .find(|m| m.name.as_ref().is_some_and(|n| n.as_str() == t))
                .ok_or_else(|| format!("Topic {t} does not exist"))?;
            Some(vec![(
                t.clone(),
                found.partitions.iter().map(|p| p.partition_index).collect(),
            )])
        }
    };
    let request = ElectLeadersRequest::default()
        .with_election_type(i8::from(unclean))
        .with_timeout_ms(30_000)
        .with_topic_partitions(topics.map(|list| {
            list.into_iter()
                .map(|(t, parts)| {
                    TopicPartitions::default()
                        .with_topic(topic_name(&t))
                        .with_partitions(parts)
                })
                .collect()
        }));
    let response = Client::connect(&address)?.send(&request, 1)?;
    if response.error_code != 0 {
        return Err(format!("leader election refused: error code {}", response.error_code));
    }
    let kind = if unclean { "UNCLEAN" } else { "PREFERRED" };
    let (mut done, mut already, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for t in &response.replica_election_results {
        for p in &t.partition_result {
            let name = format!("{}-{}", t.topic.as_str(), p.partition_id);
            match p.error_code {
                0 => done.push(name),
                84 => already.push(name),
                code => failed.push(format!("{name}: {}", election_error(code))),
            }
        }
    }
    let mut out = Vec::new();
    if !done.is_empty() {
        out.push(format!(
            "Successfully completed leader election ({kind}) for partitions {}",
            done.join(", ")
        ));
    }
    if !already.is_empty() {
        out.push(format!(
            "Valid replica already elected for partitions {}",
            already.join(", ")
        ));
    }
    if !failed.is_empty() {
        out.push(format!(
            "Error completing leader election ({kind}) for partitions: {}",
            failed.join(", ")
        ));
        return Err(out.join("\n"));
    }
    Ok(out.join("\n"))
}

fn election_error(code: i16) -> &'static str {
    match code {
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        41 => "NOT_CONTROLLER",
        80 => "PREFERRED_LEADER_NOT_AVAILABLE",
        83 => "ELIGIBLE_LEADERS_NOT_AVAILABLE",
        _ => "ERROR",
    }
}
