//! DescribeUserScramCredentials (key 50), v0 (KIP-554): which SCRAM
//! mechanisms each user has, with their iteration counts, read from
//! `/config/users`. No user list means every user with a credential; a
//! named user without one gets RESOURCE_NOT_FOUND, a name asked twice
//! DUPLICATE_RESOURCE, as in Kafka's ZkAdminManager.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::security::scram::{ScramCredential, ScramMechanism};

use super::{decode, respond, str_bytes};

/// A user's credentials by mechanism, skipping malformed entries.
async fn credentials_of(broker: &Broker, user: &str) -> Result<Vec<(ScramMechanism, u32)>, String> {
    let config = broker.layout.user_config(user).await.map_err(|e| e.to_string())?;
    Ok([ScramMechanism::Sha256, ScramMechanism::Sha512]
        .into_iter()
        .filter_map(|m| {
            let text = config.get(m.name())?;
            ScramCredential::parse_kafka_string(text)
                .ok()
                .map(|c| (m, c.iterations))
        })
        .collect())
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeUserScramCredentialsRequest = decode(&frame)?;
    let mut response = DescribeUserScramCredentialsResponse::default();
    if !super::authorize_cluster(broker, &frame, crate::broker::authorizer::AclOperation::Describe) {
        response.error_code = ErrorCode::ClusterAuthorizationFailed.code();
        return respond(&frame, &response);
    }
    let (names, listed_all) = match &request.users {
        Some(users) => (users.iter().map(|u| u.name.to_string()).collect::<Vec<_>>(), false),
        None => match broker.layout.users().await {
            Ok(users) => (users, true),
            Err(e) => {
                response.error_code = ErrorCode::UnknownServerError.code();
                response.error_message = Some(str_bytes(&e.to_string()));
                return respond(&frame, &response);
            }
        },
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &names {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    for name in &names {
        let mut result = DescribeUserScramCredentialsResult::default().with_user(str_bytes(name));
        if seen[name.as_str()] > 1 {
            result.error_code = ErrorCode::DuplicateResource.code();
            result.error_message = Some(str_bytes(&format!(
                "Cannot describe SCRAM credentials for the same user twice in a single request: {name}"
            )));
            response.results.push(result);
            continue;
        }
        match credentials_of(broker, name).await {
            Ok(found) if found.is_empty() => {
                if listed_all {
                    continue;
                }
                result.error_code = ErrorCode::ResourceNotFound.code();
                result.error_message = Some(str_bytes(&format!(
                    "Attempt to describe a user credential that does not exist: {name}"
                )));
            }
            Ok(found) => {
                result.credential_infos = found
                    .into_iter()
                    .map(|(m, iterations)| {
                        CredentialInfo::default()
                            .with_mechanism(m.wire_code())
                            .with_iterations(iterations as i32)
                    })
                    .collect();
            }
            Err(e) => {
                result.error_code = ErrorCode::UnknownServerError.code();
                result.error_message = Some(str_bytes(&e));
            }
        }
        response.results.push(result);
    }
    respond(&frame, &response)
}
