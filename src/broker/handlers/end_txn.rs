//! EndTxn (key 26), v0–3: commits or aborts the producer's transaction at
//! its coordinator. The answer comes once every marker is written and
//! committed and the transaction's offsets are stored (Kafka answers after
//! PrepareCommit and writes markers afterwards; answering later means a
//! consumer reading right after the commit already sees it). A retried
//! EndTxn of a transaction completed the same way succeeds.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::txn::TxnProducer;

use super::add_partitions_to_txn::fenced_code;
use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: EndTxnRequest = decode(&frame)?;
    if !super::authorize_transactional_id(broker, &frame, AclOperation::Write, request.transactional_id.as_str()) {
        let code = ErrorCode::TransactionalIdAuthorizationFailed.code();
        return respond(&frame, &EndTxnResponse::default().with_error_code(code));
    }
    let result = broker
        .transactions
        .end(
            broker,
            TxnProducer {
                transactional_id: request.transactional_id.as_str(),
                producer_id: request.producer_id.0,
                epoch: request.producer_epoch,
                fenced: fenced_code(frame.api_version, 2),
            },
            request.committed,
        )
        .await;
    let code = result.err().map_or(0, ErrorCode::code);
    respond(&frame, &EndTxnResponse::default().with_error_code(code))
}
