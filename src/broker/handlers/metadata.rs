//! Metadata (key 3), v0–9. All topics for v0's empty list and v1+'s null
//! list; named topics are auto-created when `auto.create.topics.enable` and
//! (v4+) the request allows it — synchronously, so the first answer already
//! has leaders (pykafka names a topic once and expects it to be there).
//! Partitions list their replicas, ISR, offline replicas (v5+, replicas not
//! registered as live) and leader epoch (v7+) as the state znodes say; a
//! partition without a live leader answers LEADER_NOT_AVAILABLE, leader -1.
//! v8+ reports authorized operations when asked (see `broker::authorizer`).
//! Not implemented: topic ids (v10+).

use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use crate::broker::authorizer::{authorized_operations, Resource};
use crate::broker::dispatch::HandlerResult;
use crate::broker::topics::Topic;
use crate::broker::{Broker, TopicError};
use crate::protocol::{ErrorCode, RequestFrame};

use super::{decode, respond, str_bytes};

pub async fn handle(broker: &Broker, frame: RequestFrame) -> HandlerResult {
    let request: MetadataRequest = decode(&frame)?;
    let version = frame.api_version;
    let requested: Option<Vec<String>> = match &request.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(
            list.iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                .collect(),
        ),
    };
    let may_create = broker.config.auto_create_topics_enable && (version < 4 || request.allow_auto_topic_creation);

    let mut topics = Vec::new();
    match requested {
        None => {
            for name in broker.topic_names() {
                if let Some(topic) = broker.topic(&name) {
                    topics.push(topic_metadata(&topic, version, &live_ids(broker)));
                }
            }
        }
        Some(names) => {
            for name in names {
                let entry = match broker.topic(&name) {
                    Some(topic) => topic_metadata(&topic, version, &live_ids(broker)),
                    None if may_create => auto_create(broker, &name, version).await,
                    None => error_topic(&name, ErrorCode::UnknownTopicOrPartition),
                };
                topics.push(entry);
            }
        }
    }

    let mut brokers = Vec::new();
    let view = broker.cluster_view();
    let live = view.brokers;
    let mut seen_self = false;
    for b in live {
        let (host, port) = if b.id == broker.config.broker_id {
            seen_self = true;
            (broker.advertised.0.clone(), broker.advertised.1 as i32)
        } else {
            (b.host.clone(), b.port as i32)
        };
        brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(str_bytes(&host))
                .with_port(port)
                .with_rack(if version >= 1 {
                    b.rack.as_deref().map(str_bytes)
                } else {
                    None
                }),
        );
    }
    if !seen_self {
        brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.config.broker_id))
                .with_host(str_bytes(&broker.advertised.0))
                .with_port(broker.advertised.1 as i32),
        );
    }
    let controller = view.controller.unwrap_or(broker.config.broker_id);
    let mut response = MetadataResponse::default().with_brokers(brokers).with_topics(topics);
    if version >= 1 {
        response.controller_id = BrokerId(controller);
    }
    if version >= 2 {
        response.cluster_id = Some(str_bytes(&broker.cluster_id));
    }
    if version >= 8 {
        if request.include_cluster_authorized_operations {
            response.cluster_authorized_operations = authorized_operations(Resource::Cluster);
        }
        if request.include_topic_authorized_operations {
            for t in &mut response.topics {
                let name = t.name.as_ref().map_or("", |n| n.as_str());
                t.topic_authorized_operations = authorized_operations(Resource::Topic(name));
            }
        }
    }
    respond(&frame, &response)
}

async fn auto_create(broker: &Broker, name: &str, version: i16) -> MetadataResponseTopic {
    let rf = broker.config.default_replication_factor;
    match broker
        .create_topic(name, broker.config.num_partitions, rf, None, BTreeMap::new(), false)
        .await
    {
        Ok(topic) => topic_metadata(&topic, version, &live_ids(broker)),
        // Another request created it first: answer with what exists.
        Err(TopicError::Exists(_)) => match broker.topic(name) {
            Some(topic) => topic_metadata(&topic, version, &live_ids(broker)),
            None => error_topic(name, ErrorCode::LeaderNotAvailable),
        },
        Err(e) => {
            tracing::info!(topic = name, error = %e, "auto-creation refused");
            error_topic(name, e.code())
        }
    }
}

fn error_topic(name: &str, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(name))))
        .with_error_code(code.code())
}

fn live_ids(broker: &Broker) -> Vec<i32> {
    let mut ids: Vec<i32> = broker.cluster_view().brokers.iter().map(|b| b.id).collect();
    if !ids.contains(&broker.config.broker_id) {
        ids.push(broker.config.broker_id);
    }
    ids
}

/// A topic's entry; fields a version lacks stay at their defaults (the
/// codec refuses to encode them otherwise).
pub fn topic_metadata(topic: &Topic, version: i16, live: &[i32]) -> MetadataResponseTopic {
    let partitions = topic
        .meta()
        .iter()
        .enumerate()
        .map(|(index, meta)| {
            // As Kafka's metadata cache: a leader that is not a live broker
            // is reported as none (clients cannot connect to it anyway, and
            // some fail on a leader id missing from the broker list).
            let leader = if meta.leader >= 0 && live.contains(&meta.leader) {
                meta.leader
            } else {
                -1
            };
            let error = if leader < 0 {
                ErrorCode::LeaderNotAvailable
            } else {
                ErrorCode::None
            };
            MetadataResponsePartition::default()
                .with_error_code(error.code())
                .with_partition_index(index as i32)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(if version >= 7 { meta.leader_epoch } else { -1 })
                .with_replica_nodes(meta.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(meta.isr.iter().map(|r| BrokerId(*r)).collect())
                .with_offline_replicas(if version >= 5 {
                    meta.replicas
                        .iter()
                        .filter(|r| !live.contains(r))
                        .map(|r| BrokerId(*r))
                        .collect()
                } else {
                    Vec::new()
                })
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(&topic.name))))
        .with_partitions(partitions)
}
