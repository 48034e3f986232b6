//! The group coordinator: every group's state machine behind one lock, the
//! held JoinGroup/SyncGroup requests as oneshot channels, and a timer that
//! sleeps until the earliest group deadline (see `timers`) to expire
//! sessions and end rebalances on time. DeleteGroups, DescribeGroups and
//! ListGroups first expire whatever is due, so a client that waits exactly
//! `session.timeout.ms` sees the member gone even if the timer runs late.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch, Notify};

use super::state::Group;
use super::subscriptions::GroupSubscriptions;
use super::timers::DeadlineQueue;
use super::types::*;
use crate::metadata::GroupRecord;
use crate::protocol::ErrorCode;

/// How long a group whose members are all gone stays known here (Empty,
/// with its protocol type; DeleteGroups finds it). Kafka keeps such a group
/// until its offsets-cleanup pass (offsets.retention.check.interval.ms,
/// 10 minutes by default); a group with offsets is also listed from the store.
pub const EMPTY_GROUP_RETENTION_MS: u64 = 600_000;

#[derive(Default)]
struct Inner {
    groups: HashMap<String, Group>,
    waiters: HashMap<Waiter, oneshot::Sender<Reply>>,
    timers: DeadlineQueue,
    /// When each Empty group (one that had members) is forgotten.
    emptied: HashMap<String, u64>,
}

impl Inner {
    /// After `group` changed at `now`: queue its next deadline; a group
    /// with nothing left in it is kept for [`EMPTY_GROUP_RETENTION_MS`] if it
    /// had members, else forgotten (its offsets stay in the store). Returns
    /// whether the timer must be re-armed.
    fn settle(&mut self, group_id: &str, now: u64) -> bool {
        let Some(group) = self.groups.get(group_id) else {
            self.timers.cancel(group_id);
            self.emptied.remove(group_id);
            return false;
        };
        if !group.is_idle() {
            self.emptied.remove(group_id);
            let deadline = group.next_deadline();
            return self.timers.schedule(group_id, deadline);
        }
        let had_members = group.protocol_type().is_some();
        let forget_at = *self
            .emptied
            .entry(group_id.to_string())
            .or_insert(now + EMPTY_GROUP_RETENTION_MS);
        if !had_members || forget_at <= now {
            self.groups.remove(group_id);
            self.emptied.remove(group_id);
            self.timers.cancel(group_id);
            return false;
        }
        self.timers.schedule(group_id, Some(forget_at))
    }

    /// Ticks every group whose deadline has come.
    fn expire_due(&mut self, now: u64) -> bool {
        let mut rearm = false;
        for id in self.timers.pop_due(now) {
            let replies = match self.groups.get_mut(&id) {
                Some(group) => group.tick(now),
                None => continue,
            };
            deliver(self, replies);
            rearm |= self.settle(&id, now);
        }
        rearm
    }

    fn forget(&mut self, group_id: &str) {
        self.groups.remove(group_id);
        self.emptied.remove(group_id);
        self.timers.cancel(group_id);
    }
}

pub struct GroupCoordinator {
    inner: Mutex<Inner>,
    next_waiter: AtomicU64,
    limits: GroupLimits,
    started: Instant,
    /// Wakes the timer when an earlier deadline is queued.
    rearm: Notify,
}

impl GroupCoordinator {
    pub fn new(limits: GroupLimits) -> GroupCoordinator {
        GroupCoordinator {
            inner: Mutex::new(Inner::default()),
            next_waiter: AtomicU64::new(1),
            limits,
            started: Instant::now(),
            rearm: Notify::new(),
        }
    }

    fn wake_timer_if(&self, rearm: bool) {
        if rearm {
            self.rearm.notify_one();
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the group with a fresh waiter registered, delivers every
    /// reply that became ready and waits for this request's own.
    async fn held<F>(&self, group_id: &str, create: bool, op: F) -> Option<Reply>
    where
        F: FnOnce(&mut Group, u64, Waiter) -> Replies,
    {
        let waiter = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let (mut inner, now) = self.lock_current();
            let limits = self.limits;
            let group = if create {
                inner
                    .groups
                    .entry(group_id.to_string())
                    .or_insert_with(|| Group::new(limits))
            } else {
                inner.groups.get_mut(group_id)?
            };
            let replies = op(group, now, waiter);
            inner.waiters.insert(waiter, tx);
            deliver(&mut inner, replies);
            let rearm = inner.settle(group_id, now);
            self.wake_timer_if(rearm);
        }
        rx.await.ok()
    }

    pub async fn join(&self, group_id: &str, req: JoinRequest) -> JoinResult {
        let member_id = req.member_id.clone();
        let new_id = format!("{}-{}", req.client_id, uuid_v4());
        let create = req.member_id.is_empty();
        let reply = self
            .held(group_id, create, |g, now, w| g.join(now, req, w, new_id))
            .await;
        match reply {
            Some(Reply::Join(result)) => result,
            // No such group for a member id that claims to know it.
            None => JoinResult::error(ErrorCode::UnknownMemberId, &member_id),
            Some(Reply::Sync(_)) => JoinResult::error(ErrorCode::UnknownServerError, &member_id),
        }
    }

    pub async fn sync(&self, group_id: &str, req: SyncRequest) -> SyncResult {
        match self.held(group_id, false, |g, now, w| g.sync(now, req, w)).await {
            Some(Reply::Sync(result)) => result,
            None => SyncResult::error(ErrorCode::UnknownMemberId),
            Some(Reply::Join(_)) => SyncResult::error(ErrorCode::UnknownServerError),
        }
    }

    pub fn heartbeat(&self, group_id: &str, member_id: &str, instance_id: Option<&str>, generation: i32) -> ErrorCode {
        let (mut inner, now) = self.lock_current();
        let error = match inner.groups.get_mut(group_id) {
            Some(group) => group.heartbeat(now, member_id, instance_id, generation),
            None => return ErrorCode::UnknownMemberId,
        };
        let rearm = inner.settle(group_id, now);
        self.wake_timer_if(rearm);
        error
    }

    /// Per-member errors, in the order given.
    pub fn leave(&self, group_id: &str, leaving: &[(String, Option<String>)]) -> Vec<ErrorCode> {
        let (mut inner, now) = self.lock_current();
        let Some(group) = inner.groups.get_mut(group_id) else {
            return vec![ErrorCode::UnknownMemberId; leaving.len()];
        };
        let (errors, replies) = group.leave(now, leaving);
        deliver(&mut inner, replies);
        let rearm = inner.settle(group_id, now);
        self.wake_timer_if(rearm);
        errors
    }

    /// Whether a commit may be stored. Groups the coordinator does not know
    /// take simple commits (generation < 0) only.
    pub fn check_commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> CommitCheck {
        let (mut inner, now) = self.lock_current();
        let check = match inner.groups.get_mut(group_id) {
            Some(group) => group.check_commit(now, member_id, instance_id, generation),
            None if generation < 0 => return CommitCheck::Allowed,
            None => return CommitCheck::Refused(ErrorCode::IllegalGeneration),
        };
        let rearm = inner.settle(group_id, now);
        self.wake_timer_if(rearm);
        check
    }

    /// The state with whatever is due expired, and the time: every request
    /// sees the deadlines as exact even when the timer task runs late.
    fn lock_current(&self) -> (std::sync::MutexGuard<'_, Inner>, u64) {
        let now = self.now();
        let mut inner = self.lock();
        let rearm = inner.expire_due(now);
        self.wake_timer_if(rearm);
        (inner, now)
    }

    /// The group as DescribeGroups shows it, if the coordinator has it.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.lock_current().0.groups.get(group_id).map(Group::describe)
    }

    /// The protocol of a group with members, for the record kept beside its offsets.
    pub fn record(&self, group_id: &str) -> Option<GroupRecord> {
        let inner = self.lock();
        let group = inner.groups.get(group_id)?;
        Some(GroupRecord {
            version: 1,
            protocol_type: group.protocol_type()?.to_string(),
            protocol: group.protocol_name().unwrap_or("").to_string(),
        })
    }

    /// The subscribed topics of every member (None: unknown, e.g. a
    /// protocol that is not "consumer"), for OffsetDelete.
    pub fn subscriptions(&self, group_id: &str) -> Option<GroupSubscriptions> {
        self.lock_current().0.groups.get(group_id).map(Group::subscriptions)
    }

    /// (group, protocol type, state) of every group with members.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let (inner, _) = self.lock_current();
        let mut out: Vec<_> = inner
            .groups
            .iter()
            .map(|(id, g)| (id.clone(), g.protocol_type().unwrap_or("").to_string(), g.state()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Forgets a group that has no members (DeleteGroups); NON_EMPTY_GROUP otherwise.
    pub fn delete(&self, group_id: &str) -> Result<(), ErrorCode> {
        let (mut inner, _) = self.lock_current();
        if let Some(group) = inner.groups.get_mut(group_id) {
            group.mark_dead()?;
            inner.forget(group_id);
        }
        Ok(())
    }

    /// Expires whatever is due now; returns the next deadline, if any.
    pub fn expire_due(&self) -> Option<u64> {
        let (inner, _) = self.lock_current();
        inner.timers.next()
    }

    /// Sleeps until the earliest deadline (or an earlier one is queued) and
    /// expires what is due, until `shutdown` turns true.
    pub async fn run_ticker(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let next = self.expire_due();
            // No deadline: sleep until one is queued (an hour is just a bound).
            let at = self.started + Duration::from_millis(next.unwrap_or(self.now() + 3_600_000));
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = self.rearm.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return; // the broker is gone
                    }
                }
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

fn deliver(inner: &mut Inner, replies: Replies) {
    for (waiter, reply) in replies {
        if let Some(tx) = inner.waiters.remove(&waiter) {
            // The requester may have gone (connection closed): nothing to do.
            let _ = tx.send(reply);
        }
    }
}

/// A random (version 4) UUID in its usual text form, for member ids.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
