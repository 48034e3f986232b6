//! The `krab` command: `krab serve` runs a broker; `krab topics` is
//! kafka-topics.sh; `krab console-producer` / `console-consumer` are
//! kafka-console-producer.sh / kafka-console-consumer.sh. This file only
//! turns argv into validated config structs and calls the library.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use krab::config::{apply_overrides, read_config_file, BrokerConfig, RawConfig};
use krab::tools::consumer_groups::{GroupsAction, ResetTo};
use krab::tools::topics::{self, DescribeFilter, TopicsAction};
use krab::tools::{console_consumer, console_producer, topics_zk};

/// A Kafka-wire-protocol compatible message broker.
#[derive(Parser, Debug)]
#[command(name = "krab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Client settings for the tools' connections (security.protocol,
    /// sasl.mechanism, sasl.jaas.config, ssl.truststore.location, ...), as
    /// Kafka's tools read them.
    #[arg(long, global = true, value_name = "FILE")]
    command_config: Option<PathBuf>,
    /// The console producer's client settings (the same keys).
    #[arg(long = "producer.config", global = true, value_name = "FILE")]
    producer_config: Option<PathBuf>,
    /// The console consumer's client settings (the same keys).
    #[arg(long = "consumer.config", global = true, value_name = "FILE")]
    consumer_config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a broker, like kafka-server-start.sh.
    Serve(ServeArgs),
    /// Create, list, describe, alter and delete topics, like kafka-topics.sh.
    Topics(TopicsArgs),
    /// List, describe, reset and delete consumer groups, like kafka-consumer-groups.sh.
    ConsumerGroups(ConsumerGroupsArgs),
    /// Produce lines from stdin, like kafka-console-producer.sh.
    ConsoleProducer(console_producer::ProducerArgs),
    /// Print a topic's messages, like kafka-console-consumer.sh.
    ConsoleConsumer(console_consumer::ConsumerArgs),
    /// Serve the offset monitor (groups, offsets, lag, history), like KafkaOffsetMonitor.
    Monitor(krab::monitor::cli::MonitorArgs),
    /// Print the batches (and records) of segment files, like kafka-dump-log.sh.
    DumpLog(krab::tools::dump_log::DumpLogArgs),
    /// Move partition replicas between brokers, like kafka-reassign-partitions.sh.
    ReassignPartitions(krab::tools::reassign::ReassignArgs),
    /// Elect preferred or unclean leaders, like kafka-leader-election.sh.
    LeaderElection(krab::tools::leader_election::LeaderElectionArgs),
    /// Move leadership back to preferred replicas, like kafka-preferred-replica-election.sh.
    PreferredReplicaElection(krab::tools::leader_election::PreferredElectionArgs),
    /// Describe and change topic and broker configs, like kafka-configs.sh.
    Configs(krab::tools::configs::ConfigsArgs),
    /// Add, remove and list ACLs, like kafka-acls.sh.
    Acls(krab::tools::acls::AclsArgs),
    /// List and describe transactions, like kafka-transactions.sh.
    Transactions(krab::tools::transactions::TransactionsArgs),
    /// Run a throw-away broker for tests: temporary data, port 0, one JSON ready line.
    Dev(krab::tools::dev::DevArgs),
    /// Inject, list and remove faults through a broker's control.listener.
    Fault(krab::tools::fault::FaultArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bootstrap_server", "zookeeper"])))]
#[command(group(clap::ArgGroup::new("groups_action").required(true).args(["list", "describe", "reset_offsets", "delete", "delete_offsets"])))]
struct ConsumerGroupsArgs {
    /// The broker to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_server: Option<String>,
    /// Read and write the /consumers znodes in ZooKeeper directly: HOST:PORT[/chroot].
    #[arg(long, value_name = "HOST:PORT")]
    zookeeper: Option<String>,
    /// List all consumer groups.
    #[arg(long)]
    list: bool,
    /// Show each partition's committed offset, log end offset, lag and owner.
    #[arg(long)]
    describe: bool,
    /// Set the group's committed offsets for --topic (the group must have no active members).
    #[arg(long)]
    reset_offsets: bool,
    /// Delete the group and its committed offsets (it must have no active members).
    #[arg(long)]
    delete: bool,
    /// Delete the group's committed offsets of --topic T[:P,P...] (refused for topics a member consumes).
    #[arg(long)]
    delete_offsets: bool,
    /// The consumer group to act on.
    #[arg(long)]
    group: Option<String>,
    /// The topic whose offsets --reset-offsets sets; with --delete-offsets,
    /// TOPIC or TOPIC:P,P... (repeatable).
    #[arg(long)]
    topic: Vec<String>,
    /// Reset to the log start offset.
    #[arg(long, group = "reset_to")]
    to_earliest: bool,
    /// Reset to the log end offset.
    #[arg(long, group = "reset_to")]
    to_latest: bool,
    /// Reset to this offset (clamped to the log's range).
    #[arg(long, group = "reset_to", value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// Perform the reset; without it the new offsets are only shown.
    #[arg(long)]
    execute: bool,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Broker config: YAML (config/server.yaml) or a Kafka .properties file.
    config: Option<PathBuf>,
    /// Set a property, overriding the file: --override log.dirs=/data/krab.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Answer as this Kafka release would: 0.9.0, 0.10.2, 1.1, 2.0, 2.8 or 3.x
    /// (the emulate.kafka.version property).
    #[arg(long, value_name = "VERSION")]
    emulate_kafka_version: Option<String>,
}

#[derive(Args, Debug)]
struct TopicsArgs {
    /// The broker to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "zookeeper")]
    bootstrap_server: Option<String>,
    /// Work on ZooKeeper's znodes directly, as Kafka's tool did: HOST:PORT[,HOST:PORT...][/chroot].
    #[arg(long, value_name = "HOST:PORT")]
    zookeeper: Option<String>,
    /// Create a topic.
    #[arg(long, group = "action")]
    create: bool,
    /// List all topics.
    #[arg(long, group = "action")]
    list: bool,
    /// Describe one topic (--topic) or all.
    #[arg(long, group = "action")]
    describe: bool,
    /// Delete a topic.
    #[arg(long, group = "action")]
    delete: bool,
    /// Add partitions (--partitions) or change configs (--config, --delete-config).
    #[arg(long, group = "action")]
    alter: bool,
    /// The topic to act on.
    #[arg(long)]
    topic: Option<String>,
    /// Number of partitions for --create (default: the broker's num.partitions).
    #[arg(long, allow_negative_numbers = true)]
    partitions: Option<i32>,
    /// Replication factor for --create (default: the broker's default.replication.factor).
    #[arg(long, allow_negative_numbers = true)]
    replication_factor: Option<i16>,
    /// A topic config for --create: --config retention.ms=60000.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    configs: Vec<String>,
    /// Replicas per partition for --create (all partitions) or --alter (the new ones): 0:1,1:2.
    #[arg(long, value_name = "B:B,B:B")]
    replica_assignment: Option<String>,
    /// With --alter: remove a topic config override.
    #[arg(long = "delete-config", value_name = "KEY")]
    delete_configs: Vec<String>,
    /// With --delete or --alter: succeed quietly if the topic does not exist.
    #[arg(long)]
    if_exists: bool,
    /// With --create: succeed quietly if the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
    /// With --describe: only partitions whose ISR is smaller than their replicas.
    #[arg(long, requires = "describe")]
    under_replicated_partitions: bool,
    /// With --describe: only partitions without a live leader.
    #[arg(long, requires = "describe")]
    unavailable_partitions: bool,
    /// With --describe: only partitions whose ISR is below min.insync.replicas.
    #[arg(long, requires = "describe")]
    under_min_isr_partitions: bool,
}

/// Kafka's tools accept single-dash long options (`-topic test`), and the
/// user's scripts use them; clap wants two dashes. Copied from documents,
/// a dash may also be an en dash (`–list`). Every krab flag is a long one,
/// so any `-word` (two or more letters) is taken as `--word`.
fn normalise_single_dash(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| {
        let a = match a.strip_prefix('\u{2013}') {
            Some(rest) => format!("--{}", rest.trim_start_matches('-')),
            None => a,
        };
        match a.strip_prefix('-') {
            Some(rest)
                if rest.len() >= 2
                    && rest
                        .split('=')
                        .next()
                        .unwrap_or("")
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'.')
                    && rest.as_bytes()[0].is_ascii_lowercase() =>
            {
                format!("-{a}")
            }
            _ => a,
        }
    })
    .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalise_single_dash(std::env::args()));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log_level(&cli.command))),
        )
        .init();
    let client_config = cli
        .command_config
        .as_ref()
        .or(cli.producer_config.as_ref())
        .or(cli.consumer_config.as_ref());
    if let Some(path) = client_config {
        if let Err(e) = krab::tools::client::use_command_config(path) {
            eprintln!("krab: {e}");
            return ExitCode::from(2);
        }
    }
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Topics(args) => run_topics(args),
        Command::ConsumerGroups(args) => run_consumer_groups(args),
        Command::ConsoleProducer(args) => report(
            console_producer::run(&args, Box::new(std::io::BufReader::new(std::io::stdin()))).map(|_| String::new()),
        ),
        Command::Monitor(args) => monitor(args),
        Command::DumpLog(args) => report(krab::tools::dump_log::run(&args)),
        Command::ReassignPartitions(args) => report(krab::tools::reassign::run(&args)),
        Command::Configs(args) => report(krab::tools::configs::run(&args)),
        Command::Acls(args) => report(krab::tools::acls::run(&args)),
        Command::Fault(args) => report(krab::tools::fault::run(&args)),
        Command::Transactions(args) => report(krab::tools::transactions::render(&args)),
        Command::Dev(args) => match krab::tools::dev::run(&args, &std::env::temp_dir()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("krab: {e}");
                ExitCode::FAILURE
            }
        },
        Command::LeaderElection(args) => report(krab::tools::leader_election::run_leader_election(&args)),
        Command::PreferredReplicaElection(args) => report(krab::tools::leader_election::run_preferred(&args)),
        Command::ConsoleConsumer(args) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            report(console_consumer::run(&args, &mut out).map(|_| String::new()))
        }
    }
}

/// The broker logs at info; the tools only warn, so their output stays theirs.
fn default_log_level(command: &Command) -> &'static str {
    match command {
        Command::Serve(_) | Command::Monitor(_) | Command::Dev(_) => "info",
        _ => "warn",
    }
}

fn load_config(args: &ServeArgs) -> Result<BrokerConfig, String> {
    let mut raw = match &args.config {
        Some(path) => read_config_file(path).map_err(|e| e.to_string())?,
        None => RawConfig::new(),
    };
    if let Some(version) = &args.emulate_kafka_version {
        raw.insert("emulate.kafka.version".into(), version.clone());
    }
    apply_overrides(&mut raw, &args.overrides).map_err(|e| e.to_string())?;
    let (config, warnings) = BrokerConfig::from_raw(&raw).map_err(|e| e.to_string())?;
    for key in &warnings.unknown_keys {
        tracing::warn!(key = %key, "unknown config key ignored");
    }
    for key in &warnings.ignored_keys {
        tracing::info!(key = %key, "Kafka config key not used by krab, ignored");
    }
    Ok(config)
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("krab: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = server_runtime() else {
        return ExitCode::FAILURE;
    };
    let code = runtime.block_on(async move {
        let broker_id = config.broker_id;
        let running = match krab::broker::run(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("krab: cannot start broker: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("krab broker {broker_id} listening on {}", running.local_addr);
        for (name, protocol, addr) in &running.listener_addrs {
            println!("krab listener {name} ({protocol}) listening on {addr}");
        }
        if let Some(addr) = running.monitor_addr {
            let scheme = if running.broker.config.security.monitor.keystore.is_some() {
                "https"
            } else {
                "http"
            };
            println!("krab monitor serving {scheme}://{addr}/");
        }
        if let Some(addr) = running.control_addr {
            println!("krab control listening on {addr} (fault injection)");
        }
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    });
    // Work still running (a monitor refresh blocked on a dead broker) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn monitor(args: krab::monitor::cli::MonitorArgs) -> ExitCode {
    let Some(runtime) = server_runtime() else {
        return ExitCode::FAILURE;
    };
    let code = runtime.block_on(async move {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = match krab::monitor::cli::run(&args, stopped).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("krab: cannot start the monitor: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("krab monitor serving http://{}/", running.local_addr);
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        let _ = stop.send(true);
        for task in running.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        ExitCode::SUCCESS
    });
    // Work still running (a monitor refresh blocked on a dead broker) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// The multi-threaded runtime `serve` and `monitor` run on.
fn server_runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("krab: cannot start runtime: {e}");
            None
        }
    }
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn run_topics(args: TopicsArgs) -> ExitCode {
    let need_topic = |what: &str| -> Result<String, String> {
        args.topic.clone().ok_or_else(|| format!("--{what} requires --topic"))
    };
    let replica_assignment = || -> Result<Option<Vec<Vec<i32>>>, String> {
        args.replica_assignment
            .as_deref()
            .map(krab::broker::topic_rules::parse_replica_assignment)
            .transpose()
            .map_err(|e| format!("Error while executing topic command : {e}"))
    };
    let action = (|| -> Result<TopicsAction, String> {
        if args.create {
            let mut config = BTreeMap::new();
            for c in &args.configs {
                let (k, v) = c
                    .split_once('=')
                    .ok_or_else(|| format!("--config expects key=value, got {c:?}"))?;
                config.insert(k.to_string(), v.to_string());
            }
            Ok(TopicsAction::Create {
                topic: need_topic("create")?,
                partitions: args.partitions.unwrap_or(-1),
                replication_factor: args.replication_factor.unwrap_or(-1),
                config,
                replica_assignment: replica_assignment()?,
                if_not_exists: args.if_not_exists,
            })
        } else if args.list {
            Ok(TopicsAction::List)
        } else if args.describe {
            let filter = if args.under_replicated_partitions {
                DescribeFilter::UnderReplicated
            } else if args.unavailable_partitions {
                DescribeFilter::Unavailable
            } else if args.under_min_isr_partitions {
                DescribeFilter::UnderMinIsr
            } else {
                DescribeFilter::All
            };
            Ok(TopicsAction::Describe {
                topic: args.topic.clone(),
                filter,
            })
        } else if args.alter {
            let mut set_config = BTreeMap::new();
            for c in &args.configs {
                let (k, v) = c
                    .split_once('=')
                    .ok_or_else(|| format!("--config expects key=value, got {c:?}"))?;
                set_config.insert(k.to_string(), v.to_string());
            }
            Ok(TopicsAction::Alter {
                topic: need_topic("alter")?,
                partitions: args.partitions,
                replica_assignment: replica_assignment()?,
                set_config,
                delete_config: args.delete_configs.clone(),
                if_exists: args.if_exists,
            })
        } else if args.delete {
            Ok(TopicsAction::Delete {
                topic: need_topic("delete")?,
                if_exists: args.if_exists,
            })
        } else {
            Err("one of --create, --list, --describe, --alter, --delete is required".into())
        }
    })();
    let result = action.and_then(|a| match (&args.bootstrap_server, &args.zookeeper) {
        (Some(bootstrap), None) => topics::run(bootstrap, a),
        (None, Some(zk)) => topics_zk::run(zk, a),
        _ => Err("exactly one of --bootstrap-server or --zookeeper is required".into()),
    });
    report(result)
}

fn run_consumer_groups(args: ConsumerGroupsArgs) -> ExitCode {
    let group = || {
        args.group
            .clone()
            .ok_or_else(|| "Error: --group is required".to_string())
    };
    let action = (|| -> Result<GroupsAction, String> {
        if args.list {
            Ok(GroupsAction::List)
        } else if args.describe {
            Ok(GroupsAction::Describe { group: group()? })
        } else if args.reset_offsets {
            let to = if args.to_earliest {
                ResetTo::Earliest
            } else if args.to_latest {
                ResetTo::Latest
            } else if let Some(n) = args.to_offset {
                ResetTo::Offset(n)
            } else {
                return Err("Error: --reset-offsets needs one of --to-earliest, --to-latest, --to-offset".into());
            };
            Ok(GroupsAction::ResetOffsets {
                group: group()?,
                topic: args
                    .topic
                    .first()
                    .cloned()
                    .ok_or("Error: --reset-offsets requires --topic")?,
                to,
                execute: args.execute,
            })
        } else if args.delete_offsets {
            Ok(GroupsAction::DeleteOffsets {
                group: group()?,
                topics: krab::tools::consumer_groups_offsets::parse_topic_specs(&args.topic)?,
            })
        } else {
            // clap requires one action flag: the last left is --delete.
            Ok(GroupsAction::Delete { group: group()? })
        }
    })();
    let result = action.and_then(|action| match (&args.bootstrap_server, &args.zookeeper) {
        (Some(bootstrap), _) => krab::tools::consumer_groups::run(bootstrap, action),
        (None, Some(zookeeper)) => krab::tools::consumer_groups_zk::run(zookeeper, action),
        (None, None) => Err("Error: one of --bootstrap-server, --zookeeper is required".into()),
    });
    report(result)
}

/// Prints a tool's output, or its one-line error with a non-zero exit.
fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
