//! The client side of krab's security, for its tools and for brokers
//! talking to each other: the Kafka client settings (`security.protocol`,
//! `sasl.mechanism`, `sasl.jaas.config`, `ssl.truststore.*`,
//! `ssl.keystore.*`, `ssl.endpoint.identification.algorithm`, and
//! librdkafka's `sasl.username`/`sasl.password`/`ssl.ca.location`/
//! `ssl.certificate.location`/`ssl.key.location`) turned into a TLS
//! configuration and a SASL login, and the login itself, sans-IO: the
//! caller moves tokens through SaslAuthenticate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::scram::ScramClient;
use super::settings::{KeyStore, Mechanism, SecurityProtocol, TrustStore};
use super::{jaas, plain, tls};

/// How a client connects: protocol, TLS configuration, SASL login.
#[derive(Clone)]
pub struct ClientSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<Arc<ClientConfig>>,
    pub login: Option<(Mechanism, String, String)>,
}

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("mechanism", &self.login.as_ref().map(|l| l.0))
            .finish()
    }
}

impl Default for ClientSecurity {
    fn default() -> Self {
        ClientSecurity {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            login: None,
        }
    }
}

/// Reads a Java-style properties file of client settings.
pub fn read_properties(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let raw = crate::config::read_config_file(path).map_err(|e| e.to_string())?;
    Ok(raw.into_iter().collect())
}

impl ClientSecurity {
    /// The settings of a client config file (`--command-config`).
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<ClientSecurity, String> {
        let get = |k: &str| props.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let protocol = match get("security.protocol") {
            Some(p) => SecurityProtocol::parse(p).ok_or_else(|| format!("unknown security.protocol {p:?}"))?,
            None => SecurityProtocol::Plaintext,
        };
        let mut security = ClientSecurity {
            protocol,
            ..ClientSecurity::default()
        };
        if protocol.uses_tls() {
            let truststore = match (get("ssl.truststore.location"), get("ssl.ca.location")) {
                (Some(path), _) => Some(
                    match get("ssl.truststore.type")
                        .unwrap_or("PEM")
                        .to_ascii_uppercase()
                        .as_str()
                    {
                        "PKCS12" => TrustStore::Pkcs12 {
                            path: PathBuf::from(path),
                            password: get("ssl.truststore.password").unwrap_or("").to_string(),
                        },
                        _ => TrustStore::PemFile(PathBuf::from(path)),
                    },
                ),
                (None, Some(path)) => Some(TrustStore::PemFile(PathBuf::from(path))),
                (None, None) => get("ssl.truststore.certificates").map(|pem| TrustStore::PemInline(pem.to_string())),
            };
            let identity = match (
                get("ssl.keystore.location"),
                get("ssl.certificate.location"),
                get("ssl.key.location"),
            ) {
                (Some(path), _, _) => Some(
                    match get("ssl.keystore.type").unwrap_or("PEM").to_ascii_uppercase().as_str() {
                        "PKCS12" => KeyStore::Pkcs12 {
                            path: PathBuf::from(path),
                            password: get("ssl.keystore.password").unwrap_or("").to_string(),
                        },
                        _ => KeyStore::PemFile(PathBuf::from(path)),
                    },
                ),
                (None, Some(cert), Some(key)) => Some(KeyStore::PemInline {
                    key: std::fs::read_to_string(key).map_err(|e| format!("cannot read {key}: {e}"))?,
                    chain: std::fs::read_to_string(cert).map_err(|e| format!("cannot read {cert}: {e}"))?,
                }),
                _ => None,
            };
            // Kafka's default is "https" (check the host name); empty turns it off.
            let verify_host = props
                .get("ssl.endpoint.identification.algorithm")
                .is_none_or(|v| !v.trim().is_empty() && v.trim() != "none");
            security.tls = Some(client_tls(truststore.as_ref(), identity.as_ref(), verify_host)?);
        }
        if protocol.uses_sasl() {
            let name = get("sasl.mechanism").or(get("sasl.mechanisms")).unwrap_or("GSSAPI");
            let mechanism = Mechanism::parse(name)
                .ok_or_else(|| format!("krab's tools speak PLAIN and SCRAM-SHA-256/512, not {name}"))?;
            let (user, password) = match get("sasl.jaas.config") {
                Some(text) => {
                    let config = jaas::parse(text)?;
                    (
                        config.username().map(str::to_string),
                        config.password().map(str::to_string),
                    )
                }
                None => (
                    get("sasl.username").map(str::to_string),
                    get("sasl.password").map(str::to_string),
                ),
            };
            let user = user.ok_or("sasl.jaas.config (or sasl.username) needs a username")?;
            let password = password.ok_or("sasl.jaas.config (or sasl.password) needs a password")?;
            security.login = Some((mechanism, user, password));
        }
        Ok(security)
    }
}

impl ClientSecurity {
    /// How this broker connects to the others: the inter-broker listener's
    /// protocol, its truststore and keystore (the key doubles as the client
    /// certificate), and the login from `sasl.mechanism.inter.broker.protocol`'s
    /// JAAS config, as a Kafka broker does.
    pub fn inter_broker(settings: &super::SecuritySettings) -> Result<ClientSecurity, String> {
        let Some(listener) = settings
            .listeners
            .iter()
            .find(|l| l.name == settings.inter_broker_listener)
        else {
            return Ok(ClientSecurity::default());
        };
        let mut security = ClientSecurity {
            protocol: listener.protocol,
            ..ClientSecurity::default()
        };
        if let Some(tls) = &listener.tls {
            let prefixed = format!(
                "listener.name.{}.ssl.endpoint.identification.algorithm",
                listener.name.to_ascii_lowercase()
            );
            let algorithm = settings
                .raw
                .get(&prefixed)
                .or_else(|| settings.raw.get("ssl.endpoint.identification.algorithm"));
            let verify_host = algorithm.is_none_or(|v| !v.trim().is_empty() && v.trim() != "none");
            security.tls = Some(client_tls(tls.truststore.as_ref(), Some(&tls.keystore), verify_host)?);
        }
        if listener.protocol.uses_sasl() {
            let credentials = &settings.inter_broker_credentials;
            let mechanism = credentials
                .mechanism
                .as_deref()
                .and_then(Mechanism::parse)
                .ok_or("sasl.mechanism.inter.broker.protocol is not one krab implements")?;
            let user = credentials
                .username
                .clone()
                .ok_or("the inter-broker JAAS config has no username")?;
            let password = credentials
                .password
                .clone()
                .ok_or("the inter-broker JAAS config has no password")?;
            security.login = Some((mechanism, user, password));
        }
        Ok(security)
    }
}

/// A TLS client configuration; without host-name checks when asked
/// (`ssl.endpoint.identification.algorithm=`), the chain is still verified.
pub fn client_tls(
    truststore: Option<&TrustStore>,
    identity: Option<&KeyStore>,
    verify_host: bool,
) -> Result<Arc<ClientConfig>, String> {
    let config = tls::client_config(truststore, identity)?;
    if verify_host {
        return Ok(config);
    }
    let roots = match truststore {
        Some(t) => tls::load_roots(t)?,
        None => rustls::RootCertStore::empty(),
    };
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), tls::crypto_provider())
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = (*config).clone();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(NoHostnameCheck(inner)));
    Ok(Arc::new(config))
}

/// Verifies the chain but accepts any host name.
#[derive(Debug)]
struct NoHostnameCheck(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// One SASL login as a client: tokens to send, server tokens to check.
pub enum SaslClient {
    Plain(Option<Vec<u8>>),
    Scram(ScramClient, u8),
}

impl SaslClient {
    pub fn new(mechanism: Mechanism, user: &str, password: &str) -> SaslClient {
        match mechanism {
            Mechanism::Plain => SaslClient::Plain(Some(plain::client_token(user, password))),
            Mechanism::Scram(m) => SaslClient::Scram(ScramClient::new(m, user, password), 0),
        }
    }

    /// The first token.
    pub fn first(&mut self) -> Vec<u8> {
        match self {
            SaslClient::Plain(token) => token.take().unwrap_or_default(),
            SaslClient::Scram(client, step) => {
                *step = 1;
                client.client_first()
            }
        }
    }

    /// The server's answer to the last token: the next token to send, or
    /// `None` when the login is complete.
    pub fn next(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self {
            SaslClient::Plain(_) => Ok(None),
            SaslClient::Scram(client, step) => match step {
                1 => {
                    *step = 2;
                    client.receive_server_first(server).map(Some).map_err(|e| e.to_string())
                }
                _ => client
                    .receive_server_final(server)
                    .map(|_| None)
                    .map_err(|e| e.to_string()),
            },
        }
    }
}
