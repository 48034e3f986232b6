//! Client side of a SCRAM exchange (what Kafka's ScramSaslClient does), for inter-broker links
//! and tools. No authzid is sent and no channel binding is used (GS2 header `n,,`).

use std::mem;

use subtle::ConstantTimeEq;

use super::{
    attr, check_extension, check_nonce, decode_b64, escape_saslname, random_string, salted_password, xor, ScramError,
    ScramMechanism, B64, MIN_ITERATIONS,
};
use base64::Engine;

enum State {
    Initial,
    SentClientFirst { nonce: String, bare: String },
    SentClientFinal { server_signature: Vec<u8> },
    Complete,
    Failed,
}

pub struct ScramClient {
    mech: ScramMechanism,
    username: String,
    password: String,
    nonce: Option<String>,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mech", &self.mech)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    pub fn new(mech: ScramMechanism, username: &str, password: &str) -> Self {
        ScramClient {
            mech,
            username: username.to_string(),
            password: password.to_string(),
            nonce: None,
            state: State::Initial,
        }
    }

    /// Fixes the client nonce, for reproducing published test vectors.
    #[cfg(test)]
    pub(super) fn with_nonce(mech: ScramMechanism, username: &str, password: &str, nonce: &str) -> Self {
        ScramClient {
            nonce: Some(nonce.to_string()),
            ..Self::new(mech, username, password)
        }
    }

    /// `n,,n=<saslname>,r=<cnonce>`. Calling it again restarts the exchange with a new nonce.
    pub fn client_first(&mut self) -> Vec<u8> {
        let nonce = self.nonce.clone().unwrap_or_else(random_string);
        let bare = format!("n={},r={}", escape_saslname(&self.username), nonce);
        let message = format!("n,,{bare}").into_bytes();
        self.state = State::SentClientFirst { nonce, bare };
        message
    }

    /// Checks server-first (`r=..,s=..,i=..[,ext=..]`) and returns client-final.
    pub fn receive_server_first(&mut self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let (client_nonce, bare) = match mem::replace(&mut self.state, State::Failed) {
            State::SentClientFirst { nonce, bare } => (nonce, bare),
            _ => return Err(ScramError::OutOfOrder),
        };
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("server-first is not UTF-8".into()))?;
        let mut parts = msg.split(',');
        let first = parts.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(ScramError::UnsupportedExtension("m".into()));
        }
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(error.to_string()));
        }
        let nonce = attr(first, 'r')?;
        check_nonce(nonce)?;
        let salt = decode_b64(attr(parts.next().unwrap_or_default(), 's')?, "salt")?;
        let iterations = attr(parts.next().unwrap_or_default(), 'i')?;
        for part in parts {
            check_extension(part)?;
        }
        // The server must append a nonce of its own, or the exchange could be replayed.
        if !nonce.starts_with(&client_nonce) || nonce.len() == client_nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        if salt.is_empty() {
            return Err(ScramError::Malformed("empty salt".into()));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count is not a number".into()))?;
        if iterations < MIN_ITERATIONS {
            return Err(ScramError::TooFewIterations(iterations));
        }

        let salted = salted_password(self.mech, self.password.as_bytes(), &salt, iterations);
        let client_key = self.mech.hmac(&salted, b"Client Key");
        let stored_key = self.mech.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{bare},{msg},{without_proof}");
        let client_signature = self.mech.hmac(&stored_key, auth_message.as_bytes());
        let proof = xor(&client_key, &client_signature);
        let server_key = self.mech.hmac(&salted, b"Server Key");
        let server_signature = self.mech.hmac(&server_key, auth_message.as_bytes());
        self.state = State::SentClientFinal { server_signature };
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks server-final: `v=<signature>` must match, `e=<text>` is the server's refusal.
    pub fn receive_server_final(&mut self, msg: &[u8]) -> Result<(), ScramError> {
        let expected = match mem::replace(&mut self.state, State::Failed) {
            State::SentClientFinal { server_signature } => server_signature,
            _ => return Err(ScramError::OutOfOrder),
        };
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("server-final is not UTF-8".into()))?;
        let mut parts = msg.split(',');
        let first = parts.next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(error.to_string()));
        }
        let signature = decode_b64(attr(first, 'v')?, "server signature")?;
        for part in parts {
            check_extension(part)?;
        }
        if !bool::from(signature.ct_eq(&expected)) {
            return Err(ScramError::BadServerSignature);
        }
        self.state = State::Complete;
        Ok(())
    }

    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete)
    }
}
