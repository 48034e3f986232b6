//! DeleteGroups (key 42), v0–2: removes a group without members and its
//! committed offsets (`/consumers/<g>/offsets`). A group with members, broker-
//! or ZooKeeper-coordinated, gets NON_EMPTY_GROUP; an unknown one
//! GROUP_ID_NOT_FOUND.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::zk_consumers;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, group_error, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DeleteGroupsRequest = decode(&frame)?;
    let mut response = DeleteGroupsResponse::default();
    for group_id in &request.groups_names {
        let id = group_id.as_str();
        let error = match group_error(broker, &frame, AclOperation::Delete, id) {
            Some(error) => error,
            None => delete(broker, id).await,
        };
        response.results.push(
            DeletableGroupResult::default()
                .with_group_id(group_id.clone())
                .with_error_code(error.code()),
        );
    }
    respond(&frame, &response)
}

async fn delete(broker: &Broker, id: &str) -> ErrorCode {
    match zk_consumers::members(&broker.layout, id).await {
        Ok(members) if !members.is_empty() => return ErrorCode::NonEmptyGroup,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(group = id, error = %e, "cannot read the group's znodes");
            return ErrorCode::CoordinatorNotAvailable;
        }
    }
    let known = broker.groups.describe(id).is_some();
    if let Err(error) = broker.groups.delete(id) {
        return error;
    }
    broker.offsets.forget_group(id);
    match broker.layout.delete_group(id).await {
        Ok(true) => ErrorCode::None,
        Ok(false) if known => ErrorCode::None,
        Ok(false) => ErrorCode::GroupIdNotFound,
        Err(e) => {
            tracing::warn!(group = id, error = %e, "cannot delete the group's znodes");
            ErrorCode::CoordinatorNotAvailable
        }
    }
}
