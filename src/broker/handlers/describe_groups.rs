//! DescribeGroups (key 15), v0–5: state, protocol and members (with
//! metadata and assignment while Stable) of groups this broker coordinates;
//! for a group it does not coordinate but whose consumers registered in
//! ZooKeeper, the members from `/consumers/<g>/ids` and their partitions
//! from `owners` (protocol "zookeeper", encoded as the consumer protocol).
//! An Empty group keeps the protocol type and protocol its members last
//! committed under while its offsets exist (see `group::stored`).
//! Unknown groups are reported Dead with no error, as Kafka does. v3+
//! reports authorized operations when asked (see `broker::authorizer`).

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::authorizer::Resource;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::stored::describe_stored;
use crate::group::{GroupDescription, GroupState};
use crate::metadata::LayoutError;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeGroupsRequest = decode(&frame)?;
    let mut response = DescribeGroupsResponse::default();
    for group_id in &request.groups {
        let id = group_id.as_str();
        let mut out = DescribedGroup::default().with_group_id(group_id.clone());
        let described = match group_error(broker, &frame, AclOperation::Describe, id) {
            Some(error) => Err(error),
            None => describe(broker, id).await,
        };
        match described {
            Err(error) => {
                // Kafka leaves the state empty when it cannot describe the group.
                out.error_code = error.code();
            }
            Ok(d) => {
                if frame.api_version >= 3 && request.include_authorized_operations {
                    out.authorized_operations = broker.authorized_operations(&frame, Resource::Group(id));
                }
                out.group_state = str_bytes(d.state.name());
                out.protocol_type = str_bytes(&d.protocol_type);
                out.protocol_data = str_bytes(&d.protocol_name);
                out.members = d
                    .members
                    .into_iter()
                    .map(|m| {
                        let mut member = DescribedGroupMember::default()
                            .with_member_id(str_bytes(&m.member_id))
                            .with_client_id(str_bytes(&m.client_id))
                            .with_client_host(str_bytes(&m.client_host))
                            .with_member_metadata(m.metadata)
                            .with_member_assignment(m.assignment);
                        if frame.api_version >= 4 {
                            member.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
                        }
                        member
                    })
                    .collect();
            }
        }
        response.groups.push(out);
    }
    respond(&frame, &response)
}

async fn describe(broker: &Broker, id: &str) -> Result<GroupDescription, ErrorCode> {
    if let Some(d) = broker.groups.describe(id) {
        if !d.members.is_empty() {
            return Ok(d);
        }
    }
    let unavailable = |e: LayoutError| {
        tracing::warn!(group = id, error = %e, "cannot read the group's znodes");
        ErrorCode::CoordinatorNotAvailable
    };
    if !broker.layout.group_exists(id).await.map_err(unavailable)? {
        // Known here only (members about to join), or not at all.
        return Ok(broker.groups.describe(id).unwrap_or(GroupDescription {
            state: GroupState::Dead,
            protocol_type: String::new(),
            protocol_name: String::new(),
            members: vec![],
        }));
    }
    describe_stored(&broker.layout, id).await.map_err(unavailable)
}
