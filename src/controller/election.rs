//! Kafka's leader election rules, as pure functions of a partition's state,
//! its assignment and the live brokers (no I/O; the controller writes what
//! these return).

use crate::metadata::PartitionState;

/// The state a partition should move to now that `live` are the live
/// brokers, or `None` if it is fine as it is. Every change bumps the leader
/// epoch, as Kafka's controller does:
/// - ISR members that are gone leave the ISR (but the last one stays, so
///   it can lead again when it returns);
/// - a partition whose leader is gone gets the first live replica in
///   assignment order that is in the ISR;
/// - with none, and `unclean` allowed, the first live replica, alone in the
///   ISR; without, no leader (-1) until an ISR member returns.
pub fn after_broker_change(
    current: &PartitionState,
    replicas: &[i32],
    live: &[i32],
    unclean: bool,
    controller_epoch: i32,
) -> Option<PartitionState> {
    let live_isr: Vec<i32> = current.isr.iter().copied().filter(|r| live.contains(r)).collect();
    let leader_alive = current.leader >= 0 && live.contains(&current.leader);
    let next = |leader: i32, isr: Vec<i32>| PartitionState {
        leader,
        leader_epoch: current.leader_epoch + 1,
        isr,
        controller_epoch,
    };
    if leader_alive {
        if live_isr == current.isr {
            return None;
        }
        return Some(next(current.leader, live_isr));
    }
    if let Some(leader) = replicas.iter().copied().find(|r| live_isr.contains(r)) {
        return Some(next(leader, live_isr));
    }
    if unclean {
        if let Some(leader) = replicas.iter().copied().find(|r| live.contains(r)) {
            return Some(next(leader, vec![leader]));
        }
    }
    // No eligible leader: keep the ISR as it was (its members hold every
    // committed record) and wait for one to return.
    if current.leader == -1 {
        return None;
    }
    Some(next(-1, current.isr.clone()))
}

/// A preferred-replica election: the first assigned replica leads if it is
/// live and in the ISR. `None` if it leads already or cannot.
pub fn preferred(
    current: &PartitionState,
    replicas: &[i32],
    live: &[i32],
    controller_epoch: i32,
) -> Option<PartitionState> {
    let preferred = *replicas.first()?;
    if current.leader == preferred || !live.contains(&preferred) || !current.isr.contains(&preferred) {
        return None;
    }
    Some(PartitionState {
        leader: preferred,
        leader_epoch: current.leader_epoch + 1,
        isr: current.isr.clone(),
        controller_epoch,
    })
}

/// Leadership moved off `leaving` (controlled shutdown): the next live ISR
/// member in assignment order leads and `leaving` leaves the ISR. `None` if
/// no other ISR member is live.
pub fn without_broker(
    current: &PartitionState,
    replicas: &[i32],
    live: &[i32],
    leaving: i32,
    controller_epoch: i32,
) -> Option<PartitionState> {
    let live: Vec<i32> = live.iter().copied().filter(|b| *b != leaving).collect();
    let isr: Vec<i32> = current.isr.iter().copied().filter(|r| *r != leaving).collect();
    if current.leader != leaving {
        if isr.len() == current.isr.len() || isr.is_empty() {
            return None;
        }
        return Some(PartitionState {
            leader: current.leader,
            leader_epoch: current.leader_epoch + 1,
            isr,
            controller_epoch,
        });
    }
    let leader = replicas.iter().copied().find(|r| isr.contains(r) && live.contains(r))?;
    Some(PartitionState {
        leader,
        leader_epoch: current.leader_epoch + 1,
        isr,
        controller_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leader: i32, epoch: i32, isr: &[i32]) -> PartitionState {
        PartitionState {
            leader,
            leader_epoch: epoch,
            isr: isr.to_vec(),
            controller_epoch: 1,
        }
    }

    #[test]
    fn leader_loss_elects_the_first_live_isr_replica() {
        let next = after_broker_change(&state(1, 3, &[1, 2, 3]), &[1, 2, 3], &[2, 3], false, 2).unwrap();
        assert_eq!(
            (next.leader, next.leader_epoch, next.isr.clone(), next.controller_epoch),
            (2, 4, vec![2, 3], 2)
        );
        // assignment order, not ISR order
        let next = after_broker_change(&state(1, 0, &[1, 3, 2]), &[1, 2, 3], &[2, 3], false, 1).unwrap();
        assert_eq!(next.leader, 2);
    }

    #[test]
    fn follower_loss_shrinks_the_isr_and_nothing_else_is_a_change() {
        let next = after_broker_change(&state(1, 3, &[1, 2]), &[1, 2], &[1], false, 1).unwrap();
        assert_eq!((next.leader, next.leader_epoch, next.isr), (1, 4, vec![1]));
        assert!(after_broker_change(&state(1, 3, &[1]), &[1, 2], &[1], false, 1).is_none());
    }

    #[test]
    fn whole_isr_gone_waits_unless_unclean() {
        let gone = after_broker_change(&state(1, 3, &[1]), &[1, 2], &[2], false, 1).unwrap();
        assert_eq!((gone.leader, gone.isr.clone()), (-1, vec![1]));
        assert!(
            after_broker_change(&gone, &[1, 2], &[2], false, 1).is_none(),
            "stays leaderless"
        );
        let back = after_broker_change(&gone, &[1, 2], &[1, 2], false, 1).unwrap();
        assert_eq!((back.leader, back.isr), (1, vec![1]));
        let unclean = after_broker_change(&state(1, 3, &[1]), &[1, 2], &[2], true, 1).unwrap();
        assert_eq!((unclean.leader, unclean.isr), (2, vec![2]));
        let nobody = after_broker_change(&state(1, 3, &[1, 2]), &[1, 2], &[], true, 1).unwrap();
        assert_eq!((nobody.leader, nobody.isr), (-1, vec![1, 2]));
    }

    #[test]
    fn preferred_and_controlled_shutdown() {
        assert_eq!(preferred(&state(2, 5, &[1, 2]), &[1, 2], &[1, 2], 1).unwrap().leader, 1);
        assert!(
            preferred(&state(2, 5, &[2]), &[1, 2], &[1, 2], 1).is_none(),
            "not in the ISR"
        );
        assert!(
            preferred(&state(1, 5, &[1, 2]), &[1, 2], &[1, 2], 1).is_none(),
            "already leads"
        );
        let moved = without_broker(&state(1, 5, &[1, 2, 3]), &[1, 2, 3], &[1, 2, 3], 1, 1).unwrap();
        assert_eq!((moved.leader, moved.isr), (2, vec![2, 3]));
        let follower = without_broker(&state(1, 5, &[1, 2]), &[1, 2], &[1, 2], 2, 1).unwrap();
        assert_eq!((follower.leader, follower.isr), (1, vec![1]));
        assert!(
            without_broker(&state(1, 5, &[1]), &[1, 2], &[1, 2], 1, 1).is_none(),
            "no other ISR member"
        );
    }
}
