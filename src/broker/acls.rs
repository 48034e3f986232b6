//! The broker's copy of the ACLs: loaded from the metadata store at start,
//! reloaded when a change notification appears under `/kafka-acl-changes`
//! or `/kafka-acl-extended-changes` (a child watch, so a change applies
//! within milliseconds) and every few seconds besides, which also covers a
//! ZooKeeper session lost and regained. Malformed ACL znodes are reported
//! and skipped; the last good copy stays while the store is away.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::security::acl::{znode, AclCache};

use super::Broker;

/// The safety net besides the watches.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct AclState {
    cache: RwLock<Arc<AclCache>>,
}

impl AclState {
    /// The ACLs as last loaded (cheap: a shared pointer).
    pub fn snapshot(&self) -> Arc<AclCache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, cache: AclCache) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cache);
    }
}

impl Broker {
    /// Re-reads every ACL; on failure the previous copy stays.
    pub async fn reload_acls(&self) {
        match self.layout.load_acls().await {
            Ok((found, malformed)) => {
                for (path, reason) in malformed {
                    tracing::warn!(%path, %reason, "malformed ACL znode ignored");
                }
                let mut cache = AclCache::new();
                for (pattern, entries) in found {
                    cache.set(pattern, entries);
                }
                self.acls.replace(cache);
            }
            Err(e) => tracing::warn!(error = %e, "cannot load ACLs; keeping the last ones loaded"),
        }
    }
}

/// Keeps `broker.acls` current while an authorizer is configured.
pub async fn acl_loop(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let (changed_tx, mut changed) = watch::channel(0u64);
    for path in [znode::LITERAL_CHANGE_PATH, znode::EXTENDED_CHANGE_PATH] {
        let (broker, changed_tx, mut shutdown) = (broker.clone(), changed_tx.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let fired = tokio::select! {
                    _ = shutdown.changed() => return,
                    fired = broker.layout.store().children_changed(path) => fired,
                };
                if fired.is_err() {
                    // No node or no session: the periodic reload covers it.
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                changed_tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = changed.changed() => {}
            _ = tokio::time::sleep(RELOAD_EVERY) => {}
        }
        changed.borrow_and_update();
        broker.reload_acls().await;
    }
}
