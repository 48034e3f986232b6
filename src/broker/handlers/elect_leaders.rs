//! ElectLeaders (key 43), v0–2, what `kafka-leader-election.sh` sends:
//! preferred (0) or unclean (1) elections, for the listed partitions or
//! (null) all of them. Only the controller answers (NOT_CONTROLLER
//! elsewhere; admin clients send it to the controller). Per partition:
//! NONE when the leader changed, ELECTION_NOT_NEEDED when the preferred
//! replica leads already / the partition has a leader, PREFERRED_LEADER_NOT_AVAILABLE,
//! ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION.

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: ElectLeadersRequest = decode(&frame)?;
    let unclean = frame.api_version >= 1 && request.election_type == 1;
    let wanted: Vec<(String, Vec<i32>)> = match &request.topic_partitions {
        Some(list) => list
            .iter()
            .map(|t| (t.topic.to_string(), t.partitions.clone()))
            .collect(),
        None => broker
            .topic_names()
            .into_iter()
            .filter_map(|name| {
                broker
                    .topic(&name)
                    .map(|t| (name, (0..t.partition_count() as i32).collect()))
            })
            .collect(),
    };
    let controller = broker.is_controller();
    let mut results = Vec::with_capacity(wanted.len());
    for (topic, partitions) in wanted {
        let mut out = Vec::with_capacity(partitions.len());
        for p in partitions {
            let code = if !controller {
                ErrorCode::NotController
            } else {
                match broker.arc() {
                    Some(arc) => crate::controller::preferred::elect_one(&arc, &topic, p, unclean).await,
                    None => ErrorCode::NotController,
                }
            };
            out.push(
                PartitionResult::default()
                    .with_partition_id(p)
                    .with_error_code(code.code()),
            );
        }
        results.push(
            ReplicaElectionResult::default()
                .with_topic(TopicName(str_bytes(&topic)))
                .with_partition_result(out),
        );
    }
    let mut response = ElectLeadersResponse::default().with_replica_election_results(results);
    if frame.api_version >= 1 && !controller {
        response.error_code = ErrorCode::NotController.code();
    }
    respond(&frame, &response)
}
