//! ACLs in Kafka's ZooKeeper layout: `/kafka-acl/<Type>/<name>` (literal)
//! and `/kafka-acl-extended/prefixed/<Type>/<name>`, each holding
//! `{"version":1,"acls":[...]}`, with every change announced by a
//! sequential node under `/kafka-acl-changes` or
//! `/kafka-acl-extended-changes` so brokers reload at once. Writes are
//! compare-and-set on the znode version; a resource left without ACLs has
//! its znode deleted, as Kafka does. Change nodes older than 15 minutes are
//! purged by the writer.

use super::layout::{KafkaLayout, LayoutError};
use super::store::{NodeKind, StoreError};
use crate::security::acl::znode;
use crate::security::acl::{AccessControlEntry, ResourcePattern, ResourceType};

/// Attempts of one compare-and-set update before giving up.
const MAX_ATTEMPTS: usize = 20;
/// How long change notifications are kept (Kafka's changeExpirationMs).
const CHANGE_EXPIRATION_MS: i64 = 15 * 60 * 1000;

/// An ACL znode that could not be read: its path and why.
pub type MalformedAcl = (String, String);

impl KafkaLayout {
    /// Every stored ACL, by resource pattern; unreadable znodes are
    /// returned apart so the caller reports them.
    pub async fn load_acls(
        &self,
    ) -> Result<(Vec<(ResourcePattern, Vec<AccessControlEntry>)>, Vec<MalformedAcl>), LayoutError> {
        let mut found = Vec::new();
        let mut malformed = Vec::new();
        for (pattern_type, root) in znode::STORES {
            for type_dir in self.children_or_empty(root).await? {
                let Some(resource_type) = znode::parse_type_dir(&type_dir) else {
                    continue;
                };
                let Some(parent) = znode::type_path(pattern_type, resource_type) else {
                    continue;
                };
                for name in self.children_or_empty(&parent).await? {
                    let path = format!("{parent}/{name}");
                    let Some((data, _)) = self.store().get(&path).await? else {
                        continue;
                    };
                    match znode::decode_acls(&data) {
                        Ok(entries) => found.push((ResourcePattern::new(resource_type, name, pattern_type), entries)),
                        Err(reason) => malformed.push((path, reason)),
                    }
                }
            }
        }
        Ok((found, malformed))
    }

    /// Creates the ACL and change-notification parents (Kafka's createAclPaths).
    pub async fn ensure_acl_paths(&self) -> Result<(), LayoutError> {
        for path in znode::paths_to_create() {
            match self.store().create_with_parents(&path, b"", NodeKind::Persistent).await {
                Ok(_) | Err(StoreError::NodeExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The ACLs stored for exactly `pattern`.
    pub async fn resource_acls(&self, pattern: &ResourcePattern) -> Result<Vec<AccessControlEntry>, LayoutError> {
        let path = resource_path(pattern)?;
        match self.store().get(&path).await? {
            None => Ok(Vec::new()),
            Some((data, _)) => znode::decode_acls(&data).map_err(|r| super::layout::malformed(&path, r)),
        }
    }

    /// Applies `change` to the ACLs of `pattern` (compare-and-set) and
    /// announces the change. Returns the entries before and after.
    pub async fn update_acls<F>(
        &self,
        pattern: &ResourcePattern,
        mut change: F,
    ) -> Result<(Vec<AccessControlEntry>, Vec<AccessControlEntry>), LayoutError>
    where
        F: FnMut(&[AccessControlEntry]) -> Vec<AccessControlEntry>,
    {
        let path = resource_path(pattern)?;
        for _ in 0..MAX_ATTEMPTS {
            let current = self.store().get(&path).await?;
            let (before, version) = match &current {
                None => (Vec::new(), None),
                Some((data, stat)) => (
                    // A malformed znode is replaced rather than kept forever.
                    znode::decode_acls(data).unwrap_or_default(),
                    Some(stat.version),
                ),
            };
            let after = change(&before);
            if after == before {
                return Ok((before, after));
            }
            let written = match (version, after.is_empty()) {
                (None, true) => Ok(()),
                (None, false) => self
                    .store()
                    .create_with_parents(&path, &znode::encode_acls(&after), NodeKind::Persistent)
                    .await
                    .map(drop),
                // Kafka deletes the znode of a resource left without ACLs.
                (Some(_), true) => self.store().delete(&path, false).await,
                (Some(v), false) => self
                    .store()
                    .set(&path, &znode::encode_acls(&after), Some(v))
                    .await
                    .map(drop),
            };
            match written {
                Ok(()) => {
                    self.announce_acl_change(pattern).await?;
                    return Ok((before, after));
                }
                Err(StoreError::BadVersion(_) | StoreError::NodeExists(_) | StoreError::NoNode(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LayoutError::Contention(path))
    }

    async fn announce_acl_change(&self, pattern: &ResourcePattern) -> Result<(), LayoutError> {
        let Some((prefix, payload)) = znode::change_notification(pattern) else {
            return Ok(());
        };
        self.store()
            .create_with_parents(&prefix, &payload, NodeKind::PersistentSequential)
            .await?;
        self.purge_acl_changes(super::layout::now_ms()).await;
        Ok(())
    }

    /// Deletes change notifications older than 15 minutes (best effort).
    async fn purge_acl_changes(&self, now_ms: i64) {
        for root in [znode::LITERAL_CHANGE_PATH, znode::EXTENDED_CHANGE_PATH] {
            let Ok(children) = self.children_or_empty(root).await else {
                continue;
            };
            for child in children {
                let path = format!("{root}/{child}");
                if let Ok(Some((_, stat))) = self.store().get(&path).await {
                    if now_ms - stat.ctime_ms > CHANGE_EXPIRATION_MS {
                        let _ = self.store().delete(&path, false).await;
                    }
                }
            }
        }
    }
}

fn resource_path(pattern: &ResourcePattern) -> Result<String, LayoutError> {
    if pattern.resource_type == ResourceType::Any {
        return Err(LayoutError::InvalidArgument("an ACL needs a resource type".into()));
    }
    znode::resource_path(pattern)
        .ok_or_else(|| LayoutError::InvalidArgument(format!("{pattern} cannot be stored (pattern type)")))
}
