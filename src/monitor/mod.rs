//! The offset monitor: KafkaOffsetMonitor's view of every consumer group,
//! built in. `krab monitor --zk ...` runs it beside a cluster; a broker with
//! `monitor.listener` serves it itself, with the broker's Prometheus metrics.
//!
//! Every `refresh` a `Collector` reads the groups (from the store when there
//! is one, else through the group APIs) and the log end offsets (ListOffsets
//! latest) into a `Snapshot`; a successful one is also appended to the
//! on-disk `History` the charts draw from. The HTTP side only reads: pages,
//! `/api/` JSON and `/metrics` all render the current snapshot.

pub mod chart;
pub mod cli;
pub mod collect;
pub mod collect_brokers;
pub mod collect_store;
pub mod duration;
pub mod history;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod pages_detail;
pub mod routes;
pub mod snapshot;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::PromWriter;
pub use collect::{Collector, StoreSource};
use history::{History, Sample};
use snapshot::Snapshot;

/// Families a broker adds to the monitor's `/metrics`.
pub type ExtraMetrics = Arc<dyn Fn(&mut PromWriter) + Send + Sync>;

#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// `host:port` to serve on (port 0: any free port).
    pub listen: String,
    pub refresh: Duration,
    pub retain: Duration,
    /// Where the history files live.
    pub history_dir: PathBuf,
    /// TLS and basic authentication (none by default).
    pub protection: http::Protection,
}

/// What the HTTP side reads.
pub struct MonitorState {
    snapshot: RwLock<Arc<Snapshot>>,
    history: Mutex<History>,
    pub source: String,
    pub refresh: Duration,
    pub retain: Duration,
    extra_metrics: Option<ExtraMetrics>,
    refreshes: AtomicU64,
    failed_refreshes: AtomicU64,
    /// How long the last refresh took, in microseconds.
    last_refresh_us: AtomicU64,
}

impl MonitorState {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn metrics_text(&self, snapshot: &Snapshot) -> String {
        let mut w = PromWriter::new();
        if let Some(extra) = &self.extra_metrics {
            extra(&mut w);
        }
        let counts = metrics::RefreshCounts {
            refreshes: self.refreshes.load(Ordering::Relaxed),
            failures: self.failed_refreshes.load(Ordering::Relaxed),
            last_refresh_seconds: self.last_refresh_us.load(Ordering::Relaxed) as f64 / 1e6,
            samples: self.history().len(),
        };
        metrics::write_monitor_metrics(&mut w, snapshot, &counts);
        w.finish()
    }
}

/// A started monitor: where it listens, and its tasks (they stop with the
/// shutdown channel given to `start`).
pub struct RunningMonitor {
    pub local_addr: SocketAddr,
    pub state: Arc<MonitorState>,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Most samples the history may hold (`retain / refresh`): each holds every
/// group's offsets, so this bounds the memory and disk the history takes.
pub const MAX_SAMPLES: u128 = 200_000;

impl MonitorConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.refresh < Duration::from_millis(100) {
            return Err("the refresh interval must be at least 100 ms".into());
        }
        if self.refresh > self.retain {
            return Err("the refresh interval must not be longer than the history kept (retain)".into());
        }
        let samples = self.retain.as_millis() / self.refresh.as_millis();
        if samples > MAX_SAMPLES {
            return Err(format!(
                "retain / refresh is {samples} samples; at most {MAX_SAMPLES} are kept (refresh less often or retain less)"
            ));
        }
        Ok(())
    }
}

/// Binds, loads the history, and starts refreshing and serving.
pub async fn start(
    config: MonitorConfig,
    collector: Collector,
    extra_metrics: Option<ExtraMetrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<RunningMonitor, String> {
    config.validate()?;
    let listener = TcpListener::bind(config.listen.as_str())
        .await
        .map_err(|e| format!("monitor cannot listen on {}: {e}", config.listen))?;
    let local_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let history = History::open(&config.history_dir, config.retain.as_millis() as i64, now_ms())?;
    tracing::info!(
        dir = %config.history_dir.display(),
        samples = history.len(),
        "monitor history loaded"
    );
    let state = Arc::new(MonitorState {
        snapshot: RwLock::new(Arc::new(Snapshot::default())),
        history: Mutex::new(history),
        source: collector.describe(),
        refresh: config.refresh,
        retain: config.retain,
        extra_metrics,
        refreshes: AtomicU64::new(0),
        failed_refreshes: AtomicU64::new(0),
        last_refresh_us: AtomicU64::new(0),
    });
    let handler_state = state.clone();
    let handler: http::Handler = Arc::new(move |request| routes::route(&handler_state, request));
    let tasks = vec![
        tokio::spawn(refresh_loop(state.clone(), collector, shutdown.clone())),
        tokio::spawn(http::serve(listener, handler, config.protection.clone(), shutdown)),
    ];
    Ok(RunningMonitor {
        local_addr,
        state,
        tasks,
    })
}

async fn refresh_loop(state: Arc<MonitorState>, mut collector: Collector, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(state.refresh);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticks.tick() => {}
        }
        let previous = state.snapshot();
        let started = std::time::Instant::now();
        let refresh = collector.refresh(&previous, now_ms());
        let mut snapshot = tokio::select! {
            _ = shutdown.changed() => return,
            snapshot = refresh => snapshot,
        };
        state.refreshes.fetch_add(1, Ordering::Relaxed);
        let took = started.elapsed().as_micros().min(u64::MAX as u128) as u64;
        state.last_refresh_us.store(took, Ordering::Relaxed);
        if snapshot.data_as_of_ms == snapshot.taken_at_ms {
            if let Err(e) = state.history().record(Sample::of(&snapshot)) {
                tracing::warn!(error = %e, "monitor history not written");
                snapshot.errors.push(e);
            }
        } else {
            state.failed_refreshes.fetch_add(1, Ordering::Relaxed);
        }
        *state.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}

pub use crate::broker::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_and_retain_are_checked() {
        let config = |refresh_ms, retain_ms| MonitorConfig {
            listen: "127.0.0.1:0".into(),
            refresh: Duration::from_millis(refresh_ms),
            retain: Duration::from_millis(retain_ms),
            history_dir: PathBuf::new(),
            protection: Default::default(),
        };
        assert!(config(5_000, 86_400_000).validate().is_ok());
        assert!(config(10, 60_000).validate().is_err());
        assert!(config(60_000, 5_000).validate().is_err());
        assert!(config(100, 86_400_000).validate().is_err());
    }
}
