//! ListGroups (key 16), v0–4: the groups this broker coordinates, plus every
//! group under /consumers it would coordinate (groups with only committed
//! offsets, and ZooKeeper-coordinated groups, Stable while their consumers
//! are registered). An Empty group keeps the protocol type its members had
//! ("consumer") while its offsets exist; one that only took simple commits
//! has "" (see `group::stored`). v4 filters by state. Not implemented: v5
//! type filter.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::stored::describe_stored;
use crate::group::GroupState;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: ListGroupsRequest = decode(&frame)?;
    let mut response = ListGroupsResponse::default();
    let mut groups: BTreeMap<String, (String, GroupState)> = BTreeMap::new();
    for (id, protocol_type, state) in broker.groups.list() {
        groups.insert(id, (protocol_type, state));
    }
    match broker.layout.list_groups().await {
        Ok(stored) => {
            for id in stored {
                if !broker.is_coordinator_for(&id) {
                    continue;
                }
                if groups.get(&id).is_some_and(|(_, s)| *s != GroupState::Empty) {
                    continue;
                }
                match describe_stored(&broker.layout, &id).await {
                    // An Empty group this broker still holds knows its protocol
                    // type even when no member committed (no record in the store).
                    Ok(d) if d.state == GroupState::Empty && d.protocol_type.is_empty() && groups.contains_key(&id) => {
                    }
                    Ok(d) => {
                        groups.insert(id, (d.protocol_type, d.state));
                    }
                    Err(e) => {
                        tracing::warn!(group = %id, error = %e, "cannot read the group's znodes");
                        groups.insert(id, (String::new(), GroupState::Empty));
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot list groups in the store");
            response.error_code = ErrorCode::CoordinatorNotAvailable.code();
        }
    }
    let wanted: Vec<String> = request.states_filter.iter().map(|s| s.to_lowercase()).collect();
    // Kafka: Describe on the cluster lists every group, else those the
    // principal may Describe.
    let all = super::authorize_cluster(broker, &frame, AclOperation::Describe);
    response.groups = groups
        .into_iter()
        .filter(|(id, _)| {
            all || broker.authorize(
                &frame,
                AclOperation::Describe,
                crate::broker::authorizer::Resource::Group(id),
            )
        })
        .filter(|(_, (_, state))| wanted.is_empty() || wanted.contains(&state.name().to_lowercase()))
        .map(|(id, (protocol_type, state))| {
            let mut g = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&id)))
                .with_protocol_type(str_bytes(&protocol_type));
            if frame.api_version >= 4 {
                g.group_state = str_bytes(state.name());
            }
            g
        })
        .collect();
    respond(&frame, &response)
}
