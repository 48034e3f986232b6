//! InitProducerId (key 22), v0–2, for idempotent producers: a fresh producer
//! id (unique across restarts, claimed in blocks from the metadata store)
//! with epoch 0.
//! Not implemented: transactions — a transactional id is refused with
//! INVALID_REQUEST (COORDINATOR_NOT_AVAILABLE would make clients retry
//! forever); epoch bumps (v3+).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: InitProducerIdRequest = decode(&frame)?;
    let mut response = InitProducerIdResponse::default();
    if request.transactional_id.as_ref().is_some_and(|t| !t.is_empty()) {
        response.error_code = ErrorCode::InvalidRequest.code();
        response.producer_id = ProducerId(-1);
        response.producer_epoch = -1;
        return respond(&frame, &response);
    }
    match broker.next_producer_id().await {
        Ok(id) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot allocate a producer id");
            response.error_code = ErrorCode::CoordinatorNotAvailable.code();
            response.producer_id = ProducerId(-1);
            response.producer_epoch = -1;
        }
    }
    respond(&frame, &response)
}
