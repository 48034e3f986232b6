//! One file per API. Each opens with the versions it serves and what it
//! leaves out.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
mod produce_batches;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_txn_markers;

use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::broker::dispatch::{HandlerResult, Reply};
use crate::broker::response_errors::{ErrorTally, ResponseErrors};
use crate::broker::Broker;
use crate::group::valid_group_id;
use crate::protocol::frame::decode_body;
use crate::protocol::{encode_response, ErrorCode, RequestFrame};

/// GROUP_AUTHORIZATION_FAILED when the principal may not `op` the group,
/// INVALID_GROUP_ID for an id that cannot be one znode name, NOT_COORDINATOR
/// when another broker coordinates the group.
pub(crate) fn group_error(
    broker: &Broker,
    frame: &RequestFrame,
    op: crate::broker::authorizer::AclOperation,
    group: &str,
) -> Option<ErrorCode> {
    if !broker.authorize(frame, op, crate::broker::authorizer::Resource::Group(group)) {
        Some(ErrorCode::GroupAuthorizationFailed)
    } else if !valid_group_id(group) {
        Some(ErrorCode::InvalidGroupId)
    } else if !broker.is_coordinator_for(group) {
        Some(ErrorCode::NotCoordinator)
    } else {
        None
    }
}

/// Whether the request's principal may perform `op` on topic `name`.
pub(crate) fn authorize_topic(
    broker: &Broker,
    frame: &RequestFrame,
    op: crate::broker::authorizer::AclOperation,
    name: &str,
) -> bool {
    broker.authorize(frame, op, crate::broker::authorizer::Resource::Topic(name))
}

/// Whether the request's principal may perform `op` on the transactional id.
pub(crate) fn authorize_transactional_id(
    broker: &Broker,
    frame: &RequestFrame,
    op: crate::broker::authorizer::AclOperation,
    id: &str,
) -> bool {
    broker.authorize(frame, op, crate::broker::authorizer::Resource::TransactionalId(id))
}

/// Kafka's check for a config resource (topic 2, broker 4):
/// `op` on the topic, or on the cluster for brokers. `None` when allowed.
pub(crate) fn config_authorization_error(
    broker: &Broker,
    frame: &RequestFrame,
    op: crate::broker::authorizer::AclOperation,
    resource_type: i8,
    name: &str,
) -> Option<(ErrorCode, String)> {
    let (allowed, code) = match resource_type {
        2 => (
            authorize_topic(broker, frame, op, name),
            ErrorCode::TopicAuthorizationFailed,
        ),
        _ => (
            authorize_cluster(broker, frame, op),
            ErrorCode::ClusterAuthorizationFailed,
        ),
    };
    (!allowed).then(|| (code, "Authorization failed.".to_string()))
}

/// Whether the request's principal may perform `op` on the cluster.
pub(crate) fn authorize_cluster(
    broker: &Broker,
    frame: &RequestFrame,
    op: crate::broker::authorizer::AclOperation,
) -> bool {
    broker.authorize(frame, op, crate::broker::authorizer::Resource::Cluster)
}

/// Decodes the request body; failure closes the connection (the protocol
/// has no way to answer a request it cannot read).
pub(crate) fn decode<T: Decodable>(frame: &RequestFrame) -> Result<T, String> {
    decode_body(frame.body.clone(), frame.api_version)
        .map_err(|e| format!("undecodable {:?} v{}: {e}", frame.api_key, frame.api_version))
}

/// Encodes the response and tallies its error codes (see `response_errors`).
pub(crate) fn respond<R: Encodable + ResponseErrors>(frame: &RequestFrame, response: &R) -> HandlerResult {
    let bytes = encode_response(frame.api_key, frame.api_version, frame.correlation_id, response)
        .map_err(|e| format!("cannot encode {:?} v{} response: {e}", frame.api_key, frame.api_version))?;
    Ok(Reply {
        response: Some(bytes),
        errors: ErrorTally::of(response),
    })
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}
