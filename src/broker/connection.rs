//! One client connection: framing, limits, and in-order request handling.
//! The size prefix is checked against `socket.request.max.bytes` before any
//! allocation, and the body buffer grows only as bytes actually arrive.
//! Anything wrong with the framing closes this connection and no other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::protocol::{parse_request_header, FrameError};

use super::{dispatch, Broker};

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

pub async fn serve(socket: TcpStream, peer: SocketAddr, broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let _open = broker.metrics.connection_opened();
    let (mut reader, writer) = socket.into_split();
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let max = broker.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            _ = shutdown.changed() => break,
            frame = read_frame(&mut reader, max) => frame,
        };
        let body = match frame {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(e) => {
                if matches!(e, ConnectionError::FrameSize(..)) {
                    broker.metrics.invalid_request();
                }
                tracing::warn!(%peer, error = %e, "closing connection");
                break;
            }
        };
        match handle(&broker, body, peer).await {
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

/// Parses and dispatches one request, recording its count, latency and
/// errors.
async fn handle(broker: &Broker, body: Bytes, peer: SocketAddr) -> Result<Option<Bytes>, ConnectionError> {
    let mut frame = parse_request_header(body).inspect_err(|_| broker.metrics.invalid_request())?;
    frame.peer = Some(peer);
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
