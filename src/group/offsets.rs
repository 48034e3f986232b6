//! Committed offsets, stored at `/consumers/<group>/offsets/<topic>/<partition>`
//! as plain decimals (what zkCli, Burrow and offset monitors read), with
//! commits coalesced: while one round of writes is in flight, later commits
//! gather, and the next round writes only the newest value per partition.
//! A commit is answered only once a round has stored its value (or a newer
//! one for the same partition). Committing the value this broker wrote for
//! that partition less than [`UNCHANGED_WINDOW`] ago writes nothing, so a
//! consumer re-committing an unchanged position every millisecond costs one
//! write per window, not one per commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::metadata::{KafkaLayout, LayoutError};

/// How long a value this broker wrote is trusted to still be in the store.
/// A person editing the znode meanwhile wins once this has passed (and
/// always for the next consumer to start: reads go to the store).
pub const UNCHANGED_WINDOW: Duration = Duration::from_secs(1);

/// (group, topic, partition)
pub type OffsetKey = (String, String, i32);

type Done = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Writer {
    /// Newest offset asked for per key, and who waits for it.
    pending: HashMap<OffsetKey, (i64, Vec<Done>)>,
    /// Whether a task is draining `pending`.
    draining: bool,
    /// What this broker last stored per key, and when.
    written: HashMap<OffsetKey, (i64, Instant)>,
    /// Commit metadata strings (the znode holds only the offset), with the
    /// offset they came with.
    metadata: HashMap<OffsetKey, (i64, String)>,
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
    pub async fn commit_many(
        self: &Arc<Self>,
        commits: Vec<(OffsetKey, i64, Option<String>)>,
    ) -> Vec<Result<(), String>> {
        let mut waits = Vec::with_capacity(commits.len());
        {
            let mut w = self.lock();
            for (key, offset, metadata) in commits {
                w.stats.commits += 1;
                match metadata {
                    Some(m) if !m.is_empty() => {
                        w.metadata.insert(key.clone(), (offset, m));
                    }
                    _ => {
                        w.metadata.remove(&key);
                    }
                }
                let fresh = w
                    .written
                    .get(&key)
                    .is_some_and(|(o, at)| *o == offset && at.elapsed() < UNCHANGED_WINDOW);
                if fresh && !w.pending.contains_key(&key) {
                    waits.push(None);
                    continue;
                }
                let (tx, rx) = oneshot::channel();
                let entry = w.pending.entry(key).or_insert((offset, Vec::new()));
                entry.0 = offset;
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
    pub async fn commit(self: &Arc<Self>, key: OffsetKey, offset: i64, metadata: Option<&str>) -> Result<(), String> {
        let mut r = self
            .commit_many(vec![(key, offset, metadata.map(str::to_string))])
            .await;
        r.pop().unwrap_or_else(|| Err("no result".into()))
    }

    /// Writes rounds until nothing is pending. Runs as its own task so a
    /// client going away never abandons other clients' commits.
    async fn drain(self: Arc<Self>) {
        loop {
            let round: Vec<(OffsetKey, (i64, Vec<Done>))> = {
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
            };
            let mut writes = tokio::task::JoinSet::new();
            for ((group, topic, partition), (offset, done)) in round {
                let layout = self.layout.clone();
                writes.spawn(async move {
                    let result = layout.commit_offset(&group, &topic, partition, offset).await;
                    ((group, topic, partition), offset, result, done)
                });
            }
            while let Some(joined) = writes.join_next().await {
                let Ok((key, offset, result, done)) = joined else {
                    continue; // a panicked write task dropped its senders: those commits see an error
                };
                let answer = match result {
                    Ok(()) => {
                        self.lock().written.insert(key, (offset, Instant::now()));
                        Ok(())
                    }
                    Err(e) => {
                        tracing::warn!(group = %key.0, topic = %key.1, partition = key.2, error = %e, "offset commit not stored");
                        self.lock().written.remove(&key);
                        Err(e.to_string())
                    }
                };
                for tx in done {
                    let _ = tx.send(answer.clone());
                }
            }
        }
    }

    /// The stored offset (None when absent or not a decimal) and the
    /// metadata committed with it.
    pub async fn fetch(&self, group: &str, topic: &str, partition: i32) -> Result<(Option<i64>, String), LayoutError> {
        let offset = self.layout.fetch_offset(group, topic, partition).await?;
        let key = (group.to_string(), topic.to_string(), partition);
        let metadata = match (offset, self.lock().metadata.get(&key)) {
            (Some(stored), Some((committed, m))) if stored == *committed => m.clone(),
            _ => String::new(),
        };
        Ok((offset, metadata))
    }

    /// Forgets what this broker remembers of a group (after DeleteGroups or a reset).
    pub fn forget_group(&self, group: &str) {
        let mut w = self.lock();
        w.written.retain(|k, _| k.0 != group);
        w.metadata.retain(|k, _| k.0 != group);
    }
}
