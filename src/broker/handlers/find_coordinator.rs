//! FindCoordinator (key 10), v0–3. Groups (key type 0) and transactional
//! ids (key type 1): the coordinator is one of the live brokers, picked by a
//! hash of the key (every broker computes the same answer; with one broker
//! it is always itself). Not implemented: batched keys (v4+). Other key
//! types get INVALID_REQUEST, as Kafka answers a coordinator type it does
//! not know; an empty transactional id INVALID_REQUEST too.

use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::valid_group_id;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: FindCoordinatorRequest = decode(&frame)?;
    let mut response = FindCoordinatorResponse::default();
    let key = request.key.as_str();
    let error = if request.key_type == TRANSACTION
        && !super::authorize_transactional_id(broker, &frame, AclOperation::Describe, key)
    {
        Some(ErrorCode::TransactionalIdAuthorizationFailed)
    } else if request.key_type == GROUP
        && !broker.authorize(
            &frame,
            AclOperation::Describe,
            crate::broker::authorizer::Resource::Group(key),
        )
    {
        Some(ErrorCode::GroupAuthorizationFailed)
    } else if request.key_type == TRANSACTION {
        request.key.is_empty().then_some(ErrorCode::InvalidRequest)
    } else if request.key_type != GROUP {
        Some(ErrorCode::InvalidRequest)
    } else if !valid_group_id(request.key.as_str()) {
        Some(ErrorCode::InvalidGroupId)
    } else {
        None
    };
    if let Some(error) = error {
        response.error_code = error.code();
        response.node_id = BrokerId(-1);
        response.port = -1;
        return respond(&frame, &response);
    }
    let (id, address) = broker.coordinator_for(request.key.as_str(), frame.listener.as_deref());
    let Some((host, port)) = address else {
        // The coordinator has no endpoint on this client's listener.
        response.error_code = ErrorCode::CoordinatorNotAvailable.code();
        response.node_id = BrokerId(-1);
        response.port = -1;
        return respond(&frame, &response);
    };
    response.node_id = BrokerId(id);
    response.host = str_bytes(&host);
    response.port = port as i32;
    respond(&frame, &response)
}
