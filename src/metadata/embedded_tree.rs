//! The embedded store's in-memory znode tree and how mutations become journal entries.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::disk::{JournalEntry, Payload, Snapshot, SnapshotNode, WriterCommand, SNAPSHOT_FORMAT};
use super::Pending;
use crate::metadata::store::{parent_path, sequential_name, validate_path, NodeKind, NodeStat, StoreError};

pub(super) struct Node {
    pub(super) data: Vec<u8>,
    pub(super) stat: NodeStat,
    pub(super) ephemeral: bool,
    pub(super) children: BTreeSet<String>,
    /// Counter for sequential children (ZooKeeper uses the parent's cversion; only
    /// monotonicity and the 10-digit format matter).
    pub(super) next_sequence: i64,
}

impl Node {
    pub(super) fn new(data: Vec<u8>, stat: NodeStat, ephemeral: bool) -> Node {
        Node {
            data,
            stat,
            ephemeral,
            children: BTreeSet::new(),
            next_sequence: 0,
        }
    }
}

pub(super) struct Tree {
    /// Keyed by full path; BTreeMap order puts parents before their descendants.
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) last_zxid: i64,
    pub(super) entries_since_snapshot: usize,
    pub(super) snapshot_every: usize,
    /// Sent to while the tree is locked, so journal order equals apply order.
    pub(super) journal: Option<mpsc::Sender<WriterCommand>>,
}

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Tree {
    pub(super) fn new(snapshot_every: usize) -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_owned(), Node::new(Vec::new(), NodeStat::default(), false));
        Tree {
            nodes,
            last_zxid: 0,
            entries_since_snapshot: 0,
            snapshot_every,
            journal: None,
        }
    }

    pub(super) fn next_zxid(&mut self) -> i64 {
        self.last_zxid += 1;
        self.last_zxid
    }

    /// Inserts a node under an existing, non-ephemeral parent.
    pub(super) fn insert(&mut self, path: &str, node: Node, sequence: Option<i64>) -> Result<(), StoreError> {
        if self.nodes.contains_key(path) {
            return Err(StoreError::NodeExists(path.to_owned()));
        }
        let parent = parent_path(path);
        let name = &path[parent.len() + usize::from(parent != "/")..];
        let parent_node = self
            .nodes
            .get_mut(parent)
            .ok_or_else(|| StoreError::NoNode(path.to_owned()))?;
        if parent_node.ephemeral {
            return Err(StoreError::Invalid(format!(
                "{path}: ephemeral node {parent} cannot have children"
            )));
        }
        parent_node.children.insert(name.to_owned());
        if let Some(sequence) = sequence {
            parent_node.next_sequence = parent_node.next_sequence.max(sequence + 1);
        }
        self.last_zxid = self.last_zxid.max(node.stat.czxid);
        self.nodes.insert(path.to_owned(), node);
        Ok(())
    }

    pub(super) fn remove_subtree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let descendants: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for descendant in descendants {
            self.nodes.remove(&descendant);
        }
        if self.nodes.remove(path).is_some() {
            let parent = parent_path(path);
            let name = &path[parent.len() + usize::from(parent != "/")..];
            if let Some(parent_node) = self.nodes.get_mut(parent) {
                parent_node.children.remove(name);
            }
        }
    }

    /// Re-applies a journal entry on open.
    pub(super) fn replay(&mut self, entry: JournalEntry) -> Result<(), String> {
        self.last_zxid = self.last_zxid.max(entry.zxid());
        match entry {
            JournalEntry::Create {
                zxid,
                path,
                data,
                ctime,
                sequence,
            } => {
                validate_path(&path).map_err(|e| e.to_string())?;
                let stat = NodeStat {
                    version: 0,
                    ctime_ms: ctime,
                    mtime_ms: ctime,
                    czxid: zxid,
                };
                self.insert(&path, Node::new(data.to_bytes()?, stat, false), sequence)
                    .map_err(|e| e.to_string())
            }
            JournalEntry::Set {
                path,
                data,
                mtime,
                version,
                ..
            } => {
                let node = self
                    .nodes
                    .get_mut(&path)
                    .ok_or_else(|| format!("set of missing node {path}"))?;
                node.data = data.to_bytes()?;
                node.stat.version = version;
                node.stat.mtime_ms = mtime;
                Ok(())
            }
            JournalEntry::Delete { path, .. } => {
                validate_path(&path).map_err(|e| e.to_string())?;
                if path == "/" {
                    return Err("delete of the root".into());
                }
                self.remove_subtree(&path);
                Ok(())
            }
            JournalEntry::Zxid { .. } => Ok(()),
        }
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let nodes = self
            .nodes
            .iter()
            .filter(|(_, node)| !node.ephemeral)
            .map(|(path, node)| SnapshotNode {
                path: path.clone(),
                data: Payload::from_bytes(&node.data),
                version: node.stat.version,
                ctime: node.stat.ctime_ms,
                mtime: node.stat.mtime_ms,
                czxid: node.stat.czxid,
                next_sequence: node.next_sequence,
            })
            .collect();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            last_zxid: self.last_zxid,
            nodes,
        }
    }

    pub(super) fn from_snapshot(snapshot: Snapshot, snapshot_every: usize) -> Result<Tree, String> {
        if snapshot.format != SNAPSHOT_FORMAT {
            return Err(format!("unsupported snapshot format {}", snapshot.format));
        }
        let mut tree = Tree::new(snapshot_every);
        for entry in snapshot.nodes {
            validate_path(&entry.path).map_err(|e| e.to_string())?;
            let stat = NodeStat {
                version: entry.version,
                ctime_ms: entry.ctime,
                mtime_ms: entry.mtime,
                czxid: entry.czxid,
            };
            let mut node = Node::new(entry.data.to_bytes()?, stat, false);
            node.next_sequence = entry.next_sequence;
            if entry.path == "/" {
                let root = tree.nodes.get_mut("/").ok_or("root missing")?;
                root.data = node.data;
                root.stat = node.stat;
                root.next_sequence = node.next_sequence;
            } else {
                tree.insert(&entry.path, node, None).map_err(|e| e.to_string())?;
            }
        }
        tree.last_zxid = tree.last_zxid.max(snapshot.last_zxid);
        Ok(tree)
    }

    /// Queues a journal line; the returned receiver resolves once it is fsynced.
    pub(super) fn journal(
        &mut self,
        entry: &JournalEntry,
    ) -> Result<oneshot::Receiver<Result<(), StoreError>>, StoreError> {
        let sender = self
            .journal
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("embedded store closed".into()))?;
        let mut line = serde_json::to_vec(entry).map_err(|e| StoreError::Invalid(format!("journal encode: {e}")))?;
        line.push(b'\n');
        let (ack, done) = oneshot::channel();
        let closed = || StoreError::Unavailable("embedded store journal writer stopped".into());
        sender.send(WriterCommand::Append { line, ack }).map_err(|_| closed())?;
        self.entries_since_snapshot += 1;
        if self.entries_since_snapshot >= self.snapshot_every {
            self.entries_since_snapshot = 0;
            sender
                .send(WriterCommand::Snapshot(self.snapshot()))
                .map_err(|_| closed())?;
        }
        Ok(done)
    }
}

pub(super) fn create_locked(
    tree: &mut Tree,
    path: &str,
    data: &[u8],
    kind: NodeKind,
) -> Result<(String, Pending), StoreError> {
    let parent = parent_path(path);
    let parent_node = tree
        .nodes
        .get(parent)
        .ok_or_else(|| StoreError::NoNode(path.to_owned()))?;
    let (created, sequence) = match kind {
        NodeKind::PersistentSequential => {
            let counter = parent_node.next_sequence;
            (sequential_name(path, counter), Some(counter))
        }
        NodeKind::Persistent | NodeKind::Ephemeral => (path.to_owned(), None),
    };
    if tree.nodes.contains_key(&created) {
        return Err(StoreError::NodeExists(created));
    }
    let zxid = tree.next_zxid();
    let ctime = now_ms();
    let stat = NodeStat {
        version: 0,
        ctime_ms: ctime,
        mtime_ms: ctime,
        czxid: zxid,
    };
    let ephemeral = kind == NodeKind::Ephemeral;
    tree.insert(&created, Node::new(data.to_vec(), stat, ephemeral), sequence)?;
    let entry = if ephemeral {
        JournalEntry::Zxid { zxid }
    } else {
        JournalEntry::Create {
            zxid,
            path: created.clone(),
            data: Payload::from_bytes(data),
            ctime,
            sequence,
        }
    };
    let pending = tree.journal(&entry)?;
    Ok((created, Some(pending)))
}
