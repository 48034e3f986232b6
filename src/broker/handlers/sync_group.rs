//! SyncGroup (key 14), v0–5: followers wait for the leader's assignment;
//! each member gets exactly the bytes the leader sent for it (an empty
//! assignment is valid and sent as empty). v5 checks protocol type and name.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::{SyncRequest, SyncResult};
use crate::protocol::RequestFrame;

use super::{decode, group_error, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: SyncGroupRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let result = match group_error(broker, &frame, AclOperation::Read, group) {
        Some(error) => SyncResult::error(error),
        None => {
            let req = SyncRequest {
                member_id: request.member_id.to_string(),
                group_instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
                generation: request.generation_id,
                protocol_type: request.protocol_type.as_ref().map(|s| s.to_string()),
                protocol_name: request.protocol_name.as_ref().map(|s| s.to_string()),
                assignments: request
                    .assignments
                    .iter()
                    .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                    .collect(),
            };
            broker.groups.sync(group, req).await
        }
    };
    let mut response = SyncGroupResponse::default()
        .with_error_code(result.error.code())
        .with_assignment(result.assignment);
    if frame.api_version >= 5 {
        response.protocol_type = result.protocol_type.as_deref().map(str_bytes);
        response.protocol_name = result.protocol_name.as_deref().map(str_bytes);
    }
    respond(&frame, &response)
}
