//! Entry points shared by the fuzz targets and the property tests: throw
//! arbitrary bytes at every request decoder krab uses.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

use super::frame::{decode_body, parse_request_header};
use super::registry::SUPPORTED_APIS;

fn try_decode<T: Decodable>(body: &Bytes, version: i16) {
    let _ = decode_body::<T>(body.clone(), version);
}

/// Decodes `body` as the request body of `api` at `version`.
pub fn decode_request_body(api: ApiKey, version: i16, body: &Bytes) {
    match api {
        ApiKey::Produce => try_decode::<ProduceRequest>(body, version),
        ApiKey::Fetch => try_decode::<FetchRequest>(body, version),
        ApiKey::ListOffsets => try_decode::<ListOffsetsRequest>(body, version),
        ApiKey::Metadata => try_decode::<MetadataRequest>(body, version),
        ApiKey::OffsetCommit => try_decode::<OffsetCommitRequest>(body, version),
        ApiKey::OffsetFetch => try_decode::<OffsetFetchRequest>(body, version),
        ApiKey::FindCoordinator => try_decode::<FindCoordinatorRequest>(body, version),
        ApiKey::ApiVersions => try_decode::<ApiVersionsRequest>(body, version),
        ApiKey::CreateTopics => try_decode::<CreateTopicsRequest>(body, version),
        ApiKey::DeleteTopics => try_decode::<DeleteTopicsRequest>(body, version),
        ApiKey::InitProducerId => try_decode::<InitProducerIdRequest>(body, version),
        ApiKey::OffsetForLeaderEpoch => try_decode::<OffsetForLeaderEpochRequest>(body, version),
        ApiKey::AddPartitionsToTxn => try_decode::<AddPartitionsToTxnRequest>(body, version),
        ApiKey::AddOffsetsToTxn => try_decode::<AddOffsetsToTxnRequest>(body, version),
        ApiKey::EndTxn => try_decode::<EndTxnRequest>(body, version),
        ApiKey::TxnOffsetCommit => try_decode::<TxnOffsetCommitRequest>(body, version),
        ApiKey::WriteTxnMarkers => try_decode::<WriteTxnMarkersRequest>(body, version),
        ApiKey::DescribeTransactions => try_decode::<DescribeTransactionsRequest>(body, version),
        ApiKey::ListTransactions => try_decode::<ListTransactionsRequest>(body, version),
        ApiKey::SaslHandshake => try_decode::<SaslHandshakeRequest>(body, version),
        ApiKey::SaslAuthenticate => try_decode::<SaslAuthenticateRequest>(body, version),
        ApiKey::DescribeUserScramCredentials => try_decode::<DescribeUserScramCredentialsRequest>(body, version),
        ApiKey::AlterUserScramCredentials => try_decode::<AlterUserScramCredentialsRequest>(body, version),
        ApiKey::DescribeAcls => try_decode::<DescribeAclsRequest>(body, version),
        ApiKey::CreateAcls => try_decode::<CreateAclsRequest>(body, version),
        ApiKey::DeleteAcls => try_decode::<DeleteAclsRequest>(body, version),
        _ => {}
    }
}

/// A whole request body (after the size prefix): header, then the message
/// decoder the header selects; plus every registered decoder on the raw
/// bytes, so each sees arbitrary input too.
pub fn decode_any_request(data: Bytes) {
    if let Ok(frame) = parse_request_header(data.clone()) {
        if frame.version_supported {
            decode_request_body(frame.api_key, frame.api_version, &frame.body);
        }
    }
    if let Some(&selector) = data.first() {
        let (api, min, max) = SUPPORTED_APIS[selector as usize % SUPPORTED_APIS.len()];
        let version = min + (data.get(1).copied().unwrap_or(0) as i16 % (max - min + 1));
        decode_request_body(api, version, &data.slice(1..));
    }
}
