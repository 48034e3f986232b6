//! DeleteAcls (key 31), v0–2: removes the ACLs matching each filter and
//! reports every removed binding under the first filter that matched it
//! (Kafka's AclAuthorizer.deleteAcls). A resource left without ACLs loses
//! its znode. Needs Alter on the cluster; without `authorizer.class.name`:
//! SECURITY_DISABLED.

use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
use kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::security::acl::{delete_matching, AclBinding, AclBindingFilter, PatternType};

use super::describe_acls::{binding_filter, stored_acls, WireFilter};
use super::{decode, respond, str_bytes};

fn matching_acl(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.pattern.resource_type.code())
        .with_resource_name(str_bytes(&b.pattern.name))
        .with_pattern_type(b.pattern.pattern_type.code())
        .with_principal(str_bytes(&b.entry.principal))
        .with_host(str_bytes(&b.entry.host))
        .with_operation(b.entry.operation.code())
        .with_permission_type(b.entry.permission.code())
}

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DeleteAclsRequest = decode(&frame)?;
    let refuse = |code: ErrorCode, message: &str| {
        let results = request
            .filters
            .iter()
            .map(|_| {
                DeleteAclsFilterResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(message)))
            })
            .collect();
        respond(&frame, &DeleteAclsResponse::default().with_filter_results(results))
    };
    if broker.config.security.authorizer.is_none() {
        return refuse(ErrorCode::SecurityDisabled, "No Authorizer is configured on the broker");
    }
    if !super::authorize_cluster(broker, &frame, AclOperation::Alter) {
        return refuse(ErrorCode::ClusterAuthorizationFailed, "Cluster authorization failed.");
    }
    let mut filters: Vec<Result<AclBindingFilter, String>> = Vec::with_capacity(request.filters.len());
    for f in &request.filters {
        let pattern_type = if frame.api_version == 0 {
            PatternType::Literal.code()
        } else {
            f.pattern_type_filter
        };
        filters.push(binding_filter(WireFilter {
            resource_type: f.resource_type_filter,
            name: f.resource_name_filter.as_deref(),
            pattern_type,
            principal: f.principal_filter.as_deref(),
            host: f.host_filter.as_deref(),
            operation: f.operation,
            permission: f.permission_type,
        }));
    }
    // Only valid filters take part; indexes map back to the request's.
    let valid: Vec<(usize, AclBindingFilter)> = filters
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.as_ref().ok().map(|f| (i, f.clone())))
        .collect();
    let valid_filters: Vec<AclBindingFilter> = valid.iter().map(|(_, f)| f.clone()).collect();
    let mut matched: Vec<Vec<DeleteAclsMatchingAcl>> = vec![Vec::new(); filters.len()];
    let mut failure: Option<String> = None;
    match stored_acls(broker).await {
        Err(e) => failure = Some(e),
        Ok(cache) => {
            for pattern in cache.delete_candidates(&valid_filters) {
                let mut removed = Vec::new();
                let result = broker
                    .layout
                    .update_acls(&pattern, |current| {
                        let (keep, gone) = delete_matching(&pattern, current, &valid_filters);
                        removed = gone;
                        keep
                    })
                    .await;
                if let Err(e) = result {
                    failure = Some(e.to_string());
                    break;
                }
                for (filter_index, binding) in removed {
                    if let Some((request_index, _)) = valid.get(filter_index) {
                        matched[*request_index].push(matching_acl(&binding));
                    }
                }
            }
        }
    }
    broker.reload_acls().await;
    let results = filters
        .iter()
        .zip(matched)
        .map(|(filter, matching)| match (filter, &failure) {
            (Err(e), _) => DeleteAclsFilterResult::default()
                .with_error_code(ErrorCode::InvalidRequest.code())
                .with_error_message(Some(str_bytes(e))),
            (Ok(_), Some(e)) => DeleteAclsFilterResult::default()
                .with_error_code(ErrorCode::UnknownServerError.code())
                .with_error_message(Some(str_bytes(e))),
            (Ok(_), None) => DeleteAclsFilterResult::default().with_matching_acls(matching),
        })
        .collect();
    respond(&frame, &DeleteAclsResponse::default().with_filter_results(results))
}
