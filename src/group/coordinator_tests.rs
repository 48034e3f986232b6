//! The coordinator's timer, on the real clock: sessions and rebalances end
//! at their deadlines (not on a polling tick), Empty groups stay known.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use super::coordinator::GroupCoordinator;
use super::types::*;
use crate::protocol::ErrorCode;

fn coordinator() -> Arc<GroupCoordinator> {
    Arc::new(GroupCoordinator::new(GroupLimits {
        min_session_timeout_ms: 10,
        max_session_timeout_ms: 60_000,
        initial_rebalance_delay_ms: 0,
    }))
}

fn join_req(member: &str, session_ms: i32, rebalance_ms: i32) -> JoinRequest {
    JoinRequest {
        member_id: member.to_string(),
        group_instance_id: None,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: session_ms,
        rebalance_timeout_ms: rebalance_ms,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"m"))],
        require_known_member_id: false,
    }
}

/// Joins and syncs a sole member: (member id, generation).
async fn stable_member(c: &GroupCoordinator, group: &str, session_ms: i32, rebalance_ms: i32) -> (String, i32) {
    let joined = c.join(group, join_req("", session_ms, rebalance_ms)).await;
    assert_eq!(joined.error, ErrorCode::None);
    let sync = SyncRequest {
        member_id: joined.member_id.clone(),
        group_instance_id: None,
        generation: joined.generation,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![(joined.member_id.clone(), Bytes::from_static(b"a"))],
    };
    assert_eq!(c.sync(group, sync).await.error, ErrorCode::None);
    (joined.member_id, joined.generation)
}

fn start_timer(c: &Arc<GroupCoordinator>) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let c = Arc::clone(c);
    tokio::spawn(async move { c.run_ticker(stopped).await });
    stop
}

#[tokio::test]
async fn a_silent_member_expires_at_its_session_deadline() {
    let c = coordinator();
    let _stop = start_timer(&c);
    let (member, generation) = stable_member(&c, "g", 200, 5_000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let last_heartbeat = Instant::now();
    assert_eq!(c.heartbeat("g", &member, None, generation), ErrorCode::None);
    // A newcomer's join is held until the silent member rejoins (never), its
    // session ends (200 ms after its heartbeat) or the 5 s rebalance timeout:
    // only the timer can answer it, and it must do so at the session deadline.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let joined = c.join("g", join_req("", 10_000, 5_000)).await;
    let waited = last_heartbeat.elapsed();
    assert_eq!(joined.error, ErrorCode::None);
    assert_eq!(joined.leader, joined.member_id, "the silent member is gone");
    assert!(waited >= Duration::from_millis(195), "expired early: {waited:?}");
    assert!(waited < Duration::from_millis(280), "expired late: {waited:?}");
    assert_eq!(c.heartbeat("g", &member, None, generation), ErrorCode::UnknownMemberId);
}

#[tokio::test]
async fn a_rebalance_ends_at_its_timeout() {
    let c = coordinator();
    let _stop = start_timer(&c);
    stable_member(&c, "g", 10_000, 150).await;
    // A newcomer's join is held until the old member rejoins (it never
    // does) or the 150 ms rebalance timeout passes.
    let started = Instant::now();
    let joined = c.join("g", join_req("", 10_000, 150)).await;
    let waited = started.elapsed();
    assert_eq!(joined.error, ErrorCode::None);
    assert_eq!(
        joined.leader, joined.member_id,
        "the member that did not rejoin is gone"
    );
    assert!(waited >= Duration::from_millis(145), "answered early: {waited:?}");
    // A polling tick of 100 ms would answer anywhere up to 250 ms.
    assert!(waited < Duration::from_millis(230), "answered late: {waited:?}");
}

#[tokio::test]
async fn an_emptied_group_stays_known_and_can_be_deleted() {
    let c = coordinator();
    let (member, _) = stable_member(&c, "g", 10_000, 1_000).await;
    assert_eq!(c.leave("g", &[(member, None)]), vec![ErrorCode::None]);
    let d = c.describe("g").expect("an Empty group that had members is kept");
    assert_eq!((d.state, d.protocol_type.as_str()), (GroupState::Empty, "consumer"));
    assert_eq!(
        c.list(),
        vec![("g".to_string(), "consumer".to_string(), GroupState::Empty)]
    );
    assert_eq!(c.delete("g"), Ok(()));
    assert!(c.describe("g").is_none());
}

#[tokio::test]
async fn a_group_that_never_had_members_is_not_kept() {
    let c = coordinator();
    let refused = c.join("g", join_req("", 1, 1_000)).await;
    assert_eq!(refused.error, ErrorCode::InvalidSessionTimeout);
    assert!(c.describe("g").is_none());
}
