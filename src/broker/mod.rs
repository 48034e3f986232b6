//! The broker: shared state ([`Broker`]), the listener and connections, the
//! dispatch to one handler per API, and the background tasks (metadata
//! sync, log flush, retention).

pub mod acls;
pub mod authorizer;
pub mod connection;
pub mod control;
pub mod dispatch;
pub mod dynamic_config;
pub mod fault_responses;
pub mod faults;
pub mod handlers;
pub mod listeners;
pub mod log_cleaner;
pub mod metrics;
pub mod partition;
pub mod partition_replica;
pub mod partition_txns;
pub mod producer_state;
mod reassignment;
mod replication;
pub mod response_errors;
pub mod server;
pub mod topic_admin;
pub mod topic_config_defs;
pub mod topic_rules;
pub mod topics;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::group::{GroupCoordinator, GroupLimits, OffsetStore};
use crate::metadata::{open_store_within, BrokerInfo, KafkaLayout, MetadataStore};

use self::metrics::BrokerMetrics;

pub use server::{run, run_with_store, RunningBroker};
pub use topics::{Topic, TopicError};

#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    pub brokers: Vec<BrokerInfo>,
    pub controller: Option<i32>,
    /// Brokers that left the live list, with their last endpoints, until
    /// they register again. Metadata still names one as leader (and lists
    /// it) while a state znode does: Kafka's metadata cache drops a dead
    /// broker and names the new leaders in one update, so clients never see
    /// a partition without a leader just because the controller has not
    /// acted yet (pykafka gives up on that).
    pub departed: Vec<BrokerInfo>,
}

/// Everything a handler may touch, shared by all connections.
pub struct Broker {
    pub config: BrokerConfig,
    pub layout: KafkaLayout,
    pub cluster_id: String,
    /// Host and port this broker advertises on its first listener.
    pub advertised: (String, u16),
    /// Every listener: security, TLS, advertised address (see `listeners`).
    pub listeners: Vec<Arc<listeners::ListenerRuntime>>,
    /// SCRAM credentials as last read from `/config/users`.
    pub credentials: crate::security::credentials::CredentialCache,
    /// How this broker reaches the others (the inter-broker listener's security).
    pub inter_broker_client: crate::security::client::ClientSecurity,
    /// ACLs as last loaded (used with `authorizer.class.name`).
    pub acls: acls::AclState,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serialises topic creation and deletion on this broker.
    topic_lock: tokio::sync::Mutex<()>,
    controller: AtomicBool,
    controller_epoch: AtomicI32,
    /// Bumped after every append so long-polling fetches wake up.
    appended: watch::Sender<u64>,
    producer_ids: tokio::sync::Mutex<(i64, i64)>,
    /// Live brokers and the controller as last read from the store: Metadata
    /// answers from this, so it keeps working while the store is away.
    cluster_view: RwLock<ClusterView>,
    /// Consumer groups this broker coordinates.
    pub groups: GroupCoordinator,
    /// Committed offsets (in the store's /consumers layout).
    pub offsets: Arc<OffsetStore>,
    /// Request, connection and traffic counters for `/metrics`.
    pub metrics: BrokerMetrics,
    /// Itself, for the tasks it spawns (follower fetchers).
    self_ref: OnceLock<Weak<Broker>>,
    /// High watermarks read from replication-offset-checkpoint at start.
    hw_checkpoint: Mutex<crate::replica::checkpoint_file::Offsets>,
    /// Set by controlled shutdown: no new follower fetchers.
    shutting_down: AtomicBool,
    /// When the controller last checked leader imbalance.
    pub(crate) last_rebalance_check: Mutex<Option<std::time::Instant>>,
    /// Dynamic broker configs (/config/brokers/<id> and <default>).
    dynamic: RwLock<Arc<dynamic_config::DynamicBrokerConfig>>,
    /// The follower-side replication throttle, shared by all fetchers.
    pub(crate) replication_throttle: crate::replica::throttle::Throttle,
    /// Faults injected for tests through the control endpoint.
    pub faults: faults::FaultRegistry,
    /// The log cleaner's state and counters (compacted topics).
    pub cleaner: log_cleaner::LogCleaner,
    /// The transaction coordinator (transactional ids this broker coordinates).
    pub transactions: crate::txn::TxnCoordinator,
    /// The API versions offered: the registry, or an emulated release's.
    pub api_table: Vec<(kafka_protocol::messages::ApiKey, i16, i16)>,
}

impl Broker {
    /// Opens the metadata store named by the config.
    pub async fn open_store(config: &BrokerConfig) -> Result<Arc<dyn MetadataStore>, String> {
        let first = config.log_dirs.first().ok_or("log.dirs is empty")?;
        let dir = first.join("__krab_metadata");
        let timeout = Duration::from_millis(config.zookeeper_session_timeout_ms);
        let connection_timeout = config
            .zookeeper_connection_timeout_ms
            .map_or(timeout, Duration::from_millis);
        open_store_within(config.zookeeper_connect.as_deref(), timeout, connection_timeout, &dir)
            .await
            .map_err(|e| match &config.zookeeper_connect {
                Some(connect) => format!("cannot connect to ZooKeeper at {connect}: {e}"),
                None => format!("cannot open the metadata store in {}: {e}", dir.display()),
            })
    }

    pub(crate) fn new(
        config: BrokerConfig,
        layout: KafkaLayout,
        cluster_id: String,
        listeners: Vec<Arc<listeners::ListenerRuntime>>,
        inter_broker_client: crate::security::client::ClientSecurity,
    ) -> Arc<Broker> {
        let advertised = listeners
            .first()
            .map(|l| l.advertised.clone())
            .unwrap_or_else(|| ("localhost".to_string(), 0));
        let (appended, _) = watch::channel(0);
        let groups = GroupCoordinator::new(GroupLimits {
            min_session_timeout_ms: config.group_min_session_timeout_ms,
            max_session_timeout_ms: config.group_max_session_timeout_ms,
            initial_rebalance_delay_ms: config.group_initial_rebalance_delay_ms,
        });
        let offsets = OffsetStore::new(layout.clone());
        let api_table = crate::protocol::emulation::api_table(config.emulate_kafka_version);
        let broker = Arc::new(Broker {
            config,
            layout,
            cluster_id,
            advertised,
            listeners,
            credentials: Default::default(),
            inter_broker_client,
            acls: Default::default(),
            topics: RwLock::new(HashMap::new()),
            topic_lock: tokio::sync::Mutex::new(()),
            controller: AtomicBool::new(false),
            controller_epoch: AtomicI32::new(0),
            appended,
            producer_ids: tokio::sync::Mutex::new((0, -1)),
            groups,
            offsets,
            cluster_view: RwLock::new(ClusterView::default()),
            metrics: BrokerMetrics::new(),
            self_ref: OnceLock::new(),
            hw_checkpoint: Mutex::new(Default::default()),
            shutting_down: AtomicBool::new(false),
            last_rebalance_check: Mutex::new(None),
            dynamic: RwLock::new(Default::default()),
            replication_throttle: Default::default(),
            faults: Default::default(),
            cleaner: log_cleaner::LogCleaner::default(),
            transactions: crate::txn::TxnCoordinator::default(),
            api_table,
        });
        let _ = broker.self_ref.set(Arc::downgrade(&broker));
        broker.load_high_watermark_checkpoints();
        broker
    }

    /// Set once controlled shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether this broker offers `version` of `api` (see `api_table`).
    pub fn offers(&self, api: kafka_protocol::messages::ApiKey, version: i16) -> bool {
        self.api_table
            .iter()
            .any(|(a, min, max)| *a == api && (*min..=*max).contains(&version))
    }

    /// The last known live brokers and controller.
    pub fn cluster_view(&self) -> ClusterView {
        self.cluster_view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads live brokers and the controller; on failure the last view
    /// stays.
    pub async fn refresh_cluster_view(&self) {
        let brokers = match self.layout.live_brokers().await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list live brokers; keeping the last known list");
                return;
            }
        };
        let controller = self.layout.controller_id().await.ok().flatten();
        let mut view = self.cluster_view.write().unwrap_or_else(|e| e.into_inner());
        let live = |id: i32| brokers.iter().any(|b| b.id == id);
        let mut departed: Vec<BrokerInfo> = view.departed.iter().filter(|b| !live(b.id)).cloned().collect();
        for gone in view.brokers.iter().filter(|b| !live(b.id)) {
            departed.retain(|b| b.id != gone.id);
            departed.push(gone.clone());
        }
        // Bounded: only the most recent departures can still be named.
        let excess = departed.len().saturating_sub(64);
        departed.drain(..excess);
        *view = ClusterView {
            brokers,
            controller,
            departed,
        };
    }

    /// The broker coordinating `group`: one of the live brokers, picked by a
    /// hash of the group id so every broker agrees; with its address on
    /// `listener` (`None` if it has no such listener).
    pub fn coordinator_for(&self, group: &str, listener: Option<&str>) -> (i32, Option<(String, u16)>) {
        let view = self.cluster_view();
        let mut brokers: Vec<&BrokerInfo> = view.brokers.iter().collect();
        brokers.sort_by_key(|b| b.id);
        if brokers.len() <= 1 || !brokers.iter().any(|b| b.id == self.config.broker_id) {
            return (self.config.broker_id, Some(self.own_address(listener)));
        }
        let pick = brokers[crc32fast::hash(group.as_bytes()) as usize % brokers.len()];
        (pick.id, self.address_for(pick, listener))
    }

    pub fn is_coordinator_for(&self, group: &str) -> bool {
        self.coordinator_for(group, None).0 == self.config.broker_id
    }

    pub fn is_controller(&self) -> bool {
        self.controller.load(Ordering::Acquire)
    }

    pub fn controller_epoch(&self) -> i32 {
        self.controller_epoch.load(Ordering::Acquire)
    }

    pub(crate) fn set_controller(&self, is_controller: bool, epoch: i32) {
        self.controller.store(is_controller, Ordering::Release);
        self.controller_epoch.store(epoch, Ordering::Release);
    }

    /// Ids of live brokers (always including this one).
    pub async fn live_broker_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = match self.layout.live_brokers().await {
            Ok(brokers) => brokers.into_iter().map(|b| b.id).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list live brokers");
                vec![]
            }
        };
        if !ids.contains(&self.config.broker_id) {
            ids.push(self.config.broker_id);
        }
        ids.sort_unstable();
        ids
    }

    /// Wakes long-polling fetches.
    pub fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// A fresh producer id, from blocks claimed in the store so ids stay
    /// unique across restarts and brokers.
    pub async fn next_producer_id(&self) -> Result<i64, String> {
        let mut block = self.producer_ids.lock().await;
        if block.0 > block.1 {
            let (start, end) = self
                .layout
                .next_producer_id_block(self.config.broker_id)
                .await
                .map_err(|e| e.to_string())?;
            *block = (start, end);
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }

    /// Every local partition.
    pub fn local_partitions(&self) -> Vec<Arc<partition::Partition>> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics
            .values()
            .flat_map(|t| t.partitions.iter().flatten().cloned())
            .collect()
    }

    /// Fsyncs every local log (clean shutdown).
    pub fn flush_all(&self) {
        for p in self.local_partitions() {
            if let Err(e) = p.flush() {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
