//! The group coordinator: every group's state machine behind one lock, the
//! held JoinGroup/SyncGroup requests as oneshot channels, and a ticker that
//! expires sessions and ends rebalances on time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use super::state::Group;
use super::types::*;
use crate::protocol::ErrorCode;

/// How often sessions and rebalance deadlines are checked.
pub const TICK: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Inner {
    groups: HashMap<String, Group>,
    waiters: HashMap<Waiter, oneshot::Sender<Reply>>,
}

pub struct GroupCoordinator {
    inner: Mutex<Inner>,
    next_waiter: AtomicU64,
    limits: GroupLimits,
    started: Instant,
}

impl GroupCoordinator {
    pub fn new(limits: GroupLimits) -> GroupCoordinator {
        GroupCoordinator {
            inner: Mutex::new(Inner::default()),
            next_waiter: AtomicU64::new(1),
            limits,
            started: Instant::now(),
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
            let mut inner = self.lock();
            let now = self.now();
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
        let now = self.now();
        let mut inner = self.lock();
        match inner.groups.get_mut(group_id) {
            Some(group) => group.heartbeat(now, member_id, instance_id, generation),
            None => ErrorCode::UnknownMemberId,
        }
    }

    /// Per-member errors, in the order given.
    pub fn leave(&self, group_id: &str, leaving: &[(String, Option<String>)]) -> Vec<ErrorCode> {
        let now = self.now();
        let mut inner = self.lock();
        let Some(group) = inner.groups.get_mut(group_id) else {
            return vec![ErrorCode::UnknownMemberId; leaving.len()];
        };
        let (errors, replies) = group.leave(now, leaving);
        deliver(&mut inner, replies);
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
        let now = self.now();
        let mut inner = self.lock();
        match inner.groups.get_mut(group_id) {
            Some(group) => group.check_commit(now, member_id, instance_id, generation),
            None if generation < 0 => CommitCheck::Allowed,
            None => CommitCheck::Refused(ErrorCode::IllegalGeneration),
        }
    }

    /// The group as DescribeGroups shows it, if the coordinator has it.
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.lock().groups.get(group_id).map(Group::describe)
    }

    /// (group, protocol type, state) of every group with members.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let inner = self.lock();
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
        let mut inner = self.lock();
        if let Some(group) = inner.groups.get_mut(group_id) {
            group.mark_dead()?;
            inner.groups.remove(group_id);
        }
        Ok(())
    }

    /// One pass of expiries; drops groups with nothing left in them (their
    /// offsets stay in the store).
    pub fn tick(&self) {
        let now = self.now();
        let mut inner = self.lock();
        let mut replies = Replies::new();
        for group in inner.groups.values_mut() {
            replies.extend(group.tick(now));
        }
        inner.groups.retain(|_, g| !g.is_idle());
        deliver(&mut inner, replies);
    }

    /// Ticks until `shutdown` turns true.
    pub async fn run_ticker(&self, mut shutdown: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => self.tick(),
                _ = shutdown.changed() => return,
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
