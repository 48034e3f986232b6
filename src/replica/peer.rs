//! An async connection to another broker, for the follower's fetches: one
//! request at a time, typed with the broker's own codec. Response sizes are
//! bounded before anything is allocated.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::security::client::{ClientSecurity, SaslClient};
use crate::security::Mechanism;

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

async fn tcp_connect(host: &str, port: u16) -> Result<(String, TcpStream), PeerError> {
    let address = format!("{host}:{port}");
    let connect = TcpStream::connect((host, port));
    let stream = match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(PeerError::Connect(address, e.to_string())),
        Err(_) => return Err(PeerError::Connect(address, "timed out".into())),
    };
    let _ = stream.set_nodelay(true);
    Ok((address, stream))
}

/// A plain or TLS stream to another broker.
trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerStream for T {}

pub struct PeerConnection {
    address: String,
    stream: Box<dyn PeerStream>,
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
        let (address, stream) = tcp_connect(host, port).await?;
        Ok(PeerConnection {
            address,
            stream: Box::new(stream),
            next_correlation: 1,
            client_id,
            max_response,
        })
    }

    /// Connects with the inter-broker listener's security: TLS, then a SASL
    /// login (SaslHandshake v1, SaslAuthenticate v1).
    pub async fn connect_secure(
        host: &str,
        port: u16,
        client_id: String,
        max_response: usize,
        security: &ClientSecurity,
    ) -> Result<PeerConnection, PeerError> {
        let (address, tcp) = tcp_connect(host, port).await?;
        let stream: Box<dyn PeerStream> = match &security.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| PeerError::Connect(address.clone(), format!("bad TLS server name: {e}")))?;
                let handshake = tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp);
                match tokio::time::timeout(Duration::from_secs(5), handshake).await {
                    Ok(Ok(tls)) => Box::new(tls),
                    Ok(Err(e)) => return Err(PeerError::Connect(address, format!("TLS handshake: {e}"))),
                    Err(_) => return Err(PeerError::Connect(address, "TLS handshake timed out".into())),
                }
            }
        };
        let mut connection = PeerConnection {
            address,
            stream,
            next_correlation: 1,
            client_id,
            max_response,
        };
        if let Some((mechanism, user, password)) = &security.login {
            connection.authenticate(*mechanism, user, password).await?;
        }
        Ok(connection)
    }

    async fn authenticate(&mut self, mechanism: Mechanism, user: &str, password: &str) -> Result<(), PeerError> {
        use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
        let wait = Duration::from_secs(5);
        let address = self.address.clone();
        let refused = |e: String| PeerError::Connect(address.clone(), e);
        let handshake = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
        let answer = self.send(&handshake, 1, wait).await?;
        if answer.error_code != 0 {
            return Err(refused(format!("SASL mechanism {} refused", mechanism.name())));
        }
        let mut login = SaslClient::new(mechanism, user, password);
        let mut token = login.first();
        loop {
            let request = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
            let response = self.send(&request, 1, wait).await?;
            if response.error_code != 0 {
                return Err(refused(format!(
                    "SASL authentication failed: {}",
                    response.error_message.as_deref().unwrap_or("")
                )));
            }
            match login.next(&response.auth_bytes).map_err(refused)? {
                Some(next) => token = next,
                None => return Ok(()),
            }
        }
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
