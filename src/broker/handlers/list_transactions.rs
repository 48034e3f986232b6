//! ListTransactions (key 66), v0–1: the transactional ids this broker
//! coordinates (admin clients ask every broker and merge), filtered by state
//! names, producer ids and (v1) how long they have been running. Unknown
//! state names are echoed in `unknown_state_filters`, as Kafka does.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId};
use kafka_protocol::protocol::StrBytes;

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::txn::TxnState;

use super::{decode, respond};

const STATES: [TxnState; 7] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
];

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: ListTransactionsRequest = decode(&frame)?;
    let mut response = ListTransactionsResponse::default();
    response.unknown_state_filters = request
        .state_filters
        .iter()
        .filter(|f| !STATES.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    match broker.transactions.list(broker).await {
        Err(code) => response.error_code = code.code(),
        Ok(all) => {
            let now = crate::broker::now_ms();
            for (id, meta) in all {
                let state_ok = request.state_filters.is_empty()
                    || request.state_filters.iter().any(|f| f.as_str() == meta.state.name());
                let pid_ok = request.producer_id_filters.is_empty()
                    || request.producer_id_filters.iter().any(|p| p.0 == meta.producer_id);
                let duration_ok = request.duration_filter < 0
                    || (meta.start_ms >= 0 && now - meta.start_ms >= request.duration_filter);
                let visible = super::authorize_transactional_id(broker, &frame, AclOperation::Describe, &id);
                if state_ok && pid_ok && duration_ok && visible {
                    response.transaction_states.push(
                        TransactionState::default()
                            .with_transactional_id(TransactionalId(StrBytes::from_string(id)))
                            .with_producer_id(ProducerId(meta.producer_id))
                            .with_transaction_state(StrBytes::from_static_str(meta.state.name())),
                    );
                }
            }
        }
    }
    let _ = ErrorCode::None;
    respond(&frame, &response)
}
