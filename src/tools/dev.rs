//! `krab dev`: a throw-away broker for a test run. Its data lives in a fresh
//! temporary directory removed on exit, its metadata in the embedded store,
//! it may bind port 0, and once it accepts connections it prints one JSON
//! line (`{"bootstrap":"127.0.0.1:40123","data_dir":"...","pid":123}`) that
//! a test harness reads. With `--exit-with-parent` it stops when the process
//! that started it dies, so a killed test run leaves no broker behind.
//! `--brokers N` starts a replicated cluster of N brokers (ids 0..N-1) in
//! this one process: on ZooKeeper with `--zookeeper`, otherwise on one
//! embedded metadata store they share; the ready line then lists every
//! broker under `brokers`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::config::{apply_overrides, BrokerConfig};
use crate::testing::{ephemeral_config, ephemeral_properties, EphemeralDir};

#[derive(Args, Debug, Clone)]
pub struct DevArgs {
    /// The port to listen on; 0 picks a free one (printed once bound).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The address to listen on and advertise.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Set a broker property: --override num.partitions=3 (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Also write the bootstrap address (host:port) to this file, atomically.
    #[arg(long, value_name = "PATH")]
    pub bootstrap_file: Option<PathBuf>,
    /// Stop when the parent process exits (checked every 100 ms).
    #[arg(long)]
    pub exit_with_parent: bool,
    /// Answer as this Kafka release would: 0.9.0, 0.10.2, 1.1, 2.0, 2.8 or 3.x
    /// (the emulate.kafka.version property).
    #[arg(long, value_name = "VERSION")]
    pub emulate_kafka_version: Option<String>,
    /// How many brokers to start (a replicated cluster when more than one;
    /// default.replication.factor defaults to this number).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub brokers: u16,
    /// Keep the cluster's metadata in this ZooKeeper (HOST:PORT[/chroot])
    /// instead of an embedded store; each broker has its own session.
    #[arg(long, value_name = "HOST:PORT")]
    pub zookeeper: Option<String>,
    /// Where to create the temporary data directory (default: $TMPDIR or /tmp).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

/// What `krab dev` prints once the broker accepts connections.
/// `control` and `monitor` appear when control.listener / monitor.listener
/// are set (the first broker's); `brokers` lists each broker of a cluster.
pub fn ready_line(bootstrap: &str, data_dir: &Path, running: &[crate::broker::RunningBroker]) -> String {
    let endpoints = |r: &crate::broker::RunningBroker| {
        let mut entry = serde_json::json!({"id": r.broker.config.broker_id, "bootstrap": r.local_addr.to_string()});
        for (key, addr) in [("control", r.control_addr), ("monitor", r.monitor_addr)] {
            if let Some(addr) = addr {
                entry[key] = serde_json::Value::String(addr.to_string());
            }
        }
        entry
    };
    let mut line = serde_json::json!({
        "bootstrap": bootstrap,
        "data_dir": data_dir.display().to_string(),
        "pid": std::process::id(),
    });
    if let Some(first) = running.first() {
        for key in ["control", "monitor"] {
            if let Some(v) = endpoints(first).get(key) {
                line[key] = v.clone();
            }
        }
    }
    if running.len() > 1 {
        line["brokers"] = running.iter().map(endpoints).collect();
    }
    line.to_string()
}

/// Runs the broker(s) until a signal (or the parent's death).
/// `default_parent` is used when --temp-dir is absent.
pub fn run(args: &DevArgs, default_parent: &Path) -> Result<(), String> {
    let parent = args.temp_dir.as_deref().unwrap_or(default_parent);
    let dir =
        EphemeralDir::new_in(parent).map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?;
    let configs = broker_configs(args, dir.path())?;
    let parent_pid = std::os::unix::process::parent_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    let result = runtime.block_on(async {
        // Signals are caught from the start, so one that arrives while the
        // brokers start still ends in a clean stop (and the directory goes).
        let mut signals = Signals::new();
        // Several brokers without ZooKeeper share one embedded store, as
        // brokers of one cluster share ZooKeeper.
        let shared = if configs.len() > 1 && args.zookeeper.is_none() {
            let store = crate::metadata::EmbeddedStore::open(&dir.path().join("__krab_metadata"))
                .map_err(|e| format!("cannot open the metadata store: {e}"))?;
            Some(std::sync::Arc::new(store) as std::sync::Arc<dyn crate::metadata::MetadataStore>)
        } else {
            None
        };
        let mut running = Vec::with_capacity(configs.len());
        for config in configs {
            match crate::broker::run_with_store(config, shared.clone()).await {
                Ok(broker) => running.push(broker),
                Err(e) => {
                    for broker in running {
                        broker.shutdown().await;
                    }
                    return Err(e);
                }
            }
        }
        let bootstrap: Vec<String> = running.iter().map(|r| r.local_addr.to_string()).collect();
        let bootstrap = bootstrap.join(",");
        let announced = match &args.bootstrap_file {
            Some(path) => {
                write_atomically(path, &bootstrap).map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
            None => Ok(()),
        };
        if announced.is_ok() {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "{}", ready_line(&bootstrap, dir.path(), &running));
            let _ = out.flush();
            tokio::select! {
                _ = signals.recv() => tracing::info!("shutting down"),
                _ = parent_gone(parent_pid), if args.exit_with_parent => {
                    tracing::info!(parent = parent_pid, "parent process exited; shutting down")
                }
            }
        }
        // Stopped one by one, controlled (leadership moves to those still
        // up); the shared store goes with the directory.
        for broker in running {
            broker.shutdown().await;
        }
        announced
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(dir);
    result
}

/// One validated config per broker: ids 0..N-1, data in `<dir>/broker-<id>`
/// (or `dir` itself for a single broker), --port for the first and the
/// ports after it (or 0 for all).
fn broker_configs(args: &DevArgs, dir: &Path) -> Result<Vec<BrokerConfig>, String> {
    let n = args.brokers;
    (0..n)
        .map(|id| {
            let data = if n == 1 {
                dir.to_path_buf()
            } else {
                dir.join(format!("broker-{id}"))
            };
            let port = if args.port == 0 {
                0
            } else {
                args.port.checked_add(id).ok_or("--port too high for --brokers")?
            };
            let mut raw = ephemeral_properties(&data, &args.host, port);
            raw.insert("broker.id".into(), id.to_string());
            if n > 1 {
                raw.insert("default.replication.factor".into(), n.min(3).to_string());
            }
            if let Some(version) = &args.emulate_kafka_version {
                raw.insert("emulate.kafka.version".into(), version.clone());
            }
            apply_overrides(&mut raw, &args.overrides).map_err(|e| e.to_string())?;
            let mut config = ephemeral_config(&raw)?;
            config.zookeeper_connect = args.zookeeper.clone();
            Ok(config)
        })
        .collect()
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Resolves once our parent has exited (we are re-parented).
async fn parent_gone(original: u32) {
    loop {
        if std::os::unix::process::parent_id() != original {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM, SIGINT and SIGHUP, caught from creation on.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn recv(&mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
            s.as_mut()?.recv().await
        }
        tokio::select! {
            Some(()) = next(&mut self.term) => {}
            Some(()) = next(&mut self.int) => {}
            Some(()) = next(&mut self.hup) => {}
            else => { let _ = tokio::signal::ctrl_c().await; }
        }
    }
}
