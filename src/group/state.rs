//! One consumer group's membership state machine for Kafka's classic
//! protocol, sans-IO: callers pass the time (milliseconds on a monotonic
//! clock) and a waiter token, and every call returns the replies that became
//! ready, possibly for other members' held JoinGroup/SyncGroup requests.
//!
//! It follows Kafka's GroupCoordinator: Empty → PreparingRebalance (joins are
//! held until every known member has rejoined or the rebalance timeout
//! passes) → CompletingRebalance (the leader gets every member's metadata and
//! sends the assignment in SyncGroup) → Stable. The broker never looks inside
//! metadata or assignments, so every client-side assignor works.

use std::collections::HashMap;

use bytes::Bytes;
use indexmap::IndexMap;

use super::types::*;
use crate::protocol::ErrorCode;

#[derive(Clone, Debug)]
pub(super) struct Member {
    pub(super) id: String,
    pub(super) instance_id: Option<String>,
    pub(super) client_id: String,
    pub(super) client_host: String,
    pub(super) session_timeout_ms: u64,
    pub(super) rebalance_timeout_ms: u64,
    pub(super) protocols: Vec<(String, Bytes)>,
    pub(super) assignment: Bytes,
    pub(super) awaiting_join: Option<Waiter>,
    pub(super) awaiting_sync: Option<Waiter>,
    /// When the member is dropped unless it heartbeats (or is held in a join/sync).
    pub(super) heartbeat_deadline: u64,
}

impl Member {
    pub(super) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub(super) fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }
}

/// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`
/// for more members, again for each newcomer, up to the rebalance timeout.
#[derive(Clone, Copy, Debug)]
pub(super) struct InitialDelay {
    pub(super) remaining_ms: u64,
    pub(super) new_member_added: bool,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub(super) state: GroupState,
    pub(super) generation: i32,
    pub(super) protocol_type: Option<String>,
    pub(super) protocol_name: Option<String>,
    pub(super) leader: Option<String>,
    /// In join order.
    pub(super) members: IndexMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, with their expiry.
    pub(super) pending: HashMap<String, u64>,
    /// group.instance.id → current member id.
    pub(super) statics: HashMap<String, String>,
    pub(super) join_deadline: Option<u64>,
    pub(super) initial_delay: Option<InitialDelay>,
    pub(super) limits: GroupLimits,
}

pub(super) fn join_reply(waiter: Waiter, result: JoinResult) -> Replies {
    vec![(waiter, Reply::Join(result))]
}

pub(super) fn sync_reply(waiter: Waiter, error: ErrorCode) -> Replies {
    vec![(waiter, Reply::Sync(SyncResult::error(error)))]
}

impl Group {
    pub fn new(limits: GroupLimits) -> Group {
        Group {
            limits,
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: IndexMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            join_deadline: None,
            initial_delay: None,
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn generation(&self) -> i32 {
        self.generation
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Nothing left to remember: no members, none about to join.
    pub fn is_idle(&self) -> bool {
        self.state == GroupState::Empty && self.members.is_empty() && self.pending.is_empty()
    }

    /// A JoinGroup. `new_member_id` is used if the request carries none.
    pub fn join(&mut self, now: u64, req: JoinRequest, waiter: Waiter, new_member_id: String) -> Replies {
        let limits = self.limits;
        let session = req.session_timeout_ms as i64;
        if session < limits.min_session_timeout_ms as i64 || session > limits.max_session_timeout_ms as i64 {
            return join_reply(
                waiter,
                JoinResult::error(ErrorCode::InvalidSessionTimeout, &req.member_id),
            );
        }
        if self.state == GroupState::Dead {
            return join_reply(
                waiter,
                JoinResult::error(ErrorCode::CoordinatorNotAvailable, &req.member_id),
            );
        }
        if !self.supports_protocols(&req.protocol_type, &req.protocols) {
            return join_reply(
                waiter,
                JoinResult::error(ErrorCode::InconsistentGroupProtocol, &req.member_id),
            );
        }
        if req.member_id.is_empty() {
            if let Some(instance) = &req.group_instance_id {
                if let Some(old_id) = self.statics.get(instance).cloned() {
                    return self.replace_static_member(now, old_id, new_member_id, req, waiter);
                }
            } else if req.require_known_member_id {
                let deadline = now + req.session_timeout_ms as u64;
                self.pending.insert(new_member_id.clone(), deadline);
                return join_reply(waiter, JoinResult::error(ErrorCode::MemberIdRequired, &new_member_id));
            }
            return self.add_member_and_rebalance(now, new_member_id, req, waiter);
        }
        let member_id = req.member_id.clone();
        if self.pending.remove(&member_id).is_some() {
            return self.add_member_and_rebalance(now, member_id, req, waiter);
        }
        if let Some(error) = self.check_member(&member_id, req.group_instance_id.as_deref()) {
            return join_reply(waiter, JoinResult::error(error, &member_id));
        }
        let is_leader = self.leader.as_deref() == Some(member_id.as_str());
        let unchanged = self.members[&member_id].same_protocols(&req.protocols);
        match self.state {
            GroupState::CompletingRebalance if unchanged => self.current_generation_reply(now, &member_id, waiter),
            GroupState::Stable if unchanged && !is_leader => self.current_generation_reply(now, &member_id, waiter),
            GroupState::PreparingRebalance | GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(now, &member_id, req, waiter)
            }
            GroupState::Empty | GroupState::Dead => {
                join_reply(waiter, JoinResult::error(ErrorCode::UnknownMemberId, &member_id))
            }
        }
    }

    /// A SyncGroup: held until the leader's assignment arrives.
    pub fn sync(&mut self, now: u64, req: SyncRequest, waiter: Waiter) -> Replies {
        if self.state == GroupState::Dead {
            return sync_reply(waiter, ErrorCode::CoordinatorNotAvailable);
        }
        if let Some(error) = self.check_member(&req.member_id, req.group_instance_id.as_deref()) {
            return sync_reply(waiter, error);
        }
        if req.generation != self.generation {
            return sync_reply(waiter, ErrorCode::IllegalGeneration);
        }
        let mismatch = |asked: &Option<String>, ours: &Option<String>| asked.is_some() && asked != ours;
        if mismatch(&req.protocol_type, &self.protocol_type) || mismatch(&req.protocol_name, &self.protocol_name) {
            return sync_reply(waiter, ErrorCode::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => sync_reply(waiter, ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => sync_reply(waiter, ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let member = self.members.get_mut(&req.member_id).expect("checked above");
                member.heartbeat_deadline = now + member.session_timeout_ms;
                let assignment = member.assignment.clone();
                let result = self.sync_result(ErrorCode::None, assignment);
                vec![(waiter, Reply::Sync(result))]
            }
            GroupState::CompletingRebalance => {
                let mut replies = Replies::new();
                let member = self.members.get_mut(&req.member_id).expect("checked above");
                if let Some(old) = member.awaiting_sync.replace(waiter) {
                    replies.extend(sync_reply(old, ErrorCode::RebalanceInProgress));
                }
                member.heartbeat_deadline = now + member.session_timeout_ms;
                if self.leader.as_deref() == Some(req.member_id.as_str()) {
                    let mut given: HashMap<String, Bytes> = req.assignments.into_iter().collect();
                    for member in self.members.values_mut() {
                        member.assignment = given.remove(&member.id).unwrap_or_default();
                    }
                    self.state = GroupState::Stable;
                    let ids: Vec<String> = self.members.keys().cloned().collect();
                    for id in ids {
                        let member = self.members.get_mut(&id).expect("listed");
                        if let Some(w) = member.awaiting_sync.take() {
                            // Its session counts from now, not from its SyncGroup:
                            // the leader may have taken longer than a session.
                            member.heartbeat_deadline = now + member.session_timeout_ms;
                            let assignment = member.assignment.clone();
                            replies.push((w, Reply::Sync(self.sync_result(ErrorCode::None, assignment))));
                        }
                    }
                }
                replies
            }
        }
    }

    /// A Heartbeat: keeps the member alive and tells it whether to rejoin.
    pub fn heartbeat(&mut self, now: u64, member_id: &str, instance_id: Option<&str>, generation: i32) -> ErrorCode {
        if self.state == GroupState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        if self.pending.contains_key(member_id) {
            // Told to rejoin with its new id and has not yet done so.
            return ErrorCode::None;
        }
        if let Some(error) = self.check_member(member_id, instance_id) {
            return error;
        }
        if generation != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        let member = self.members.get_mut(member_id).expect("checked above");
        member.heartbeat_deadline = now + member.session_timeout_ms;
        match self.state {
            GroupState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::CompletingRebalance | GroupState::Stable => ErrorCode::None,
        }
    }

    /// A LeaveGroup for each (member id, group.instance.id); an empty member
    /// id with an instance id names the static member (v3+ batch leave).
    pub fn leave(&mut self, now: u64, leaving: &[(String, Option<String>)]) -> (Vec<ErrorCode>, Replies) {
        let mut replies = Replies::new();
        let mut errors = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            if self.state == GroupState::Dead {
                errors.push(ErrorCode::CoordinatorNotAvailable);
                continue;
            }
            let id = match (member_id.is_empty(), instance_id) {
                (true, Some(instance)) => match self.statics.get(instance) {
                    Some(id) => id.clone(),
                    None => {
                        errors.push(ErrorCode::UnknownMemberId);
                        continue;
                    }
                },
                _ => member_id.clone(),
            };
            if self.pending.remove(&id).is_some() {
                replies.extend(self.try_complete_join(now));
                errors.push(ErrorCode::None);
                continue;
            }
            if let Some(error) = self.check_member(&id, instance_id.as_deref()) {
                errors.push(error);
                continue;
            }
            replies.extend(self.remove_member_and_update(now, &id, ErrorCode::UnknownMemberId));
            errors.push(ErrorCode::None);
        }
        (errors, replies)
    }

    /// Whether an OffsetCommit from this member at this generation may be stored.
    /// Simple commits (generation < 0) are accepted while no member is
    /// managed by the broker, whatever member id they carry: pykafka's
    /// ZooKeeper-balanced consumer commits with its own consumer id.
    pub fn check_commit(
        &mut self,
        now: u64,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> CommitCheck {
        if self.state == GroupState::Dead {
            return CommitCheck::Refused(ErrorCode::CoordinatorNotAvailable);
        }
        if generation < 0 && self.members.is_empty() {
            return CommitCheck::Allowed;
        }
        if generation < 0 && member_id.is_empty() && instance_id.is_none() {
            // The group is in use: only its members may commit.
            return CommitCheck::Refused(ErrorCode::UnknownMemberId);
        }
        if let Some(error) = self.check_member(member_id, instance_id) {
            return CommitCheck::Refused(error);
        }
        if generation != self.generation {
            return CommitCheck::Refused(ErrorCode::IllegalGeneration);
        }
        match self.state {
            GroupState::CompletingRebalance => CommitCheck::Refused(ErrorCode::RebalanceInProgress),
            _ => {
                let member = self.members.get_mut(member_id).expect("checked above");
                member.heartbeat_deadline = now + member.session_timeout_ms;
                CommitCheck::Allowed
            }
        }
    }

    /// Expires silent members and pending ids and ends rebalances whose time is up.
    pub fn tick(&mut self, now: u64) -> Replies {
        let mut replies = Replies::new();
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            replies.extend(self.try_complete_join(now));
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.awaiting_sync.is_none() && m.heartbeat_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(member = %id, "group member's session expired");
            replies.extend(self.remove_member_and_update(now, &id, ErrorCode::UnknownMemberId));
        }
        if self.state == GroupState::PreparingRebalance && self.join_deadline.is_some_and(|d| d <= now) {
            match &mut self.initial_delay {
                Some(delay) if delay.new_member_added && delay.remaining_ms > 0 => {
                    let step = self.limits.initial_rebalance_delay_ms.min(delay.remaining_ms);
                    delay.remaining_ms -= step;
                    delay.new_member_added = false;
                    self.join_deadline = Some(now + step);
                }
                _ => replies.extend(self.complete_join(now)),
            }
        }
        replies
    }

    /// Every member, with metadata and assignment while Stable (as Kafka reports them).
    pub fn describe(&self) -> GroupDescription {
        let stable = self.state == GroupState::Stable;
        let protocol = self.protocol_name.clone().unwrap_or_default();
        GroupDescription {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            protocol_name: protocol.clone(),
            members: self
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable { m.assignment.clone() } else { Bytes::new() },
                })
                .collect(),
        }
    }

    /// DeleteGroups: only a group without members can go.
    pub fn mark_dead(&mut self) -> Result<(), ErrorCode> {
        if !self.members.is_empty() || !self.pending.is_empty() {
            return Err(ErrorCode::NonEmptyGroup);
        }
        self.state = GroupState::Dead;
        Ok(())
    }
}
