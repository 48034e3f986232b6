//! SCRAM credentials from the metadata store (`/config/users/<user>`).
//! Every login reads the user's znode, so a user added or removed with
//! kafka-configs reaches every broker at once; the last value read is kept
//! and used while the store is unreachable. A malformed credential is
//! reported and treated as absent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::scram::{ScramCredential, ScramMechanism};
use crate::metadata::{KafkaLayout, LayoutError};

/// How long a login waits for the store before using what it last read.
const STORE_WAIT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct CredentialCache {
    known: Mutex<HashMap<(String, &'static str), ScramCredential>>,
}

impl CredentialCache {
    /// `user`'s credential for `mechanism`, if it has one.
    pub async fn scram(&self, layout: &KafkaLayout, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        let key = (user.to_string(), mechanism.name());
        let read = tokio::time::timeout(STORE_WAIT, layout.user_config(user)).await;
        let fresh = match read {
            Ok(Ok(config)) => Some(config.get(mechanism.name()).and_then(|text| {
                ScramCredential::parse_kafka_string(text)
                    .inspect_err(|e| {
                        tracing::warn!(user, mechanism = mechanism.name(), error = %e, "malformed SCRAM credential in /config/users; ignored")
                    })
                    .ok()
            })),
            Ok(Err(LayoutError::Malformed { .. })) => {
                tracing::warn!(user, "malformed /config/users znode; ignored");
                Some(None)
            }
            Ok(Err(e)) => {
                tracing::warn!(user, error = %e, "cannot read SCRAM credentials; using the last ones read");
                None
            }
            Err(_) => {
                tracing::warn!(user, "metadata store slow; using the last SCRAM credentials read");
                None
            }
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        match fresh {
            // Only users that exist are remembered: names tried by a
            // stranger must not grow the map.
            Some(Some(credential)) => {
                known.insert(key, credential.clone());
                Some(credential)
            }
            Some(None) => {
                known.remove(&key);
                None
            }
            None => known.get(&key).cloned(),
        }
    }
}
