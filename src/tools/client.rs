//! A small blocking Kafka client for the admin tools: one connection, one
//! request at a time, typed with the same codec the broker uses.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

/// Responses larger than this are refused (the tools never need more).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

pub struct Client {
    stream: TcpStream,
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
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, connect) {
                    Ok(stream) => {
                        let _ = stream.set_read_timeout(Some(read));
                        let _ = stream.set_write_timeout(Some(read));
                        return Ok(Client {
                            stream,
                            next_correlation: 1,
                        });
                    }
                    Err(e) => last_error = format!("{server}: {e}"),
                }
            }
        }
        Err(format!("cannot connect to {bootstrap}: {last_error}"))
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
