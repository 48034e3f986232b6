//! CreateAcls (key 30), v0–2: adds ACLs to `/kafka-acl/...` (literal) or
//! `/kafka-acl-extended/prefixed/...`, each change announced so every
//! broker reloads within milliseconds. Needs Alter on the cluster; each
//! creation is checked as Kafka checks it (no ANY fields, a `Type:name`
//! principal, `kafka-cluster` as the cluster's name) and answered on its
//! own. Without `authorizer.class.name`: SECURITY_DISABLED.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::security::acl::{
    AccessControlEntry, AclBinding, PatternType, PermissionType, ResourcePattern, ResourceType,
};

use super::{decode, respond, str_bytes};

fn binding(c: &kafka_protocol::messages::create_acls_request::AclCreation, version: i16) -> Result<AclBinding, String> {
    let resource_type = ResourceType::from_code(c.resource_type).ok_or("unknown resource type")?;
    // v0 has no pattern type: literal.
    let pattern_code = if version == 0 {
        PatternType::Literal.code()
    } else {
        c.resource_pattern_type
    };
    let pattern_type = PatternType::from_code(pattern_code).ok_or("unknown pattern type")?;
    let operation = AclOperation::from_code(c.operation).ok_or("unknown operation")?;
    let permission = PermissionType::from_code(c.permission_type).ok_or("unknown permission type")?;
    let binding = AclBinding::new(
        ResourcePattern::new(resource_type, c.resource_name.to_string(), pattern_type),
        AccessControlEntry::new(c.principal.to_string(), c.host.to_string(), operation, permission),
    );
    binding.validate_for_create()?;
    Ok(binding)
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: CreateAclsRequest = decode(&frame)?;
    let refuse = |code: ErrorCode, message: &str| {
        let results = request
            .creations
            .iter()
            .map(|_| {
                AclCreationResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(message)))
            })
            .collect();
        respond(&frame, &CreateAclsResponse::default().with_results(results))
    };
    if broker.config.security.authorizer.is_none() {
        return refuse(ErrorCode::SecurityDisabled, "No Authorizer is configured on the broker");
    }
    if !super::authorize_cluster(broker, &frame, AclOperation::Alter) {
        return refuse(ErrorCode::ClusterAuthorizationFailed, "Cluster authorization failed.");
    }
    let mut results = Vec::with_capacity(request.creations.len());
    for creation in &request.creations {
        let outcome = match binding(creation, frame.api_version) {
            Err(e) => Err((ErrorCode::InvalidRequest, e)),
            Ok(b) => broker
                .layout
                .update_acls(&b.pattern, |current| {
                    let mut next = current.to_vec();
                    if !next.contains(&b.entry) {
                        next.push(b.entry.clone());
                    }
                    next
                })
                .await
                .map(drop)
                .map_err(|e| (ErrorCode::UnknownServerError, e.to_string())),
        };
        results.push(match outcome {
            Ok(()) => AclCreationResult::default(),
            Err((code, message)) => AclCreationResult::default()
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(&message))),
        });
    }
    broker.reload_acls().await;
    respond(&frame, &CreateAclsResponse::default().with_results(results))
}
