//! `krab monitor`: the flags of KafkaOffsetMonitor's OffsetGetterWeb
//! (`--zk`, `--port`, `--refresh 5.seconds`, `--retain 1.days`), plus
//! `--bootstrap-server` for a broker on the embedded store.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use super::duration::parse_duration;
use super::{start, Collector, MonitorConfig, RunningMonitor, StoreSource};

#[derive(Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["zk", "bootstrap_server"])))]
pub struct MonitorArgs {
    /// ZooKeeper to read groups and offsets from: HOST:PORT[,HOST:PORT...][/chroot].
    #[arg(long, visible_alias = "zookeeper", value_name = "HOST:PORT")]
    pub zk: Option<String>,
    /// A broker to ask instead (for brokers on the embedded store): HOST:PORT[,...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Port to serve the pages on (0: any free port).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Address to serve on.
    #[arg(long, default_value = "0.0.0.0")]
    pub host: String,
    /// How often to sample offsets: 5.seconds, 30s, 1.minute...
    #[arg(long, default_value = "5.seconds", value_parser = parse_duration)]
    pub refresh: Duration,
    /// How long to keep the history the charts draw: 1.days, 12h...
    #[arg(long, default_value = "1.days", value_parser = parse_duration)]
    pub retain: Duration,
    /// Directory for the history (kept across restarts).
    #[arg(long, default_value = "krab-monitor-data", value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// Starts the monitor the arguments describe.
pub async fn run(args: &MonitorArgs, shutdown: watch::Receiver<bool>) -> Result<RunningMonitor, String> {
    let store = match &args.zk {
        Some(connect) => StoreSource::Zookeeper {
            connect: connect.clone(),
            layout: None,
        },
        None => StoreSource::None,
    };
    let bootstrap = if args.zk.is_some() {
        None // the brokers registered in /brokers/ids
    } else {
        args.bootstrap_server.clone()
    };
    let config = MonitorConfig {
        listen: format!("{}:{}", args.host, args.port),
        refresh: args.refresh,
        retain: args.retain,
        history_dir: args.data_dir.clone(),
        protection: Default::default(),
    };
    start(config, Collector::new(store, bootstrap), None, shutdown).await
}
