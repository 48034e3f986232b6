//! SASL PLAIN (RFC 4616) as Kafka's PlainSaslServer does it: token parsing, checking against a
//! static user table (the JAAS `user_<name>` options), and building the client token.
//!
//! Not implemented: SASLprep, pluggable callback handlers, hashed password stores.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a PLAIN authentication failed; the text is for the broker's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    #[error("malformed PLAIN token: {0}")]
    Malformed(String),
    #[error("authorization id differs from the username")]
    AuthzidMismatch,
    /// Unknown user and wrong password alike, so callers cannot leak which one it was.
    #[error("invalid username or password")]
    BadCredentials,
}

/// Splits `[authzid] NUL user NUL password` into `(authzid, user, password)`.
pub fn parse_token(token: &[u8]) -> Result<(String, String, String), PlainError> {
    let parts: Vec<&[u8]> = token.split(|&b| b == 0).collect();
    let [authzid, user, password] = parts.as_slice() else {
        return Err(PlainError::Malformed(format!(
            "expected 2 NUL separators, found {}",
            parts.len() - 1
        )));
    };
    let text = |bytes: &[u8], what: &str| {
        String::from_utf8(bytes.to_vec()).map_err(|_| PlainError::Malformed(format!("{what} is not UTF-8")))
    };
    let (authzid, user, password) = (
        text(authzid, "authzid")?,
        text(user, "username")?,
        text(password, "password")?,
    );
    // Kafka rejects both empty usernames and empty passwords.
    if user.is_empty() {
        return Err(PlainError::Malformed("username not specified".into()));
    }
    if password.is_empty() {
        return Err(PlainError::Malformed("password not specified".into()));
    }
    Ok((authzid, user, password))
}

/// Checks a client token against `users` (name → password) and returns the authenticated user.
pub fn authenticate(users: &BTreeMap<String, String>, token: &[u8]) -> Result<String, PlainError> {
    let (authzid, user, password) = parse_token(token)?;
    if !authzid.is_empty() && authzid != user {
        return Err(PlainError::AuthzidMismatch);
    }
    // Comparing digests makes the comparison independent of both passwords' lengths; an unknown
    // user is compared against a dummy so the work done does not reveal whether the user exists.
    let expected = users.get(&user);
    let expected_digest = Sha256::digest(expected.map_or(&b"\0unknown-user\0"[..], |p| p.as_bytes()));
    let matches = Sha256::digest(password.as_bytes()).ct_eq(&expected_digest);
    if expected.is_some() && bool::from(matches) {
        Ok(user)
    } else {
        Err(PlainError::BadCredentials)
    }
}

/// The client's initial response: `NUL user NUL password` (no authzid, as Kafka's client sends).
pub fn client_token(user: &str, password: &str) -> Vec<u8> {
    let mut token = Vec::with_capacity(user.len() + password.len() + 2);
    token.push(0);
    token.extend_from_slice(user.as_bytes());
    token.push(0);
    token.extend_from_slice(password.as_bytes());
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> BTreeMap<String, String> {
        [("admin", "admin-secret"), ("alice", "alice-secret")]
            .into_iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn parses_tokens() {
        let parsed = parse_token(b"alice\0alice\0pw").unwrap();
        assert_eq!(parsed, ("alice".into(), "alice".into(), "pw".into()));
        assert_eq!(
            parse_token(&client_token("bob", "p\u{e9}")).unwrap(),
            ("".into(), "bob".into(), "p\u{e9}".into())
        );
        for bad in [
            &b""[..],
            b"\0",
            b"a\0b",
            b"\0\0pw",
            b"\0user\0",
            b"\0u\0p\0",
            b"\0\xff\0p",
            b"\xff\0u\0p",
            b"\0u\0\xc3",
        ] {
            assert!(matches!(parse_token(bad), Err(PlainError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn authenticates_known_users() {
        let users = users();
        assert_eq!(
            authenticate(&users, &client_token("alice", "alice-secret")),
            Ok("alice".into())
        );
        assert_eq!(authenticate(&users, b"admin\0admin\0admin-secret"), Ok("admin".into()));
    }

    #[test]
    fn rejects_wrong_password_and_unknown_user_alike() {
        let users = users();
        let wrong = authenticate(&users, &client_token("alice", "alice-secreT"));
        let prefix = authenticate(&users, &client_token("alice", "alice"));
        let unknown = authenticate(&users, &client_token("mallory", "alice-secret"));
        assert_eq!(wrong, Err(PlainError::BadCredentials));
        assert_eq!(prefix, Err(PlainError::BadCredentials));
        assert_eq!(unknown, Err(PlainError::BadCredentials));
        // The dummy never matches, even if someone picks it as a password.
        let dummy = authenticate(&users, &client_token("mallory", "\0unknown-user\0"));
        assert!(matches!(dummy, Err(PlainError::Malformed(_))));
        let dummy = authenticate(&BTreeMap::new(), b"\0mallory\0unknown-user");
        assert_eq!(dummy, Err(PlainError::BadCredentials));
    }

    #[test]
    fn rejects_foreign_authzid() {
        let token = b"admin\0alice\0alice-secret";
        assert_eq!(authenticate(&users(), token), Err(PlainError::AuthzidMismatch));
    }
}
