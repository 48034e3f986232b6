//! Server side of a SCRAM exchange, split in three steps so the broker can fetch the user's
//! credential (asynchronously) between parsing client-first and answering it.
//!
//! Unknown users get a deterministic fake credential and fail only at client-final, so the
//! server-first reply does not reveal whether a user exists (Kafka itself fails early there).

use std::mem;

use subtle::ConstantTimeEq;

use super::{
    attr, check_extension, check_nonce, decode_b64, fake_credential, random_string, unescape_saslname, xor,
    ScramCredential, ScramError, ScramMechanism, B64, MIN_ITERATIONS,
};
use base64::Engine;

#[derive(Debug)]
struct ClientFirst {
    gs2_header: String,
    bare: String,
    nonce: String,
    username: String,
}

#[derive(Debug)]
struct ServerFirst {
    message: String,
    nonce: String,
    credential: ScramCredential,
    fake: bool,
}

#[derive(Debug)]
enum State {
    Initial,
    ReceivedClientFirst(ClientFirst),
    SentServerFirst(ClientFirst, ServerFirst),
    Complete(String),
    Failed,
}

#[derive(Debug)]
pub struct ScramServer {
    mech: ScramMechanism,
    state: State,
    authzid: Option<String>,
    server_nonce: Option<String>,
}

impl ScramServer {
    pub fn new(mech: ScramMechanism) -> Self {
        ScramServer {
            mech,
            state: State::Initial,
            authzid: None,
            server_nonce: None,
        }
    }

    /// Fixes the server nonce part, for reproducing published test vectors.
    #[cfg(test)]
    pub(super) fn with_server_nonce(mech: ScramMechanism, nonce: &str) -> Self {
        ScramServer {
            server_nonce: Some(nonce.to_string()),
            ..Self::new(mech)
        }
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mech
    }

    /// Parses client-first (`n,[a=authzid],n=<saslname>,r=<cnonce>[,ext=..]`) and returns the
    /// unescaped username whose credential the caller should look up.
    pub fn receive_client_first(&mut self, msg: &[u8]) -> Result<String, ScramError> {
        // Any error leaves the exchange in `Failed`.
        if !matches!(mem::replace(&mut self.state, State::Failed), State::Initial) {
            return Err(ScramError::OutOfOrder);
        }
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("client-first is not UTF-8".into()))?;
        let (flag, rest) = msg
            .split_once(',')
            .ok_or_else(|| ScramError::Malformed("no GS2 header".into()))?;
        match flag {
            "n" => {}
            "y" | "p" => return Err(ScramError::UnsupportedGs2Header),
            _ if flag.starts_with("p=") => return Err(ScramError::UnsupportedGs2Header),
            _ => return Err(ScramError::Malformed("bad GS2 channel-binding flag".into())),
        }
        let (authz, bare) = rest
            .split_once(',')
            .ok_or_else(|| ScramError::Malformed("no GS2 header".into()))?;
        let authzid = match authz {
            "" => None,
            _ => Some(unescape_saslname(attr(authz, 'a')?)?),
        };
        let gs2_header = msg[..msg.len() - bare.len()].to_string();

        let mut parts = bare.split(',');
        let first = parts.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(ScramError::UnsupportedExtension("m".into()));
        }
        let username = unescape_saslname(attr(first, 'n')?)?;
        if username.is_empty() || username.contains('\0') {
            return Err(ScramError::Malformed("empty or invalid username".into()));
        }
        let nonce = attr(parts.next().unwrap_or_default(), 'r')?;
        check_nonce(nonce)?;
        for part in parts {
            let (key, value) = check_extension(part)?;
            // Delegation tokens would need a token lookup instead of a user lookup.
            if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
                return Err(ScramError::UnsupportedExtension("tokenauth".into()));
            }
        }
        if authzid.as_deref().is_some_and(|a| a != username) {
            return Err(ScramError::AuthzidMismatch);
        }
        self.authzid = authzid;
        self.state = State::ReceivedClientFirst(ClientFirst {
            gs2_header,
            bare: bare.to_string(),
            nonce: nonce.to_string(),
            username: username.clone(),
        });
        Ok(username)
    }

    /// Builds server-first `r=<cnonce+snonce>,s=<b64 salt>,i=<n>`. `None` means the user is
    /// unknown: a fake credential is used and the exchange fails at client-final.
    pub fn server_first(&mut self, credential: Option<&ScramCredential>) -> Result<Vec<u8>, ScramError> {
        let client_first = match mem::replace(&mut self.state, State::Failed) {
            State::ReceivedClientFirst(cf) => cf,
            _ => return Err(ScramError::OutOfOrder),
        };
        let (credential, fake) = match credential {
            Some(c) => {
                if c.iterations < MIN_ITERATIONS {
                    return Err(ScramError::TooFewIterations(c.iterations));
                }
                let len = self.mech.hash_len();
                if c.stored_key.len() != len || c.server_key.len() != len {
                    return Err(ScramError::InvalidCredential(format!("key length is not {len}")));
                }
                (c.clone(), false)
            }
            None => (fake_credential(self.mech, &client_first.username), true),
        };
        let server_nonce = self.server_nonce.clone().unwrap_or_else(random_string);
        let nonce = format!("{}{}", client_first.nonce, server_nonce);
        let message = format!(
            "r={},s={},i={}",
            nonce,
            B64.encode(&credential.salt),
            credential.iterations
        );
        let reply = message.clone().into_bytes();
        self.state = State::SentServerFirst(
            client_first,
            ServerFirst {
                message,
                nonce,
                credential,
                fake,
            },
        );
        Ok(reply)
    }

    /// Verifies client-final `c=<b64 gs2 header>,r=<nonce>[,ext=..],p=<b64 proof>` and returns
    /// server-final `v=<b64 ServerSignature>`.
    pub fn receive_client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let (client_first, server_first) = match mem::replace(&mut self.state, State::Failed) {
            State::SentServerFirst(cf, sf) => (cf, sf),
            _ => return Err(ScramError::OutOfOrder),
        };
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("client-final is not UTF-8".into()))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or_else(|| ScramError::Malformed("client-final lacks p=".into()))?;
        if proof.contains(',') {
            return Err(ScramError::Malformed("p= must be the last attribute".into()));
        }
        let proof = decode_b64(proof, "proof")?;
        let mut parts = without_proof.split(',');
        let channel = decode_b64(attr(parts.next().unwrap_or_default(), 'c')?, "channel binding")?;
        let nonce = attr(parts.next().unwrap_or_default(), 'r')?;
        for part in parts {
            check_extension(part)?;
        }
        if !bool::from(channel.ct_eq(client_first.gs2_header.as_bytes())) {
            return Err(ScramError::ChannelBindingMismatch);
        }
        // Older librdkafka (2.0.2, which Debian's kcat links; 2.16 does not)
        // repeats the client nonce in front of the combined one; Kafka before 3.9.1 never
        // checked (CVE-2024-56128). That form still carries this exchange's
        // server nonce, so it cannot replay another exchange: accept both.
        let legacy = format!("{}{}", client_first.nonce, server_first.nonce);
        let exact = nonce.as_bytes().ct_eq(server_first.nonce.as_bytes());
        let repeated = nonce.as_bytes().ct_eq(legacy.as_bytes());
        if !bool::from(exact | repeated) {
            return Err(ScramError::NonceMismatch);
        }

        let auth_message = format!("{},{},{}", client_first.bare, server_first.message, without_proof);
        let credential = &server_first.credential;
        let client_signature = self.mech.hmac(&credential.stored_key, auth_message.as_bytes());
        // A proof of the wrong length cannot be right; xor() would silently truncate it.
        let length_ok = proof.len() == client_signature.len();
        let computed_stored_key = self.mech.hash(&xor(&proof, &client_signature));
        let proof_ok = computed_stored_key.ct_eq(&credential.stored_key);
        if server_first.fake {
            return Err(ScramError::UnknownUser);
        }
        if !length_ok || !bool::from(proof_ok) {
            return Err(ScramError::BadProof);
        }
        let server_signature = self.mech.hmac(&credential.server_key, auth_message.as_bytes());
        self.state = State::Complete(client_first.username);
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }

    /// The authenticated user, once the exchange has succeeded.
    pub fn username(&self) -> Option<&str> {
        match &self.state {
            State::Complete(user) => Some(user),
            _ => None,
        }
    }

    /// The authorization id from the GS2 header, if the client sent one. It always equals the
    /// username: accepting another one let clients impersonate users (CVE-2017-12610).
    pub fn authzid(&self) -> Option<&str> {
        self.authzid.as_deref()
    }

    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete(_))
    }
}
