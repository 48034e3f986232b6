//! One thin match from API key to handler. Versions outside the registry
//! never reach a handler: ApiVersions answers them with error 35 (as Kafka
//! does), anything else closes the connection.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;

use crate::protocol::{ErrorCode, RequestFrame};

use super::authorizer::{AclOperation, Resource};

use super::faults::InjectedError;
use super::handlers::*;
use super::response_errors::ErrorTally;
use super::Broker;

/// A handler's answer, or why the connection must close.
pub type HandlerResult = Result<Reply, String>;

/// What a handled request produced.
#[derive(Debug, Default)]
pub struct Reply {
    /// The encoded response frame; `None` for Produce with acks=0.
    pub response: Option<Bytes>,
    /// The error codes it carries (for metrics), whether or not it is sent.
    pub errors: ErrorTally,
}

/// The cluster operation an API needs as a whole (Kafka's KafkaApis).
fn cluster_operation(api: ApiKey) -> Option<AclOperation> {
    match api {
        ApiKey::WriteTxnMarkers => Some(AclOperation::ClusterAction),
        ApiKey::ElectLeaders | ApiKey::AlterPartitionReassignments => Some(AclOperation::Alter),
        ApiKey::ListPartitionReassignments | ApiKey::DescribeCluster => Some(AclOperation::Describe),
        _ => None,
    }
}

/// `injected` is an error fault for the partitions of a Produce, Fetch or
/// ListOffsets request (see `faults`).
pub async fn dispatch(broker: &Broker, frame: RequestFrame, injected: Option<InjectedError>) -> HandlerResult {
    if !frame.version_supported {
        // Kafka before 0.10 had no ApiVersions: emulating it, the probe
        // closes the connection like any unknown API.
        if frame.api_key == ApiKey::ApiVersions && broker.api_table.iter().any(|(a, _, _)| *a == ApiKey::ApiVersions) {
            return api_versions::unsupported_version(broker, &frame);
        }
        return Err(format!("{:?} v{} is not supported", frame.api_key, frame.api_version));
    }
    // APIs that act on the cluster as a whole: one check before the handler.
    if let Some(op) = cluster_operation(frame.api_key) {
        if !broker.authorize(&frame, op, Resource::Cluster) {
            return super::fault_responses::error_response(&frame, ErrorCode::ClusterAuthorizationFailed.code());
        }
    }
    match frame.api_key {
        ApiKey::Produce => produce::handle(broker, frame, injected).await,
        ApiKey::Fetch => fetch::handle(broker, frame, injected).await,
        ApiKey::ListOffsets => list_offsets::handle(broker, frame, injected).await,
        ApiKey::Metadata => metadata::handle(broker, frame).await,
        ApiKey::OffsetCommit => offset_commit::handle(broker, frame).await,
        ApiKey::OffsetFetch => offset_fetch::handle(broker, frame).await,
        ApiKey::FindCoordinator => find_coordinator::handle(broker, frame).await,
        ApiKey::ApiVersions => api_versions::handle(broker, frame).await,
        ApiKey::CreateTopics => create_topics::handle(broker, frame).await,
        ApiKey::DeleteTopics => delete_topics::handle(broker, frame).await,
        ApiKey::InitProducerId => init_producer_id::handle(broker, frame).await,
        ApiKey::OffsetForLeaderEpoch => offset_for_leader_epoch::handle(broker, frame).await,
        ApiKey::JoinGroup => join_group::handle(broker, frame).await,
        ApiKey::SyncGroup => sync_group::handle(broker, frame).await,
        ApiKey::Heartbeat => heartbeat::handle(broker, frame).await,
        ApiKey::LeaveGroup => leave_group::handle(broker, frame).await,
        ApiKey::ListGroups => list_groups::handle(broker, frame).await,
        ApiKey::DescribeGroups => describe_groups::handle(broker, frame).await,
        ApiKey::DeleteGroups => delete_groups::handle(broker, frame).await,
        ApiKey::CreatePartitions => create_partitions::handle(broker, frame).await,
        ApiKey::DescribeConfigs => describe_configs::handle(broker, frame).await,
        ApiKey::AlterConfigs => alter_configs::handle(broker, frame).await,
        ApiKey::IncrementalAlterConfigs => incremental_alter_configs::handle(broker, frame).await,
        ApiKey::DeleteRecords => delete_records::handle(broker, frame).await,
        ApiKey::ElectLeaders => elect_leaders::handle(broker, frame).await,
        ApiKey::AlterPartitionReassignments => alter_partition_reassignments::handle(broker, frame).await,
        ApiKey::ListPartitionReassignments => list_partition_reassignments::handle(broker, frame).await,
        ApiKey::OffsetDelete => offset_delete::handle(broker, frame).await,
        ApiKey::DescribeCluster => describe_cluster::handle(broker, frame).await,
        ApiKey::AddPartitionsToTxn => add_partitions_to_txn::handle(broker, frame).await,
        ApiKey::AddOffsetsToTxn => add_offsets_to_txn::handle(broker, frame).await,
        ApiKey::EndTxn => end_txn::handle(broker, frame).await,
        ApiKey::TxnOffsetCommit => txn_offset_commit::handle(broker, frame).await,
        ApiKey::WriteTxnMarkers => write_txn_markers::handle(broker, frame).await,
        ApiKey::DescribeTransactions => describe_transactions::handle(broker, frame).await,
        ApiKey::ListTransactions => list_transactions::handle(broker, frame).await,
        ApiKey::DescribeUserScramCredentials => describe_user_scram_credentials::handle(broker, frame).await,
        ApiKey::AlterUserScramCredentials => alter_user_scram_credentials::handle(broker, frame).await,
        ApiKey::DescribeAcls => describe_acls::handle(broker, frame).await,
        ApiKey::CreateAcls => create_acls::handle(broker, frame).await,
        ApiKey::DeleteAcls => delete_acls::handle(broker, frame).await,
        ApiKey::SaslHandshake => sasl_handshake::handle(broker, frame).await,
        ApiKey::SaslAuthenticate => sasl_authenticate::handle(broker, frame).await,
        other => Err(format!("{other:?} is registered but has no handler")),
    }
}
