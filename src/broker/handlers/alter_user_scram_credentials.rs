//! AlterUserScramCredentials (key 51), v0 (KIP-554): upserts and deletes
//! SCRAM credentials in `/config/users/<user>`, announced under
//! `/config/changes` as kafka-configs.sh does. The client sends the salt and
//! the salted password; the broker derives StoredKey and ServerKey.
//! Iterations outside 4096–16384 are UNACCEPTABLE_CREDENTIAL, a mechanism
//! both set and deleted DUPLICATE_RESOURCE, deleting a missing credential
//! RESOURCE_NOT_FOUND (Kafka's ZkAdminManager). Any broker accepts it:
//! Kafka requires the controller, which is where clients send it anyway.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::security::scram::{ScramCredential, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

use super::{decode, respond, str_bytes};

/// One user's requested changes: mechanism → new credential (None: delete).
type Changes = BTreeMap<String, Vec<(i8, Option<ScramCredential>, i32)>>;

fn check(mechanism: i8, iterations: Option<i32>) -> Result<ScramMechanism, (ErrorCode, String)> {
    let m = ScramMechanism::from_wire_code(mechanism).ok_or((
        ErrorCode::UnsupportedSaslMechanism,
        "Unknown SCRAM mechanism".to_string(),
    ))?;
    if let Some(n) = iterations {
        if n < MIN_ITERATIONS as i32 {
            return Err((ErrorCode::UnacceptableCredential, "Too few iterations".into()));
        }
        if n > MAX_ITERATIONS as i32 {
            return Err((ErrorCode::UnacceptableCredential, "Too many iterations".into()));
        }
    }
    Ok(m)
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AlterUserScramCredentialsRequest = decode(&frame)?;
    let mut changes: Changes = BTreeMap::new();
    for d in &request.deletions {
        changes
            .entry(d.name.to_string())
            .or_default()
            .push((d.mechanism, None, 0));
    }
    for u in &request.upsertions {
        let credential = ScramMechanism::from_wire_code(u.mechanism).map(|m| {
            ScramCredential::from_salted_password(m, u.salt.to_vec(), &u.salted_password, u.iterations.max(0) as u32)
        });
        changes
            .entry(u.name.to_string())
            .or_default()
            .push((u.mechanism, credential, u.iterations));
    }
    let authorized = super::authorize_cluster(broker, &frame, AclOperation::Alter);
    let mut results = Vec::with_capacity(changes.len());
    for (user, wanted) in changes {
        let outcome = if authorized {
            apply(broker, &user, wanted).await
        } else {
            Err((
                ErrorCode::ClusterAuthorizationFailed,
                "Cluster authorization failed".into(),
            ))
        };
        let (code, message) = match outcome {
            Ok(()) => (ErrorCode::None, None),
            Err((code, message)) => (code, Some(message)),
        };
        results.push(
            AlterUserScramCredentialsResult::default()
                .with_user(str_bytes(&user))
                .with_error_code(code.code())
                .with_error_message(message.as_deref().map(str_bytes)),
        );
    }
    respond(
        &frame,
        &AlterUserScramCredentialsResponse::default().with_results(results),
    )
}

async fn apply(
    broker: &Broker,
    user: &str,
    wanted: Vec<(i8, Option<ScramCredential>, i32)>,
) -> Result<(), (ErrorCode, String)> {
    if user.is_empty() {
        return Err((ErrorCode::UnacceptableCredential, "Username must not be empty".into()));
    }
    let mut mechanisms = Vec::new();
    for (mechanism, credential, iterations) in &wanted {
        let upsert = credential.is_some();
        let m = check(*mechanism, upsert.then_some(*iterations))?;
        if mechanisms.contains(&m) {
            return Err((
                ErrorCode::DuplicateResource,
                format!("A user credential cannot be altered twice in the same request: {user}"),
            ));
        }
        if upsert && credential.as_ref().is_some_and(|c| c.salt.is_empty()) {
            return Err((ErrorCode::UnacceptableCredential, "Salt must not be empty".into()));
        }
        mechanisms.push(m);
    }
    let internal = |e: crate::metadata::LayoutError| (ErrorCode::UnknownServerError, e.to_string());
    let mut config = broker.layout.user_config(user).await.map_err(internal)?;
    for (mechanism, credential, _) in wanted {
        let Some(m) = ScramMechanism::from_wire_code(mechanism) else {
            continue;
        };
        match credential {
            Some(c) => {
                config.insert(m.name().to_string(), c.to_kafka_string());
            }
            None => {
                if config.remove(m.name()).is_none() {
                    return Err((
                        ErrorCode::ResourceNotFound,
                        format!("Attempt to delete a user credential that does not exist: {user}"),
                    ));
                }
            }
        }
    }
    broker.layout.change_user_config(user, &config).await.map_err(internal)
}
