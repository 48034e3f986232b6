//! DescribeAcls (key 29), v0–2: the ACLs matching a filter, read from the
//! metadata store (so a CreateAcls just answered is already visible).
//! Needs Describe on the cluster. Without `authorizer.class.name` the
//! answer is SECURITY_DISABLED, as Kafka without an authorizer. v0 knows
//! only literal patterns: its filter means LITERAL, as Kafka reads it.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::security::acl::{
    AccessControlEntryFilter, AclBindingFilter, AclCache, PatternType, PermissionType, ResourcePatternFilter,
    ResourceType,
};

use super::{decode, respond, str_bytes};

/// A filter as the wire spells it (Describe and Delete share the fields).
pub(crate) struct WireFilter<'a> {
    pub resource_type: i8,
    pub name: Option<&'a str>,
    pub pattern_type: i8,
    pub principal: Option<&'a str>,
    pub host: Option<&'a str>,
    pub operation: i8,
    pub permission: i8,
}

/// The typed filter, or why the request is invalid.
pub(crate) fn binding_filter(f: WireFilter<'_>) -> Result<AclBindingFilter, String> {
    let resource_type = ResourceType::from_code(f.resource_type).ok_or("unknown resource type")?;
    let pattern_type = PatternType::from_code(f.pattern_type).ok_or("unknown pattern type")?;
    let operation = AclOperation::from_code(f.operation).ok_or("unknown operation")?;
    let permission = PermissionType::from_code(f.permission).ok_or("unknown permission type")?;
    Ok(AclBindingFilter::new(
        ResourcePatternFilter::new(resource_type, f.name.map(str::to_string), pattern_type),
        AccessControlEntryFilter {
            principal: f.principal.map(str::to_string),
            host: f.host.map(str::to_string),
            operation,
            permission,
        },
    ))
}

/// Every stored ACL, as one cache (malformed znodes left out).
pub(crate) async fn stored_acls(broker: &Broker) -> Result<AclCache, String> {
    let (found, _) = broker.layout.load_acls().await.map_err(|e| e.to_string())?;
    let mut cache = AclCache::new();
    for (pattern, entries) in found {
        cache.set(pattern, entries);
    }
    Ok(cache)
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeAclsRequest = decode(&frame)?;
    let mut response = DescribeAclsResponse::default();
    let fail = |mut response: DescribeAclsResponse, code: ErrorCode, message: &str| {
        response.error_code = code.code();
        response.error_message = Some(str_bytes(message));
        respond(&frame, &response)
    };
    if broker.config.security.authorizer.is_none() {
        return fail(
            response,
            ErrorCode::SecurityDisabled,
            "No Authorizer is configured on the broker",
        );
    }
    if !super::authorize_cluster(broker, &frame, AclOperation::Describe) {
        return fail(
            response,
            ErrorCode::ClusterAuthorizationFailed,
            "Cluster authorization failed.",
        );
    }
    let pattern_type = if frame.api_version == 0 {
        PatternType::Literal.code()
    } else {
        request.pattern_type_filter
    };
    let filter = match binding_filter(WireFilter {
        resource_type: request.resource_type_filter,
        name: request.resource_name_filter.as_deref(),
        pattern_type,
        principal: request.principal_filter.as_deref(),
        host: request.host_filter.as_deref(),
        operation: request.operation,
        permission: request.permission_type,
    }) {
        Ok(f) => f,
        Err(e) => return fail(response, ErrorCode::InvalidRequest, &e),
    };
    let cache = match stored_acls(broker).await {
        Ok(c) => c,
        Err(e) => return fail(response, ErrorCode::UnknownServerError, &e),
    };
    let mut by_resource: BTreeMap<_, Vec<AclDescription>> = BTreeMap::new();
    for binding in cache.acls(&filter) {
        let p = &binding.pattern;
        by_resource
            .entry((p.resource_type.code(), p.name.clone(), p.pattern_type.code()))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(str_bytes(&binding.entry.principal))
                    .with_host(str_bytes(&binding.entry.host))
                    .with_operation(binding.entry.operation.code())
                    .with_permission_type(binding.entry.permission.code()),
            );
    }
    response.resources = by_resource
        .into_iter()
        .map(|((resource_type, name, pattern_type), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(str_bytes(&name))
                .with_pattern_type(pattern_type)
                .with_acls(acls)
        })
        .collect();
    respond(&frame, &response)
}
