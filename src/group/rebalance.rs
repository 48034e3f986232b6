//! The transitions behind [`Group`](super::state::Group)'s public calls:
//! starting a rebalance, completing a join (generation bump, protocol vote,
//! leader's view), adding, updating, replacing and removing members.

use bytes::Bytes;
use indexmap::IndexMap;

use super::state::{join_reply, sync_reply, Group, InitialDelay, Member};
use super::types::*;
use crate::protocol::ErrorCode;

impl Group {
    pub(super) fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type) && protocols.iter().any(|(name, _)| self.all_support(name))
    }

    pub(super) fn all_support(&self, protocol: &str) -> bool {
        self.members
            .values()
            .all(|m| m.protocols.iter().any(|(n, _)| n == protocol))
    }

    /// UNKNOWN_MEMBER_ID, or FENCED_INSTANCE_ID when a static member's id was replaced.
    pub(super) fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
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

    pub(super) fn sync_result(&self, error: ErrorCode, assignment: Bytes) -> SyncResult {
        SyncResult {
            error,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment,
        }
    }

    pub(super) fn join_result(&self, member_id: &str, leader_view: bool) -> JoinResult {
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
    pub(super) fn current_generation_reply(&mut self, now: u64, member_id: &str, waiter: Waiter) -> Replies {
        let member = self.members.get_mut(member_id).expect("caller checked");
        member.heartbeat_deadline = now + member.session_timeout_ms;
        let is_leader = self.leader.as_deref() == Some(member_id);
        join_reply(waiter, self.join_result(member_id, is_leader))
    }

    pub(super) fn add_member_and_rebalance(
        &mut self,
        now: u64,
        id: String,
        req: JoinRequest,
        waiter: Waiter,
    ) -> Replies {
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

    pub(super) fn update_member_and_rebalance(
        &mut self,
        now: u64,
        id: &str,
        req: JoinRequest,
        waiter: Waiter,
    ) -> Replies {
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
    pub(super) fn replace_static_member(
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
        // As Kafka: no rebalance unless the protocol the group would choose
        // changes (clients' metadata often differs after a restart anyway,
        // e.g. owned partitions or generation in the subscription).
        let same_protocol = self.protocol_name.as_deref() == Some(self.select_protocol().as_str());
        if self.state == GroupState::Stable && same_protocol {
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
    pub(super) fn rebalance(&mut self, now: u64) -> Replies {
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

    pub(super) fn try_complete_join(&mut self, now: u64) -> Replies {
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
    pub(super) fn complete_join(&mut self, now: u64) -> Replies {
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
        if !self.members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_none()) {
            // Only static members that have not rejoined are left: wait another
            // rebalance timeout (their sessions may expire meanwhile), as Kafka does.
            let timeout = self.members.values().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0);
            self.join_deadline = Some(now + timeout);
            return replies;
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
            if let Some(w) = member.awaiting_join.take() {
                member.heartbeat_deadline = now + member.session_timeout_ms;
                replies.push((w, Reply::Join(result)));
            }
        }
        replies
    }

    /// Each member votes for its most preferred protocol that all support;
    /// the most votes win, ties going to the earlier member's preference.
    pub(super) fn select_protocol(&self) -> String {
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
    pub(super) fn remove_member(&mut self, id: &str, error: ErrorCode) -> Replies {
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

    pub(super) fn remove_member_and_update(&mut self, now: u64, id: &str, error: ErrorCode) -> Replies {
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
