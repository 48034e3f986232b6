//! One client connection: TLS and SASL where the listener asks for them,
//! framing, limits, and in-order request handling. The size prefix is
//! checked against `socket.request.max.bytes` (before authentication:
//! `sasl.server.max.receive.size`) before any allocation, and the body
//! buffer grows only as bytes actually arrive. Anything wrong with the
//! framing or the login closes this connection and no other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::protocol::{parse_request_header, FrameError, RequestFrame};
use crate::security::authenticator::{AuthContext, Decision, SaslSession};

use super::listeners::ListenerRuntime;
use super::{dispatch, Broker};

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest single read reservation; bodies grow in steps of this.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame size {0} outside 0..={1} (socket.request.max.bytes)")]
    FrameSize(i32, i32),
    #[error("connection closed mid-frame")]
    Truncated,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Request(String),
}

/// Serves one accepted socket on `listener`: the TLS handshake first where
/// the listener has TLS, then requests (SASL before anything else where it
/// has SASL). A failed handshake is logged in one line and closes only
/// this connection.
pub async fn accept(
    socket: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    let _open = broker.metrics.connection_opened();
    let Some(tls) = &listener.tls else {
        serve(socket, peer, listener, None, broker.clone(), shutdown).await;
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
    let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            broker.metrics.authentication(listener.name(), "tls", false);
            tracing::warn!(%peer, listener = listener.name(), error = %e, "TLS handshake failed; closing connection");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, listener = listener.name(), "TLS handshake timed out; closing connection");
            return;
        }
    };
    // The principal of a client certificate, as Kafka names it.
    let dn = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| crate::security::tls::subject_rfc2253(cert.as_ref()));
    serve(stream, peer, listener, dn, broker.clone(), shutdown).await;
}

async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    listener: Arc<ListenerRuntime>,
    certificate_dn: Option<String>,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let max = broker.config.socket_request_max_bytes;
    let listener_name: Arc<str> = Arc::from(listener.name());
    let mut principal: Arc<str> = match &certificate_dn {
        Some(dn) => Arc::from(format!("User:{dn}")),
        None => Arc::from(crate::security::ANONYMOUS),
    };
    let mut sasl = listener
        .security
        .protocol
        .uses_sasl()
        .then(|| SaslSession::new(listener.security.clone()));
    loop {
        // Before authentication frames are capped small (CVE-2022-34917).
        let unauthenticated = sasl.as_ref().is_some_and(|s| !s.authenticated());
        let limit = if unauthenticated {
            max.min(broker.config.security.sasl_max_receive_size)
        } else {
            max
        };
        let frame = tokio::select! {
            _ = shutdown.changed() => break,
            frame = read_frame(&mut reader, limit) => frame,
        };
        let body = match frame {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(e) => {
                if matches!(e, ConnectionError::FrameSize(..)) {
                    broker.metrics.invalid_request();
                }
                let stage = if unauthenticated { " before authentication" } else { "" };
                tracing::warn!(%peer, listener = &*listener_name, error = %e, "closing connection{stage}");
                break;
            }
        };
        let outcome = match sasl.as_mut() {
            None => match parse(&broker, body, peer) {
                Ok(frame) => handle(&broker, frame, &listener_name, &principal).await,
                Err(e) => Err(e),
            },
            Some(session) => {
                let ctx = AuthContext {
                    layout: &broker.layout,
                    credentials: &broker.credentials,
                };
                let was_authenticated = session.authenticated();
                let decision = if session.expects_raw_token() {
                    session.on_raw_token(body, &ctx).await
                } else {
                    match parse(&broker, body, peer) {
                        Ok(frame) => session.on_request(frame, &ctx).await,
                        Err(e) => Decision::Close {
                            reply: None,
                            reason: e.to_string(),
                        },
                    }
                };
                if session.authenticated() && session.principal() != Some(&*principal) {
                    principal = Arc::from(session.principal().unwrap_or(crate::security::ANONYMOUS));
                }
                match decision {
                    Decision::Dispatch(frame) => handle(&broker, frame, &listener_name, &principal).await,
                    Decision::Reply(bytes) => {
                        if session.authenticated() && !was_authenticated {
                            broker
                                .metrics
                                .authentication(&listener_name, session.mechanism_name(), true);
                            tracing::debug!(%peer, listener = &*listener_name, principal = &*principal, "authenticated");
                        }
                        Ok(Some(bytes))
                    }
                    Decision::Close { reply, reason } => {
                        broker
                            .metrics
                            .authentication(&listener_name, session.mechanism_name(), false);
                        tracing::warn!(%peer, listener = &*listener_name, reason = %reason, "SASL authentication failed; closing connection");
                        // Kafka's connection.failed.authentication.delay.ms: slows guessing.
                        let delay = broker.config.security.failed_authentication_delay_ms;
                        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                        if let Some(reply) = reply {
                            let _ = writer.write_all(&reply).await;
                            let _ = writer.flush().await;
                        }
                        break;
                    }
                }
            }
        };
        match outcome {
            Ok(Some(response)) => {
                if let Err(e) = writer.write_all(&response).await {
                    tracing::debug!(%peer, error = %e, "write failed");
                    break;
                }
                if let Err(e) = writer.flush().await {
                    tracing::debug!(%peer, error = %e, "flush failed");
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
}

/// Splits a request's header off, counting an unreadable one.
fn parse(broker: &Broker, body: Bytes, peer: SocketAddr) -> Result<RequestFrame, ConnectionError> {
    let mut frame = parse_request_header(body).inspect_err(|_| broker.metrics.invalid_request())?;
    frame.peer = Some(peer);
    Ok(frame)
}

/// Dispatches one request, recording its count, latency and errors.
async fn handle(
    broker: &Broker,
    mut frame: RequestFrame,
    listener: &Arc<str>,
    principal: &Arc<str>,
) -> Result<Option<Bytes>, ConnectionError> {
    frame.listener = Some(listener.clone());
    frame.principal = Some(principal.clone());
    let api = frame.api_key;
    let started = Instant::now();
    // An emulated old release does not know newer versions (or APIs). krab's
    // own replica fetchers speak krab's inter-broker protocol regardless, as
    // Kafka's inter.broker.protocol.version is separate from what clients see.
    let replica_fetcher = frame
        .client_id
        .as_deref()
        .is_some_and(|c| c.starts_with("broker-") && c.ends_with("-fetcher"));
    if frame.version_supported && !replica_fetcher && !broker.offers(api, frame.api_version) {
        frame.version_supported = false;
        frame.body = Bytes::new();
    }
    // A request the broker refuses (an unknown version) meets no fault.
    let injection = if frame.version_supported {
        broker.faults.on_request(api, frame.client_id.as_deref(), || {
            super::fault_responses::touched_partitions(&frame)
        })
    } else {
        Default::default()
    };
    if !injection.latency.is_zero() {
        tokio::time::sleep(injection.latency).await;
    }
    if injection.close {
        return Err(ConnectionError::Request(format!("injected fault: close on {api:?}")));
    }
    let result = match injection.error {
        Some(error) if !super::faults::PARTITION_LEVEL_ERROR_APIS.contains(&api) => {
            super::fault_responses::error_response(&frame, error.code)
        }
        error => dispatch::dispatch(broker, frame, error).await,
    };
    let errors = result.as_ref().ok().map(|reply| &reply.errors);
    broker.metrics.record_request(api, started.elapsed(), errors);
    result.map(|reply| reply.response).map_err(ConnectionError::Request)
}

/// Reads one size-prefixed frame; `None` on a clean close between frames.
async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R, max: i32) -> Result<Option<Bytes>, ConnectionError> {
    let mut size_buf = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let n = reader.read(&mut size_buf[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(ConnectionError::Truncated)
            };
        }
        filled += n;
    }
    let size = i32::from_be_bytes(size_buf);
    if size < 0 || size > max {
        return Err(ConnectionError::FrameSize(size, max));
    }
    let size = size as usize;
    let mut body = BytesMut::with_capacity(size.min(READ_CHUNK));
    while body.len() < size {
        if body.capacity() == body.len() {
            body.reserve((size - body.len()).min(READ_CHUNK));
        }
        let want = size - body.len();
        let n = (&mut *reader).take(want as u64).read_buf(&mut body).await?;
        if n == 0 {
            return Err(ConnectionError::Truncated);
        }
    }
    Ok(Some(body.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_bounded() {
        let mut data: &[u8] = &[0, 0, 0, 3, 1, 2, 3];
        assert_eq!(read_frame(&mut data, 10).await.unwrap().unwrap().as_ref(), &[1, 2, 3]);
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut negative, 10).await,
            Err(ConnectionError::FrameSize(-1, 10))
        ));
        let mut huge: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut huge, 10).await,
            Err(ConnectionError::FrameSize(_, 10))
        ));
        let mut short: &[u8] = &[0, 0, 0, 9, 1];
        assert!(matches!(
            read_frame(&mut short, 10).await,
            Err(ConnectionError::Truncated)
        ));
        let mut empty: &[u8] = &[];
        assert!(read_frame(&mut empty, 10).await.unwrap().is_none());
    }
}
