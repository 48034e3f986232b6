//! FindCoordinator (key 10), v0–3. Groups: the coordinator is one of the
//! live brokers, picked by a hash of the group id (every broker computes the
//! same answer; with one broker it is always itself). Not implemented:
//! batched keys (v4+) and transaction coordinators. A transactional id (key
//! type 1) gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED with a message saying
//! why: the one answer librdkafka, the Java client and kafka-python all
//! treat as fatal, so `init_transactions()` fails at once. Anything else
//! (INVALID_REQUEST included) librdkafka retries every 500 ms until its own
//! timeout, as it did COORDINATOR_NOT_AVAILABLE. Other key types get
//! INVALID_REQUEST, as Kafka answers a coordinator type it does not know.

use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::group::valid_group_id;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: FindCoordinatorRequest = decode(&frame)?;
    let mut response = FindCoordinatorResponse::default();
    let error = if request.key_type == TRANSACTION {
        Some(ErrorCode::TransactionalIdAuthorizationFailed)
    } else if request.key_type != GROUP {
        Some(ErrorCode::InvalidRequest)
    } else if !valid_group_id(request.key.as_str()) {
        Some(ErrorCode::InvalidGroupId)
    } else {
        None
    };
    if let Some(error) = error {
        response.error_code = error.code();
        if frame.api_version >= 1 && request.key_type == TRANSACTION {
            response.error_message = Some(str_bytes(
                "krab has no transaction coordinator (transactions are not supported)",
            ));
        }
        response.node_id = BrokerId(-1);
        response.port = -1;
        return respond(&frame, &response);
    }
    let (id, host, port) = broker.coordinator_for(request.key.as_str());
    response.node_id = BrokerId(id);
    response.host = str_bytes(&host);
    response.port = port as i32;
    respond(&frame, &response)
}
