//! AddOffsetsToTxn (key 25), v0–3: adds a consumer group's offsets to the
//! producer's transaction (send_offsets_to_transaction), at the transaction
//! coordinator; TxnOffsetCommit then goes to the group's coordinator.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::valid_group_id;
use crate::protocol::{ErrorCode, RequestFrame};
use crate::txn::TxnProducer;

use super::add_partitions_to_txn::fenced_code;
use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: AddOffsetsToTxnRequest = decode(&frame)?;
    let group = request.group_id.as_str();
    let result =
        if !super::authorize_transactional_id(broker, &frame, AclOperation::Write, request.transactional_id.as_str()) {
            Err(ErrorCode::TransactionalIdAuthorizationFailed)
        } else if !broker.authorize(
            &frame,
            AclOperation::Read,
            crate::broker::authorizer::Resource::Group(group),
        ) {
            Err(ErrorCode::GroupAuthorizationFailed)
        } else if !valid_group_id(group) {
            Err(ErrorCode::InvalidGroupId)
        } else {
            broker
                .transactions
                .add(
                    broker,
                    TxnProducer {
                        transactional_id: request.transactional_id.as_str(),
                        producer_id: request.producer_id.0,
                        epoch: request.producer_epoch,
                        fenced: fenced_code(frame.api_version, 2),
                    },
                    Vec::new(),
                    Some(group),
                )
                .await
        };
    let code = result.err().map_or(0, ErrorCode::code);
    respond(&frame, &AddOffsetsToTxnResponse::default().with_error_code(code))
}
