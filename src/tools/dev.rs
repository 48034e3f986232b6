//! `krab dev`: a throw-away broker for a test run. Its data lives in a fresh
//! temporary directory removed on exit, its metadata in the embedded store,
//! it may bind port 0, and once it accepts connections it prints one JSON
//! line (`{"bootstrap":"127.0.0.1:40123","data_dir":"...","pid":123}`) that
//! a test harness reads. With `--exit-with-parent` it stops when the process
//! that started it dies, so a killed test run leaves no broker behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::config::apply_overrides;
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
    /// Where to create the temporary data directory (default: $TMPDIR or /tmp).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

/// What `krab dev` prints once the broker accepts connections.
/// `control` and `monitor` appear when control.listener / monitor.listener are set.
pub fn ready_line(bootstrap: &str, data_dir: &Path, running: &crate::broker::RunningBroker) -> String {
    let mut line = serde_json::json!({
        "bootstrap": bootstrap,
        "data_dir": data_dir.display().to_string(),
        "pid": std::process::id(),
    });
    for (key, addr) in [("control", running.control_addr), ("monitor", running.monitor_addr)] {
        if let Some(addr) = addr {
            line[key] = serde_json::Value::String(addr.to_string());
        }
    }
    line.to_string()
}

/// Runs the broker until a signal (or the parent's death); returns the
/// process exit code. `default_parent` is used when --temp-dir is absent.
pub fn run(args: &DevArgs, default_parent: &Path) -> Result<(), String> {
    let parent = args.temp_dir.as_deref().unwrap_or(default_parent);
    let dir = EphemeralDir::new_in(parent).map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?;
    let mut raw = ephemeral_properties(dir.path(), &args.host, args.port);
    if let Some(version) = &args.emulate_kafka_version {
        raw.insert("emulate.kafka.version".into(), version.clone());
    }
    apply_overrides(&mut raw, &args.overrides).map_err(|e| e.to_string())?;
    let config = ephemeral_config(&raw)?;
    let parent_pid = std::os::unix::process::parent_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    let result = runtime.block_on(async {
        let running = crate::broker::run(config).await?;
        let bootstrap = running.local_addr.to_string();
        if let Some(path) = &args.bootstrap_file {
            write_atomically(path, &bootstrap).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{}", ready_line(&bootstrap, dir.path(), &running));
        let _ = out.flush();
        tokio::select! {
            _ = wait_for_signal() => tracing::info!("shutting down"),
            _ = parent_gone(parent_pid), if args.exit_with_parent => {
                tracing::info!(parent = parent_pid, "parent process exited; shutting down")
            }
        }
        running.shutdown().await;
        Ok::<(), String>(())
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(dir);
    result
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

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
    }
}
