//! The replication side of [`Partition`]: becoming leader or follower as the
//! state znode says, the leader's bookkeeping of follower fetches and its
//! high watermark, waiting for acks=all, and the follower's appends and
//! truncation. Kafka's rules (see shared/reference/replication.md): the high
//! watermark is the smallest log end offset in the ISR and never goes back on
//! a leader; a new leader starts a new epoch at its log end; followers
//! truncate by leader epoch, never to the high watermark alone.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use crate::log::LogError;
use crate::metadata::PartitionState;
use crate::protocol::ErrorCode;
use crate::records::split_batches;
use crate::replica::{LeaderProgress, ReplicaState, Role};

use super::partition::{read_lock, rebuild_producers, write_lock, Partition};

/// What applying a state znode asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to do (same role and epoch).
    Unchanged,
    /// Now leading (or leading in a new epoch): stop any fetcher.
    Leader,
    /// Now following `leader` (-1: no leader): (re)start the fetcher.
    Follower(i32),
}

/// An ISR change the leader wants written to the state znode.
#[derive(Debug, Clone)]
pub struct IsrChange {
    pub previous_isr: Vec<i32>,
    pub state: PartitionState,
    pub expected_version: i32,
}

impl Partition {
    pub(super) fn lock_replica(&self) -> std::sync::MutexGuard<'_, ReplicaState> {
        self.replica.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn replica_state(&self) -> ReplicaState {
        self.lock_replica().clone()
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.lock_replica().role, Role::Leader(_))
    }

    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn announce(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Raises the high watermark to `candidate` if that is higher (a
    /// leader's never goes back). Returns whether it moved.
    pub(super) fn advance_high_watermark(&self, candidate: i64) -> bool {
        let moved = self.high_watermark.fetch_max(candidate, Ordering::AcqRel) < candidate;
        if moved {
            self.announce();
        }
        moved
    }

    /// After a leader append: the high watermark follows at once when the
    /// leader is the only ISR member. Called with the log locked.
    pub(super) fn leader_appended(&self, leo: i64) {
        let candidate = match &self.lock_replica().role {
            Role::Leader(progress) => progress.isr_high_watermark(leo),
            _ => None,
        };
        if let Some(hw) = candidate {
            self.advance_high_watermark(hw);
        }
    }

    /// Applies the partition state read from (or written to) the store.
    pub fn apply_state(&self, state: &PartitionState, version: i32, replicas: &[i32], now_ms: i64) -> Transition {
        let log = read_lock(&self.log);
        let leo = log.log_end_offset();
        let mut replica = self.lock_replica();
        let me = replica.me;
        let same_epoch = replica.leader_epoch == state.leader_epoch && replica.leader == state.leader;
        let role_known = !matches!(replica.role, Role::None);
        if replica.replicas != replicas {
            replica.replicas = replicas.to_vec();
            if let Role::Leader(progress) = &mut replica.role {
                progress.set_replicas(replicas, now_ms);
            }
        }
        if same_epoch && role_known {
            // Same leadership; only a newer znode (our own ISR write, seen
            // again) updates the view.
            if version > replica.zk_version {
                replica.isr = state.isr.clone();
                replica.zk_version = version;
                replica.replicas = replicas.to_vec();
                if let Role::Leader(progress) = &mut replica.role {
                    progress.isr = state.isr.clone();
                }
            }
            return Transition::Unchanged;
        }
        if replica.leader_epoch > state.leader_epoch && role_known {
            // An older znode than what we acted on (a stale read): ignore.
            return Transition::Unchanged;
        }
        replica.leader = state.leader;
        replica.leader_epoch = state.leader_epoch;
        replica.isr = state.isr.clone();
        replica.replicas = replicas.to_vec();
        replica.zk_version = version;
        replica.controller_epoch = state.controller_epoch;
        self.leader_epoch.store(state.leader_epoch, Ordering::Release);
        let transition = if state.leader == me {
            let mut progress = LeaderProgress::new(me, replicas, &state.isr, leo, now_ms);
            if let Role::Leader(previous) = &replica.role {
                progress.carry_over(previous);
            }
            self.lock_epochs().assign(state.leader_epoch, leo);
            let hw = progress.isr_high_watermark(leo);
            replica.role = Role::Leader(Box::new(progress));
            drop(replica);
            if let Some(hw) = hw {
                self.advance_high_watermark(hw);
            }
            tracing::info!(topic = %self.topic, partition = self.index, epoch = state.leader_epoch, isr = ?state.isr, leo, "leading");
            Transition::Leader
        } else {
            replica.role = Role::Follower { leader: state.leader };
            drop(replica);
            tracing::info!(topic = %self.topic, partition = self.index, epoch = state.leader_epoch, leader = state.leader, "following");
            Transition::Follower(state.leader)
        };
        drop(log);
        self.announce();
        transition
    }

    /// The assignment changed without a new leader epoch (a reassignment
    /// adding or dropping replicas).
    pub fn set_replicas(&self, replicas: &[i32], now_ms: i64) {
        let mut replica = self.lock_replica();
        if replica.replicas == replicas {
            return;
        }
        replica.replicas = replicas.to_vec();
        if let Role::Leader(progress) = &mut replica.role {
            progress.set_replicas(replicas, now_ms);
        }
    }

    /// Waits until the high watermark covers `last_offset` (acks=all), the
    /// leadership of `epoch` ends, or `deadline` passes.
    pub async fn wait_committed(
        &self,
        last_offset: i64,
        epoch: i32,
        deadline: Instant,
        min_insync: usize,
    ) -> Result<(), ErrorCode> {
        let mut changes = self.subscribe_changes();
        loop {
            changes.borrow_and_update();
            {
                let replica = self.lock_replica();
                if replica.leader_epoch != epoch || !matches!(replica.role, Role::Leader(_)) {
                    return Err(ErrorCode::NotLeaderOrFollower);
                }
                if self.is_deleted() {
                    return Err(ErrorCode::UnknownTopicOrPartition);
                }
                if self.high_watermark() > last_offset {
                    return if replica.isr.len() < min_insync {
                        Err(ErrorCode::NotEnoughReplicasAfterAppend)
                    } else {
                        Ok(())
                    };
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return Err(ErrorCode::NotLeaderOrFollower) },
                _ = tokio::time::sleep_until(deadline) => return Err(ErrorCode::RequestTimedOut),
            }
        }
    }

    /// Checks a fetch's `current_leader_epoch` (-1: unchecked) against ours.
    pub fn check_leader_epoch(&self, requested: i32) -> Result<(), ErrorCode> {
        if requested < 0 {
            return Ok(());
        }
        let ours = self.leader_epoch();
        match requested.cmp(&ours) {
            std::cmp::Ordering::Less => Err(ErrorCode::FencedLeaderEpoch),
            std::cmp::Ordering::Greater => Err(ErrorCode::UnknownLeaderEpoch),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// A follower fetched from `fetch_offset`: record its position and move
    /// the high watermark if the ISR now allows. Returns whether it moved.
    pub fn record_follower_fetch(&self, follower: i32, fetch_offset: i64, now_ms: i64) -> Result<bool, ErrorCode> {
        let log = read_lock(&self.log);
        let leo = log.log_end_offset();
        let mut replica = self.lock_replica();
        let Role::Leader(progress) = &mut replica.role else {
            return Err(ErrorCode::NotLeaderOrFollower);
        };
        if !progress.is_replica(follower) {
            return Err(ErrorCode::NotLeaderOrFollower);
        }
        progress.record_fetch(follower, fetch_offset.min(leo), leo, now_ms);
        let hw = progress.isr_high_watermark(leo);
        drop(replica);
        drop(log);
        Ok(hw.is_some_and(|hw| self.advance_high_watermark(hw)))
    }

    /// The ISR the leader wants now (lagging members out, caught-up ones
    /// in), as the state to write, if it differs from the current one.
    pub fn wanted_isr_change(&self, now_ms: i64, lag_max_ms: i64) -> Option<IsrChange> {
        let replica = self.lock_replica();
        let Role::Leader(progress) = &replica.role else {
            return None;
        };
        let lagging = progress.lagging(now_ms, lag_max_ms);
        let joining = progress.caught_up(self.high_watermark(), now_ms, lag_max_ms);
        if lagging.is_empty() && joining.is_empty() {
            return None;
        }
        // Kafka's order: the assignment order of replicas.
        let isr: Vec<i32> = replica
            .replicas
            .iter()
            .copied()
            .filter(|r| (replica.isr.contains(r) && !lagging.contains(r)) || joining.contains(r) || *r == replica.me)
            .collect();
        Some(IsrChange {
            previous_isr: replica.isr.clone(),
            state: PartitionState {
                leader: replica.me,
                leader_epoch: replica.leader_epoch,
                isr,
                controller_epoch: replica.controller_epoch,
            },
            expected_version: replica.zk_version,
        })
    }

    /// The ISR change was written at `version`.
    pub fn isr_written(&self, change: &IsrChange, version: i32) {
        let log = read_lock(&self.log);
        let leo = log.log_end_offset();
        let mut replica = self.lock_replica();
        if replica.leader_epoch != change.state.leader_epoch {
            return;
        }
        replica.isr = change.state.isr.clone();
        replica.zk_version = version;
        let hw = match &mut replica.role {
            Role::Leader(progress) => {
                progress.isr = change.state.isr.clone();
                progress.isr_high_watermark(leo)
            }
            _ => None,
        };
        drop(replica);
        drop(log);
        if let Some(hw) = hw {
            self.advance_high_watermark(hw);
        }
        self.announce();
    }

    fn lock_epochs(&self) -> std::sync::MutexGuard<'_, crate::replica::EpochCache> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock_epochs().latest_epoch()
    }

    /// OffsetForLeaderEpoch: the largest epoch at or below `epoch` and where
    /// it ends in this log.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        let log = read_lock(&self.log);
        self.lock_epochs().end_offset_for(epoch, log.log_end_offset())
    }

    pub fn epoch_entries(&self) -> Vec<crate::replica::epoch_cache::EpochEntry> {
        self.lock_epochs().entries().to_vec()
    }

    // ---- follower side ----------------------------------------------------------------

    /// Appends batches fetched from the leader (offsets kept). Returns the
    /// number of bytes appended.
    pub fn append_replicated(&self, data: &[u8]) -> Result<usize, LogError> {
        let mut log = write_lock(&self.log);
        if self.is_deleted() {
            return Ok(0);
        }
        let mut producers = self.producers.lock().unwrap_or_else(|e| e.into_inner());
        let mut appended = 0;
        for item in split_batches(data) {
            let Ok((header, bytes)) = item else { break }; // a partial batch at the end of the response
            if header.last_offset() < log.log_end_offset() {
                continue;
            }
            let mut batch = bytes.to_vec();
            if header.is_transactional() {
                self.ensure_txn_checkpoint(&log);
            }
            log.append_replica(&mut batch)?;
            appended += batch.len();
            self.traffic
                .record_in(batch.len() as u64, u64::try_from(header.record_count).unwrap_or(0));
            if header.producer_id >= 0 {
                if header.is_control() {
                    producers.record_marker(header.producer_id, header.producer_epoch);
                } else {
                    producers.record(
                        header.producer_id,
                        header.producer_epoch,
                        header.base_sequence,
                        header.record_count,
                        header.base_offset,
                    );
                }
            }
            if header.is_transactional() {
                let control = header
                    .is_control()
                    .then(|| crate::log::control_record_type(&batch))
                    .flatten();
                let mut txns = self.lock_txns();
                if txns
                    .apply(super::partition_txns::TxnBatch::of(&header, control))
                    .is_some()
                {
                    if let Err(e) = super::partition_txns::write_aborted(log.dir(), txns.aborted()) {
                        tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot write aborted-transactions");
                    }
                }
            }
            self.lock_epochs()
                .assign(header.partition_leader_epoch, header.base_offset);
        }
        Ok(appended)
    }

    /// The follower's high watermark: the leader's, capped by our log end.
    pub fn set_follower_high_watermark(&self, leader_hw: i64) {
        let leo = self.log_end_offset();
        self.high_watermark.store(leader_hw.min(leo).max(0), Ordering::Release);
    }

    /// Drops everything from `offset` on (a follower whose log diverged).
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let mut log = write_lock(&self.log);
        if offset >= log.log_end_offset() {
            return Ok(());
        }
        tracing::info!(topic = %self.topic, partition = self.index, from = log.log_end_offset(), to = offset, "truncating");
        log.truncate_to(offset)?;
        self.after_truncation(&log);
        Ok(())
    }

    /// Empties the log and restarts it at `offset` (the leader's log starts
    /// above our end).
    pub fn restart_at(&self, offset: i64) -> Result<(), LogError> {
        let mut log = write_lock(&self.log);
        tracing::info!(topic = %self.topic, partition = self.index, offset, "restarting the log at the leader's start");
        log.restart_at(offset)?;
        self.lock_epochs().clear();
        self.lock_txns().reset();
        self.after_truncation(&log);
        Ok(())
    }

    fn after_truncation(&self, log: &crate::log::PartitionLog) {
        let leo = log.log_end_offset();
        self.lock_epochs().truncate_from_end(leo);
        self.high_watermark.fetch_min(leo, Ordering::AcqRel);
        match rebuild_producers(log) {
            Ok((p, _)) => {
                *self.producers.lock().unwrap_or_else(|e| e.into_inner()) = p;
                let mut txns = self.lock_txns();
                txns.truncate(leo);
                if let Err(e) = super::partition_txns::write_aborted(log.dir(), txns.aborted()) {
                    tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot write aborted-transactions");
                }
            }
            Err(e) => {
                tracing::error!(topic = %self.topic, partition = self.index, error = %e, "cannot rebuild producer state")
            }
        }
    }

    /// Replaces the fetch task (aborting the old one).
    pub fn set_fetcher(&self, handle: Option<tokio::task::AbortHandle>) {
        let mut slot = self.fetcher.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = slot.take() {
            old.abort();
        }
        *slot = handle;
    }
}
