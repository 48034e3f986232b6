//! Heartbeat (key 12), v0–4: keeps a member's session alive; answers
//! REBALANCE_IN_PROGRESS while the group waits for members to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::RequestFrame;

use super::{decode, group_error, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: HeartbeatRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let error = group_error(broker, &frame, AclOperation::Read, group).unwrap_or_else(|| {
        broker.groups.heartbeat(
            group,
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            request.generation_id,
        )
    });
    respond(&frame, &HeartbeatResponse::default().with_error_code(error.code()))
}
