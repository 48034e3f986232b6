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
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }
}

/// The first rebalance of an empty group waits `group.initial.rebalance.delay.ms`
/// for more members, again for each newcomer, up to the rebalance timeout.
#[derive(Clone, Copy, Debug)]
struct InitialDelay {
    remaining_ms: u64,
    new_member_added: bool,
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
    join_deadline: Option<u64>,
    initial_delay: Option<InitialDelay>,
    limits: GroupLimits,
}

fn join_reply(waiter: Waiter, result: JoinResult) -> Replies {
    vec![(waiter, Reply::Join(result))]
}

fn sync_reply(waiter: Waiter, error: ErrorCode) -> Replies {
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

    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type) && protocols.iter().any(|(name, _)| self.all_support(name))
    }

    fn all_support(&self, protocol: &str) -> bool {
        self.members
            .values()
            .all(|m| m.protocols.iter().any(|(n, _)| n == protocol))
    }

    /// UNKNOWN_MEMBER_ID, or FENCED_INSTANCE_ID when a static member's id was replaced.
    fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        if let Some(current) = instance_id.and_then(|i| self.statics.get(i)) {
            if current != member_id {
                return Some(ErrorCode::FencedInstanceId);
            }
        }
        if !self.members.contains_key(member_id) {
            return Some(ErrorCode::UnknownMemberId);
        }
        None
    }

    fn sync_result(&self, error: ErrorCode, assignment: Bytes) -> SyncResult {
        SyncResult {
            error,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment,
        }
    }

    fn join_result(&self, member_id: &str, leader_view: bool) -> JoinResult {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if leader_view {
            self.members
                .values()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                })
                .collect()
        } else {
            vec![]
        };
        JoinResult {
            error: ErrorCode::None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members,
        }
    }

    /// A member whose join changes nothing gets the current generation at once.
    fn current_generation_reply(&mut self, now: u64, member_id: &str, waiter: Waiter) -> Replies {
        let member = self.members.get_mut(member_id).expect("caller checked");
        member.heartbeat_deadline = now + member.session_timeout_ms;
        let is_leader = self.leader.as_deref() == Some(member_id);
        join_reply(waiter, self.join_result(member_id, is_leader))
    }

    fn add_member_and_rebalance(&mut self, now: u64, id: String, req: JoinRequest, waiter: Waiter) -> Replies {
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        let member = new_member(now, id.clone(), req, waiter);
        if let Some(instance) = &member.instance_id {
            self.statics.insert(instance.clone(), id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.members.insert(id, member);
        if let Some(delay) = &mut self.initial_delay {
            delay.new_member_added = true;
        }
        self.rebalance(now)
    }

    fn update_member_and_rebalance(&mut self, now: u64, id: &str, req: JoinRequest, waiter: Waiter) -> Replies {
        let mut replies = Replies::new();
        let member = self.members.get_mut(id).expect("caller checked");
        member.rebalance_timeout_ms = rebalance_timeout(&req);
        member.session_timeout_ms = req.session_timeout_ms as u64;
        member.protocols = req.protocols;
        member.heartbeat_deadline = now + member.session_timeout_ms;
        if let Some(old) = member.awaiting_join.replace(waiter) {
            replies.extend(join_reply(old, JoinResult::error(ErrorCode::RebalanceInProgress, id)));
        }
        replies.extend(self.rebalance(now));
        replies
    }

    /// A known group.instance.id joining with a new member id (a restarted
    /// static member): the old id is fenced; a Stable group hands the new
    /// id the old one's assignment without a rebalance.
    fn replace_static_member(
        &mut self,
        now: u64,
        old_id: String,
        new_id: String,
        req: JoinRequest,
        waiter: Waiter,
    ) -> Replies {
        let mut replies = Replies::new();
        let Some(mut member) = self.members.shift_remove(&old_id) else {
            return self.add_member_and_rebalance(now, new_id, req, waiter);
        };
        if let Some(w) = member.awaiting_join.take() {
            replies.extend(join_reply(w, JoinResult::error(ErrorCode::FencedInstanceId, &old_id)));
        }
        if let Some(w) = member.awaiting_sync.take() {
            replies.extend(sync_reply(w, ErrorCode::FencedInstanceId));
        }
        let old_leader = self.leader.clone().unwrap_or_default();
        if self.leader.as_deref() == Some(old_id.as_str()) {
            self.leader = Some(new_id.clone());
        }
        let unchanged = member.same_protocols(&req.protocols);
        member.id = new_id.clone();
        member.client_id = req.client_id.clone();
        member.client_host = req.client_host.clone();
        member.session_timeout_ms = req.session_timeout_ms as u64;
        member.rebalance_timeout_ms = rebalance_timeout(&req);
        member.heartbeat_deadline = now + member.session_timeout_ms;
        member.protocols = req.protocols;
        if let Some(instance) = &member.instance_id {
            self.statics.insert(instance.clone(), new_id.clone());
        }
        self.members.insert(new_id.clone(), member);
        if self.state == GroupState::Stable && unchanged {
            // The old leader id is returned so the new member does not think it
            // leads and reassign a group that is not rebalancing.
            let mut result = self.join_result(&new_id, false);
            result.leader = old_leader;
            replies.extend(join_reply(waiter, result));
            return replies;
        }
        self.members.get_mut(&new_id).expect("inserted").awaiting_join = Some(waiter);
        replies.extend(self.rebalance(now));
        replies
    }

    /// Starts a rebalance if the group is not already in one, then completes
    /// the join if everybody is in.
    fn rebalance(&mut self, now: u64) -> Replies {
        let mut replies = Replies::new();
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty => {
                if self.state == GroupState::CompletingRebalance {
                    for member in self.members.values_mut() {
                        member.assignment = Bytes::new();
                        if let Some(w) = member.awaiting_sync.take() {
                            replies.extend(sync_reply(w, ErrorCode::RebalanceInProgress));
                        }
                    }
                }
                let timeout = self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0);
                if self.state == GroupState::Empty && self.limits.initial_rebalance_delay_ms > 0 {
                    let delay = self.limits.initial_rebalance_delay_ms;
                    self.initial_delay = Some(InitialDelay {
                        remaining_ms: timeout.saturating_sub(delay),
                        new_member_added: false,
                    });
                    self.join_deadline = Some(now + delay);
                } else {
                    self.initial_delay = None;
                    self.join_deadline = Some(now + timeout);
                }
                self.state = GroupState::PreparingRebalance;
            }
            GroupState::PreparingRebalance | GroupState::Dead => {}
        }
        replies.extend(self.try_complete_join(now));
        replies
    }

    fn try_complete_join(&mut self, now: u64) -> Replies {
        let all_joined = self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some());
        if self.state == GroupState::PreparingRebalance && self.initial_delay.is_none() && all_joined {
            self.complete_join(now)
        } else {
            Replies::new()
        }
    }

    /// Ends PreparingRebalance: members that did not rejoin (dynamic ones)
    /// are dropped, the generation advances, the protocol is chosen and every
    /// held join is answered (the leader with all members' metadata).
    fn complete_join(&mut self, now: u64) -> Replies {
        self.join_deadline = None;
        self.initial_delay = None;
        let mut replies = Replies::new();
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(member = %id, "group member did not rejoin in time");
            replies.extend(self.remove_member(&id, ErrorCode::UnknownMemberId));
        }
        let leader_joined = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if !leader_joined {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join.is_some())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            return replies;
        }
        self.protocol_name = Some(self.select_protocol());
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let is_leader = self.leader.as_deref() == Some(id.as_str());
            let result = self.join_result(&id, is_leader);
            let member = self.members.get_mut(&id).expect("listed");
            member.heartbeat_deadline = now + member.session_timeout_ms;
            if let Some(w) = member.awaiting_join.take() {
                replies.push((w, Reply::Join(result)));
            }
        }
        replies
    }

    /// Each member votes for its most preferred protocol that all support;
    /// the most votes win, ties going to the earlier member's preference.
    fn select_protocol(&self) -> String {
        let mut votes: IndexMap<&str, usize> = IndexMap::new();
        for member in self.members.values() {
            if let Some((name, _)) = member.protocols.iter().find(|(n, _)| self.all_support(n)) {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max().unwrap_or(0);
        votes
            .iter()
            .find(|(_, v)| **v == best)
            .map(|(n, _)| n.to_string())
            .unwrap_or_default()
    }

    /// Removes a member; its held requests are answered with `error`.
    fn remove_member(&mut self, id: &str, error: ErrorCode) -> Replies {
        let mut replies = Replies::new();
        let Some(member) = self.members.shift_remove(id) else {
            return replies;
        };
        if let Some(w) = member.awaiting_join {
            replies.extend(join_reply(w, JoinResult::error(error, id)));
        }
        if let Some(w) = member.awaiting_sync {
            replies.extend(sync_reply(w, error));
        }
        if let Some(instance) = &member.instance_id {
            if self.statics.get(instance).map(String::as_str) == Some(id) {
                self.statics.remove(instance);
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = self.members.keys().next().cloned();
        }
        replies
    }

    fn remove_member_and_update(&mut self, now: u64, id: &str, error: ErrorCode) -> Replies {
        let mut replies = self.remove_member(id, error);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => replies.extend(self.rebalance(now)),
            GroupState::PreparingRebalance => replies.extend(self.try_complete_join(now)),
            GroupState::Empty | GroupState::Dead => {}
        }
        replies
    }
}

fn rebalance_timeout(req: &JoinRequest) -> u64 {
    if req.rebalance_timeout_ms > 0 {
        req.rebalance_timeout_ms as u64
    } else {
        req.session_timeout_ms.max(0) as u64
    }
}

fn new_member(now: u64, id: String, req: JoinRequest, waiter: Waiter) -> Member {
    let rebalance_timeout_ms = rebalance_timeout(&req);
    Member {
        id,
        instance_id: req.group_instance_id,
        client_id: req.client_id,
        client_host: req.client_host,
        session_timeout_ms: req.session_timeout_ms.max(0) as u64,
        rebalance_timeout_ms,
        protocols: req.protocols,
        assignment: Bytes::new(),
        awaiting_join: Some(waiter),
        awaiting_sync: None,
        heartbeat_deadline: now + req.session_timeout_ms.max(0) as u64,
    }
}
