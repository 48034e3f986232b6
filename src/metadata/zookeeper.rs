//! [`MetadataStore`] over a ZooKeeper ensemble (zookeeper-client crate), open ACL.
//!
//! Connect string: `host:port[,host:port...][/chroot]`; a missing chroot is created.
//!
//! Session expiry: ZooKeeper deletes the session's ephemeral nodes. This store remembers the
//! ephemerals it created (path and latest data) and, after it has established a new session,
//! creates them again. The outcome is broadcast as [`SessionEvent::NewSession`] (`lost` lists
//! paths now owned by another session, e.g. /controller taken by another broker), so the
//! broker can resign or re-register. Operations during the gap fail with `Unavailable`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions};

use self::session::{new_session, supervise_session};

use super::store::{
    parent_path, validate_path, BoxFuture, MetadataStore, NodeData, NodeKind, NodeStat, SessionEvent, StoreError,
};

const OPEN_ACL_PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());

pub struct ZkStore {
    shared: Arc<Shared>,
    /// Dropping it stops the session supervisor task.
    _shutdown: oneshot::Sender<()>,
}

struct Shared {
    connect_string: String,
    hosts: String,
    chroot: Option<String>,
    session_timeout: Duration,
    /// Replaced by the supervisor after session expiry.
    client: RwLock<Client>,
    /// Ephemerals this store created and their latest data, for re-creation.
    ephemerals: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Serializes ephemeral creation with re-creation, so none is missed.
    ephemeral_ops: tokio::sync::Mutex<()>,
    events: broadcast::Sender<SessionEvent>,
}

fn map_error(path: &str, error: zookeeper_client::Error) -> StoreError {
    use zookeeper_client::Error as Zk;
    match error {
        Zk::NoNode => StoreError::NoNode(path.to_owned()),
        Zk::NodeExists => StoreError::NodeExists(path.to_owned()),
        Zk::BadVersion => StoreError::BadVersion(path.to_owned()),
        Zk::NotEmpty => StoreError::NotEmpty(path.to_owned()),
        Zk::NoChildrenForEphemerals => StoreError::Invalid(format!("{path}: ephemeral parent cannot have children")),
        e @ (Zk::BadArguments(_) | Zk::InvalidAcl | Zk::NoAuth | Zk::Unimplemented | Zk::MarshallingError) => {
            StoreError::Invalid(format!("{path}: {e}"))
        }
        // Connection loss, session expiry, timeouts, throttling, closed client, ...
        other => StoreError::Unavailable(format!("{path}: {other}")),
    }
}

fn node_stat(stat: &zookeeper_client::Stat) -> NodeStat {
    NodeStat {
        version: stat.version,
        ctime_ms: stat.ctime,
        mtime_ms: stat.mtime,
        czxid: stat.czxid,
    }
}

fn create_mode(kind: NodeKind) -> CreateMode {
    match kind {
        NodeKind::Persistent => CreateMode::Persistent,
        NodeKind::Ephemeral => CreateMode::Ephemeral,
        NodeKind::PersistentSequential => CreateMode::PersistentSequential,
    }
}

/// Splits "h1:2181,h2:2181/chroot" into hosts and an optional chroot.
fn split_connect_string(connect_string: &str) -> Result<(String, Option<String>), StoreError> {
    let connect_string = connect_string.trim();
    let (hosts, chroot) = match connect_string.find('/') {
        Some(i) => (&connect_string[..i], Some(connect_string[i..].trim_end_matches('/'))),
        None => (connect_string, None),
    };
    if hosts.is_empty() {
        return Err(StoreError::Invalid(format!(
            "zookeeper connect string {connect_string:?} has no hosts"
        )));
    }
    let chroot = chroot.filter(|c| !c.is_empty()).map(str::to_owned);
    if let Some(chroot) = &chroot {
        validate_path(chroot)?;
    }
    Ok((hosts.to_owned(), chroot))
}

impl ZkStore {
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<ZkStore, StoreError> {
        Self::connect_within(connect_string, session_timeout, session_timeout).await
    }

    /// `connect`, trying every 200 ms for up to `connection_timeout`
    /// (zookeeper.connection.timeout.ms): a broker started while ZooKeeper
    /// is still coming up registers moments after it accepts clients.
    pub async fn connect_within(
        connect_string: &str,
        session_timeout: Duration,
        connection_timeout: Duration,
    ) -> Result<ZkStore, StoreError> {
        let (hosts, chroot) = split_connect_string(connect_string)?;
        let deadline = tokio::time::Instant::now() + connection_timeout;
        let client = loop {
            match new_session(hosts.clone(), chroot.clone(), session_timeout).await {
                Ok(client) => break client,
                Err(StoreError::Unavailable(why)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%why, "zookeeper not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let (events, _) = broadcast::channel(16);
        let shared = Arc::new(Shared {
            connect_string: connect_string.trim().to_owned(),
            hosts,
            chroot,
            session_timeout,
            client: RwLock::new(client),
            ephemerals: Mutex::new(BTreeMap::new()),
            ephemeral_ops: tokio::sync::Mutex::new(()),
            events,
        });
        let (shutdown, shutdown_signal) = oneshot::channel();
        tokio::spawn(supervise_session(Arc::clone(&shared), shutdown_signal));
        Ok(ZkStore {
            shared,
            _shutdown: shutdown,
        })
    }

    /// The current session (tests tell sessions apart by its id).
    #[cfg(test)]
    pub(crate) fn session_info(&self) -> zookeeper_client::SessionInfo {
        self.shared.client().session().clone()
    }
}

impl Shared {
    fn client(&self) -> Client {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.ephemerals.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn create(&self, path: &str, data: &[u8], kind: NodeKind, with_parents: bool) -> Result<String, StoreError> {
        validate_path(path)?;
        let _ephemeral_guard = match kind {
            NodeKind::Ephemeral => Some(self.ephemeral_ops.lock().await),
            _ => None,
        };
        let client = self.client();
        let created = create_on(&client, path, data, kind, with_parents).await?;
        if kind == NodeKind::Ephemeral {
            self.remembered().insert(created.clone(), data.to_vec());
        }
        Ok(created)
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<(), StoreError> {
        validate_path(path)?;
        if path == "/" {
            return Err(StoreError::Invalid("cannot delete the root node".into()));
        }
        let client = self.client();
        // Children may appear while we delete (NotEmpty); a few passes settle it.
        let mut attempts = 0;
        loop {
            let result = if recursive {
                delete_tree(&client, path).await
            } else {
                delete_one(&client, path).await
            };
            match result {
                Err(StoreError::NotEmpty(_)) if recursive && attempts < 5 => attempts += 1,
                other => break other?,
            }
        }
        let prefix = format!("{path}/");
        self.remembered().retain(|p, _| p != path && !p.starts_with(&prefix));
        Ok(())
    }
}

/// Creates a node; on connection loss for an ephemeral, checks whether it was created by
/// our session anyway (Kafka's "checked ephemeral").
async fn create_on(
    client: &Client,
    path: &str,
    data: &[u8],
    kind: NodeKind,
    with_parents: bool,
) -> Result<String, StoreError> {
    let options = create_mode(kind).with_acls(Acls::anyone_all());
    let mut made_parents = false;
    loop {
        match client.create(path, data, &options).await {
            Ok((_, sequence)) => {
                return Ok(if kind == NodeKind::PersistentSequential {
                    format!("{path}{sequence}")
                } else {
                    path.to_owned()
                })
            }
            Err(zookeeper_client::Error::NoNode) if with_parents && !made_parents => {
                made_parents = true;
                let parent = parent_path(path);
                client
                    .mkdir(parent, &OPEN_ACL_PERSISTENT)
                    .await
                    .map_err(|e| map_error(parent, e))?;
            }
            Err(zookeeper_client::Error::ConnectionLoss) if kind == NodeKind::Ephemeral => {
                let ours = match client.get_data(path).await {
                    Ok((existing, stat)) => stat.ephemeral_owner == client.session_id().0 && existing == data,
                    Err(_) => false,
                };
                return if ours {
                    Ok(path.to_owned())
                } else {
                    Err(map_error(path, zookeeper_client::Error::ConnectionLoss))
                };
            }
            Err(e) => return Err(map_error(path, e)),
        }
    }
}

async fn delete_one(client: &Client, path: &str) -> Result<(), StoreError> {
    match client.delete(path, None).await {
        Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
        Err(e) => Err(map_error(path, e)),
    }
}

/// Deletes a subtree: list it breadth-first, then delete deepest first.
async fn delete_tree(client: &Client, path: &str) -> Result<(), StoreError> {
    let mut nodes = vec![path.to_owned()];
    let mut next = 0;
    while next < nodes.len() {
        let node = nodes[next].clone();
        next += 1;
        match client.list_children(&node).await {
            Ok(children) => nodes.extend(children.iter().map(|child| super::store::child_path(&node, child))),
            Err(zookeeper_client::Error::NoNode) => {}
            Err(e) => return Err(map_error(&node, e)),
        }
    }
    for node in nodes.iter().rev() {
        delete_one(client, node).await?;
    }
    Ok(())
}

impl MetadataStore for ZkStore {
    fn create(&self, path: &str, data: &[u8], kind: NodeKind) -> BoxFuture<'_, Result<String, StoreError>> {
        let (path, data) = (path.to_owned(), data.to_vec());
        Box::pin(async move { self.shared.create(&path, &data, kind, false).await })
    }

    fn create_with_parents(
        &self,
        path: &str,
        data: &[u8],
        kind: NodeKind,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        let (path, data) = (path.to_owned(), data.to_vec());
        Box::pin(async move { self.shared.create(&path, &data, kind, true).await })
    }

    fn get(&self, path: &str) -> BoxFuture<'_, Result<Option<NodeData>, StoreError>> {
        let path = path.to_owned();
        Box::pin(async move {
            validate_path(&path)?;
            match self.shared.client().get_data(&path).await {
                Ok((data, stat)) => Ok(Some((data, node_stat(&stat)))),
                Err(zookeeper_client::Error::NoNode) => Ok(None),
                Err(e) => Err(map_error(&path, e)),
            }
        })
    }

    fn set(
        &self,
        path: &str,
        data: &[u8],
        expected_version: Option<i32>,
    ) -> BoxFuture<'_, Result<NodeStat, StoreError>> {
        let (path, data) = (path.to_owned(), data.to_vec());
        Box::pin(async move {
            validate_path(&path)?;
            let stat = self
                .shared
                .client()
                .set_data(&path, &data, expected_version)
                .await
                .map_err(|e| map_error(&path, e))?;
            if let Some(remembered) = self.shared.remembered().get_mut(&path) {
                *remembered = data;
            }
            Ok(node_stat(&stat))
        })
    }

    fn children(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<String>>, StoreError>> {
        let path = path.to_owned();
        Box::pin(async move {
            validate_path(&path)?;
            match self.shared.client().list_children(&path).await {
                Ok(mut children) => {
                    children.sort();
                    Ok(Some(children))
                }
                Err(zookeeper_client::Error::NoNode) => Ok(None),
                Err(e) => Err(map_error(&path, e)),
            }
        })
    }

    fn delete(&self, path: &str, recursive: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        let path = path.to_owned();
        Box::pin(async move { self.shared.delete(&path, recursive).await })
    }

    fn children_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        let path = path.to_owned();
        let client = self.shared.client();
        Box::pin(async move {
            validate_path(&path)?;
            let (_, _, watcher) = client
                .get_and_watch_children(&path)
                .await
                .map_err(|e| map_error(&path, e))?;
            watcher.changed().await;
            Ok(())
        })
    }

    fn data_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        let path = path.to_owned();
        let client = self.shared.client();
        Box::pin(async move {
            validate_path(&path)?;
            let (_, _, watcher) = client
                .get_and_watch_data(&path)
                .await
                .map_err(|e| map_error(&path, e))?;
            watcher.changed().await;
            Ok(())
        })
    }

    fn describe(&self) -> String {
        format!("zookeeper {}", self.shared.connect_string)
    }

    fn session_events(&self) -> broadcast::Receiver<SessionEvent> {
        self.shared.events.subscribe()
    }
}

#[path = "zookeeper_session.rs"]
mod session;

#[cfg(test)]
#[path = "zookeeper_tests.rs"]
mod tests;
