//! A small HTTP/1.1 server for the monitor: GET and HEAD only (it is
//! read-only), request heads bounded in size and time, keep-alive, and a cap
//! on connections. Parsing is httparse's; a bad request gets a 4xx and
//! touches nothing else.

use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Who may read the monitor: TLS on the port and HTTP basic users, both
/// optional (off by default, as the monitor has always been open).
#[derive(Clone, Default)]
pub struct Protection {
    pub tls: Option<Arc<crate::security::tls::ReloadingTls>>,
    pub basic_auth_users: Vec<(String, String)>,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protection")
            .field("tls", &self.tls.is_some())
            .field("basic_auth_users", &self.basic_auth_users.len())
            .finish()
    }
}

impl Protection {
    /// Whether the `Authorization` header names a configured user with the
    /// right password (compared in constant time); true without users.
    fn admits(&self, authorization: Option<&str>) -> bool {
        if self.basic_auth_users.is_empty() {
            return true;
        }
        use base64::Engine;
        let Some(encoded) = authorization.and_then(|v| v.trim().strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let mut found = false;
        for (user, password) in &self.basic_auth_users {
            let expected = format!("{user}:{password}");
            found |= bool::from(expected.as_bytes().ct_eq(&decoded));
        }
        found
    }
}

/// Largest request head accepted (request line and headers).
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// Time allowed for a request head to arrive, and for an idle keep-alive
/// connection (short, so idle browsers cannot hold every permit for long).
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Time allowed to write a response to a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: usize = 256;

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query string after `?`, still encoded ("" if none).
    pub query: String,
    /// The `Authorization` header, as sent.
    pub authorization: Option<String>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra headers (e.g. `Allow`, `Cache-Control`).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    protection: Protection,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "monitor accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "monitor: too many connections, refusing one");
            continue;
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        let protection = protection.clone();
        tokio::spawn(async move {
            let result = match &protection.tls {
                None => connection(socket, handler, &protection, shutdown).await,
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
                    match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => connection(stream, handler, &protection, shutdown).await,
                        Ok(Err(e)) => {
                            tracing::warn!(%peer, error = %e, "monitor: TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "monitor connection ended");
            }
            drop(permit);
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    handler: Handler,
    protection: &Protection,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        let wait = if first { HEAD_TIMEOUT } else { IDLE_TIMEOUT };
        first = false;
        let head = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            head = tokio::time::timeout(wait, read_head(&mut socket, &mut buf)) => head,
        };
        let parsed = match head {
            Err(_) => return Ok(()), // timed out: just close
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(len))) => {
                let parsed = parse(&buf[..len]);
                buf.drain(..len);
                parsed
            }
            Ok(Err(HeadError::TooLarge)) => Err(Response::new(431, TEXT, "request head too large\n")),
            Ok(Err(HeadError::Io(e))) => return Err(e),
        };
        let (request, keep_alive) = match parsed {
            Ok(ok) => ok,
            Err(response) => {
                write(&mut socket, &response, false, false).await?;
                return close_gently(socket).await;
            }
        };
        let head_only = request.method == "HEAD";
        let response = if !protection.admits(request.authorization.as_deref()) {
            Response::new(401, TEXT, "authentication required\n")
                .with_header("WWW-Authenticate", "Basic realm=\"krab monitor\", charset=\"UTF-8\"")
        } else if request.method == "GET" || head_only {
            // Pages may scan the history: keep that off the async workers.
            let handler = handler.clone();
            tokio::task::spawn_blocking(move || handler(&request))
                .await
                .unwrap_or_else(|_| Response::new(500, TEXT, "the page failed to render\n"))
        } else {
            Response::new(405, TEXT, "the monitor is read-only: GET and HEAD only\n").with_header("Allow", "GET, HEAD")
        };
        // A request with a body we did not read cannot be followed by another.
        let keep_alive = keep_alive && response.status != 405;
        write(&mut socket, &response, head_only, keep_alive).await?;
        if !keep_alive {
            return close_gently(socket).await;
        }
    }
}

enum HeadError {
    TooLarge,
    Io(std::io::Error),
}

/// Reads until `buf` holds a whole head; its length, or `None` on a clean close.
async fn read_head<S: AsyncRead + Unpin>(socket: &mut S, buf: &mut Vec<u8>) -> Result<Option<usize>, HeadError> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(end + 4));
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The request and whether the connection may stay open after it.
fn parse(head: &[u8]) -> Result<(Request, bool), Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Response::new(400, TEXT, "incomplete request\n")),
        Err(e) => return Err(Response::new(400, TEXT, format!("bad request: {e}\n"))),
    }
    let method = parsed.method.unwrap_or("").to_string();
    let target = parsed.path.unwrap_or("");
    if !target.starts_with('/') {
        return Err(Response::new(400, TEXT, "bad request target\n"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    let has_body = header("transfer-encoding").is_some() || header("content-length").is_some_and(|v| v.trim() != "0");
    let keep_alive =
        parsed.version == Some(1) && !header("connection").is_some_and(|v| v.contains("close")) && !has_body;
    Ok((
        Request {
            method,
            path: path.to_string(),
            query: query.split('#').next().unwrap_or("").to_string(),
            authorization: parsed
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned()),
        },
        keep_alive,
    ))
}

/// Ends the connection after a response: half-close, then discard what the
/// client still sends for a moment, so that unread request bytes do not turn
/// the close into a reset that destroys the response on its way.
async fn close_gently<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S) -> std::io::Result<()> {
    socket.shutdown().await?;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024;
        while left > 0 {
            match socket.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n.min(left),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    Ok(())
}

async fn write<S: AsyncWrite + Unpin>(
    socket: &mut S,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, write_response(socket, response, head_only, keep_alive))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "client did not read the response"))?
}

async fn write_response<S: AsyncWrite + Unpin>(
    socket: &mut S,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    socket.write_all(&bytes).await?;
    socket.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_query_and_keep_alive() {
        let (r, keep) = parse(b"GET /group/a%20b?range=1h HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("GET", "/group/a%20b", "range=1h")
        );
        assert!(keep);
        let (_, keep) = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!keep);
        let (_, keep) = parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert!(!keep);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse(b"\x00\x01 nonsense\r\n\r\n").unwrap_err().status, 400);
        assert_eq!(parse(b"GET http://evil/ HTTP/1.1\r\n\r\n").unwrap_err().status, 400);
    }
}
