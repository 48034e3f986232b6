//! Session management of [`ZkStore`](super::ZkStore): connecting (with chroot creation),
//! and replacing an expired session, re-creating the ephemerals the store owns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use zookeeper_client::{Client, SessionState};

use super::{create_on, map_error, Shared, OPEN_ACL_PERSISTENT};
use crate::metadata::store::{NodeKind, SessionEvent, StoreError};

const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Attempts per ephemeral when re-creating after a new session.
const RECREATE_ATTEMPTS: usize = 5;

/// Runs a zookeeper-client future on its own task so a panic inside the client (notably
/// "no spawner" when the crate is built without its `tokio` feature) becomes an error.
async fn guarded<T: Send + 'static>(
    what: String,
    future: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::spawn(future).await {
        Ok(result) => result,
        Err(join_error) => Err(StoreError::Unavailable(format!(
            "{what}: zookeeper client task failed ({join_error}); is zookeeper-client built with features = [\"tokio\"]?"
        ))),
    }
}

/// A new session, chrooted (the chroot is created first if missing).
pub(super) async fn new_session(
    hosts: String,
    chroot: Option<String>,
    timeout: Duration,
) -> Result<Client, StoreError> {
    let what = format!("connecting to zookeeper {hosts}");
    guarded(what.clone(), async move {
        // Fail eagerly: the client's own retry backs off exponentially (a
        // ZooKeeper that comes up 7 s late would be seen seconds later); the
        // callers retry at a steady pace instead.
        let client = Client::connector()
            .with_session_timeout(timeout)
            .with_fail_eagerly()
            .connect(&hosts)
            .await
            .map_err(|e| StoreError::Unavailable(format!("{what}: {e}")))?;
        let Some(chroot) = chroot else {
            return Ok(client);
        };
        client
            .mkdir(&chroot, &OPEN_ACL_PERSISTENT)
            .await
            .map_err(|e| map_error(&chroot, e))?;
        client
            .chroot(chroot.as_str())
            .map_err(|_| StoreError::Invalid(format!("bad chroot {chroot}")))
    })
    .await
}

impl Shared {
    /// After a new session: create the remembered ephemerals again.
    pub(super) async fn recreate_ephemerals(&self) -> (Vec<String>, Vec<String>) {
        let _guard = self.ephemeral_ops.lock().await;
        let client = self.client();
        let remembered: Vec<(String, Vec<u8>)> =
            self.remembered().iter().map(|(p, d)| (p.clone(), d.clone())).collect();
        let (mut recreated, mut lost) = (Vec::new(), Vec::new());
        for (path, data) in remembered {
            let mut outcome = Err(StoreError::Unavailable("not attempted".into()));
            for attempt in 0..RECREATE_ATTEMPTS {
                outcome = create_on(&client, &path, &data, NodeKind::Ephemeral, true).await;
                match &outcome {
                    Err(StoreError::Unavailable(_)) => tokio::time::sleep(Duration::from_millis(200 << attempt)).await,
                    _ => break,
                }
            }
            if let Err(StoreError::NodeExists(_)) = outcome {
                // Created on this new session already (by a caller that ran before us)?
                if let Ok((_, stat)) = client.get_data(&path).await {
                    if stat.ephemeral_owner == client.session_id().0 {
                        outcome = Ok(path.clone());
                    }
                }
            }
            match outcome {
                Ok(_) => recreated.push(path),
                Err(error) => {
                    tracing::warn!(%path, %error, "could not re-create ephemeral znode after session expiry");
                    self.remembered().remove(&path);
                    lost.push(path);
                }
            }
        }
        (recreated, lost)
    }
}

fn is_terminal(state: SessionState) -> bool {
    matches!(
        state,
        SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
    )
}

/// Watches the session; after expiry establishes a new one and re-creates ephemerals.
pub(super) async fn supervise_session(shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        let mut watcher = shared.client().state_watcher();
        // The session may already have ended before we started watching it.
        let mut state = watcher.peek_state();
        loop {
            if !is_terminal(state) {
                state = tokio::select! {
                    _ = &mut shutdown => return,
                    state = watcher.changed() => state,
                };
            }
            let event = match state {
                SessionState::Disconnected => SessionEvent::Disconnected,
                SessionState::SyncConnected | SessionState::ConnectedReadOnly => SessionEvent::Reconnected,
                // Terminal states: only a new session helps.
                SessionState::Expired | SessionState::AuthFailed | SessionState::Closed => break,
            };
            tracing::info!(zookeeper = %shared.connect_string, ?event, "zookeeper session state changed");
            let _ = shared.events.send(event);
        }
        tracing::warn!(zookeeper = %shared.connect_string, "zookeeper session ended; establishing a new one");
        let mut backoff = Duration::from_millis(100);
        let client = loop {
            let attempt = new_session(shared.hosts.clone(), shared.chroot.clone(), shared.session_timeout);
            let result = tokio::select! {
                _ = &mut shutdown => return,
                result = attempt => result,
            };
            match result {
                Ok(client) => break client,
                Err(error) => tracing::warn!(%error, "zookeeper reconnect failed; retrying"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
        };
        *shared.client.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = client;
        let (recreated, lost) = shared.recreate_ephemerals().await;
        tracing::info!(?recreated, ?lost, "new zookeeper session established");
        let _ = shared.events.send(SessionEvent::NewSession { recreated, lost });
    }
}
