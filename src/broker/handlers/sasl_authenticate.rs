//! SaslAuthenticate (key 36), v0–2: carries SASL tokens after a v1
//! handshake. The exchange belongs to the connection
//! (`security::authenticator`); a request that reaches the API layer is out
//! of place (no SASL on this listener, or no handshake before it) and gets
//! ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers.

use bytes::Bytes;
use kafka_protocol::messages::SaslAuthenticateResponse;

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{respond, str_bytes};

pub async fn handle(_broker: &Broker, frame: RequestFrame) -> HandlerResult {
    response(&frame, ErrorCode::IllegalSaslState, None, Bytes::new(), 0)
}

/// One step's answer; `session_lifetime_ms` is sent from v1 (KIP-368).
pub fn response(
    frame: &RequestFrame,
    error: ErrorCode,
    message: Option<&str>,
    token: Bytes,
    session_lifetime_ms: i64,
) -> HandlerResult {
    let response = SaslAuthenticateResponse::default()
        .with_error_code(error.code())
        .with_error_message(message.map(str_bytes))
        .with_auth_bytes(token)
        .with_session_lifetime_ms(session_lifetime_ms);
    respond(frame, &response)
}
