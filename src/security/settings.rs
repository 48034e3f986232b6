//! The security part of the broker configuration, with Kafka's names:
//! `listener.security.protocol.map`, `ssl.*`, `sasl.*`, their per-listener
//! `listener.name.<name>.` forms, the inter-broker listener and the session
//! limits. Resolved once into one [`ListenerSecurity`] per listener; files
//! named here are read when the listener starts (and re-read on change),
//! not during validation.
//!
//! Not implemented: JKS keystores, encrypted PEM keys (`ssl.key.password`
//! with PEM), `ssl.principal.mapping.rules` other than DEFAULT, GSSAPI and
//! OAUTHBEARER.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::jaas;
use super::scram::ScramMechanism;

/// Kafka's security protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(name: &str) -> Option<SecurityProtocol> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }
}

/// A SASL mechanism krab implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.trim() {
            "PLAIN" => Some(Mechanism::Plain),
            other => ScramMechanism::from_name(other).map(Mechanism::Scram),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(m) => m.name(),
        }
    }
}

/// `ssl.client.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// Where a listener's private key and certificate chain come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStore {
    /// `ssl.keystore.type=PEM` and `ssl.keystore.location`: one file with
    /// the PKCS#8 key and the chain.
    PemFile(PathBuf),
    /// `ssl.keystore.key` and `ssl.keystore.certificate.chain`, inline.
    PemInline { key: String, chain: String },
    /// `ssl.keystore.type=PKCS12`, `ssl.keystore.location`, `ssl.keystore.password`.
    Pkcs12 { path: PathBuf, password: String },
}

/// Which CAs client certificates are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustStore {
    PemFile(PathBuf),
    PemInline(String),
    Pkcs12 { path: PathBuf, password: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub keystore: KeyStore,
    pub truststore: Option<TrustStore>,
    pub client_auth: ClientAuth,
}

/// Everything one listener needs to authenticate its clients.
#[derive(Clone, Debug)]
pub struct ListenerSecurity {
    pub name: String,
    pub protocol: SecurityProtocol,
    pub tls: Option<TlsSettings>,
    /// Enabled mechanisms, in the order the handshake lists them.
    pub mechanisms: Vec<Mechanism>,
    /// PLAIN users (`user_<name>="<password>"` in the PLAIN JAAS config).
    pub plain_users: BTreeMap<String, String>,
    /// `connections.max.reauth.ms`: 0 means sessions never expire.
    pub reauth_ms: u64,
}

/// The broker's own identity when it is a client of another broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    pub mechanism: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// `authorizer.class.name` and its settings: ACLs are enforced when set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// `super.users`: principals every check lets through.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found` (default false).
    pub allow_everyone_if_no_acl_found: bool,
}

/// The authorizer class names Kafka users write (2.4+ and 0.9–2.3).
pub const AUTHORIZER_CLASSES: [&str; 2] = [
    "kafka.security.authorizer.AclAuthorizer",
    "kafka.security.auth.SimpleAclAuthorizer",
];

/// The monitor port's protection (krab's own keys): TLS with
/// `monitor.ssl.keystore.location` (PEM, or `monitor.ssl.keystore.type=PKCS12`
/// with `monitor.ssl.keystore.password`) and HTTP basic authentication with
/// `monitor.basic.auth.users=user:password[,user:password]`. Both off by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorSecurity {
    pub keystore: Option<KeyStore>,
    pub basic_auth_users: Vec<(String, String)>,
}

/// The security settings of the broker as a whole.
#[derive(Clone, Debug)]
pub struct SecuritySettings {
    /// One per `listeners` entry, in the same order.
    pub listeners: Vec<ListenerSecurity>,
    /// The listener brokers use to reach each other.
    pub inter_broker_listener: String,
    /// `sasl.mechanism.inter.broker.protocol` and the broker's own login
    /// from that mechanism's JAAS config on the inter-broker listener.
    pub inter_broker_credentials: ClientCredentials,
    /// Largest frame accepted before authentication (sasl.server.max.receive.size).
    pub sasl_max_receive_size: i32,
    /// How long a failed login waits before its answer (connection.failed.authentication.delay.ms).
    pub failed_authentication_delay_ms: u64,
    /// ACL enforcement; `None` without `authorizer.class.name`.
    pub authorizer: Option<AuthorizerSettings>,
    /// TLS and basic authentication on the monitor port.
    pub monitor: MonitorSecurity,
    /// The raw keys, kept for whoever needs one more (the inter-broker client).
    pub raw: BTreeMap<String, String>,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            listeners: Vec::new(),
            inter_broker_listener: "PLAINTEXT".into(),
            inter_broker_credentials: ClientCredentials::default(),
            sasl_max_receive_size: 524_288,
            failed_authentication_delay_ms: 100,
            authorizer: None,
            monitor: MonitorSecurity::default(),
            raw: BTreeMap::new(),
        }
    }
}

/// Whether `key` belongs to this module (collected raw, resolved here).
pub fn is_security_key(key: &str) -> bool {
    key.starts_with("ssl.")
        || key.starts_with("sasl.")
        || key.starts_with("listener.name.")
        || matches!(
            key,
            "listener.security.protocol.map"
                | "inter.broker.listener.name"
                | "security.inter.broker.protocol"
                | "connections.max.reauth.ms"
                | "connection.failed.authentication.delay.ms"
                | "authorizer.class.name"
                | "super.users"
                | "allow.everyone.if.no.acl.found"
                | "monitor.ssl.keystore.location"
                | "monitor.ssl.keystore.type"
                | "monitor.ssl.keystore.password"
                | "monitor.basic.auth.users"
        )
}

/// A key that could not be used: the key and why.
#[derive(Debug)]
pub struct SettingError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

fn error(key: &str, value: &str, reason: impl Into<String>) -> SettingError {
    SettingError {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The protocol map: `listener.security.protocol.map`, else each name
/// standing for itself (Kafka's default map).
pub fn protocol_map(raw: &BTreeMap<String, String>) -> Result<BTreeMap<String, SecurityProtocol>, SettingError> {
    let mut map = BTreeMap::new();
    let key = "listener.security.protocol.map";
    let Some(text) = raw.get(key) else {
        return Ok(map);
    };
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, protocol) = entry
            .split_once(':')
            .ok_or_else(|| error(key, text, format!("expected NAME:PROTOCOL, got {entry:?}")))?;
        let protocol = SecurityProtocol::parse(protocol)
            .ok_or_else(|| error(key, text, format!("unknown security protocol {protocol:?}")))?;
        map.insert(name.trim().to_ascii_uppercase(), protocol);
    }
    Ok(map)
}

/// The protocol listener `name` speaks.
pub fn protocol_of(map: &BTreeMap<String, SecurityProtocol>, name: &str) -> Option<SecurityProtocol> {
    map.get(&name.to_ascii_uppercase())
        .copied()
        .or_else(|| SecurityProtocol::parse(name))
}

/// Per-listener lookup: `listener.name.<lower>.<key>`, then `<key>`.
struct Lookup<'a> {
    raw: &'a BTreeMap<String, String>,
    prefix: String,
}

impl<'a> Lookup<'a> {
    fn new(raw: &'a BTreeMap<String, String>, listener: &str) -> Self {
        Lookup {
            raw,
            prefix: format!("listener.name.{}.", listener.to_ascii_lowercase()),
        }
    }

    /// The value and the key it was found under.
    fn get(&self, key: &str) -> Option<(String, &'a str)> {
        let prefixed = format!("{}{key}", self.prefix);
        if let Some(v) = self.raw.get(&prefixed) {
            return Some((prefixed, v.as_str()));
        }
        self.raw.get(key).map(|v| (key.to_string(), v.as_str()))
    }

    fn value(&self, key: &str) -> Option<&'a str> {
        self.get(key).map(|(_, v)| v).filter(|v| !v.trim().is_empty())
    }

    /// A JAAS config for `mechanism`: the listener's mechanism-specific
    /// one, else `sasl.jaas.config`.
    fn jaas(&self, mechanism: &str) -> Result<Option<jaas::JaasConfig>, SettingError> {
        let specific = format!("{}{}.sasl.jaas.config", self.prefix, mechanism.to_ascii_lowercase());
        let (key, text) = match self.raw.get(&specific) {
            Some(v) => (specific, v.as_str()),
            None => match self.raw.get("sasl.jaas.config") {
                Some(v) => ("sasl.jaas.config".to_string(), v.as_str()),
                None => return Ok(None),
            },
        };
        jaas::parse(text)
            .map(Some)
            .map_err(|reason| error(&key, "(hidden)", reason))
    }
}

fn parse_ms(key: &str, v: &str) -> Result<u64, SettingError> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| error(key, v, "expected a non-negative integer"))
}

/// Resolves the raw security keys for `listeners` (name, by position).
pub fn resolve(listener_names: &[String], raw: &BTreeMap<String, String>) -> Result<SecuritySettings, SettingError> {
    let map = protocol_map(raw)?;
    let mut settings = SecuritySettings {
        raw: raw.clone(),
        ..SecuritySettings::default()
    };
    let mut reauth_ms = 0;
    if let Some(v) = raw.get("connections.max.reauth.ms") {
        reauth_ms = parse_ms("connections.max.reauth.ms", v)?;
    }
    if let Some(v) = raw.get("connection.failed.authentication.delay.ms") {
        settings.failed_authentication_delay_ms = parse_ms("connection.failed.authentication.delay.ms", v)?;
    }
    if let Some(v) = raw.get("sasl.server.max.receive.size") {
        let n: i32 = v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| error("sasl.server.max.receive.size", v, "expected a positive integer"))?;
        settings.sasl_max_receive_size = n;
    }
    settings.authorizer = authorizer_settings(raw)?;
    settings.monitor = monitor_security(raw)?;
    for name in listener_names {
        let protocol = protocol_of(&map, name).ok_or_else(|| {
            error(
                "listener.security.protocol.map",
                raw.get("listener.security.protocol.map").map_or("", |v| v.as_str()),
                format!("listener {name} is not a security protocol name and has no entry in the map"),
            )
        })?;
        settings
            .listeners
            .push(listener_security(name, protocol, raw, reauth_ms)?);
    }
    let explicit_listener = raw
        .get("inter.broker.listener.name")
        .map(|v| v.trim().to_ascii_uppercase());
    let explicit_protocol = raw.get("security.inter.broker.protocol");
    settings.inter_broker_listener = match (explicit_listener, explicit_protocol) {
        (Some(_), Some(p)) => {
            return Err(error(
                "security.inter.broker.protocol",
                p,
                "set only one of inter.broker.listener.name and security.inter.broker.protocol",
            ))
        }
        (Some(name), None) => name,
        (None, Some(p)) => {
            let protocol = SecurityProtocol::parse(p)
                .ok_or_else(|| error("security.inter.broker.protocol", p, "unknown security protocol"))?;
            settings
                .listeners
                .iter()
                .find(|l| l.protocol == protocol)
                .map(|l| l.name.clone())
                .ok_or_else(|| error("security.inter.broker.protocol", p, "no listener speaks this protocol"))?
        }
        (None, None) => "PLAINTEXT".to_string(),
    };
    // Kafka requires the inter-broker listener to exist; krab's single
    // broker set-ups often have no PLAINTEXT listener, so only a named
    // choice is checked and the default falls back to the first listener.
    if !settings
        .listeners
        .iter()
        .any(|l| l.name == settings.inter_broker_listener)
    {
        if raw.contains_key("inter.broker.listener.name") || raw.contains_key("security.inter.broker.protocol") {
            let key = "inter.broker.listener.name";
            return Err(error(key, &settings.inter_broker_listener, "not one of the listeners"));
        }
        if let Some(first) = settings.listeners.first() {
            settings.inter_broker_listener = first.name.clone();
        }
    }
    if let Some(inter) = settings
        .listeners
        .iter()
        .find(|l| l.name == settings.inter_broker_listener)
    {
        if inter.protocol.uses_sasl() {
            let mechanism = raw
                .get("sasl.mechanism.inter.broker.protocol")
                .cloned()
                .unwrap_or_else(|| "GSSAPI".to_string());
            let key = "sasl.mechanism.inter.broker.protocol";
            if !inter.mechanisms.iter().any(|m| m.name() == mechanism) {
                return Err(error(
                    key,
                    &mechanism,
                    format!("not enabled on listener {}", inter.name),
                ));
            }
            let jaas = Lookup::new(raw, &inter.name).jaas(&mechanism)?;
            let jaas = jaas.ok_or_else(|| {
                error(
                    key,
                    &mechanism,
                    "no JAAS config with the broker's own username and password",
                )
            })?;
            settings.inter_broker_credentials = ClientCredentials {
                mechanism: Some(mechanism),
                username: jaas.username().map(str::to_string),
                password: jaas.password().map(str::to_string),
            };
        }
    }
    Ok(settings)
}

fn monitor_security(raw: &BTreeMap<String, String>) -> Result<MonitorSecurity, SettingError> {
    let mut monitor = MonitorSecurity::default();
    if let Some(path) = raw
        .get("monitor.ssl.keystore.location")
        .filter(|p| !p.trim().is_empty())
    {
        let kind = raw.get("monitor.ssl.keystore.type").map_or("PEM", |t| t.trim());
        monitor.keystore = Some(match kind.to_ascii_uppercase().as_str() {
            "PEM" => KeyStore::PemFile(PathBuf::from(path.trim())),
            "PKCS12" => KeyStore::Pkcs12 {
                path: PathBuf::from(path.trim()),
                password: raw.get("monitor.ssl.keystore.password").cloned().unwrap_or_default(),
            },
            _ => return Err(error("monitor.ssl.keystore.type", kind, "expected PEM or PKCS12")),
        });
    }
    if let Some(users) = raw.get("monitor.basic.auth.users") {
        for entry in users.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (user, password) = entry
                .split_once(':')
                .filter(|(u, p)| !u.is_empty() && !p.is_empty())
                .ok_or_else(|| {
                    error(
                        "monitor.basic.auth.users",
                        "(hidden)",
                        "expected user:password[,user:password]",
                    )
                })?;
            monitor.basic_auth_users.push((user.to_string(), password.to_string()));
        }
    }
    Ok(monitor)
}

fn authorizer_settings(raw: &BTreeMap<String, String>) -> Result<Option<AuthorizerSettings>, SettingError> {
    let class = raw.get("authorizer.class.name").map(|c| c.trim()).unwrap_or("");
    if class.is_empty() {
        return Ok(None);
    }
    if !AUTHORIZER_CLASSES.contains(&class) {
        return Err(error(
            "authorizer.class.name",
            class,
            format!("krab implements {}", AUTHORIZER_CLASSES.join(" and ")),
        ));
    }
    let super_users = match raw.get("super.users") {
        Some(v) if !v.trim().is_empty() => {
            super::acl::parse_super_users(v.trim()).map_err(|reason| error("super.users", v, reason))?
        }
        _ => Vec::new(),
    };
    let allow_everyone = match raw
        .get("allow.everyone.if.no.acl.found")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(v) => return Err(error("allow.everyone.if.no.acl.found", &v, "expected true or false")),
    };
    Ok(Some(AuthorizerSettings {
        super_users,
        allow_everyone_if_no_acl_found: allow_everyone,
    }))
}

fn listener_security(
    name: &str,
    protocol: SecurityProtocol,
    raw: &BTreeMap<String, String>,
    reauth_ms: u64,
) -> Result<ListenerSecurity, SettingError> {
    let lookup = Lookup::new(raw, name);
    let mut security = ListenerSecurity {
        name: name.to_ascii_uppercase(),
        protocol,
        tls: None,
        mechanisms: Vec::new(),
        plain_users: BTreeMap::new(),
        reauth_ms: match lookup.get("connections.max.reauth.ms") {
            Some((key, v)) => parse_ms(&key, v)?,
            None => reauth_ms,
        },
    };
    if protocol.uses_tls() {
        security.tls = Some(tls_settings(&lookup, protocol)?);
    }
    if protocol.uses_sasl() {
        let (key, enabled) = lookup
            .get("sasl.enabled.mechanisms")
            .map(|(k, v)| (k, v.to_string()))
            .unwrap_or_else(|| {
                (
                    "sasl.enabled.mechanisms".to_string(),
                    "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".to_string(),
                )
            });
        for item in enabled.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mechanism = Mechanism::parse(item).ok_or_else(|| {
                error(
                    &key,
                    &enabled,
                    format!("krab implements PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, not {item}"),
                )
            })?;
            security.mechanisms.push(mechanism);
        }
        if security.mechanisms.is_empty() {
            return Err(error(&key, &enabled, "no mechanism enabled"));
        }
        if security.mechanisms.contains(&Mechanism::Plain) {
            if let Some(jaas) = lookup.jaas("PLAIN")? {
                security.plain_users = jaas.plain_users();
            }
        }
    }
    Ok(security)
}

fn tls_settings(lookup: &Lookup<'_>, protocol: SecurityProtocol) -> Result<TlsSettings, SettingError> {
    let keystore_type = lookup.value("ssl.keystore.type").unwrap_or("PEM").to_ascii_uppercase();
    let keystore = match keystore_type.as_str() {
        "PEM" => match (lookup.value("ssl.keystore.location"), lookup.value("ssl.keystore.key")) {
            (Some(path), _) => KeyStore::PemFile(PathBuf::from(path)),
            (None, Some(key)) => KeyStore::PemInline {
                key: key.to_string(),
                chain: lookup
                    .value("ssl.keystore.certificate.chain")
                    .ok_or_else(|| error("ssl.keystore.certificate.chain", "", "required with ssl.keystore.key"))?
                    .to_string(),
            },
            (None, None) => {
                return Err(error(
                    "ssl.keystore.location",
                    "",
                    format!(
                        "listener {} ({}) needs a key and certificate: ssl.keystore.location or ssl.keystore.key",
                        lookup.prefix.trim_end_matches('.'),
                        protocol.name()
                    ),
                ))
            }
        },
        "PKCS12" => KeyStore::Pkcs12 {
            path: PathBuf::from(
                lookup
                    .value("ssl.keystore.location")
                    .ok_or_else(|| error("ssl.keystore.location", "", "required with ssl.keystore.type=PKCS12"))?,
            ),
            password: lookup.value("ssl.keystore.password").unwrap_or("").to_string(),
        },
        other => {
            return Err(error(
                "ssl.keystore.type",
                other,
                "krab reads PEM and PKCS12 keystores (convert a JKS one with keytool -importkeystore -deststoretype PKCS12)",
            ))
        }
    };
    let truststore_type = lookup
        .value("ssl.truststore.type")
        .unwrap_or("PEM")
        .to_ascii_uppercase();
    let truststore = match truststore_type.as_str() {
        "PEM" => match (
            lookup.value("ssl.truststore.location"),
            lookup.value("ssl.truststore.certificates"),
        ) {
            (Some(path), _) => Some(TrustStore::PemFile(PathBuf::from(path))),
            (None, Some(pem)) => Some(TrustStore::PemInline(pem.to_string())),
            (None, None) => None,
        },
        "PKCS12" => lookup.value("ssl.truststore.location").map(|path| TrustStore::Pkcs12 {
            path: PathBuf::from(path),
            password: lookup.value("ssl.truststore.password").unwrap_or("").to_string(),
        }),
        other => {
            return Err(error(
                "ssl.truststore.type",
                other,
                "krab reads PEM and PKCS12 truststores",
            ))
        }
    };
    // On SASL_SSL listeners Kafka honours only the prefixed form.
    let client_auth_value = if protocol == SecurityProtocol::SaslSsl {
        lookup
            .raw
            .get(&format!("{}ssl.client.auth", lookup.prefix))
            .map(|v| (format!("{}ssl.client.auth", lookup.prefix), v.as_str()))
    } else {
        lookup.get("ssl.client.auth")
    };
    let client_auth = match client_auth_value {
        None => ClientAuth::None,
        Some((key, v)) => match v.trim().to_ascii_lowercase().as_str() {
            "none" | "" => ClientAuth::None,
            "requested" => ClientAuth::Requested,
            "required" => ClientAuth::Required,
            _ => return Err(error(&key, v, "expected none, requested or required")),
        },
    };
    if client_auth != ClientAuth::None && truststore.is_none() {
        return Err(error(
            "ssl.truststore.location",
            "",
            "ssl.client.auth needs a truststore to check client certificates against",
        ));
    }
    Ok(TlsSettings {
        keystore,
        truststore,
        client_auth,
    })
}
