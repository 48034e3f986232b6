//! LeaveGroup (key 13), v0–4: v0–2 one member by id; v3+ a batch of
//! members by id or group.instance.id, each with its own error.
//! Not implemented: v5's leave reason is accepted and ignored.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: LeaveGroupRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let leaving: Vec<(String, Option<String>)> = if frame.api_version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    let mut response = LeaveGroupResponse::default();
    if let Some(error) = group_error(broker, &frame, AclOperation::Read, group) {
        response.error_code = error.code();
        return respond(&frame, &response);
    }
    let errors = broker.groups.leave(group, &leaving);
    if frame.api_version >= 3 {
        response.members = request
            .members
            .iter()
            .zip(&errors)
            .map(|(m, e)| {
                MemberResponse::default()
                    .with_member_id(m.member_id.clone())
                    .with_group_instance_id(m.group_instance_id.clone())
                    .with_error_code(e.code())
            })
            .collect();
    } else {
        response.error_code = errors.first().copied().unwrap_or(ErrorCode::None).code();
    }
    respond(&frame, &response)
}
