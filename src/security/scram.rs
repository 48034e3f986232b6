//! SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) the way Kafka does it: mechanisms,
//! stored credentials and their `salt=..,stored_key=..,server_key=..,iterations=..` string form,
//! the key derivations, and sans-IO server ([`ScramServer`]) and client ([`ScramClient`]) exchanges.
//!
//! Not implemented: SASLprep (Kafka does not normalise either), channel binding (only the "n"
//! GS2 flag), mandatory extensions (`m=`) and delegation-token authentication (`tokenauth=true`).

mod client;
mod server;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

pub use client::ScramClient;
pub use server::ScramServer;

/// Lowest iteration count Kafka accepts for either mechanism.
pub const MIN_ITERATIONS: u32 = 4096;
/// Highest iteration count Kafka accepts in AlterUserScramCredentials.
pub const MAX_ITERATIONS: u32 = 16384;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(ScramMechanism::Sha256),
            "SCRAM-SHA-512" => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// The `Mechanism` code used by Describe/AlterUserScramCredentials.
    pub fn wire_code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_wire_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(ScramMechanism::Sha256),
            2 => Some(ScramMechanism::Sha512),
            _ => None,
        }
    }

    /// Output length of the hash, which is also the length of every derived key.
    pub fn hash_len(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
        match self {
            ScramMechanism::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC accepts any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Why a SCRAM exchange failed. The text is meant for the broker's log; clients should get one
/// generic "authentication failed" message whatever the variant (in particular for `UnknownUser`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(String),
    #[error("unsupported GS2 header (only \"n\", no channel binding, is supported)")]
    UnsupportedGs2Header,
    #[error("unsupported SCRAM extension: {0}")]
    UnsupportedExtension(String),
    #[error("authorization id differs from the username")]
    AuthzidMismatch,
    #[error("channel binding does not match the GS2 header")]
    ChannelBindingMismatch,
    #[error("nonce does not match")]
    NonceMismatch,
    #[error("unknown user")]
    UnknownUser,
    #[error("invalid client proof")]
    BadProof,
    #[error("invalid server signature")]
    BadServerSignature,
    #[error("iteration count {0} is below the minimum {MIN_ITERATIONS}")]
    TooFewIterations(u32),
    #[error("invalid stored SCRAM credential: {0}")]
    InvalidCredential(String),
    #[error("SCRAM step called out of order")]
    OutOfOrder,
    #[error("server reported error: {0}")]
    ServerError(String),
}

/// A stored SCRAM credential. `Debug` redacts the keys: they are password-equivalent.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("salt", &B64.encode(&self.salt))
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// A credential with a fresh random salt, shaped like Kafka's (ASCII base-36 of 130 bits).
    pub fn new(mech: ScramMechanism, password: &str, iterations: u32) -> Self {
        let salt = random_string().into_bytes();
        let salted = salted_password(mech, password.as_bytes(), &salt, iterations);
        Self::from_salted_password(mech, salt, &salted, iterations)
    }

    pub fn from_salted_password(mech: ScramMechanism, salt: Vec<u8>, salted_password: &[u8], iterations: u32) -> Self {
        let client_key = mech.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt,
            stored_key: mech.hash(&client_key),
            server_key: mech.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// Kafka's persisted form (ScramCredentialUtils.credentialToString).
    pub fn to_kafka_string(&self) -> String {
        format!(
            "salt={},stored_key={},server_key={},iterations={}",
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key),
            self.iterations
        )
    }

    /// Parses [`Self::to_kafka_string`] output; keys in any order, each exactly once.
    pub fn parse_kafka_string(text: &str) -> Result<Self, String> {
        let (mut salt, mut stored_key, mut server_key, mut iterations) = (None, None, None, None);
        for token in text.trim().split(',') {
            let (key, value) = match token.split_once('=') {
                Some((k, v)) if !k.is_empty() => (k, v),
                _ => return Err(format!("invalid SCRAM credential entry {token:?}")),
            };
            let slot = match key {
                "salt" => &mut salt,
                "stored_key" => &mut stored_key,
                "server_key" => &mut server_key,
                "iterations" => &mut iterations,
                _ => return Err(format!("unknown SCRAM credential key {key:?}")),
            };
            if slot.replace(value).is_some() {
                return Err(format!("duplicate SCRAM credential key {key:?}"));
            }
        }
        let decode = |name: &str, value: Option<&str>| -> Result<Vec<u8>, String> {
            let value = value.ok_or_else(|| format!("SCRAM credential lacks {name}"))?;
            B64.decode(value)
                .map_err(|e| format!("SCRAM credential {name} is not base64: {e}"))
        };
        let iterations = iterations.ok_or("SCRAM credential lacks iterations")?;
        Ok(ScramCredential {
            salt: decode("salt", salt)?,
            stored_key: decode("stored_key", stored_key)?,
            server_key: decode("server_key", server_key)?,
            iterations: iterations
                .parse()
                .map_err(|_| format!("SCRAM credential iterations {iterations:?} is not a number"))?,
        })
    }
}

/// `Hi(password, salt, i)` of RFC 5802, i.e. PBKDF2-HMAC with dkLen = hash length.
pub fn salted_password(mech: ScramMechanism, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; mech.hash_len()];
    match mech {
        ScramMechanism::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out),
        ScramMechanism::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out),
    }
    out
}

/// RFC 5802 saslname encoding: `=` → `=3D`, `,` → `=2C`.
pub fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Inverse of [`escape_saslname`]; any other `=` sequence (or a bare `,`) is malformed.
pub fn unescape_saslname(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find(['=', ',']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if tail.starts_with("=2C") {
            out.push(',');
        } else if tail.starts_with("=3D") {
            out.push('=');
        } else {
            return Err(ScramError::Malformed("bad escape in saslname".into()));
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Kafka's `secureRandomString`: 130 random bits in base 36, used for nonces and salts.
fn random_string() -> String {
    let mut bytes = [0u8; 17];
    OsRng.fill_bytes(&mut bytes);
    base36_130(&bytes)
}

/// Base-36 of the low 130 bits of a 17-byte big-endian number (no leading zeros, like BigInteger).
fn base36_130(bytes: &[u8; 17]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut num = *bytes;
    num[0] &= 0x03;
    let mut digits = Vec::with_capacity(26);
    while num.iter().any(|&b| b != 0) {
        let mut rem = 0u32;
        for byte in num.iter_mut() {
            let cur = (rem << 8) | u32::from(*byte);
            *byte = (cur / 36) as u8;
            rem = cur % 36;
        }
        digits.push(DIGITS[rem as usize]);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// The stand-in credential for an unknown user: stable per (process, mechanism, user) so repeated
/// probes see the same salt, and shaped like a real one so the server-first reveals nothing.
fn fake_credential(mech: ScramMechanism, username: &str) -> ScramCredential {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        OsRng.fill_bytes(&mut s);
        s
    });
    let derive = |label: &[u8]| mech.hmac(secret, &[label, username.as_bytes()].concat());
    let mut salt_bits = [0u8; 17];
    salt_bits.copy_from_slice(&derive(b"salt\0")[..17]);
    ScramCredential {
        salt: base36_130(&salt_bits).into_bytes(),
        stored_key: derive(b"stored_key\0"),
        server_key: derive(b"server_key\0"),
        iterations: MIN_ITERATIONS,
    }
}

/// Splits `key=value`, requiring the given single-letter key.
fn attr(part: &str, key: char) -> Result<&str, ScramError> {
    let mut chars = part.chars();
    match (chars.next(), chars.next()) {
        (Some(k), Some('=')) if k == key => Ok(&part[2..]),
        _ => Err(ScramError::Malformed(format!("expected attribute {key}="))),
    }
}

/// RFC 5802 `printable` (no comma), which is what nonces are made of.
fn check_nonce(nonce: &str) -> Result<(), ScramError> {
    if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
        return Err(ScramError::Malformed("nonce is empty or not printable ASCII".into()));
    }
    Ok(())
}

/// Extensions (`ext=value`) are tolerated and ignored as Kafka does, but must be well-formed.
fn check_extension(part: &str) -> Result<(&str, &str), ScramError> {
    match part.split_once('=') {
        Some((k, v)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic()) => Ok((k, v)),
        _ => Err(ScramError::Malformed("bad extension attribute".into())),
    }
}

fn decode_b64(value: &str, what: &str) -> Result<Vec<u8>, ScramError> {
    B64.decode(value)
        .map_err(|_| ScramError::Malformed(format!("{what} is not valid base64")))
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}
