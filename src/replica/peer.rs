//! An async connection to another broker, for the follower's fetches: one
//! request at a time, typed with the broker's own codec. Response sizes are
//! bounded before anything is allocated.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("i/o with {0}: {1}")]
    Io(String, String),
    #[error("protocol error with {0}: {1}")]
    Protocol(String, String),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
}

pub struct PeerConnection {
    address: String,
    stream: TcpStream,
    next_correlation: i32,
    client_id: String,
    max_response: usize,
}

impl PeerConnection {
    pub async fn connect(
        host: &str,
        port: u16,
        client_id: String,
        max_response: usize,
    ) -> Result<PeerConnection, PeerError> {
        let address = format!("{host}:{port}");
        let connect = TcpStream::connect((host, port));
        let stream = match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(PeerError::Connect(address, e.to_string())),
            Err(_) => return Err(PeerError::Connect(address, "timed out".into())),
        };
        let _ = stream.set_nodelay(true);
        Ok(PeerConnection {
            address,
            stream,
            next_correlation: 1,
            client_id,
            max_response,
        })
    }

    /// Sends `request` and waits up to `timeout` for its response.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, PeerError> {
        match tokio::time::timeout(timeout, self.round_trip(request, version)).await {
            Ok(result) => result,
            Err(_) => Err(PeerError::Timeout(self.address.clone(), timeout)),
        }
    }

    async fn round_trip<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response, PeerError> {
        let protocol = |e: String| PeerError::Protocol(self.address.clone(), e);
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| protocol("unknown api key".into()))?;
        let correlation_id = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut body = BytesMut::with_capacity(256);
        body.put_i32(0);
        header
            .encode(&mut body, api_key.request_header_version(version))
            .map_err(|e| protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| protocol(e.to_string()))?;
        let length = (body.len() - 4) as i32;
        body[..4].copy_from_slice(&length.to_be_bytes());
        let io = |e: std::io::Error| PeerError::Io(self.address.clone(), e.to_string());
        self.stream.write_all(&body).await.map_err(io)?;
        let size = self.stream.read_i32().await.map_err(io)?;
        if size < 0 || size as usize > self.max_response {
            return Err(protocol(format!("response of {size} bytes is out of bounds")));
        }
        let mut buf = vec![0u8; size as usize];
        self.stream.read_exact(&mut buf).await.map_err(io)?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, api_key.response_header_version(version))
            .map_err(|e| protocol(format!("bad response header: {e}")))?;
        if header.correlation_id != correlation_id {
            return Err(protocol(format!(
                "correlation id {} != {correlation_id}",
                header.correlation_id
            )));
        }
        let response = R::Response::decode(&mut buf, version).map_err(|e| protocol(format!("bad response: {e}")))?;
        if buf.has_remaining() {
            tracing::debug!(left = buf.remaining(), "trailing bytes in response");
        }
        Ok(response)
    }
}
