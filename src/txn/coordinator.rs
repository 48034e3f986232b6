//! The transaction coordinator. Which broker coordinates a transactional id
//! is decided as for groups (a hash over the live brokers), and each id's
//! state lives in the metadata store at `/krab/transactions/<id>` (JSON
//! `TxnMetadata`), with offsets committed inside a transaction pending at
//! `/krab/transactions/<id>/offsets/<group>` until it ends. Kafka keeps this
//! in the compacted topic `__transaction_state`; krab keeps it where it
//! keeps committed offsets, so it survives restarts and the loss of the
//! coordinator's broker (another broker takes over the id and finds its
//! state) with no internal topic to replicate and reload, at one store
//! write per state change. Every write is a compare-and-set on the node's
//! version, so two brokers that both think they coordinate an id cannot
//! interleave. Requests for one id are serialised on this broker.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::markers;
use super::metadata::{EndDecision, TxnMetadata, TxnState};
use crate::broker::Broker;
use crate::group::Commit;
use crate::metadata::{MetadataStore, NodeKind, StoreError};
use crate::metrics::Counter;
use crate::protocol::ErrorCode;

pub const ROOT: &str = "/krab/transactions";

/// A name safe as one znode path segment: bytes outside `[A-Za-z0-9._-]`
/// (and the names `.` and `..`) are percent-encoded.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-') || (byte == b'.' && name != "." && name != "..")
        {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn decode_name(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(Ok(byte))) = (bytes[i], hex.map(|h| u8::from_str_radix(h, 16))) {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn txn_path(id: &str) -> String {
    format!("{ROOT}/{}", encode_name(id))
}

fn offsets_path(id: &str, group: &str) -> String {
    format!("{}/offsets/{}", txn_path(id), encode_name(group))
}

/// Offsets a transaction commits for one group, until it ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PendingOffsets {
    producer_id: i64,
    producer_epoch: i16,
    /// topic → partition → (offset, leader epoch, metadata)
    offsets: BTreeMap<String, BTreeMap<i32, (i64, i32, String)>>,
}

fn unavailable(error: StoreError) -> ErrorCode {
    tracing::warn!(%error, "transaction state unavailable");
    match error {
        StoreError::BadVersion(_) | StoreError::NodeExists(_) => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct TxnCounters {
    pub committed: Counter,
    pub aborted: Counter,
    pub timed_out: Counter,
}

#[derive(Default)]
pub struct TxnCoordinator {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub counters: TxnCounters,
}

/// Who sends a request inside a transaction, and the error that tells it
/// it was fenced (PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for old versions).
#[derive(Clone, Copy, Debug)]
pub struct TxnProducer<'a> {
    pub transactional_id: &'a str,
    pub producer_id: i64,
    pub epoch: i16,
    pub fenced: ErrorCode,
}

/// One id's state with the store version it was read at.
type Versioned = (TxnMetadata, i32);

impl TxnCoordinator {
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            if locks.len() > 10_000 {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn store(broker: &Broker) -> &Arc<dyn MetadataStore> {
        broker.layout.store()
    }

    async fn load(broker: &Broker, id: &str) -> Result<Option<Versioned>, ErrorCode> {
        let Some((data, stat)) = Self::store(broker).get(&txn_path(id)).await.map_err(unavailable)? else {
            return Ok(None);
        };
        match TxnMetadata::from_json(&data) {
            Ok(meta) => Ok(Some((meta, stat.version))),
            Err(reason) => {
                tracing::error!(transactional_id = id, %reason, "unreadable transaction state; starting afresh");
                Ok(None)
            }
        }
    }

    /// Stores `meta` over the version read (`None`: the id is new).
    async fn save(broker: &Broker, id: &str, meta: &TxnMetadata, version: Option<i32>) -> Result<i32, ErrorCode> {
        let store = Self::store(broker);
        let path = txn_path(id);
        match version {
            None => {
                store
                    .create_with_parents(&path, &meta.to_json(), NodeKind::Persistent)
                    .await
                    .map_err(unavailable)?;
                Ok(0)
            }
            Some(version) => Ok(store
                .set(&path, &meta.to_json(), Some(version))
                .await
                .map_err(unavailable)?
                .version),
        }
    }

    fn check_coordinator(broker: &Broker, id: &str) -> Result<(), ErrorCode> {
        if id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        if !broker.is_coordinator_for(id) {
            return Err(ErrorCode::NotCoordinator);
        }
        Ok(())
    }

    /// InitProducerId with a transactional id: the id's producer id with its
    /// epoch bumped, which fences any earlier producer of the id. An open
    /// transaction is aborted first (with the bumped epoch, so the old
    /// producer's writes are refused from then on).
    pub async fn init_producer_id(
        &self,
        broker: &Broker,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ErrorCode> {
        Self::check_coordinator(broker, id)?;
        let max = broker.config.transaction_max_timeout_ms;
        if timeout_ms <= 0 || i64::from(timeout_ms) > max {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let _guard = self.lock(id).await;
        let now = crate::broker::now_ms();
        let Some((mut meta, mut version)) = Self::load(broker, id).await? else {
            let producer_id = broker.next_producer_id().await.map_err(|e| {
                tracing::warn!(error = %e, "cannot allocate a producer id");
                ErrorCode::CoordinatorNotAvailable
            })?;
            let meta = TxnMetadata::new(producer_id, timeout_ms, now);
            Self::save(broker, id, &meta, None).await?;
            return Ok((producer_id, 0));
        };
        if let Some((producer_id, epoch)) = expected.filter(|(pid, _)| *pid >= 0) {
            if producer_id != meta.producer_id || epoch != meta.producer_epoch {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        if meta.state.is_preparing() {
            (meta, version) = self.complete(broker, id, meta, version).await?;
        }
        if meta.state == TxnState::Ongoing {
            (meta, version) = self.fence_and_abort(broker, id, meta, version).await?;
        }
        match meta.bumped_epoch() {
            Some(epoch) => meta.producer_epoch = epoch,
            None => {
                meta.producer_id = broker
                    .next_producer_id()
                    .await
                    .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
                meta.producer_epoch = 0;
            }
        }
        meta.state = TxnState::Empty;
        meta.timeout_ms = timeout_ms;
        meta.partitions.clear();
        meta.groups.clear();
        meta.update_ms = now;
        Self::save(broker, id, &meta, Some(version)).await?;
        Ok((meta.producer_id, meta.producer_epoch))
    }

    /// Aborts an open transaction with the epoch bumped (fencing its producer).
    async fn fence_and_abort(
        &self,
        broker: &Broker,
        id: &str,
        mut meta: TxnMetadata,
        version: i32,
    ) -> Result<Versioned, ErrorCode> {
        if let Some(epoch) = meta.bumped_epoch() {
            meta.producer_epoch = epoch;
        }
        meta.prepare(false, crate::broker::now_ms());
        let version = Self::save(broker, id, &meta, Some(version)).await?;
        self.complete(broker, id, meta, version).await
    }

    /// Writes the markers and settles the pending offsets of a transaction in
    /// PrepareCommit or PrepareAbort, then stores CompleteCommit/Abort.
    async fn complete(
        &self,
        broker: &Broker,
        id: &str,
        mut meta: TxnMetadata,
        version: i32,
    ) -> Result<Versioned, ErrorCode> {
        self.carry_out(broker, id, &meta).await?;
        meta.complete(crate::broker::now_ms());
        let version = Self::save(broker, id, &meta, Some(version)).await?;
        Ok((meta, version))
    }

    /// The effects of a decided transaction: its markers, then its offsets.
    async fn carry_out(&self, broker: &Broker, id: &str, meta: &TxnMetadata) -> Result<(), ErrorCode> {
        let commit = meta.state == TxnState::PrepareCommit;
        // The decision is durable: a marker that cannot be written now is
        // retried by the next maintenance pass; the client may retry too.
        markers::write_markers(broker, meta.producer_id, meta.producer_epoch, commit, &meta.partitions)
            .await
            .map_err(|code| {
                tracing::info!(transactional_id = id, ?code, "transaction markers not written yet");
                ErrorCode::ConcurrentTransactions
            })?;
        for group in &meta.groups {
            self.settle_offsets(broker, id, group, commit, meta.producer_id).await?;
        }
        if commit {
            self.counters.committed.inc();
        } else {
            self.counters.aborted.inc();
        }
        Ok(())
    }

    /// Commits (or drops) what TxnOffsetCommit stored for `group`.
    async fn settle_offsets(
        &self,
        broker: &Broker,
        id: &str,
        group: &str,
        commit: bool,
        producer_id: i64,
    ) -> Result<(), ErrorCode> {
        let store = Self::store(broker);
        let path = offsets_path(id, group);
        let Some((data, _)) = store.get(&path).await.map_err(unavailable)? else {
            return Ok(());
        };
        let pending: PendingOffsets = serde_json::from_slice(&data).unwrap_or_default();
        if commit && pending.producer_id == producer_id {
            let commits: Vec<_> = pending
                .offsets
                .iter()
                .flat_map(|(topic, partitions)| {
                    partitions
                        .iter()
                        .map(move |(partition, (offset, leader_epoch, metadata))| {
                            (
                                (group.to_string(), topic.clone(), *partition),
                                Commit {
                                    offset: *offset,
                                    leader_epoch: *leader_epoch,
                                    metadata: metadata.clone(),
                                },
                            )
                        })
                })
                .collect();
            for result in broker.offsets.commit_many(commits).await {
                result.map_err(|e| {
                    tracing::warn!(group, error = %e, "cannot store transactional offsets");
                    ErrorCode::CoordinatorNotAvailable
                })?;
            }
        }
        store.delete(&path, false).await.map_err(unavailable)
    }

    /// Checks the producer and loads the state for a request inside a transaction.
    async fn load_for(
        broker: &Broker,
        id: &str,
        producer_id: i64,
        epoch: i16,
        fenced: ErrorCode,
    ) -> Result<Versioned, ErrorCode> {
        Self::check_coordinator(broker, id)?;
        let (meta, version) = Self::load(broker, id)
            .await?
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        meta.check_producer(producer_id, epoch, fenced)?;
        Ok((meta, version))
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn (with `group`).
    pub async fn add(
        &self,
        broker: &Broker,
        who: TxnProducer<'_>,
        partitions: Vec<(String, i32)>,
        group: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let id = who.transactional_id;
        let _guard = self.lock(id).await;
        let (mut meta, version) = Self::load_for(broker, id, who.producer_id, who.epoch, who.fenced).await?;
        if meta.add(partitions, group, crate::broker::now_ms())? {
            Self::save(broker, id, &meta, Some(version)).await?;
        }
        Ok(())
    }

    /// EndTxn: commit or abort, markers written before the answer.
    pub async fn end(&self, broker: &Broker, who: TxnProducer<'_>, commit: bool) -> Result<(), ErrorCode> {
        let id = who.transactional_id;
        let guard = self.lock(id).await;
        let (mut meta, version) = Self::load_for(broker, id, who.producer_id, who.epoch, who.fenced).await?;
        if meta.end(commit)? == EndDecision::AlreadyDone {
            return Ok(());
        }
        meta.prepare(commit, crate::broker::now_ms());
        let version = Self::save(broker, id, &meta, Some(version)).await?;
        // As in Kafka, the transaction is decided once Prepare* is stored:
        // if its effects cannot be carried out now, maintenance finishes it.
        if let Err(code) = self.carry_out(broker, id, &meta).await {
            tracing::warn!(transactional_id = id, ?code, "transaction decided; completing it later");
            return Ok(());
        }
        // The markers and offsets are in: answer now and store Complete*
        // behind the answer, still holding the id's lock, so the producer's
        // next request waits for it rather than meeting Prepare*.
        meta.complete(crate::broker::now_ms());
        let Some(owner) = broker.arc() else {
            Self::save(broker, id, &meta, Some(version)).await?;
            return Ok(());
        };
        let id = id.to_string();
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(code) = Self::save(&owner, &id, &meta, Some(version)).await {
                tracing::warn!(transactional_id = %id, ?code, "cannot store the completed transaction; maintenance will");
            }
        });
        Ok(())
    }

    /// TxnOffsetCommit (at the group's coordinator): the offsets wait in the
    /// store until the transaction ends.
    pub async fn stage_offsets(
        &self,
        broker: &Broker,
        id: &str,
        group: &str,
        producer_id: i64,
        epoch: i16,
        offsets: Vec<(String, i32, Commit)>,
    ) -> Result<(), ErrorCode> {
        // Checked against the transaction's own state, wherever it is coordinated.
        let (meta, _) = Self::load(broker, id)
            .await?
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        meta.check_producer(producer_id, epoch, ErrorCode::ProducerFenced)?;
        if meta.state != TxnState::Ongoing || !meta.groups.contains(group) {
            return Err(ErrorCode::InvalidTxnState);
        }
        let store = Self::store(broker);
        let path = offsets_path(id, group);
        let _guard = self.lock(&format!("{id}\u{0}{group}")).await;
        let (mut pending, version) = match store.get(&path).await.map_err(unavailable)? {
            Some((data, stat)) => (serde_json::from_slice(&data).unwrap_or_default(), Some(stat.version)),
            None => (PendingOffsets::default(), None),
        };
        if pending.producer_id != producer_id || pending.producer_epoch != epoch {
            pending = PendingOffsets {
                producer_id,
                producer_epoch: epoch,
                offsets: BTreeMap::new(),
            };
        }
        for (topic, partition, commit) in offsets {
            pending
                .offsets
                .entry(topic)
                .or_default()
                .insert(partition, (commit.offset, commit.leader_epoch, commit.metadata));
        }
        let data = serde_json::to_vec(&pending).unwrap_or_default();
        match version {
            Some(v) => store.set(&path, &data, Some(v)).await.map(|_| ()),
            None => store
                .create_with_parents(&path, &data, NodeKind::Persistent)
                .await
                .map(|_| ()),
        }
        .map_err(unavailable)
    }

    /// DescribeTransactions: the state of an id this broker coordinates.
    pub async fn describe(&self, broker: &Broker, id: &str) -> Result<TxnMetadata, ErrorCode> {
        Self::check_coordinator(broker, id)?;
        Self::load(broker, id)
            .await?
            .map(|(meta, _)| meta)
            .ok_or(ErrorCode::TransactionalIdNotFound)
    }

    /// The ids this broker coordinates, with their state.
    pub async fn list(&self, broker: &Broker) -> Result<Vec<(String, TxnMetadata)>, ErrorCode> {
        let names = Self::store(broker)
            .children(ROOT)
            .await
            .map_err(unavailable)?
            .unwrap_or_default();
        let mut out = Vec::new();
        for name in names {
            let id = decode_name(&name);
            if !broker.is_coordinator_for(&id) {
                continue;
            }
            if let Some((meta, _)) = Self::load(broker, &id).await? {
                out.push((id, meta));
            }
        }
        Ok(out)
    }

    /// The periodic pass (transaction.abort.timed.out.transaction.cleanup.interval.ms):
    /// finishes transactions a previous coordinator left half-done, aborts
    /// those open past their timeout (fencing their producer), and forgets
    /// ids idle for transactional.id.expiration.ms.
    pub async fn maintain(&self, broker: &Broker) {
        let names = match Self::store(broker).children(ROOT).await {
            Ok(names) => names.unwrap_or_default(),
            Err(e) => {
                tracing::debug!(error = %e, "cannot list transactional ids");
                return;
            }
        };
        for name in names {
            let id = decode_name(&name);
            if !broker.is_coordinator_for(&id) {
                continue;
            }
            if let Err(code) = self.maintain_one(broker, &id).await {
                tracing::info!(transactional_id = %id, ?code, "transaction maintenance will retry");
            }
        }
    }

    async fn maintain_one(&self, broker: &Broker, id: &str) -> Result<(), ErrorCode> {
        let _guard = self.lock(id).await;
        let Some((meta, version)) = Self::load(broker, id).await? else {
            return Ok(());
        };
        let now = crate::broker::now_ms();
        if meta.state.is_preparing() {
            tracing::info!(
                transactional_id = id,
                state = meta.state.name(),
                "completing a transaction left half-done"
            );
            self.complete(broker, id, meta, version).await?;
        } else if meta.expired(now) {
            tracing::info!(
                transactional_id = id,
                producer_id = meta.producer_id,
                timeout_ms = meta.timeout_ms,
                "aborting a transaction past its timeout"
            );
            self.counters.timed_out.inc();
            self.fence_and_abort(broker, id, meta, version).await?;
        } else if meta.state.is_idle()
            && now.saturating_sub(meta.update_ms) > broker.config.transactional_id_expiration_ms
        {
            tracing::info!(transactional_id = id, "forgetting an expired transactional id");
            Self::store(broker)
                .delete(&txn_path(id), true)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_as_safe_path_segments() {
        for name in ["app-1.txn_2", "a/b c", ".", "..", "ünï%", "x.y"] {
            let encoded = encode_name(name);
            assert!(!encoded.contains('/') && encoded != "." && encoded != "..", "{encoded}");
            assert_eq!(decode_name(&encoded), name);
        }
        assert_eq!(encode_name("app-1.txn_2"), "app-1.txn_2");
        assert_eq!(encode_name("a/b"), "a%2Fb");
    }
}
