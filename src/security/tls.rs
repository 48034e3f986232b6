//! TLS for listeners (rustls with the ring provider): keystores and
//! truststores read from PEM or PKCS12, `ssl.client.auth`, re-reading the
//! files when they change (checked at most once a second, on accept), and
//! the client principal from the certificate's subject in RFC 2253 form,
//! as Kafka's DefaultKafkaPrincipalBuilder names it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::settings::{ClientAuth, KeyStore, TlsSettings, TrustStore};

/// How often an accept may look at the files' modification times.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// ring rather than aws-lc-rs (rustls's default, which needs cmake and a
/// C toolchain at build time). rustls 0.23.48 deprecates ring's provider
/// for lacking post-quantum key exchange; Kafka clients (OpenSSL, Java,
/// Python's ssl) agree on X25519 or P-256 with it.
#[allow(deprecated)]
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The key and chain a keystore holds.
pub fn load_identity(keystore: &KeyStore) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    match keystore {
        KeyStore::PemFile(path) => {
            let bytes = read(path)?;
            pem_identity(&bytes, &bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        KeyStore::PemInline { key, chain } => pem_identity(key.as_bytes(), chain.as_bytes()),
        KeyStore::Pkcs12 { path, password } => {
            let bytes = read(path)?;
            let store = p12_keystore::KeyStore::from_pkcs12(&bytes, password, Default::default())
                .map_err(|e| format!("{}: not a PKCS12 keystore this password opens: {e}", path.display()))?;
            let (_, chain) = store
                .private_key_chain()
                .ok_or_else(|| format!("{}: no private key entry", path.display()))?;
            let certs: Vec<_> = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            if certs.is_empty() {
                return Err(format!("{}: the key has no certificate", path.display()));
            }
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok((certs, key))
        }
    }
}

fn pem_identity(key: &[u8], chain: &[u8]) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("no usable private key (unencrypted PKCS#8, PKCS#1 or SEC1 PEM): {e}"))?;
    let certs = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the keystore".into());
    }
    Ok((certs, key))
}

/// The CA certificates a truststore holds.
pub fn load_roots(truststore: &TrustStore) -> Result<RootCertStore, String> {
    let certs: Vec<CertificateDer<'static>> = match truststore {
        TrustStore::PemFile(path) => {
            let bytes = read(path)?;
            CertificateDer::pem_slice_iter(&bytes)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: bad certificate PEM: {e}", path.display()))?
        }
        TrustStore::PemInline(text) => CertificateDer::pem_slice_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad truststore PEM: {e}"))?,
        TrustStore::Pkcs12 { path, password } => {
            let bytes = read(path)?;
            let store =
                p12_keystore::KeyStore::from_pkcs12(&bytes, password, p12_keystore::Pkcs12ImportPolicy::Relaxed)
                    .map_err(|e| format!("{}: not a PKCS12 truststore this password opens: {e}", path.display()))?;
            store
                .entries()
                .filter_map(|(_, entry)| match entry {
                    p12_keystore::KeyStoreEntry::Certificate(c) => Some(CertificateDer::from(c.as_der().to_vec())),
                    _ => None,
                })
                .collect()
        }
    };
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err("the truststore holds no usable CA certificate".into());
    }
    Ok(roots)
}

/// A listener's rustls configuration.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, String> {
    let (certs, key) = load_identity(&settings.keystore)?;
    let provider = crypto_provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match (&settings.truststore, settings.client_auth) {
        (Some(truststore), auth) if auth != ClientAuth::None => {
            let roots = Arc::new(load_roots(truststore)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
    Ok(Arc::new(config))
}

/// A client's rustls configuration: the CAs it trusts and, for mutual TLS,
/// its own key and chain.
pub fn client_config(
    truststore: Option<&TrustStore>,
    identity: Option<&KeyStore>,
) -> Result<Arc<ClientConfig>, String> {
    let roots = match truststore {
        Some(t) => load_roots(t)?,
        None => RootCertStore::empty(),
    };
    let builder = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match identity {
        Some(keystore) => {
            let (certs, key) = load_identity(keystore)?;
            builder.with_client_auth_cert(certs, key).map_err(|e| e.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The files a configuration was read from, with their modification times.
fn stamps(settings: &TlsSettings) -> Vec<(PathBuf, Option<SystemTime>)> {
    let mut files = Vec::new();
    match &settings.keystore {
        KeyStore::PemFile(p) | KeyStore::Pkcs12 { path: p, .. } => files.push(p.clone()),
        KeyStore::PemInline { .. } => {}
    }
    match &settings.truststore {
        Some(TrustStore::PemFile(p)) | Some(TrustStore::Pkcs12 { path: p, .. }) => files.push(p.clone()),
        _ => {}
    }
    files
        .into_iter()
        .map(|p| {
            let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
            (p, modified)
        })
        .collect()
}

struct Loaded {
    config: Arc<ServerConfig>,
    stamps: Vec<(PathBuf, Option<SystemTime>)>,
    checked: Instant,
}

/// A listener's TLS configuration, re-read when its files change.
pub struct ReloadingTls {
    settings: TlsSettings,
    listener: String,
    loaded: Mutex<Loaded>,
}

impl ReloadingTls {
    pub fn new(listener: &str, settings: TlsSettings) -> Result<ReloadingTls, String> {
        let stamps = stamps(&settings);
        let config = server_config(&settings).map_err(|e| format!("listener {listener}: {e}"))?;
        Ok(ReloadingTls {
            settings,
            listener: listener.to_string(),
            loaded: Mutex::new(Loaded {
                config,
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The configuration for a new connection. A file changed since the
    /// last load is re-read; if it cannot be used the old one stays.
    pub fn current(&self) -> Arc<ServerConfig> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.checked.elapsed() >= RELOAD_CHECK {
            loaded.checked = Instant::now();
            let now = stamps(&self.settings);
            if now != loaded.stamps {
                match server_config(&self.settings) {
                    Ok(config) => {
                        tracing::info!(listener = %self.listener, "TLS key, certificate or truststore changed: reloaded");
                        loaded.config = config;
                        loaded.stamps = now;
                    }
                    // Perhaps half-written: try again on a later accept.
                    Err(e) => {
                        tracing::warn!(listener = %self.listener, error = %e, "TLS files changed but cannot be loaded; keeping the previous ones")
                    }
                }
            }
        }
        loaded.config.clone()
    }
}

/// `CN=alice,O=example`: the subject of a DER certificate as Java's
/// X500Principal.getName() (RFC 2253) writes it, most specific first.
pub fn subject_rfc2253(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let mut rdns: Vec<String> = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        let parts: Vec<String> = rdn
            .iter()
            .map(|attr| {
                let oid = attr.attr_type().to_id_string();
                let key = attribute_key(&oid).map(str::to_string).unwrap_or(oid);
                match attr.as_str() {
                    Ok(text) => format!("{key}={}", escape_dn_value(text)),
                    Err(_) => format!("{key}=#{}", hex(attr.attr_value().as_bytes())),
                }
            })
            .collect();
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// The keywords RFC 2253 (and Java) use for attribute types.
fn attribute_key(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape_dn_value("a,b"), "a\\,b");
        assert_eq!(escape_dn_value(" x "), "\\ x\\ ");
        assert_eq!(escape_dn_value("#1"), "\\#1");
        assert_eq!(escape_dn_value("plain"), "plain");
    }

    #[test]
    fn garbage_certificates_have_no_subject() {
        assert_eq!(subject_rfc2253(b"not a certificate"), None);
        assert_eq!(subject_rfc2253(&[]), None);
    }

    #[test]
    fn missing_files_are_reported() {
        let settings = TlsSettings {
            keystore: KeyStore::PemFile("/nonexistent/server.pem".into()),
            truststore: None,
            client_auth: ClientAuth::None,
        };
        let err = server_config(&settings).unwrap_err();
        assert!(err.contains("/nonexistent/server.pem"), "{err}");
    }
}
