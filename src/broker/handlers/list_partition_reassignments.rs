//! ListPartitionReassignments (key 46), v0: the pending reassignments of
//! `/admin/reassign_partitions` (all, or the listed partitions), each with
//! its current replicas and the replicas being added and removed.

use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};

use crate::broker::dispatch::HandlerResult;
use crate::broker::Broker;
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: ListPartitionReassignmentsRequest = decode(&frame)?;
    let pending = match broker.layout.pending_reassignment().await {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => {
            let response = ListPartitionReassignmentsResponse::default()
                .with_error_code(ErrorCode::UnknownServerError.code())
                .with_error_message(Some(str_bytes(&e.to_string())));
            return respond(&frame, &response);
        }
    };
    let wanted = |topic: &str, p: i32| match &request.topics {
        None => true,
        Some(list) => list
            .iter()
            .any(|t| t.name.as_str() == topic && t.partition_indexes.contains(&p)),
    };
    let mut topics: Vec<OngoingTopicReassignment> = Vec::new();
    for ((topic, p), target) in &pending {
        if !wanted(topic, *p) {
            continue;
        }
        let current = broker
            .topic(topic)
            .and_then(|t| t.meta().get(*p as usize).map(|m| m.replicas.clone()))
            .unwrap_or_default();
        let ids = |v: Vec<i32>| v.into_iter().map(BrokerId).collect::<Vec<_>>();
        let adding: Vec<i32> = target.iter().copied().filter(|r| !current.contains(r)).collect();
        let removing: Vec<i32> = current.iter().copied().filter(|r| !target.contains(r)).collect();
        let mut all = target.clone();
        all.extend(removing.iter().copied());
        let entry = OngoingPartitionReassignment::default()
            .with_partition_index(*p)
            .with_replicas(ids(all))
            .with_adding_replicas(ids(adding))
            .with_removing_replicas(ids(removing));
        match topics.iter_mut().find(|t| t.name.as_str() == topic.as_str()) {
            Some(t) => t.partitions.push(entry),
            None => topics.push(
                OngoingTopicReassignment::default()
                    .with_name(TopicName(str_bytes(topic)))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    respond(
        &frame,
        &ListPartitionReassignmentsResponse::default().with_topics(topics),
    )
}
