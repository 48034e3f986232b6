//! InitProducerId (key 22), v0–4. Without a transactional id (idempotence):
//! a fresh producer id (unique across restarts, claimed in blocks from the
//! metadata store) with epoch 0; v3+ requests naming their current id get
//! a fresh one too (valid, if not Kafka's epoch bump). With a transactional
//! id, at its coordinator (NOT_COORDINATOR elsewhere): the id's producer id
//! with its epoch bumped, which fences the previous producer; an open
//! transaction is aborted first. `transaction_timeout_ms` must lie in
//! 1..=`transaction.max.timeout.ms` (INVALID_TRANSACTION_TIMEOUT).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: InitProducerIdRequest = decode(&frame)?;
    let mut response = InitProducerIdResponse::default();
    let txn_id = request.transactional_id.as_ref().filter(|t| !t.is_empty());
    // Kafka 2.8 (KIP-679): Write on the transactional id; an idempotent
    // producer needs IdempotentWrite on the cluster or Write on some topic.
    let denied = match txn_id {
        Some(id) => (!super::authorize_transactional_id(broker, &frame, AclOperation::Write, id.as_str()))
            .then_some(ErrorCode::TransactionalIdAuthorizationFailed),
        None => (!super::authorize_cluster(broker, &frame, AclOperation::IdempotentWrite)
            && !broker
                .topic_names()
                .iter()
                .any(|t| super::authorize_topic(broker, &frame, AclOperation::Write, t)))
        .then_some(ErrorCode::ClusterAuthorizationFailed),
    };
    let result = match txn_id {
        _ if denied.is_some() => Err(denied.unwrap_or(ErrorCode::ClusterAuthorizationFailed)),
        Some(id) => {
            let expected = (frame.api_version >= 3).then_some((request.producer_id.0, request.producer_epoch));
            broker
                .transactions
                .init_producer_id(broker, id.as_str(), request.transaction_timeout_ms, expected)
                .await
        }
        None => broker.next_producer_id().await.map(|id| (id, 0)).map_err(|e| {
            tracing::warn!(error = %e, "cannot allocate a producer id");
            ErrorCode::CoordinatorNotAvailable
        }),
    };
    match result {
        Ok((id, epoch)) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = epoch;
        }
        Err(code) => {
            // Clients before 2.7 know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED.
            let code = if code == ErrorCode::ProducerFenced && frame.api_version < 3 {
                ErrorCode::InvalidProducerEpoch
            } else {
                code
            };
            response.error_code = code.code();
            response.producer_id = ProducerId(-1);
            response.producer_epoch = -1;
        }
    }
    respond(&frame, &response)
}
