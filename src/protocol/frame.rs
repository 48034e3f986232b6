//! Request headers and response framing, sans-IO. The connection reads the
//! 4-byte size and the body (bounded by `socket.request.max.bytes`); this
//! module turns a body into a header plus the remaining message bytes, and a
//! response message into a size-prefixed frame.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use thiserror::Error;

use super::registry::supported_range;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("request shorter than a header ({0} bytes)")]
    TooShort(usize),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("undecodable request header for API {api_key} v{api_version}: {reason}")]
    BadHeader {
        api_key: i16,
        api_version: i16,
        reason: String,
    },
}

/// A request split into its header and the undecoded message body.
#[derive(Debug)]
pub struct RequestFrame {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// Whether krab implements this version (see the registry).
    pub version_supported: bool,
    pub body: Bytes,
    /// The client's address; set by the network layer, `None` when unknown.
    pub peer: Option<std::net::SocketAddr>,
    /// The listener the request came in on (set by the network layer).
    pub listener: Option<std::sync::Arc<str>>,
    /// The authenticated principal, `User:<name>` (set by the network layer).
    pub principal: Option<std::sync::Arc<str>>,
}

/// Splits a request body (the bytes after the size prefix).
pub fn parse_request_header(mut body: Bytes) -> Result<RequestFrame, FrameError> {
    if body.len() < 8 {
        return Err(FrameError::TooShort(body.len()));
    }
    // The first three fields have the same layout in every header version.
    let raw_key = i16::from_be_bytes([body[0], body[1]]);
    let api_version = i16::from_be_bytes([body[2], body[3]]);
    let correlation_id = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| FrameError::UnknownApiKey(raw_key))?;
    let version_supported = supported_range(raw_key).is_some_and(|(min, max)| api_version >= min && api_version <= max);
    if !version_supported {
        // The body cannot be trusted to match any header layout; callers
        // answer from the fixed fields only.
        return Ok(RequestFrame {
            api_key,
            api_version,
            correlation_id,
            client_id: None,
            version_supported,
            body: Bytes::new(),
            peer: None,
            listener: None,
            principal: None,
        });
    }
    let header_version = api_key.request_header_version(api_version);
    let header = RequestHeader::decode(&mut body, header_version).map_err(|e| FrameError::BadHeader {
        api_key: raw_key,
        api_version,
        reason: e.to_string(),
    })?;
    Ok(RequestFrame {
        api_key,
        api_version,
        correlation_id,
        client_id: header.client_id.map(|s| s.to_string()),
        version_supported,
        body,
        peer: None,
        listener: None,
        principal: None,
    })
}

/// Decodes a request message, requiring that it consumes the whole body.
pub fn decode_body<T: Decodable>(mut body: Bytes, version: i16) -> Result<T, String> {
    let message = T::decode(&mut body, version).map_err(|e| e.to_string())?;
    if body.has_remaining() {
        // Tolerated: some clients pad; Kafka ignores trailing bytes too.
        tracing::debug!(left = body.remaining(), "trailing bytes after request body");
    }
    Ok(message)
}

/// Encodes a response with its header and 4-byte size prefix.
pub fn encode_response<R: Encodable>(
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    response: &R,
) -> Result<Bytes, String> {
    let header_version = api_key.response_header_version(api_version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let size = header.compute_size(header_version).map_err(|e| e.to_string())?
        + response.compute_size(api_version).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header.encode(&mut buf, header_version).map_err(|e| e.to_string())?;
    response.encode(&mut buf, api_version).map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(key: i16, version: i16, corr: i32, client: &str) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(key);
        b.put_i16(version);
        b.put_i32(corr);
        b.put_i16(client.len() as i16);
        b.put_slice(client.as_bytes());
        b.freeze()
    }

    #[test]
    fn parses_v1_header() {
        let f = parse_request_header(header_bytes(3, 0, 7, "pykafka")).unwrap();
        assert_eq!(f.api_key, ApiKey::Metadata);
        assert_eq!(f.correlation_id, 7);
        assert_eq!(f.client_id.as_deref(), Some("pykafka"));
        assert!(f.version_supported);
    }

    #[test]
    fn unsupported_version_and_unknown_key() {
        let f = parse_request_header(header_bytes(18, 99, 1, "x")).unwrap();
        assert!(!f.version_supported);
        assert_eq!(
            parse_request_header(header_bytes(999, 0, 1, "x")).unwrap_err(),
            FrameError::UnknownApiKey(999)
        );
        assert_eq!(
            parse_request_header(Bytes::from_static(&[0, 1])).unwrap_err(),
            FrameError::TooShort(2)
        );
    }

    #[test]
    fn truncated_client_id_is_an_error_not_a_panic() {
        let mut b = BytesMut::new();
        b.put_i16(3);
        b.put_i16(1);
        b.put_i32(1);
        b.put_i16(100);
        b.put_slice(b"abc");
        assert!(parse_request_header(b.freeze()).is_err());
    }
}
