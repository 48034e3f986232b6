//! The group state machine driven through joins, syncs, leaves, expiries
//! and generation bumps, with explicit time.

use bytes::Bytes;

use super::state::Group;
use super::types::*;
use crate::protocol::ErrorCode;

const SESSION: i32 = 10_000;

fn limits(delay: u64) -> GroupLimits {
    GroupLimits {
        min_session_timeout_ms: 1_000,
        max_session_timeout_ms: 60_000,
        initial_rebalance_delay_ms: delay,
    }
}

fn join_req(member: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member.to_string(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        require_known_member_id: false,
    }
}

fn sync_req(member: &str, generation: i32, assignments: &[(&str, &str)]) -> SyncRequest {
    SyncRequest {
        member_id: member.to_string(),
        group_instance_id: None,
        generation,
        protocol_type: None,
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
            .collect(),
    }
}

fn join_of(replies: &Replies, waiter: Waiter) -> Option<JoinResult> {
    replies.iter().find_map(|(w, r)| match r {
        Reply::Join(j) if *w == waiter => Some(j.clone()),
        _ => None,
    })
}

fn sync_of(replies: &Replies, waiter: Waiter) -> Option<SyncResult> {
    replies.iter().find_map(|(w, r)| match r {
        Reply::Sync(s) if *w == waiter => Some(s.clone()),
        _ => None,
    })
}

/// Two members joined and synced: returns their ids (a leads) at generation 1.
fn stable_pair(g: &mut Group) -> (String, String) {
    let r = g.join(0, join_req("", &["range"]), 1, "a".into());
    assert_eq!(
        join_of(&r, 1).unwrap().generation,
        1,
        "a alone completes at once without delay"
    );
    g.sync(0, sync_req("a", 1, &[("a", "A1")]), 2);
    assert_eq!(g.state(), GroupState::Stable);
    // b joins: a must rejoin before the generation completes.
    let r = g.join(10, join_req("", &["range"]), 3, "b".into());
    assert!(r.is_empty(), "b is held until a rejoins");
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(g.heartbeat(20, "a", None, 1), ErrorCode::RebalanceInProgress);
    let r = g.join(30, join_req("a", &["range"]), 4, String::new());
    let ja = join_of(&r, 4).unwrap();
    let jb = join_of(&r, 3).unwrap();
    assert_eq!((ja.generation, jb.generation), (2, 2));
    assert_eq!(ja.leader, "a");
    assert_eq!(ja.members.len(), 2, "the leader sees every member");
    assert!(jb.members.is_empty(), "followers see none");
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    ("a".into(), "b".into())
}

#[test]
fn join_sync_relays_the_leaders_assignment_exactly() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    let r = g.sync(40, sync_req("b", 2, &[]), 5);
    assert!(r.is_empty(), "follower waits for the leader");
    let r = g.sync(41, sync_req("a", 2, &[("a", "PA"), ("b", "")]), 6);
    assert_eq!(sync_of(&r, 6).unwrap().assignment, Bytes::from("PA"));
    let b = sync_of(&r, 5).unwrap();
    assert_eq!(b.error, ErrorCode::None);
    assert!(
        b.assignment.is_empty(),
        "an empty assignment is valid and relayed as empty"
    );
    assert_eq!(g.state(), GroupState::Stable);
    assert_eq!(g.heartbeat(50, "b", None, 2), ErrorCode::None);
    assert_eq!(g.heartbeat(50, "b", None, 1), ErrorCode::IllegalGeneration);
    assert_eq!(g.heartbeat(50, "zz", None, 2), ErrorCode::UnknownMemberId);
}

#[test]
fn leave_rebalances_and_the_survivor_takes_over() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    g.sync(40, sync_req("a", 2, &[("a", "x"), ("b", "y")]), 5);
    let (errors, _) = g.leave(50, &[("b".into(), None)]);
    assert_eq!(errors, vec![ErrorCode::None]);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(g.heartbeat(60, "a", None, 2), ErrorCode::RebalanceInProgress);
    let r = g.join(70, join_req("a", &["range"]), 6, String::new());
    let j = join_of(&r, 6).unwrap();
    assert_eq!(j.generation, 3);
    assert_eq!(j.members.len(), 1);
    let (errors, _) = g.leave(80, &[("b".into(), None)]);
    assert_eq!(errors, vec![ErrorCode::UnknownMemberId]);
}

#[test]
fn session_expiry_removes_a_silent_member() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    g.sync(40, sync_req("b", 2, &[]), 5);
    g.sync(40, sync_req("a", 2, &[("a", "x"), ("b", "y")]), 6);
    // a heartbeats, b goes silent.
    for t in (1_000..=9_000).step_by(1_000) {
        assert_eq!(g.heartbeat(t, "a", None, 2), ErrorCode::None);
        assert!(g.tick(t).is_empty());
    }
    assert_eq!(g.member_count(), 2, "b's session (10 s) has not run out at 9 s");
    g.heartbeat(10_000, "a", None, 2);
    g.tick(10_041);
    assert_eq!(g.member_count(), 1, "b expired");
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    let r = g.join(10_100, join_req("a", &["range"]), 7, String::new());
    assert_eq!(join_of(&r, 7).unwrap().generation, 3);
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    g.sync(40, sync_req("a", 2, &[]), 5);
    let r = g.join(100, join_req("", &["range"]), 8, "c".into());
    assert!(r.is_empty());
    // a rejoins, b never does; b keeps heartbeating but that does not make it rejoin.
    g.join(200, join_req("a", &["range"]), 9, String::new());
    for t in (300..=30_000).step_by(1_000) {
        assert_eq!(g.heartbeat(t, "b", None, 2), ErrorCode::RebalanceInProgress);
        assert!(
            g.tick(t).is_empty(),
            "rebalance timeout (30 s) counts from the start at 100 ms"
        );
    }
    let r = g.tick(30_100);
    let a = join_of(&r, 9).unwrap();
    assert_eq!(a.generation, 3);
    let ids: Vec<_> = a.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(ids, vec!["a", "c"]);
    assert!(join_of(&r, 8).is_some());
}

#[test]
fn member_id_required_round_trip_v4() {
    let mut g = Group::new(limits(0));
    let mut req = join_req("", &["range"]);
    req.require_known_member_id = true;
    let r = g.join(0, req.clone(), 1, "m-1".into());
    let j = join_of(&r, 1).unwrap();
    assert_eq!(j.error, ErrorCode::MemberIdRequired);
    assert_eq!(j.member_id, "m-1");
    req.member_id = "m-1".into();
    let r = g.join(5, req, 2, "unused".into());
    let j = join_of(&r, 2).unwrap();
    assert_eq!(
        (j.error, j.member_id.as_str(), j.leader.as_str()),
        (ErrorCode::None, "m-1", "m-1")
    );
}

#[test]
fn pending_member_ids_expire() {
    let mut g = Group::new(limits(0));
    let mut req = join_req("", &["range"]);
    req.require_known_member_id = true;
    g.join(0, req.clone(), 1, "m-1".into());
    g.tick(SESSION as u64 + 1);
    assert!(g.is_idle());
    req.member_id = "m-1".into();
    let r = g.join(SESSION as u64 + 2, req, 2, String::new());
    assert_eq!(join_of(&r, 2).unwrap().error, ErrorCode::UnknownMemberId);
}

#[test]
fn protocol_checks() {
    let mut g = Group::new(limits(0));
    let r = g.join(0, join_req("", &["range", "roundrobin"]), 1, "a".into());
    assert_eq!(join_of(&r, 1).unwrap().error, ErrorCode::None);
    let r = g.join(0, join_req("", &["sticky"]), 2, "b".into());
    assert_eq!(join_of(&r, 2).unwrap().error, ErrorCode::InconsistentGroupProtocol);
    let mut other = join_req("", &["range"]);
    other.protocol_type = "connect".into();
    let r = g.join(0, other, 3, "c".into());
    assert_eq!(join_of(&r, 3).unwrap().error, ErrorCode::InconsistentGroupProtocol);
    let mut empty = Group::new(limits(0));
    let r = empty.join(0, join_req("", &[]), 4, "d".into());
    assert_eq!(join_of(&r, 4).unwrap().error, ErrorCode::InconsistentGroupProtocol);
    let mut short = join_req("", &["range"]);
    short.session_timeout_ms = 10;
    let r = empty.join(0, short, 5, "e".into());
    assert_eq!(join_of(&r, 5).unwrap().error, ErrorCode::InvalidSessionTimeout);
}

#[test]
fn protocol_vote_picks_the_common_favourite() {
    let mut g = Group::new(limits(0));
    g.join(0, join_req("", &["roundrobin", "range"]), 1, "a".into());
    g.join(1, join_req("", &["range", "roundrobin"]), 2, "b".into());
    let r = g.join(2, join_req("a", &["roundrobin", "range"]), 3, String::new());
    let r2 = g.join(3, join_req("", &["range"]), 4, "c".into());
    assert!(join_of(&r, 3).is_some() || r2.is_empty());
    let r = g.join(4, join_req("a", &["roundrobin", "range"]), 5, String::new());
    let r = [r, g.join(5, join_req("b", &["range", "roundrobin"]), 6, String::new())].concat();
    let j = join_of(&r, 5).or_else(|| join_of(&r, 6)).unwrap();
    assert_eq!(
        j.protocol_name.as_deref(),
        Some("range"),
        "only range is common to all three"
    );
}

#[test]
fn static_member_rejoins_without_rebalance() {
    let mut g = Group::new(limits(0));
    let mut a = join_req("", &["range"]);
    a.group_instance_id = Some("inst-a".into());
    let r = g.join(0, a.clone(), 1, "a1".into());
    let j = join_of(&r, 1).unwrap();
    g.sync(1, sync_req("a1", j.generation, &[("a1", "P0")]), 2);
    assert_eq!(g.state(), GroupState::Stable);
    let generation = g.generation();
    // The process restarts: same instance id, no member id.
    let r = g.join(100, a.clone(), 3, "a2".into());
    let j = join_of(&r, 3).unwrap();
    assert_eq!(j.error, ErrorCode::None);
    assert_eq!(j.member_id, "a2");
    assert_eq!(j.generation, generation, "no rebalance");
    assert_eq!(j.leader, "a1", "told the old leader id so it does not reassign");
    assert_eq!(g.state(), GroupState::Stable);
    let mut s = sync_req("a2", generation, &[]);
    s.group_instance_id = Some("inst-a".into());
    let r = g.sync(101, s, 4);
    assert_eq!(
        sync_of(&r, 4).unwrap().assignment,
        Bytes::from("P0"),
        "keeps its assignment"
    );
    assert_eq!(
        g.heartbeat(102, "a1", Some("inst-a"), generation),
        ErrorCode::FencedInstanceId
    );
    // Static members do not leave on close; a LeaveGroup by instance id does remove it.
    let (errors, _) = g.leave(103, &[(String::new(), Some("inst-a".into()))]);
    assert_eq!(errors, vec![ErrorCode::None]);
    assert_eq!(g.member_count(), 0);
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let mut g = Group::new(limits(3_000));
    let r = g.join(0, join_req("", &["range"]), 1, "a".into());
    assert!(r.is_empty(), "held for the initial delay");
    assert!(g.tick(2_000).is_empty());
    g.join(2_500, join_req("", &["range"]), 2, "b".into());
    // The delay is extended once for the newcomer.
    assert!(g.tick(3_000).is_empty());
    let r = g.tick(6_000);
    let a = join_of(&r, 1).unwrap();
    assert_eq!((a.generation, a.members.len()), (1, 2));
    assert!(join_of(&r, 2).is_some());
}

#[test]
fn commits_are_checked_like_kafka() {
    let mut g = Group::new(limits(0));
    assert_eq!(
        g.check_commit(0, "", None, -1),
        CommitCheck::Allowed,
        "simple commit, empty group"
    );
    assert_eq!(
        g.check_commit(0, "host:uuid", None, -1),
        CommitCheck::Allowed,
        "pykafka's balanced consumer commits with its id and generation -1"
    );
    stable_pair(&mut g);
    assert_eq!(
        g.check_commit(40, "a", None, 2),
        CommitCheck::Refused(ErrorCode::RebalanceInProgress)
    );
    g.sync(41, sync_req("a", 2, &[]), 5);
    assert_eq!(g.check_commit(42, "a", None, 2), CommitCheck::Allowed);
    assert_eq!(
        g.check_commit(42, "a", None, 1),
        CommitCheck::Refused(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        g.check_commit(42, "x", None, 2),
        CommitCheck::Refused(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        g.check_commit(42, "", None, -1),
        CommitCheck::Refused(ErrorCode::UnknownMemberId)
    );
    // During a rebalance the previous generation may still commit (before revoking).
    g.join(50, join_req("", &["range"]), 6, "c".into());
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(g.check_commit(51, "a", None, 2), CommitCheck::Allowed);
}

#[test]
fn leaving_last_member_empties_the_group_and_delete_needs_it_empty() {
    let mut g = Group::new(limits(0));
    g.join(0, join_req("", &["range"]), 1, "a".into());
    assert_eq!(g.mark_dead(), Err(ErrorCode::NonEmptyGroup));
    g.leave(1, &[("a".into(), None)]);
    assert_eq!(g.state(), GroupState::Empty);
    assert!(g.is_idle());
    assert_eq!(g.describe().members.len(), 0);
    assert_eq!(g.mark_dead(), Ok(()));
    let r = g.join(2, join_req("", &["range"]), 2, "b".into());
    assert_eq!(join_of(&r, 2).unwrap().error, ErrorCode::CoordinatorNotAvailable);
}

#[test]
fn describe_shows_metadata_and_assignment_only_when_stable() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    assert!(g.describe().members.iter().all(|m| m.assignment.is_empty()));
    g.sync(40, sync_req("a", 2, &[("a", "x"), ("b", "y")]), 5);
    let d = g.describe();
    assert_eq!(d.state.name(), "Stable");
    assert_eq!(d.protocol_name, "range");
    assert_eq!(d.members[1].assignment, Bytes::from("y"));
    assert_eq!(d.members[1].metadata, Bytes::from("meta-range"));
}

#[test]
fn a_slow_leader_sync_does_not_expire_the_followers() {
    let mut g = Group::new(limits(0));
    stable_pair(&mut g);
    assert!(
        g.sync(40, sync_req("b", 2, &[]), 5).is_empty(),
        "b waits for the leader"
    );
    for t in (1_000..=12_000).step_by(1_000) {
        assert_eq!(g.heartbeat(t, "a", None, 2), ErrorCode::None, "the leader is assigning");
        g.tick(t);
    }
    let r = g.sync(12_000, sync_req("a", 2, &[("a", "x"), ("b", "y")]), 6);
    assert_eq!(sync_of(&r, 5).unwrap().assignment, Bytes::from("y"));
    g.tick(12_100);
    assert_eq!(
        g.member_count(),
        2,
        "b's session counts from its assignment, not its SyncGroup"
    );
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn static_rejoin_with_new_metadata_but_same_protocol_does_not_rebalance() {
    let mut g = Group::new(limits(0));
    let mut a = join_req("", &["range"]);
    a.group_instance_id = Some("inst-a".into());
    let r = g.join(0, a.clone(), 1, "a1".into());
    g.sync(1, sync_req("a1", join_of(&r, 1).unwrap().generation, &[("a1", "P")]), 2);
    let generation = g.generation();
    // After a restart the subscription bytes differ (owned partitions, generation...).
    a.protocols = vec![("range".into(), Bytes::from_static(b"different"))];
    let r = g.join(100, a.clone(), 3, "a2".into());
    assert_eq!(join_of(&r, 3).unwrap().generation, generation);
    assert_eq!(g.state(), GroupState::Stable);
    // A change of the protocol the group would choose does rebalance.
    a.protocols = vec![("roundrobin".into(), Bytes::new()), ("range".into(), Bytes::new())];
    let r = g.join(200, a, 4, "a3".into());
    assert_eq!(g.state(), GroupState::CompletingRebalance, "{r:?}");
    assert_eq!(join_of(&r, 4).unwrap().protocol_name.as_deref(), Some("roundrobin"));
}

#[test]
fn a_rebalance_nobody_rejoins_waits_instead_of_bumping_the_generation() {
    let mut g = Group::new(limits(0));
    let mut a = join_req("", &["range"]);
    a.group_instance_id = Some("inst-a".into());
    a.session_timeout_ms = 40_000;
    let r = g.join(0, a.clone(), 1, "a1".into());
    g.sync(1, sync_req("a1", join_of(&r, 1).unwrap().generation, &[]), 2);
    let mut b = join_req("", &["range"]);
    b.session_timeout_ms = 40_000;
    g.join(10, b, 3, "b".into()); // a rebalance a1 (static, gone quiet) never rejoins
    g.leave(20, &[("b".into(), None)]);
    let generation = g.generation();
    assert!(g.tick(30_100).is_empty());
    assert_eq!(g.state(), GroupState::PreparingRebalance, "still waiting for a1");
    assert_eq!(g.generation(), generation);
    g.tick(40_001);
    assert_eq!(g.member_count(), 0, "a1's session expired");
    assert_eq!(g.state(), GroupState::Empty);
}
