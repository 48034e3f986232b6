//! FindCoordinator (key 10), v0–2. Every broker answers that it is the
//! coordinator itself: group state lives in the shared metadata store, so
//! any broker can serve a group's offsets. Not implemented: batched keys
//! (v4+), transaction coordinators (key_type 1 gets COORDINATOR_NOT_AVAILABLE).

use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: FindCoordinatorRequest = decode(&frame)?;
    let mut response = FindCoordinatorResponse::default();
    if request.key_type != 0 {
        response.error_code = ErrorCode::CoordinatorNotAvailable.code();
        response.node_id = BrokerId(-1);
        response.port = -1;
        return respond(&frame, &response);
    }
    response.node_id = BrokerId(broker.config.broker_id);
    response.host = str_bytes(&broker.advertised.0);
    response.port = broker.advertised.1 as i32;
    respond(&frame, &response)
}
