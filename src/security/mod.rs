//! Authentication: listeners' security protocols, TLS, and SASL PLAIN and
//! SCRAM with Kafka's settings, wire behaviour and credential storage.
//!
//! * [`settings`]: the `ssl.*`/`sasl.*`/`listener.name.*` keys, resolved per listener.
//! * [`tls`]: rustls configurations, reloading, the certificate principal.
//! * [`scram`], [`plain`], [`jaas`]: the mechanisms, sans-IO.
//! * [`sanitize`]: Kafka's encoding of user names in znode paths.
//! * [`credentials`]: SCRAM credentials read from `/config/users`.
//! * [`authenticator`]: one connection's SASL state (handshake, tokens, re-authentication).

pub mod acl;
pub mod authenticator;
pub mod client;
pub mod credentials;
pub mod jaas;
pub mod plain;
pub mod sanitize;
pub mod scram;
pub mod settings;
pub mod tls;

pub use settings::{ListenerSecurity, Mechanism, SecurityProtocol, SecuritySettings};

/// The principal of a connection that did not authenticate (PLAINTEXT).
pub const ANONYMOUS: &str = "User:ANONYMOUS";
