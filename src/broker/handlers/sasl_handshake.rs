//! SaslHandshake (key 17), v0–1. The exchange itself belongs to the
//! connection (`security::authenticator`): v0 is followed by raw tokens, v1
//! by SaslAuthenticate. A handshake that reaches the API layer came on a
//! listener without SASL, or on a connection that cannot re-authenticate:
//! Kafka answers ILLEGAL_SASL_STATE, and so does krab. v2+ is not offered
//! (clients up to 2.4 mis-negotiate it, KAFKA-9577).

use kafka_protocol::messages::SaslHandshakeResponse;

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{respond, str_bytes};

pub async fn handle(_broker: &Broker, frame: RequestFrame) -> HandlerResult {
    response(&frame, ErrorCode::IllegalSaslState, &[])
}

/// The answer to a handshake: `mechanisms` are the listener's enabled ones.
pub fn response(frame: &RequestFrame, error: ErrorCode, mechanisms: &[&str]) -> HandlerResult {
    let response = SaslHandshakeResponse::default()
        .with_error_code(error.code())
        .with_mechanisms(mechanisms.iter().map(|m| str_bytes(m)).collect());
    respond(frame, &response)
}
