//! Start-up, the accept loop and shutdown. Nothing listens until the
//! metadata store is open, the broker registered and the topics loaded, so a
//! client never meets a half-initialised broker.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::metadata::layout::paths;
use crate::metadata::KafkaLayout;

use super::{connection, now_ms, Broker};

/// A started broker: its bound address and a way to stop it.
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    /// The first listener's bound address.
    pub local_addr: SocketAddr,
    /// Every listener: name, security protocol, bound address.
    pub listener_addrs: Vec<(String, &'static str, SocketAddr)>,
    /// Where the offset monitor and `/metrics` are served (monitor.listener).
    pub monitor_addr: Option<SocketAddr>,
    /// Where the fault-injection control endpoint listens (control.listener).
    pub control_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    /// The metadata store is shared with other in-process brokers.
    shared_store: bool,
    tasks: Vec<JoinHandle<()>>,
    /// Released when the broker is dropped, after shutdown.
    _dir_locks: Vec<std::fs::File>,
}

impl RunningBroker {
    /// Stops accepting, lets connections finish their current request,
    /// flushes every log and closes the metadata session.
    pub async fn shutdown(self) {
        let replicated = self.broker.config.zookeeper_connect.is_some() || self.shared_store;
        if replicated && self.broker.config.controlled_shutdown_enable {
            self.broker.controlled_shutdown(Duration::from_secs(10)).await;
        }
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.broker.flush_all();
        self.broker.checkpoint_high_watermarks();
        // Leave the cluster now rather than when the session times out, but
        // do not wait long for a store that is away.
        let id = self.broker.config.broker_id;
        let broker = self.broker.clone();
        let leave = async move {
            if broker.is_controller() {
                let _ = broker.layout.resign_controller(id).await;
            }
            broker.layout.unregister_broker(id).await
        };
        match tokio::time::timeout(Duration::from_secs(3), leave).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot unregister broker"),
            Err(_) => tracing::warn!("metadata store did not answer; leaving without unregistering"),
        }
        tracing::info!("broker {} stopped", self.broker.config.broker_id);
    }
}

/// Starts a broker: store, registration, topics, then the listener.
pub async fn run(config: BrokerConfig) -> Result<RunningBroker, String> {
    run_with_store(config, None).await
}

/// Like [`run`], on a metadata store shared with other brokers of this
/// process (`krab dev --brokers N`) when `store` is given.
pub async fn run_with_store(
    config: BrokerConfig,
    store: Option<Arc<dyn crate::metadata::MetadataStore>>,
) -> Result<RunningBroker, String> {
    // Bind first (so port 0 resolves) but accept only once initialised.
    let mut bound = Vec::with_capacity(config.listeners.len());
    for listener_cfg in &config.listeners {
        let bind_host = if listener_cfg.host.is_empty() {
            "0.0.0.0".to_string()
        } else {
            listener_cfg.host.clone()
        };
        let socket = TcpListener::bind((bind_host.as_str(), listener_cfg.port))
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {bind_host}:{} ({}): {e}",
                    listener_cfg.port, listener_cfg.name
                )
            })?;
        bound.push(socket);
    }
    let local_addr = bound
        .first()
        .ok_or("no listener configured")?
        .local_addr()
        .map_err(|e| e.to_string())?;
    let mut listener_runtimes = Vec::with_capacity(bound.len());
    let mut listener_addrs = Vec::with_capacity(bound.len());
    for (index, socket) in bound.iter().enumerate() {
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let security = config
            .security
            .listeners
            .get(index)
            .cloned()
            .ok_or("listener security not resolved")?;
        let tls = match &security.tls {
            Some(settings) => Some(crate::security::tls::ReloadingTls::new(
                &security.name,
                settings.clone(),
            )?),
            None => None,
        };
        listener_addrs.push((security.name.clone(), security.protocol.name(), addr));
        listener_runtimes.push(Arc::new(super::listeners::ListenerRuntime {
            security: Arc::new(security),
            advertised: config.advertised_for_listener(index, addr.port()),
            tls,
        }));
    }
    let control = match &config.control_listener {
        Some(addr) => Some(
            TcpListener::bind(addr.as_str())
                .await
                .map_err(|e| format!("cannot listen on control.listener {addr}: {e}"))?,
        ),
        None => None,
    };
    let control_addr = control.as_ref().and_then(|l| l.local_addr().ok());

    let mut dir_locks = Vec::with_capacity(config.log_dirs.len());
    for dir in &config.log_dirs {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create log dir {}: {e}", dir.display()))?;
        dir_locks.push(lock_log_dir(dir)?);
    }
    let shared_store = store.is_some();
    let store = match store {
        Some(store) => store,
        None => Broker::open_store(&config).await?,
    };
    let layout = KafkaLayout::new(store);
    layout
        .ensure_persistent_paths()
        .await
        .map_err(|e| format!("metadata store: {e}"))?;
    let cluster_id = layout
        .get_or_create_cluster_id()
        .await
        .map_err(|e| format!("metadata store: {e}"))?;
    // A broker restarted right after kill -9 finds its previous registration
    // still there until that session expires: wait for it (as long as a
    // session lasts), then give up.
    let registration_deadline =
        tokio::time::Instant::now() + Duration::from_millis(config.zookeeper_session_timeout_ms + 2_000);
    let mut waiting_logged = false;
    let endpoints: Vec<(&str, &str, u16)> = listener_runtimes
        .iter()
        .map(|l| (l.name(), l.advertised.0.as_str(), l.advertised.1))
        .collect();
    let protocols: Vec<(&str, &str)> = listener_runtimes
        .iter()
        .map(|l| (l.name(), l.security.protocol.name()))
        .collect();
    loop {
        let registered = layout
            .register_broker_listeners(config.broker_id, &endpoints, &protocols, None)
            .await;
        match registered {
            Ok(()) => break,
            Err(crate::metadata::LayoutError::BrokerIdInUse(_))
                if tokio::time::Instant::now() < registration_deadline =>
            {
                if !waiting_logged {
                    tracing::info!(
                        id = config.broker_id,
                        "broker id still registered by a previous session; waiting for it to expire"
                    );
                    waiting_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(format!("cannot register broker {}: {e}", config.broker_id)),
        }
    }

    let inter_broker_client = crate::security::client::ClientSecurity::inter_broker(&config.security)
        .map_err(|e| format!("inter-broker listener {}: {e}", config.security.inter_broker_listener))?;
    let broker = Broker::new(
        config,
        layout,
        cluster_id,
        listener_runtimes.clone(),
        inter_broker_client,
    );
    broker.reload_dynamic_config().await;
    become_controller_if_free(&broker).await;
    broker.refresh_cluster_view().await;
    if let Err(e) = broker.sync_topics().await {
        leave_cluster(&broker).await;
        return Err(format!("loading topics: {e}"));
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = vec![
        tokio::spawn(metadata_sync_loop(broker.clone(), shutdown_rx.clone())),
        tokio::spawn(log_maintenance_loop(broker.clone(), shutdown_rx.clone())),
        tokio::spawn(replication_loop(broker.clone(), shutdown_rx.clone())),
        tokio::spawn({
            let broker = broker.clone();
            let shutdown = shutdown_rx.clone();
            async move { broker.groups.run_ticker(shutdown).await }
        }),
    ];
    tasks.push(tokio::spawn(transaction_loop(broker.clone(), shutdown_rx.clone())));
    if broker.config.security.authorizer.is_some() {
        if let Err(e) = broker.layout.ensure_acl_paths().await {
            tracing::warn!(error = %e, "cannot create the ACL znodes");
        }
        broker.reload_acls().await;
        tasks.push(tokio::spawn(super::acls::acl_loop(broker.clone(), shutdown_rx.clone())));
    }
    if broker.config.log_cleaner_enable {
        for _ in 0..broker.config.log_cleaner_threads.max(1) {
            tasks.push(tokio::spawn(super::log_cleaner::cleaner_loop(
                broker.clone(),
                shutdown_rx.clone(),
            )));
        }
    }
    let monitor_addr = match start_monitor(&broker, shutdown_rx.clone()).await {
        Ok(Some(monitor)) => {
            tasks.extend(monitor.tasks);
            Some(monitor.local_addr)
        }
        Ok(None) => None,
        Err(e) => {
            let _ = shutdown_tx.send(true);
            leave_cluster(&broker).await;
            return Err(e);
        }
    };
    if let Some(control) = control {
        tracing::warn!(addr = ?control_addr, "fault-injection control endpoint enabled (control.listener): for tests only");
        tasks.push(tokio::spawn(super::control::serve(
            control,
            Arc::downgrade(&broker),
            shutdown_rx.clone(),
        )));
    }
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (socket, runtime) in bound.into_iter().zip(listener_runtimes) {
        tasks.push(tokio::spawn(accept_loop(
            socket,
            runtime,
            open.clone(),
            broker.clone(),
            shutdown_rx.clone(),
        )));
    }
    Ok(RunningBroker {
        broker,
        local_addr,
        listener_addrs,
        monitor_addr,
        control_addr,
        shutdown: shutdown_tx,
        shared_store,
        tasks,
        _dir_locks: dir_locks,
    })
}

/// Leaves the cluster after a failed start: nothing will serve this
/// registration (or controller seat), and a shared store would keep both.
async fn leave_cluster(broker: &Broker) {
    let id = broker.config.broker_id;
    let leave = async {
        if broker.is_controller() {
            let _ = broker.layout.resign_controller(id).await;
        }
        broker.layout.unregister_broker(id).await
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), leave).await;
}

/// The offset monitor over this broker's own store, if monitor.listener is set.
async fn start_monitor(
    broker: &Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<crate::monitor::RunningMonitor>, String> {
    let config = &broker.config;
    let Some(listen) = config.monitor_listener.clone() else {
        return Ok(None);
    };
    let history_dir = match &config.monitor_history_dir {
        Some(dir) => dir.clone(),
        None => config
            .log_dirs
            .first()
            .ok_or("log.dirs is empty")?
            .join("monitor-history"),
    };
    let monitor_config = crate::monitor::MonitorConfig {
        listen,
        refresh: Duration::from_millis(config.monitor_refresh_ms),
        retain: Duration::from_millis(config.monitor_retain_ms),
        history_dir,
        protection: monitor_protection(config)?,
    };
    let (host, port) = &broker.advertised;
    let collector = crate::monitor::Collector::new(
        crate::monitor::StoreSource::Shared(broker.layout.clone()),
        Some(format!("{host}:{port}")),
    );
    // Weak: the monitor must not keep a stopped broker alive.
    let weak = Arc::downgrade(broker);
    let broker_metrics: crate::monitor::ExtraMetrics = Arc::new(move |w| {
        if let Some(broker) = weak.upgrade() {
            broker.metrics.write(&broker, w);
        }
    });
    let monitor = crate::monitor::start(monitor_config, collector, Some(broker_metrics), shutdown).await?;
    Ok(Some(monitor))
}

/// The monitor port's TLS and basic users (monitor.ssl.*, monitor.basic.auth.users).
fn monitor_protection(config: &crate::config::BrokerConfig) -> Result<crate::monitor::http::Protection, String> {
    let settings = &config.security.monitor;
    let tls = match &settings.keystore {
        None => None,
        Some(keystore) => {
            let tls = crate::security::settings::TlsSettings {
                keystore: keystore.clone(),
                truststore: None,
                client_auth: crate::security::settings::ClientAuth::None,
            };
            Some(Arc::new(crate::security::tls::ReloadingTls::new("monitor", tls)?))
        }
    };
    Ok(crate::monitor::http::Protection {
        tls,
        basic_auth_users: settings.basic_auth_users.clone(),
    })
}

/// Two brokers writing one log directory would interleave their appends;
/// like Kafka, hold an exclusive lock on `<dir>/.lock` while running.
fn lock_log_dir(dir: &std::path::Path) -> Result<std::fs::File, String> {
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "log dir {} is in use by another process (lock held on {})",
            dir.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

async fn become_controller_if_free(broker: &Broker) {
    // A broker on its way out must not take the seat it just gave up.
    if broker.is_shutting_down() {
        return;
    }
    match broker.layout.elect_controller(broker.config.broker_id).await {
        Ok(true) => {
            let epoch = broker.layout.controller_epoch().await.ok().flatten().unwrap_or(0);
            if !broker.is_controller() {
                tracing::info!(epoch, "this broker is the controller");
            }
            broker.set_controller(true, epoch);
        }
        Ok(false) => broker.set_controller(false, broker.controller_epoch()),
        Err(e) => tracing::warn!(error = %e, "controller election failed"),
    }
}

/// Accepts on one listener. `open` counts client connections over all
/// listeners, checked against max.connections as it is now (a dynamic
/// config: a lower limit refuses new connections, keeps old ones).
async fn accept_loop(
    listener: TcpListener,
    runtime: Arc<super::listeners::ListenerRuntime>,
    open: Arc<std::sync::atomic::AtomicUsize>,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let max = broker.max_connections();
                if open.load(Ordering::Acquire) >= max {
                    tracing::warn!(%peer, max, "refusing connection: max.connections reached");
                    drop(socket);
                    continue;
                }
                let permit = ConnectionSlot::take(&open);
                let _ = socket.set_nodelay(true);
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                let runtime = runtime.clone();
                connections.spawn(async move {
                    connection::accept(socket, peer, runtime, broker, shutdown).await;
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Give in-flight requests a moment, then drop the rest.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// Znodes whose children announce topic creation and deletion, deletion
/// markers, config changes and broker loss: watched so a change reaches this
/// broker in milliseconds; the periodic sync stays as the safety net.
const WATCHED_CHILDREN: [&str; 4] = [
    paths::BROKER_TOPICS,
    paths::DELETE_TOPICS,
    "/config/changes",
    paths::BROKER_IDS,
];

/// Re-arms a child watch on `path` after every change and counts the changes
/// on `changes`; without a watch (session away, node missing) it retries.
async fn watch_children(
    broker: Arc<Broker>,
    path: &'static str,
    changes: watch::Sender<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let fired = tokio::select! {
            _ = shutdown.changed() => return,
            fired = broker.layout.store().children_changed(path) => fired,
        };
        match fired {
            Ok(()) => changes.send_modify(|n| *n = n.wrapping_add(1)),
            Err(e) => {
                tracing::debug!(path, error = %e, "cannot watch; the periodic sync covers it");
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Starts a data watch on `/brokers/topics/<t>` of each known topic not
/// watched yet: partitions added (`kafka-topics --alter --partitions`,
/// CreatePartitions, a reassignment) rewrite that znode, and the watch
/// brings the change here at once instead of at the next periodic sync.
fn watch_new_topics(
    broker: &Arc<Broker>,
    watched: &Arc<Mutex<HashSet<String>>>,
    changes: &watch::Sender<u64>,
    shutdown: &watch::Receiver<bool>,
) {
    for name in broker.topic_names() {
        if !watched.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone()) {
            continue;
        }
        let (broker, watched, changes, mut shutdown) =
            (broker.clone(), watched.clone(), changes.clone(), shutdown.clone());
        tokio::spawn(async move {
            let path = format!("{}/{name}", paths::BROKER_TOPICS);
            loop {
                let fired = tokio::select! {
                    _ = shutdown.changed() => break,
                    fired = broker.layout.store().data_changed(&path) => fired,
                };
                match fired {
                    Ok(()) => changes.send_modify(|n| *n = n.wrapping_add(1)),
                    // Deleted, or no session: the sync loop starts a new watch
                    // if the topic is still there.
                    Err(_) => break,
                }
            }
            watched.lock().unwrap_or_else(|e| e.into_inner()).remove(&name);
        });
    }
}

/// Follows the store: topics created or removed elsewhere, deletion
/// markers, and the controller seat when it frees up. Runs on every watched
/// change and at least every `period`.
async fn metadata_sync_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let default_ms = if broker.config.zookeeper_connect.is_some() {
        500
    } else {
        1000
    };
    let period = Duration::from_millis(broker.config.metadata_sync_interval_ms.unwrap_or(default_ms));
    let (changes_tx, mut changes) = watch::channel(0u64);
    for path in WATCHED_CHILDREN {
        tokio::spawn(watch_children(
            broker.clone(),
            path,
            changes_tx.clone(),
            shutdown.clone(),
        ));
    }
    let watched_topics: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut failing_since: Option<std::time::Instant> = None;
    // Config notifications applied and topic incarnations seen so far.
    let mut watch = super::topic_admin::TopicWatch::default();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(period) => {}
            _ = changes.changed() => {}
        }
        changes.borrow_and_update();
        if !broker.is_controller() {
            become_controller_if_free(&broker).await;
        }
        broker.refresh_cluster_view().await;
        let synced = match broker.sync_topics().await {
            Ok(()) => broker.follow_topic_changes(&mut watch).await,
            Err(e) => Err(e),
        };
        watch_new_topics(&broker, &watched_topics, &changes_tx, &shutdown);
        match synced {
            Ok(()) => failing_since = None,
            // While the store is away, say so once, then every half minute.
            Err(e) => {
                let now = std::time::Instant::now();
                if failing_since.is_none_or(|last| now.duration_since(last) >= Duration::from_secs(30)) {
                    tracing::warn!(error = %e, "metadata sync failed; serving what is known");
                    failing_since = Some(now);
                }
            }
        }
    }
}

/// Controller rounds (on the controller), partition state sync and the
/// leader's ISR upkeep. ISR changes are checked every tick; the state
/// znodes are read every few ticks (they change rarely, and every broker
/// reads all of them).
async fn replication_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let tick = Duration::from_millis(REPLICATION_TICK_MS);
    let mut round: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        round += 1;
        if round.is_multiple_of(STATE_SYNC_EVERY) {
            if broker.is_controller() {
                crate::controller::run_round(&broker).await;
            }
            broker.sync_partition_states().await;
        }
        crate::replica::isr::maintain(&broker).await;
    }
}

const REPLICATION_TICK_MS: u64 = 100;
/// State znodes are read every this many ticks (250 ms would need a finer
/// tick; 200 ms keeps failover well inside the session timeout + 1 s).
const STATE_SYNC_EVERY: u64 = 2;

/// Transactions past their timeout, and those a lost coordinator left half-done.
async fn transaction_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(broker.config.transaction_cleanup_interval_ms.max(10));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = broker.transactions.maintain(&broker) => {}
        }
    }
}

/// Time-based flushes and retention.
async fn log_maintenance_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let retention_every = broker.config.log_retention_check_interval_ms.max(100);
    let flush_every = broker.config.log_flush_interval_ms.unwrap_or(1000).clamp(10, 1000);
    let mut last_retention = now_ms();
    let mut last_checkpoint = now_ms();
    let checkpoint_every = broker.config.replica_high_watermark_checkpoint_interval_ms as i64;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(flush_every)) => {}
        }
        let now = now_ms();
        let partitions = broker.local_partitions();
        let check_retention = now - last_retention >= retention_every as i64;
        let result = tokio::task::spawn_blocking(move || {
            for p in partitions {
                if let Err(e) = p.maybe_flush(now) {
                    tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
                }
                if let Err(e) = p.purge_deleted(now) {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "cannot remove deleted segment files");
                }
                if check_retention {
                    match p.enforce_retention(now) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(topic = %p.topic, partition = p.index, segments = n, "retention deleted segments"),
                        Err(e) => tracing::error!(topic = %p.topic, partition = p.index, error = %e, "retention failed"),
                    }
                }
            }
        })
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "log maintenance task failed");
        }
        if check_retention {
            last_retention = now;
        }
        if now - last_checkpoint >= checkpoint_every {
            last_checkpoint = now;
            let broker = broker.clone();
            let _ = tokio::task::spawn_blocking(move || {
                broker.checkpoint_high_watermarks();
                for partition in broker.local_partitions() {
                    partition.checkpoint_txn_scan_start();
                }
            })
            .await;
        }
    }
}

/// One counted client connection; the count drops when the task ends.
struct ConnectionSlot(Arc<std::sync::atomic::AtomicUsize>);

impl ConnectionSlot {
    fn take(open: &Arc<std::sync::atomic::AtomicUsize>) -> ConnectionSlot {
        open.fetch_add(1, Ordering::AcqRel);
        ConnectionSlot(open.clone())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
