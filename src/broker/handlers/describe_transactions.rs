//! DescribeTransactions (key 65), v0: the state of transactional ids this
//! broker coordinates (NOT_COORDINATOR for others, TRANSACTIONAL_ID_NOT_FOUND
//! for unknown ones), as `kafka-transactions.sh describe` shows it.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::broker::authorizer::AclOperation;
use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: DescribeTransactionsRequest = decode(&frame)?;
    let mut states = Vec::with_capacity(request.transactional_ids.len());
    for id in &request.transactional_ids {
        let mut state = TransactionState::default().with_transactional_id(id.clone());
        let described = if super::authorize_transactional_id(broker, &frame, AclOperation::Describe, id.as_str()) {
            broker.transactions.describe(broker, id.as_str()).await
        } else {
            Err(ErrorCode::TransactionalIdAuthorizationFailed)
        };
        match described {
            Ok(meta) => {
                let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for (topic, partition) in &meta.partitions {
                    topics.entry(topic).or_default().push(*partition);
                }
                state = state
                    .with_transaction_state(StrBytes::from_static_str(meta.state.name()))
                    .with_transaction_timeout_ms(meta.timeout_ms)
                    .with_transaction_start_time_ms(meta.start_ms)
                    .with_producer_id(ProducerId(meta.producer_id))
                    .with_producer_epoch(meta.producer_epoch)
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(topic, partitions)| {
                                TopicData::default()
                                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                                    .with_partitions(partitions)
                            })
                            .collect(),
                    );
            }
            Err(code) => {
                state = state
                    .with_error_code(code.code())
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
            }
        }
        states.push(state);
    }
    let _ = ErrorCode::None;
    respond(
        &frame,
        &DescribeTransactionsResponse::default().with_transaction_states(states),
    )
}
