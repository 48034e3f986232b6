//! One connection's SASL state on a SASL_PLAINTEXT or SASL_SSL listener,
//! as Kafka's SaslServerAuthenticator behaves:
//! * before authentication only ApiVersions and SaslHandshake are taken;
//!   anything else closes the connection without an answer;
//! * after a v0 handshake the tokens come as raw size-prefixed frames (an
//!   empty reply still goes out as `00 00 00 00`); after v1 they come in
//!   SaslAuthenticate, and any other request gets its error response with
//!   ILLEGAL_SASL_STATE where one can be built, then the connection closes;
//! * a failed login is answered SASL_AUTHENTICATION_FAILED with one message
//!   for every cause, after `connection.failed.authentication.delay.ms`;
//! * with `connections.max.reauth.ms` a session expires: a handshake on the
//!   authenticated connection starts re-authentication (KIP-368), which must
//!   keep the principal and mechanism; any other request after expiry closes
//!   the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};

use super::credentials::CredentialCache;
use super::plain;
use super::scram::ScramServer;
use super::settings::{ListenerSecurity, Mechanism};
use crate::broker::handlers::{decode, respond, sasl_authenticate, sasl_handshake};
use crate::metadata::KafkaLayout;
use crate::protocol::{ErrorCode, RequestFrame};

/// What the connection does with a frame.
#[derive(Debug)]
pub enum Decision {
    /// An ordinary request: hand it to the API layer.
    Dispatch(RequestFrame),
    /// Send these bytes (a response frame or a raw token frame).
    Reply(Bytes),
    /// Send the bytes, if any, then close; the reason is logged.
    Close { reply: Option<Bytes>, reason: String },
}

/// What a login needs from the broker.
pub struct AuthContext<'a> {
    pub layout: &'a KafkaLayout,
    pub credentials: &'a CredentialCache,
}

enum Exchange {
    Plain,
    Scram { server: Box<ScramServer>, step: u8 },
}

enum Phase {
    /// Nothing yet (or re-authentication due): ApiVersions or a handshake.
    Start,
    /// Handshake done; the exchange is under way.
    Tokens {
        raw: bool,
        mechanism: Mechanism,
        exchange: Exchange,
    },
    Authenticated,
}

pub struct SaslSession {
    listener: Arc<ListenerSecurity>,
    phase: Phase,
    /// `User:<name>` once authenticated.
    principal: Option<String>,
    mechanism: Option<Mechanism>,
    expires_at: Option<Instant>,
    reauthenticating: bool,
    /// ApiVersions is accepted once before authentication.
    api_versions_seen: bool,
}

/// The one message a client sees for any failed login.
fn failure_message(mechanism: Mechanism) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
        mechanism.name()
    )
}

impl SaslSession {
    pub fn new(listener: Arc<ListenerSecurity>) -> SaslSession {
        SaslSession {
            listener,
            phase: Phase::Start,
            principal: None,
            mechanism: None,
            expires_at: None,
            reauthenticating: false,
            api_versions_seen: false,
        }
    }

    /// Whether requests may go to the API layer.
    pub fn authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated) && self.principal.is_some()
    }

    /// The mechanism of the current or last exchange, for metrics.
    pub fn mechanism_name(&self) -> &'static str {
        match &self.phase {
            Phase::Tokens { mechanism, .. } => mechanism.name(),
            _ => self.mechanism.map_or("none", |m| m.name()),
        }
    }

    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// Whether the next frame is a raw token (after a v0 handshake).
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.phase, Phase::Tokens { raw: true, .. })
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// A request arriving on this connection (authenticated or not).
    pub async fn on_request(&mut self, frame: RequestFrame, ctx: &AuthContext<'_>) -> Decision {
        if self.authenticated() {
            // Kafka checks expiry first: an expired session may not even
            // start re-authentication.
            if self.expired(Instant::now()) {
                return close("session expired (connections.max.reauth.ms) without re-authentication");
            }
            // KIP-368: with a session lifetime, the client re-authenticates
            // on the same connection. Without one, a handshake reaches the
            // API layer, which answers ILLEGAL_SASL_STATE.
            if frame.api_key == ApiKey::SaslHandshake && frame.version_supported && self.listener.reauth_ms > 0 {
                self.phase = Phase::Start;
                self.reauthenticating = true;
                return self.handshake(frame);
            }
            return Decision::Dispatch(frame);
        }
        if !frame.version_supported {
            // ApiVersions with an unknown version is answered by the API
            // layer; anything else closes there.
            return Decision::Dispatch(frame);
        }
        match (&self.phase, frame.api_key) {
            (Phase::Start, ApiKey::ApiVersions) if !self.reauthenticating && !self.api_versions_seen => {
                self.api_versions_seen = true;
                Decision::Dispatch(frame)
            }
            (Phase::Start, ApiKey::SaslHandshake) => self.handshake(frame),
            (Phase::Tokens { raw: false, .. }, ApiKey::SaslAuthenticate) => self.authenticate(frame, ctx).await,
            (Phase::Tokens { raw: false, .. }, api) => Decision::Close {
                reply: illegal_state_response(&frame, &self.listener),
                reason: format!("{api:?} during SASL authentication"),
            },
            (_, api) => close(&format!("{api:?} before SASL authentication")),
        }
    }

    fn handshake(&mut self, frame: RequestFrame) -> Decision {
        let request: SaslHandshakeRequest = match decode(&frame) {
            Ok(r) => r,
            Err(e) => return close(&e),
        };
        let names: Vec<&str> = self.listener.mechanisms.iter().map(|m| m.name()).collect();
        let wanted = request.mechanism.as_str();
        let mechanism = self.listener.mechanisms.iter().copied().find(|m| m.name() == wanted);
        let Some(mechanism) = mechanism else {
            let reply = sasl_handshake::response(&frame, ErrorCode::UnsupportedSaslMechanism, &names);
            return Decision::Close {
                reply: reply.ok().and_then(|r| r.response),
                reason: format!("unsupported SASL mechanism {wanted:?}"),
            };
        };
        if self.reauthenticating && self.mechanism != Some(mechanism) {
            let reply = sasl_handshake::response(&frame, ErrorCode::IllegalSaslState, &names);
            return Decision::Close {
                reply: reply.ok().and_then(|r| r.response),
                reason: "re-authentication with another mechanism".into(),
            };
        }
        let exchange = match mechanism {
            Mechanism::Plain => Exchange::Plain,
            Mechanism::Scram(m) => Exchange::Scram {
                server: Box::new(ScramServer::new(m)),
                step: 0,
            },
        };
        self.phase = Phase::Tokens {
            raw: frame.api_version == 0,
            mechanism,
            exchange,
        };
        match sasl_handshake::response(&frame, ErrorCode::None, &names) {
            Ok(reply) => reply
                .response
                .map_or_else(|| close("empty handshake response"), Decision::Reply),
            Err(e) => close(&e),
        }
    }

    async fn authenticate(&mut self, frame: RequestFrame, ctx: &AuthContext<'_>) -> Decision {
        let request: SaslAuthenticateRequest = match decode(&frame) {
            Ok(r) => r,
            Err(e) => return close(&e),
        };
        let outcome = self.step(&request.auth_bytes, ctx).await;
        let lifetime = if self.authenticated() {
            self.listener.reauth_ms.min(i64::MAX as u64) as i64
        } else {
            0
        };
        match outcome {
            Ok(token) => match sasl_authenticate::response(&frame, ErrorCode::None, None, token, lifetime) {
                Ok(reply) => reply.response.map_or_else(|| close("empty response"), Decision::Reply),
                Err(e) => close(&e),
            },
            Err((mechanism, reason)) => {
                let message = failure_message(mechanism);
                let reply = sasl_authenticate::response(
                    &frame,
                    ErrorCode::SaslAuthenticationFailed,
                    Some(&message),
                    Bytes::new(),
                    0,
                );
                Decision::Close {
                    reply: reply.ok().and_then(|r| r.response),
                    reason,
                }
            }
        }
    }

    /// A raw token after a v0 handshake; the reply is a size-prefixed token.
    pub async fn on_raw_token(&mut self, token: Bytes, ctx: &AuthContext<'_>) -> Decision {
        match self.step(&token, ctx).await {
            Ok(reply) => {
                let mut frame = Vec::with_capacity(4 + reply.len());
                frame.extend_from_slice(&(reply.len() as u32).to_be_bytes());
                frame.extend_from_slice(&reply);
                Decision::Reply(frame.into())
            }
            Err((_, reason)) => Decision::Close { reply: None, reason },
        }
    }

    /// One token of the exchange. Errors carry the mechanism and the reason
    /// for the log (never for the client).
    async fn step(&mut self, token: &[u8], ctx: &AuthContext<'_>) -> Result<Bytes, (Mechanism, String)> {
        let Phase::Tokens {
            mechanism, exchange, ..
        } = &mut self.phase
        else {
            return Err((Mechanism::Plain, "token outside an exchange".into()));
        };
        let mechanism = *mechanism;
        let fail = |reason: String| (mechanism, reason);
        let (reply, user) = match exchange {
            Exchange::Plain => {
                let user = plain::authenticate(&self.listener.plain_users, token).map_err(|e| fail(e.to_string()))?;
                (Bytes::new(), Some(user))
            }
            Exchange::Scram { server, step } => match *step {
                0 => {
                    let user = server.receive_client_first(token).map_err(|e| fail(e.to_string()))?;
                    let Mechanism::Scram(m) = mechanism else {
                        return Err(fail("mechanism mismatch".into()));
                    };
                    let credential = ctx.credentials.scram(ctx.layout, &user, m).await;
                    let reply = server
                        .server_first(credential.as_ref())
                        .map_err(|e| fail(format!("user {user:?}: {e}")))?;
                    *step = 1;
                    (Bytes::from(reply), None)
                }
                _ => {
                    let reply = server
                        .receive_client_final(token)
                        .map_err(|e| fail(format!("user {:?}: {e}", server.username().unwrap_or("?"))))?;
                    let user = server.username().map(str::to_string);
                    (Bytes::from(reply), user)
                }
            },
        };
        if let Some(user) = user {
            let principal = format!("User:{user}");
            if self.reauthenticating && self.principal.as_deref() != Some(principal.as_str()) {
                return Err(fail(format!(
                    "re-authentication as {principal} on a connection of {}",
                    self.principal.as_deref().unwrap_or("?")
                )));
            }
            self.principal = Some(principal);
            self.mechanism = Some(mechanism);
            self.phase = Phase::Authenticated;
            self.reauthenticating = false;
            self.expires_at =
                (self.listener.reauth_ms > 0).then(|| Instant::now() + Duration::from_millis(self.listener.reauth_ms));
        }
        Ok(reply)
    }
}

/// The request's own error response carrying ILLEGAL_SASL_STATE, where
/// one can be built (Kafka's `getErrorResponse`); `None` closes silently.
fn illegal_state_response(frame: &RequestFrame, listener: &ListenerSecurity) -> Option<Bytes> {
    use kafka_protocol::messages::*;
    let code = ErrorCode::IllegalSaslState;
    let reply = match frame.api_key {
        ApiKey::SaslHandshake => {
            let names: Vec<&str> = listener.mechanisms.iter().map(|m| m.name()).collect();
            sasl_handshake::response(frame, code, &names)
        }
        ApiKey::Metadata => {
            let request: MetadataRequest = decode(frame).ok()?;
            let topics = request
                .topics
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    metadata_response::MetadataResponseTopic::default()
                        .with_name(t.name)
                        .with_error_code(code.code())
                })
                .collect();
            respond(frame, &MetadataResponse::default().with_topics(topics))
        }
        ApiKey::ListOffsets => {
            let request: ListOffsetsRequest = decode(frame).ok()?;
            let topics = request
                .topics
                .into_iter()
                .map(|t| {
                    list_offsets_response::ListOffsetsTopicResponse::default()
                        .with_name(t.name)
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    list_offsets_response::ListOffsetsPartitionResponse::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code.code())
                                        .with_offset(-1)
                                        .with_timestamp(-1)
                                })
                                .collect(),
                        )
                })
                .collect();
            respond(frame, &ListOffsetsResponse::default().with_topics(topics))
        }
        _ => crate::broker::fault_responses::error_response(frame, code.code()),
    };
    reply.ok().and_then(|r| r.response)
}

fn close(reason: &str) -> Decision {
    Decision::Close {
        reply: None,
        reason: reason.to_string(),
    }
}
