//! Committed offsets, stored at `/consumers/<group>/offsets/<topic>/<partition>`
//! as plain decimals (what zkCli, Burrow and offset monitors read), with the
//! committed leader epoch and metadata beside them in krab's sibling tree
//! (see `metadata::layout_groups`), so both survive a restart. Commits are
//! coalesced: while one round of writes is in flight, later commits
//! gather, and the next round writes only the newest value per partition.
//! A commit is answered only once a round has stored its value (or a newer
//! one for the same partition). Committing the value this broker wrote for
//! that partition less than [`UNCHANGED_WINDOW`] ago writes nothing, so a
//! consumer re-committing an unchanged position every millisecond costs one
//! write per window, not one per commit.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::metadata::{GroupRecord, KafkaLayout, LayoutError, OffsetDetails};

/// How long a value this broker wrote is trusted to still be in the store.
/// A person editing the znode meanwhile wins once this has passed (and
/// always for the next consumer to start: reads go to the store).
pub const UNCHANGED_WINDOW: Duration = Duration::from_secs(1);

/// (group, topic, partition)
pub type OffsetKey = (String, String, i32);

/// One partition's commit: the offset, its leader epoch (-1: none) and metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

impl Commit {
    /// Nothing to keep beside the offset.
    fn is_plain(&self) -> bool {
        self.leader_epoch < 0 && self.metadata.is_empty()
    }
}

/// What OffsetFetch answers for a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// None when absent or not a decimal.
    pub offset: Option<i64>,
    pub leader_epoch: i32,
    pub metadata: String,
}

type Done = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Writer {
    /// Newest commit asked for per key, and who waits for it.
    pending: HashMap<OffsetKey, (Commit, Vec<Done>)>,
    /// Whether a task is draining `pending`.
    draining: bool,
    /// What this broker last stored per key, and when.
    written: HashMap<OffsetKey, (Commit, Instant)>,
    /// Keys known to have no details znode, so a plain commit needs no delete.
    plain: HashSet<OffsetKey>,
    /// Group records this broker wrote (one write per group and change).
    records: HashMap<String, GroupRecord>,
    /// Writes issued and commits answered, for tests and metrics.
    stats: OffsetStats,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffsetStats {
    pub commits: u64,
    pub writes: u64,
}

pub struct OffsetStore {
    layout: KafkaLayout,
    writer: Mutex<Writer>,
}

impl OffsetStore {
    pub fn new(layout: KafkaLayout) -> Arc<OffsetStore> {
        Arc::new(OffsetStore {
            layout,
            writer: Mutex::new(Writer::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> OffsetStats {
        self.lock().stats
    }

    /// Stores a request's commits; returns, per commit in order, once it (or
    /// a newer commit of the same partition) is in the store. An error means
    /// that commit is not acknowledged.
    pub async fn commit_many(self: &Arc<Self>, commits: Vec<(OffsetKey, Commit)>) -> Vec<Result<(), String>> {
        let mut waits = Vec::with_capacity(commits.len());
        {
            let mut w = self.lock();
            for (key, commit) in commits {
                w.stats.commits += 1;
                let fresh = w
                    .written
                    .get(&key)
                    .is_some_and(|(c, at)| *c == commit && at.elapsed() < UNCHANGED_WINDOW);
                if fresh && !w.pending.contains_key(&key) {
                    waits.push(None);
                    continue;
                }
                let (tx, rx) = oneshot::channel();
                let entry = w.pending.entry(key).or_insert((commit.clone(), Vec::new()));
                entry.0 = commit;
                entry.1.push(tx);
                waits.push(Some(rx));
            }
            if !w.pending.is_empty() && !w.draining {
                w.draining = true;
                let this = Arc::clone(self);
                tokio::spawn(async move { this.drain().await });
            }
        }
        let mut results = Vec::with_capacity(waits.len());
        for wait in waits {
            results.push(match wait {
                None => Ok(()),
                Some(rx) => rx.await.unwrap_or_else(|_| Err("offset writer stopped".into())),
            });
        }
        results
    }

    /// One commit (see [`commit_many`](Self::commit_many)).
    pub async fn commit(self: &Arc<Self>, key: OffsetKey, commit: Commit) -> Result<(), String> {
        let mut r = self.commit_many(vec![(key, commit)]).await;
        r.pop().unwrap_or_else(|| Err("no result".into()))
    }

    /// Writes rounds until nothing is pending. Runs as its own task so a
    /// client going away never abandons other clients' commits.
    async fn drain(self: Arc<Self>) {
        loop {
            let round: Vec<(OffsetKey, (Commit, Vec<Done>), bool)> = {
                let mut w = self.lock();
                if w.pending.is_empty() {
                    w.draining = false;
                    return;
                }
                w.stats.writes += w.pending.len() as u64;
                let round: Vec<_> = w.pending.drain().collect();
                // Entries past the window no longer save anything.
                w.written.retain(|_, (_, at)| at.elapsed() < UNCHANGED_WINDOW);
                // In flight: until stored, no value counts as already written.
                for (key, _) in &round {
                    w.written.remove(key);
                }
                round
                    .into_iter()
                    .map(|(key, pending)| {
                        let known_plain = w.plain.contains(&key);
                        (key, pending, known_plain)
                    })
                    .collect()
            };
            let mut writes = tokio::task::JoinSet::new();
            for (key, (commit, done), known_plain) in round {
                let layout = self.layout.clone();
                writes.spawn(async move {
                    let result = store_commit(&layout, &key, &commit, known_plain).await;
                    (key, commit, result, done)
                });
            }
            while let Some(joined) = writes.join_next().await {
                let Ok((key, commit, result, done)) = joined else {
                    continue; // a panicked write task dropped its senders: those commits see an error
                };
                let answer = match result {
                    Ok(()) => {
                        let mut w = self.lock();
                        if commit.is_plain() {
                            w.plain.insert(key.clone());
                        } else {
                            w.plain.remove(&key);
                        }
                        w.written.insert(key, (commit, Instant::now()));
                        Ok(())
                    }
                    Err(e) => {
                        tracing::warn!(group = %key.0, topic = %key.1, partition = key.2, error = %e, "offset commit not stored");
                        let mut w = self.lock();
                        w.written.remove(&key);
                        w.plain.remove(&key);
                        Err(e.to_string())
                    }
                };
                for tx in done {
                    let _ = tx.send(answer.clone());
                }
            }
        }
    }

    /// The stored offset with the leader epoch and metadata committed with
    /// it (-1 and "" when the details belong to another offset: the decimal
    /// was edited by hand, or a write of the pair was interrupted).
    pub async fn fetch(&self, group: &str, topic: &str, partition: i32) -> Result<Committed, LayoutError> {
        let (offset, details) = tokio::join!(
            self.layout.fetch_offset(group, topic, partition),
            self.layout.fetch_offset_details(group, topic, partition)
        );
        let offset = offset?;
        let details = details?.filter(|d| Some(d.offset) == offset);
        Ok(Committed {
            offset,
            leader_epoch: details.as_ref().map_or(-1, |d| d.leader_epoch),
            metadata: details.map(|d| d.metadata).unwrap_or_default(),
        })
    }

    /// Records the group's protocol once its members commit, so the group
    /// is still a consumer group when Empty, after a restart too. Failure
    /// only costs that: it is logged, and tried again on the next commit.
    pub async fn note_group(&self, group: &str, record: GroupRecord) {
        if self.lock().records.get(group) == Some(&record) {
            return;
        }
        match self.layout.write_group_record(group, &record).await {
            Ok(()) => {
                self.lock().records.insert(group.to_string(), record);
            }
            Err(e) => tracing::warn!(group, error = %e, "cannot store the group's protocol"),
        }
    }

    /// OffsetDelete: removes one partition's offset and details; whether it had one.
    pub async fn delete(&self, key: &OffsetKey) -> Result<bool, LayoutError> {
        {
            let mut w = self.lock();
            w.written.remove(key);
            w.plain.remove(key);
        }
        self.layout.delete_offset(&key.0, &key.1, key.2).await
    }

    /// The group's record is gone from the store (its last offset was deleted).
    pub fn forget_group_record(&self, group: &str) {
        self.lock().records.remove(group);
    }

    /// Forgets what this broker remembers of a group (after DeleteGroups or a reset).
    pub fn forget_group(&self, group: &str) {
        let mut w = self.lock();
        w.written.retain(|k, _| k.0 != group);
        w.plain.retain(|k| k.0 != group);
        w.records.remove(group);
    }
}

/// Writes a commit's offset and (when there is any) its details side by
/// side: each names the offset, so a reader pairs them whatever order they
/// land in. A plain commit removes stale details instead, once per key.
async fn store_commit(
    layout: &KafkaLayout,
    key: &OffsetKey,
    commit: &Commit,
    known_plain: bool,
) -> Result<(), LayoutError> {
    let (group, topic, partition) = (key.0.as_str(), key.1.as_str(), key.2);
    let offset = layout.commit_offset(group, topic, partition, commit.offset);
    let details = async {
        if !commit.is_plain() {
            let details = OffsetDetails {
                version: 1,
                offset: commit.offset,
                leader_epoch: commit.leader_epoch,
                metadata: commit.metadata.clone(),
            };
            layout.commit_offset_details(group, topic, partition, &details).await
        } else if !known_plain {
            layout.delete_offset_details(group, topic, partition).await
        } else {
            Ok(())
        }
    };
    let (offset, details) = tokio::join!(offset, details);
    offset.and(details)
}
