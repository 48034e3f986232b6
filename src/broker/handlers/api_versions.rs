//! ApiVersions (key 18), v0–3. The list is generated from the registry
//! (cut down to an emulated release's versions with emulate.kafka.version).
//! An unsupported version gets a v0-shaped body with UNSUPPORTED_VERSION and
//! the list, as Kafka ≥ 2.4 answers, so clients can retry lower. The
//! response header is v0 for every version (the codec knows this).
//! Not implemented: supported/finalized features (empty).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

use crate::broker::dispatch::{HandlerResult, Reply};
use crate::broker::response_errors::ErrorTally;
use crate::broker::Broker;
use crate::protocol::{encode_response, ErrorCode, RequestFrame};

use super::respond;

fn api_list(broker: &Broker) -> Vec<ApiVersion> {
    broker
        .api_table
        .iter()
        .map(|(api, min, max)| {
            ApiVersion::default()
                .with_api_key(*api as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    // The request body (client software name/version in v3) carries
    // nothing we act on, so it is not decoded: a client whose v3 body we
    // could not parse still gets its answer.
    let response = ApiVersionsResponse::default().with_api_keys(api_list(broker));
    respond(&frame, &response)
}

pub fn unsupported_version(broker: &Broker, frame: &RequestFrame) -> HandlerResult {
    let response = ApiVersionsResponse::default()
        .with_error_code(ErrorCode::UnsupportedVersion.code())
        .with_api_keys(api_list(broker));
    let bytes = encode_response(ApiKey::ApiVersions, 0, frame.correlation_id, &response).map_err(|e| e.to_string())?;
    Ok(Reply {
        response: Some(bytes),
        errors: ErrorTally::of(&response),
    })
}
