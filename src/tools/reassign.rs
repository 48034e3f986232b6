//! `krab reassign-partitions`: kafka-reassign-partitions.sh with Kafka's
//! flags and JSON files. `--generate` proposes an assignment of the topics
//! in `--topics-to-move-json-file` over `--broker-list`; `--execute` starts
//! the reassignment in `--reassignment-json-file` (the ZooKeeper znode
//! `/admin/reassign_partitions` with `--zookeeper`, AlterPartitionReassignments
//! with `--bootstrap-server`); `--verify` reports each partition as complete,
//! in progress or failed. Every file and replica list is checked before
//! anything is written.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_partition_reassignments_request::{ReassignablePartition, ReassignableTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, ListPartitionReassignmentsRequest, MetadataRequest,
};

use crate::broker::topic_rules::assign_replicas;
use crate::metadata::kafka_json::{parse_reassignment, reassignment, Reassignment};
use crate::metadata::{KafkaLayout, LayoutError, StoreError};

use super::client::Client;
use super::cluster::{connect_zookeeper, runtime, topic_name};
use super::configs::{alter_in_zookeeper, alter_through_broker, Entity};

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bootstrap_server", "zookeeper"])))]
#[command(group(clap::ArgGroup::new("action").required(true).args(["generate", "execute", "verify"])))]
pub struct ReassignArgs {
    /// The brokers to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Work on ZooKeeper's znodes directly, as Kafka's tool did: HOST:PORT[/chroot].
    #[arg(long, value_name = "HOST:PORT")]
    pub zookeeper: Option<String>,
    /// Propose an assignment of --topics-to-move-json-file over --broker-list.
    #[arg(long)]
    pub generate: bool,
    /// Start the reassignment in --reassignment-json-file.
    #[arg(long)]
    pub execute: bool,
    /// Report whether the reassignment in --reassignment-json-file is done.
    #[arg(long)]
    pub verify: bool,
    /// `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`.
    #[arg(long, value_name = "FILE")]
    pub reassignment_json_file: Option<std::path::PathBuf>,
    /// `{"version":1,"topics":[{"topic":"t"}]}`, for --generate.
    #[arg(long, value_name = "FILE")]
    pub topics_to_move_json_file: Option<std::path::PathBuf>,
    /// Brokers to assign to with --generate: 0,1,2.
    #[arg(long, value_name = "IDS")]
    pub broker_list: Option<String>,
    /// Replication throttle in bytes/s for the moving replicas (removed by --verify once done).
    #[arg(long, value_name = "BYTES")]
    pub throttle: Option<i64>,
}

/// Where the assignments are read and the reassignment written.
enum Cluster {
    Zk(tokio::runtime::Runtime, KafkaLayout),
    Broker(Client),
}

pub fn run(args: &ReassignArgs) -> Result<String, String> {
    let mut cluster = match (&args.zookeeper, &args.bootstrap_server) {
        (Some(zk), _) => {
            let rt = runtime()?;
            let layout = connect_zookeeper(&rt, zk)?;
            Cluster::Zk(rt, layout)
        }
        (None, Some(bootstrap)) => Cluster::Broker(Client::connect(bootstrap)?),
        (None, None) => return Err("one of --zookeeper or --bootstrap-server is required".into()),
    };
    if args.generate {
        return generate(&mut cluster, args);
    }
    let file = args
        .reassignment_json_file
        .as_ref()
        .ok_or("--reassignment-json-file is required with --execute and --verify")?;
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let wanted = parse_reassignment(&text).map_err(|e| format!("invalid reassignment file {}: {e}", file.display()))?;
    if wanted.is_empty() {
        return Err("the reassignment file lists no partition".into());
    }
    if args.execute {
        execute(&mut cluster, &wanted, args.throttle)
    } else {
        verify(&mut cluster, &wanted)
    }
}

/// Topic → partition → replicas.
type Assignments = BTreeMap<String, BTreeMap<i32, Vec<i32>>>;

/// Topic → partition → replicas, and the live broker ids.
fn assignments(cluster: &mut Cluster, topics: &[String]) -> Result<(Assignments, Vec<i32>), String> {
    let mut out = BTreeMap::new();
    match cluster {
        Cluster::Zk(rt, layout) => rt.block_on(async {
            for t in topics {
                let a = layout
                    .topic_assignment(t)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("Topic {t} does not exist"))?;
                out.insert(t.clone(), a);
            }
            let live = layout.live_brokers().await.map_err(|e| e.to_string())?;
            Ok((out, live.into_iter().map(|b| b.id).collect()))
        }),
        Cluster::Broker(client) => {
            let request = MetadataRequest::default()
                .with_topics(Some(
                    topics
                        .iter()
                        .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                        .collect(),
                ))
                .with_allow_auto_topic_creation(false);
            let response = client.send(&request, 5)?;
            for t in response.topics {
                let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                if t.error_code != 0 {
                    return Err(format!("Topic {name} does not exist"));
                }
                let parts = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition_index, p.replica_nodes.iter().map(|b| b.0).collect()))
                    .collect();
                out.insert(name, parts);
            }
            Ok((out, response.brokers.iter().map(|b| b.node_id.0).collect()))
        }
    }
}

fn current_of(all: &Assignments) -> Reassignment {
    all.iter()
        .flat_map(|(t, parts)| parts.iter().map(move |(p, r)| ((t.clone(), *p), r.clone())))
        .collect()
}

fn json(r: &Reassignment) -> String {
    String::from_utf8_lossy(&reassignment(r)).into_owned()
}

fn generate(cluster: &mut Cluster, args: &ReassignArgs) -> Result<String, String> {
    let file = args
        .topics_to_move_json_file
        .as_ref()
        .ok_or("--topics-to-move-json-file is required with --generate")?;
    let brokers: Vec<i32> = args
        .broker_list
        .as_deref()
        .ok_or("--broker-list is required with --generate")?
        .split(',')
        .map(|b| {
            b.trim()
                .parse::<i32>()
                .map_err(|_| format!("--broker-list: {b:?} is not a broker id"))
        })
        .collect::<Result<_, _>>()?;
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("invalid topics file {}: {e}", file.display()))?;
    let topics: Vec<String> = value
        .get("topics")
        .and_then(|t| t.as_array())
        .ok_or_else(|| format!("invalid topics file {}: no \"topics\" list", file.display()))?
        .iter()
        .map(|t| t.get("topic").and_then(|n| n.as_str()).map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("invalid topics file {}: an entry has no topic", file.display()))?;
    let (all, _) = assignments(cluster, &topics)?;
    let mut proposed = Reassignment::new();
    for (topic, parts) in &all {
        let rf = parts.values().next().map_or(1, Vec::len);
        if rf > brokers.len() {
            return Err(format!(
                "topic {topic} has replication factor {rf}, above the {} brokers listed",
                brokers.len()
            ));
        }
        for (p, replicas) in assign_replicas(&brokers, parts.len() as i32, rf as i16) {
            proposed.insert((topic.clone(), p), replicas);
        }
    }
    Ok(format!(
        "Current partition replica assignment\n{}\n\nProposed partition reassignment configuration\n{}",
        json(&current_of(&all)),
        json(&proposed)
    ))
}

/// The topics a reassignment names, each once, sorted.
fn topics_of(wanted: &Reassignment) -> Vec<String> {
    let set: std::collections::BTreeSet<&String> = wanted.keys().map(|(t, _)| t).collect();
    set.into_iter().cloned().collect()
}

fn execute(cluster: &mut Cluster, wanted: &Reassignment, throttle: Option<i64>) -> Result<String, String> {
    let topics = topics_of(wanted);
    let (all, live) = assignments(cluster, &topics)?;
    for ((topic, p), replicas) in wanted {
        if !all.get(topic).is_some_and(|parts| parts.contains_key(p)) {
            return Err(format!("partition {topic}-{p} does not exist"));
        }
        crate::broker::handlers::alter_partition_reassignments::check_replicas(replicas, &live)
            .map_err(|e| format!("partition {topic}-{p}: {e}"))?;
    }
    let current: Reassignment = current_of(&all)
        .into_iter()
        .filter(|(k, _)| wanted.contains_key(k))
        .collect();
    // As Kafka: the throttle is in place before any replica starts copying.
    if let Some(rate) = throttle.filter(|r| *r >= 0) {
        set_throttle(cluster, &current, wanted, rate)?;
    }
    match cluster {
        Cluster::Zk(rt, layout) => match rt.block_on(layout.set_pending_reassignment(wanted, true)) {
            Ok(()) => {}
            Err(LayoutError::Store(StoreError::NodeExists(_))) => {
                return Err("There is an existing assignment running.".into())
            }
            Err(e) => return Err(e.to_string()),
        },
        Cluster::Broker(client) => {
            let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
            for ((topic, p), replicas) in wanted {
                by_topic.entry(topic.as_str()).or_default().push(
                    ReassignablePartition::default()
                        .with_partition_index(*p)
                        .with_replicas(Some(replicas.iter().map(|r| BrokerId(*r)).collect())),
                );
            }
            let request = AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(
                    by_topic
                        .into_iter()
                        .map(|(t, parts)| {
                            ReassignableTopic::default()
                                .with_name(topic_name(t))
                                .with_partitions(parts)
                        })
                        .collect(),
                );
            let response = client.send(&request, 0)?;
            if response.error_code != 0 {
                return Err(format!(
                    "reassignment refused: error {} {}",
                    response.error_code,
                    response.error_message.map(|m| m.to_string()).unwrap_or_default()
                ));
            }
            for t in &response.responses {
                for p in &t.partitions {
                    if p.error_code != 0 {
                        return Err(format!(
                            "partition {}-{}: error {} {}",
                            t.name.as_str(),
                            p.partition_index,
                            p.error_code,
                            p.error_message.as_ref().map(|m| m.to_string()).unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    let names: Vec<String> = wanted.keys().map(|(t, p)| format!("{t}-{p}")).collect();
    let mut out = format!(
        "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started partition reassignments for {}",
        json(&current),
        names.join(",")
    );
    if let Some(rate) = throttle.filter(|r| *r >= 0) {
        out = format!(
            "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\nThe inter-broker throttle limit was set to {rate} B/s\n{out}"
        );
    }
    Ok(out)
}

const THROTTLE_RATES: [&str; 2] = [
    crate::broker::dynamic_config::LEADER_THROTTLE_RATE,
    crate::broker::dynamic_config::FOLLOWER_THROTTLE_RATE,
];
const THROTTLED_REPLICAS: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

/// Kafka's throttle of a reassignment: the rate on every broker involved,
/// the current replicas as leader-throttled and the replicas moving in as
/// follower-throttled, per topic.
fn set_throttle(cluster: &mut Cluster, current: &Reassignment, wanted: &Reassignment, rate: i64) -> Result<(), String> {
    let mut brokers = std::collections::BTreeSet::new();
    let mut lists: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for ((topic, p), target) in wanted {
        let now = current.get(&(topic.clone(), *p)).cloned().unwrap_or_default();
        brokers.extend(now.iter().chain(target.iter()).copied());
        let entry = lists.entry(topic.clone()).or_default();
        entry.0.extend(now.iter().map(|b| format!("{p}:{b}")));
        entry
            .1
            .extend(target.iter().filter(|b| !now.contains(b)).map(|b| format!("{p}:{b}")));
    }
    let mut edits: Vec<(Entity, BTreeMap<String, String>)> = brokers
        .iter()
        .map(|b| {
            let rates = THROTTLE_RATES
                .iter()
                .map(|k| (k.to_string(), rate.to_string()))
                .collect();
            (Entity::Broker(b.to_string()), rates)
        })
        .collect();
    for (topic, (leader, follower)) in lists {
        let mut set = BTreeMap::new();
        set.insert(THROTTLED_REPLICAS[0].to_string(), leader.join(","));
        set.insert(THROTTLED_REPLICAS[1].to_string(), follower.join(","));
        edits.push((Entity::Topic(topic), set));
    }
    for (entity, set) in edits {
        edit(cluster, &entity, set, &[])?;
    }
    Ok(())
}

/// Removes every throttle a reassignment set (Kafka's --verify does this
/// once all partitions are done).
fn remove_throttle(cluster: &mut Cluster, wanted: &Reassignment, brokers: &[i32]) -> Result<(), String> {
    let rates: Vec<String> = THROTTLE_RATES.iter().map(|k| k.to_string()).collect();
    let lists: Vec<String> = THROTTLED_REPLICAS.iter().map(|k| k.to_string()).collect();
    for b in brokers {
        edit(cluster, &Entity::Broker(b.to_string()), BTreeMap::new(), &rates)?;
    }
    for t in topics_of(wanted) {
        edit(cluster, &Entity::Topic(t), BTreeMap::new(), &lists)?;
    }
    Ok(())
}

fn edit(
    cluster: &mut Cluster,
    entity: &Entity,
    set: BTreeMap<String, String>,
    delete: &[String],
) -> Result<(), String> {
    match cluster {
        Cluster::Zk(rt, layout) => rt.block_on(alter_in_zookeeper(layout, entity, set, delete)),
        Cluster::Broker(client) => alter_through_broker(client, entity, &set, delete),
    }
}

fn verify(cluster: &mut Cluster, wanted: &Reassignment) -> Result<String, String> {
    let topics = topics_of(wanted);
    let (all, live) = assignments(cluster, &topics)?;
    let pending: Reassignment = match cluster {
        Cluster::Zk(rt, layout) => rt
            .block_on(layout.pending_reassignment())
            .map_err(|e| e.to_string())?
            .unwrap_or_default(),
        Cluster::Broker(client) => {
            let response = client.send(&ListPartitionReassignmentsRequest::default().with_timeout_ms(30_000), 0)?;
            response
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        (
                            (t.name.to_string(), p.partition_index),
                            p.replicas.iter().map(|b| b.0).collect(),
                        )
                    })
                })
                .collect()
        }
    };
    let mut out = vec!["Status of partition reassignment:".to_string()];
    let mut failed = false;
    for ((topic, p), replicas) in wanted {
        let current = all.get(topic).and_then(|parts| parts.get(p));
        let status = if pending.contains_key(&(topic.clone(), *p)) {
            "is still in progress."
        } else if current == Some(replicas) {
            "is complete."
        } else {
            failed = true;
            "failed."
        };
        out.push(format!("Reassignment of partition {topic}-{p} {status}"));
    }
    if failed {
        return Err(out.join("\n"));
    }
    let done = wanted.keys().all(|k| !pending.contains_key(k));
    if done && throttled(cluster, wanted, &live)? {
        remove_throttle(cluster, wanted, &live)?;
        out.push("Throttle was removed.".into());
    }
    Ok(out.join("\n"))
}

/// Whether any throttle of this reassignment is still set.
fn throttled(cluster: &mut Cluster, wanted: &Reassignment, brokers: &[i32]) -> Result<bool, String> {
    let topics = topics_of(wanted);
    match cluster {
        Cluster::Zk(rt, layout) => rt.block_on(async {
            for b in brokers {
                let c = layout.broker_config(&b.to_string()).await.map_err(|e| e.to_string())?;
                if THROTTLE_RATES.iter().any(|k| c.contains_key(*k)) {
                    return Ok(true);
                }
            }
            for t in &topics {
                let c = layout
                    .topic_config(t)
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                if THROTTLED_REPLICAS.iter().any(|k| c.contains_key(*k)) {
                    return Ok(true);
                }
            }
            Ok(false)
        }),
        // Removing is harmless when nothing is set: DELETE of an absent key.
        Cluster::Broker(_) => Ok(true),
    }
}
