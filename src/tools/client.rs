//! A small blocking Kafka client for the admin tools: one connection, one
//! request at a time, typed with the same codec the broker uses. With
//! `--command-config` (`use_command_config`) it speaks TLS and logs in with
//! SASL as the file says, the way Kafka's tools read their client config.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::security::client::{ClientSecurity, SaslClient};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

/// Responses larger than this are refused (the tools never need more).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// The client settings of this process's tool run (`--command-config`):
/// set once by the command line, read by every connection it opens.
static COMMAND_SECURITY: OnceLock<ClientSecurity> = OnceLock::new();

/// Reads a client config file (`--command-config`, `--producer.config`,
/// `--consumer.config`) for every connection this process opens.
pub fn use_command_config(path: &std::path::Path) -> Result<(), String> {
    let props = crate::security::client::read_properties(path)?;
    let security = ClientSecurity::from_properties(&props).map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = COMMAND_SECURITY.set(security);
    Ok(())
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

pub struct Client {
    stream: Stream,
    next_correlation: i32,
}

impl Client {
    /// Connects to the first reachable `host:port` of a comma-separated list.
    pub fn connect(bootstrap: &str) -> Result<Client, String> {
        Client::connect_with_timeouts(bootstrap, Duration::from_secs(10), Duration::from_secs(60))
    }

    /// As `connect`, with the connect timeout per address and the timeout
    /// of each read (the monitor must not hang on a stopped broker).
    pub fn connect_with_timeouts(bootstrap: &str, connect: Duration, read: Duration) -> Result<Client, String> {
        let mut last_error = format!("no address in {bootstrap:?}");
        for server in bootstrap.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let addrs = match server.to_socket_addrs() {
                Ok(a) => a,
                Err(e) => {
                    last_error = format!("{server}: {e}");
                    continue;
                }
            };
            let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, connect) {
                    Ok(stream) => {
                        let _ = stream.set_read_timeout(Some(read));
                        let _ = stream.set_write_timeout(Some(read));
                        let _ = stream.set_nodelay(true);
                        let security = COMMAND_SECURITY.get().cloned().unwrap_or_default();
                        return Client::secure(stream, host, &security).map_err(|e| format!("{server}: {e}"));
                    }
                    Err(e) => last_error = format!("{server}: {e}"),
                }
            }
        }
        Err(format!("cannot connect to {bootstrap}: {last_error}"))
    }

    /// TLS and SASL over a connected socket, as `security` says.
    fn secure(stream: TcpStream, host: &str, security: &ClientSecurity) -> Result<Client, String> {
        let stream = match &security.tls {
            None => Stream::Plain(stream),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| format!("bad TLS server name {host:?}: {e}"))?;
                let connection =
                    rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| format!("TLS: {e}"))?;
                let mut tls = rustls::StreamOwned::new(connection, stream);
                // Complete the handshake now, so a bad certificate is reported as such.
                while tls.conn.is_handshaking() {
                    tls.conn
                        .complete_io(&mut tls.sock)
                        .map_err(|e| format!("TLS handshake failed: {e}"))?;
                }
                Stream::Tls(Box::new(tls))
            }
        };
        let mut client = Client {
            stream,
            next_correlation: 1,
        };
        if let Some((mechanism, user, password)) = &security.login {
            client.authenticate(*mechanism, user, password)?;
        }
        Ok(client)
    }

    /// SaslHandshake v1 and SaslAuthenticate v1 until the login completes.
    fn authenticate(
        &mut self,
        mechanism: crate::security::Mechanism,
        user: &str,
        password: &str,
    ) -> Result<(), String> {
        use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
        let handshake = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
        let answer = self.send(&handshake, 1)?;
        if answer.error_code != 0 {
            let offered: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(format!(
                "SASL mechanism {} refused ({}); the broker offers {}",
                mechanism.name(),
                super::topics::kafka_error_name(answer.error_code),
                offered.join(", ")
            ));
        }
        let mut login = SaslClient::new(mechanism, user, password);
        let mut token = login.first();
        loop {
            let response = self.send(&SaslAuthenticateRequest::default().with_auth_bytes(token.into()), 1)?;
            if response.error_code != 0 {
                return Err(format!(
                    "SASL authentication failed: {}",
                    response.error_message.as_deref().unwrap_or("")
                ));
            }
            match login.next(&response.auth_bytes)? {
                Some(next) => token = next,
                None => return Ok(()),
            }
        }
    }

    /// Sends `request` without waiting for an answer (Produce with acks=0,
    /// which the broker does not answer).
    pub fn send_oneway<R: Request>(&mut self, request: &R, version: i16) -> Result<(), String> {
        self.write_request(request, version).map(drop)
    }

    /// Sends `request` at `version` and returns the decoded response.
    pub fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response, String> {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| "unknown api key".to_string())?;
        let correlation_id = self.write_request(request, version)?;
        self.read_response::<R>(api_key, version, correlation_id)
    }

    fn write_request<R: Request>(&mut self, request: &R, version: i16) -> Result<i32, String> {
        let api_key = ApiKey::try_from(R::KEY).map_err(|_| "unknown api key".to_string())?;
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("krab-tools")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api_key.request_header_version(version))
            .map_err(|e| e.to_string())?;
        request.encode(&mut body, version).map_err(|e| e.to_string())?;
        let mut frame = BytesMut::with_capacity(4 + body.len());
        frame.put_i32(body.len() as i32);
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame).map_err(|e| format!("send: {e}"))?;
        Ok(correlation_id)
    }

    fn read_response<R: Request>(
        &mut self,
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
    ) -> Result<R::Response, String> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).map_err(|e| format!("receive: {e}"))?;
        let size = i32::from_be_bytes(size);
        if size < 0 || size as usize > MAX_RESPONSE {
            return Err(format!("bad response size {size}"));
        }
        let mut buf = vec![0u8; size as usize];
        self.stream.read_exact(&mut buf).map_err(|e| format!("receive: {e}"))?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, api_key.response_header_version(version))
            .map_err(|e| format!("bad response header: {e}"))?;
        if header.correlation_id != correlation_id {
            return Err(format!(
                "correlation id {} != {}",
                header.correlation_id, correlation_id
            ));
        }
        let response = R::Response::decode(&mut buf, version).map_err(|e| format!("bad response: {e}"))?;
        if buf.has_remaining() {
            tracing::debug!(left = buf.remaining(), "trailing bytes in response");
        }
        Ok(response)
    }
}
