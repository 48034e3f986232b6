//! In-process znode tree, used when `zookeeper.connect` is unset.
//!
//! Persistence in `dir`:
//! * `snapshot.json` — all persistent nodes plus the last transaction id (zxid) it covers;
//!   rewritten (temp file + rename) on open and every `snapshot_every` journal entries.
//! * `journal.jsonl` — one JSON line per persistent mutation (`create`/`set`/`delete`), each
//!   with its zxid. A writer thread appends and fsyncs; callers wait for the fsync, and
//!   concurrent callers share one fsync (group commit), so ~1000 offset commits per second
//!   cost a few syncs, not a snapshot each. (Reads may see a write whose fsync is still
//!   pending; its writer has not been acknowledged yet.)
//! * `lock` — an exclusive file lock, so two brokers cannot share one directory.
//!
//! Open = load snapshot, replay journal entries newer than it (a torn last line from a crash
//! is ignored), write a fresh snapshot, truncate the journal.
//! Ephemeral nodes live only in memory: the process is the session. Their creation still
//! journals the zxid so czxids (Kafka's broker epoch) keep increasing across restarts.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use self::disk::{io_error, load_tree, run_writer, write_snapshot, JournalEntry, Payload, JOURNAL_FILE, LOCK_FILE};
use self::tree::{create_locked, now_ms, Tree};
use super::store::{parent_path, validate_path, BoxFuture, MetadataStore, NodeData, NodeKind, NodeStat, StoreError};

/// Journal entries between snapshots; bounds replay time on open.
pub const DEFAULT_SNAPSHOT_EVERY: usize = 20_000;

pub struct EmbeddedStore {
    dir: PathBuf,
    tree: Mutex<Tree>,
    /// Set once the journal could not be written: memory is then ahead of disk, so all
    /// further writes are refused.
    write_failure: Arc<OnceLock<String>>,
    writer: Option<JoinHandle<()>>,
    /// Per watched path, a counter of changes to its children, so
    /// `children_changed` wakes only for what it watches (offset commits
    /// under /consumers must not wake a topic watcher).
    child_watches: Mutex<std::collections::HashMap<String, tokio::sync::watch::Sender<u64>>>,
    /// Per watched path, a counter of changes to its own data (or its deletion).
    data_watches: Mutex<std::collections::HashMap<String, tokio::sync::watch::Sender<u64>>>,
    _lock: File,
}

type Pending = Option<oneshot::Receiver<Result<(), StoreError>>>;

async fn wait_durable(pending: Pending) -> Result<(), StoreError> {
    match pending {
        None => Ok(()),
        Some(done) => done
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("journal writer stopped".into()))),
    }
}

impl EmbeddedStore {
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_with_snapshot_interval(dir, DEFAULT_SNAPSHOT_EVERY)
    }

    /// Like [`open`](Self::open), snapshotting after `snapshot_every` journal entries.
    pub fn open_with_snapshot_interval(dir: &Path, snapshot_every: usize) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "creating", e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, "opening", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(format!(
                    "{} is in use by another store",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&lock_path, "locking", e)),
        }

        let mut tree = load_tree(dir, snapshot_every.max(1))?;
        // A fresh snapshot makes the old journal (including any torn tail) redundant.
        write_snapshot(dir, &tree.snapshot())?;
        let journal_path = dir.join(JOURNAL_FILE);
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|e| io_error(&journal_path, "opening", e))?;
        journal
            .set_len(0)
            .map_err(|e| io_error(&journal_path, "truncating", e))?;
        journal.sync_all().map_err(|e| io_error(&journal_path, "syncing", e))?;

        let write_failure = Arc::new(OnceLock::new());
        let (sender, receiver) = mpsc::channel();
        tree.journal = Some(sender);
        let writer = {
            let dir = dir.to_path_buf();
            let write_failure = Arc::clone(&write_failure);
            std::thread::Builder::new()
                .name("krab-metadata-journal".into())
                .spawn(move || run_writer(receiver, journal, dir, write_failure))
                .map_err(|e| StoreError::Unavailable(format!("spawning journal writer: {e}")))?
        };
        Ok(EmbeddedStore {
            dir: dir.to_path_buf(),
            tree: Mutex::new(tree),
            write_failure,
            writer: Some(writer),
            child_watches: Mutex::new(std::collections::HashMap::new()),
            data_watches: Mutex::new(std::collections::HashMap::new()),
            _lock: lock,
        })
    }

    /// A node was created or deleted: its parent's children changed (and,
    /// with parents created on the way, possibly an ancestor's: those are
    /// woken too; a spurious wake-up only costs a sync round).
    fn children_of_parent_changed(&self, path: &str) {
        let watches = self.child_watches.lock().unwrap_or_else(|e| e.into_inner());
        let mut node = path;
        while node != "/" {
            node = parent_path(node);
            if let Some(changes) = watches.get(node) {
                changes.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Wakes data watchers of `path` and, for a deletion, of everything under it.
    fn data_of_changed(&self, path: &str, subtree: bool) {
        let watches = self.data_watches.lock().unwrap_or_else(|e| e.into_inner());
        let bump = |changes: &tokio::sync::watch::Sender<u64>| changes.send_modify(|n| *n = n.wrapping_add(1));
        if !subtree {
            // A plain set (offset commits among them): one lookup, not a scan.
            if let Some(changes) = watches.get(path) {
                bump(changes);
            }
            return;
        }
        for (watched, changes) in watches.iter() {
            let under = watched.starts_with(path) && watched.as_bytes().get(path.len()) == Some(&b'/');
            if watched == path || under {
                bump(changes);
            }
        }
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        // A panic elsewhere while holding the lock leaves a consistent tree (all mutations
        // are checked before they start), so poisoning is ignored.
        self.tree.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn writable_tree(&self) -> Result<MutexGuard<'_, Tree>, StoreError> {
        match self.write_failure.get() {
            Some(reason) => Err(StoreError::Unavailable(format!(
                "embedded store is read-only after a write error: {reason}"
            ))),
            None => Ok(self.tree()),
        }
    }

    fn create_now(
        &self,
        path: &str,
        data: &[u8],
        kind: NodeKind,
        with_parents: bool,
    ) -> Result<(String, Pending), StoreError> {
        validate_path(path)?;
        if path == "/" {
            return Err(StoreError::NodeExists(path.to_owned()));
        }
        let mut tree = self.writable_tree()?;
        if with_parents {
            let mut missing = Vec::new();
            let mut ancestor = parent_path(path);
            while !tree.nodes.contains_key(ancestor) {
                missing.push(ancestor.to_owned());
                ancestor = parent_path(ancestor);
            }
            // Their journal lines precede the node's own and are synced in order, so
            // waiting for the node's line covers them.
            for parent in missing.into_iter().rev() {
                create_locked(&mut tree, &parent, b"", NodeKind::Persistent)?;
            }
        }
        create_locked(&mut tree, path, data, kind)
    }

    fn set_now(
        &self,
        path: &str,
        data: &[u8],
        expected_version: Option<i32>,
    ) -> Result<(NodeStat, Pending), StoreError> {
        validate_path(path)?;
        let mut tree = self.writable_tree()?;
        let zxid = tree.next_zxid();
        let node = tree
            .nodes
            .get_mut(path)
            .ok_or_else(|| StoreError::NoNode(path.to_owned()))?;
        if let Some(expected) = expected_version.filter(|v| *v != -1) {
            if expected != node.stat.version {
                return Err(StoreError::BadVersion(path.to_owned()));
            }
        }
        let mtime = now_ms();
        node.data = data.to_vec();
        node.stat.version = node.stat.version.wrapping_add(1);
        node.stat.mtime_ms = mtime;
        let stat = node.stat;
        if node.ephemeral {
            return Ok((stat, None));
        }
        let entry = JournalEntry::Set {
            zxid,
            path: path.to_owned(),
            data: Payload::from_bytes(data),
            mtime,
            version: stat.version,
        };
        Ok((stat, Some(tree.journal(&entry)?)))
    }

    fn delete_now(&self, path: &str, recursive: bool) -> Result<Pending, StoreError> {
        validate_path(path)?;
        if path == "/" {
            return Err(StoreError::Invalid("cannot delete the root node".into()));
        }
        let mut tree = self.writable_tree()?;
        let Some(node) = tree.nodes.get(path) else {
            return Ok(None);
        };
        if !recursive && !node.children.is_empty() {
            return Err(StoreError::NotEmpty(path.to_owned()));
        }
        let ephemeral = node.ephemeral;
        let zxid = tree.next_zxid();
        tree.remove_subtree(path);
        if ephemeral {
            return Ok(None);
        }
        Ok(Some(tree.journal(&JournalEntry::Delete {
            zxid,
            path: path.to_owned(),
        })?))
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the channel stops the writer after it has flushed everything queued.
        self.tree().journal = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl MetadataStore for EmbeddedStore {
    fn create(&self, path: &str, data: &[u8], kind: NodeKind) -> BoxFuture<'_, Result<String, StoreError>> {
        let result = self.create_now(path, data, kind, false);
        if let Ok((created, _)) = &result {
            self.children_of_parent_changed(created);
        }
        Box::pin(async move {
            let (created, pending) = result?;
            wait_durable(pending).await?;
            Ok(created)
        })
    }

    fn create_with_parents(
        &self,
        path: &str,
        data: &[u8],
        kind: NodeKind,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        let result = self.create_now(path, data, kind, true);
        if let Ok((created, _)) = &result {
            self.children_of_parent_changed(created);
        }
        Box::pin(async move {
            let (created, pending) = result?;
            wait_durable(pending).await?;
            Ok(created)
        })
    }

    fn get(&self, path: &str) -> BoxFuture<'_, Result<Option<NodeData>, StoreError>> {
        let result =
            validate_path(path).map(|()| self.tree().nodes.get(path).map(|node| (node.data.clone(), node.stat)));
        Box::pin(async move { result })
    }

    fn set(
        &self,
        path: &str,
        data: &[u8],
        expected_version: Option<i32>,
    ) -> BoxFuture<'_, Result<NodeStat, StoreError>> {
        let result = self.set_now(path, data, expected_version);
        if result.is_ok() {
            self.data_of_changed(path, false);
        }
        Box::pin(async move {
            let (stat, pending) = result?;
            wait_durable(pending).await?;
            Ok(stat)
        })
    }

    fn children(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<String>>, StoreError>> {
        let result = validate_path(path).map(|()| {
            self.tree()
                .nodes
                .get(path)
                .map(|node| node.children.iter().cloned().collect())
        });
        Box::pin(async move { result })
    }

    fn delete(&self, path: &str, recursive: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        let result = self.delete_now(path, recursive);
        if result.is_ok() {
            self.children_of_parent_changed(path);
            self.data_of_changed(path, recursive);
        }
        Box::pin(async move { wait_durable(result?).await })
    }

    fn children_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        let valid = validate_path(path);
        let mut changes = self
            .child_watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.to_owned())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe();
        Box::pin(async move {
            valid?;
            changes
                .changed()
                .await
                .map_err(|_| StoreError::Unavailable("embedded store closed".into()))
        })
    }

    fn data_changed(&self, path: &str) -> BoxFuture<'static, Result<(), StoreError>> {
        let mut changes = {
            let mut watches = self.data_watches.lock().unwrap_or_else(|e| e.into_inner());
            // Paths nobody watches any more (deleted topics) are forgotten.
            watches.retain(|_, changes| changes.receiver_count() > 0);
            watches
                .entry(path.to_owned())
                .or_insert_with(|| tokio::sync::watch::channel(0).0)
                .subscribe()
        };
        // As ZooKeeper: no watch on a node that does not exist (checked after
        // subscribing, so a change in between is not missed).
        let exists = validate_path(path).and_then(|()| {
            if self.tree().nodes.contains_key(path) {
                Ok(())
            } else {
                Err(StoreError::NoNode(path.to_owned()))
            }
        });
        Box::pin(async move {
            exists?;
            changes
                .changed()
                .await
                .map_err(|_| StoreError::Unavailable("embedded store closed".into()))
        })
    }

    fn describe(&self) -> String {
        format!("embedded {}", self.dir.display())
    }
}

#[path = "embedded_disk.rs"]
mod disk;
#[path = "embedded_tree.rs"]
mod tree;

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
