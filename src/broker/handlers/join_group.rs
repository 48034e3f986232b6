//! JoinGroup (key 11), v0–7: the classic protocol's join, held until the
//! rebalance completes (see `group::state`). v4+ new members first get
//! MEMBER_ID_REQUIRED with their id; v5+ carry group.instance.id (static
//! membership). The broker relays members' protocol metadata to the leader
//! untouched, so every client-side assignor works.
//! Not implemented: v8+ (join reason, skip_assignment), group.max.size.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::{JoinRequest, JoinResult};
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: JoinGroupRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let result = match group_error(broker, &frame, AclOperation::Read, group) {
        Some(error) => JoinResult::error(error, request.member_id.as_str()),
        None => {
            let req = JoinRequest {
                member_id: request.member_id.to_string(),
                group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
                client_id: frame.client_id.clone().unwrap_or_default(),
                // As Kafka shows it: "/127.0.0.1".
                client_host: frame.peer.map(|p| format!("/{}", p.ip())).unwrap_or_default(),
                session_timeout_ms: request.session_timeout_ms,
                rebalance_timeout_ms: if frame.api_version >= 1 {
                    request.rebalance_timeout_ms
                } else {
                    request.session_timeout_ms
                },
                protocol_type: request.protocol_type.to_string(),
                protocols: request
                    .protocols
                    .iter()
                    .map(|p| (p.name.to_string(), p.metadata.clone()))
                    .collect(),
                require_known_member_id: frame.api_version >= 4,
            };
            broker.groups.join(group, req).await
        }
    };
    respond(&frame, &to_response(result, frame.api_version))
}

fn to_response(result: JoinResult, version: i16) -> JoinGroupResponse {
    let mut response = JoinGroupResponse::default();
    response.error_code = result.error.code();
    response.generation_id = result.generation;
    response.leader = str_bytes(&result.leader);
    response.member_id = str_bytes(&result.member_id);
    // v0–6 have a non-null protocol name: "" when none was chosen.
    response.protocol_name = match (&result.protocol_name, version >= 7) {
        (Some(name), _) => Some(str_bytes(name)),
        (None, true) => None,
        (None, false) => Some(str_bytes("")),
    };
    if version >= 7 {
        response.protocol_type = result.protocol_type.as_deref().map(str_bytes);
    }
    if result.error == ErrorCode::None {
        response.members = result
            .members
            .into_iter()
            .map(|m| {
                let mut member = JoinGroupResponseMember::default()
                    .with_member_id(str_bytes(&m.member_id))
                    .with_metadata(m.metadata);
                if version >= 5 {
                    member.group_instance_id = m.group_instance_id.as_deref().map(str_bytes);
                }
                member
            })
            .collect();
    }
    response
}
