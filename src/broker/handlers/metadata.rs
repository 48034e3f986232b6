//! Metadata (key 3), v0–9. All topics for v0's empty list and v1+'s null
//! list; named topics are auto-created when `auto.create.topics.enable` and
//! (v4+) the request allows it — synchronously, so the first answer already
//! has leaders (pykafka names a topic once and expects it to be there).
//! Partitions list their replicas, ISR, offline replicas (v5+, replicas not
//! registered as live) and leader epoch (v7+) as the state znodes say; a
//! partition without a live leader answers LEADER_NOT_AVAILABLE, leader -1,
//! except that a leader that has just departed stays named (and listed)
//! until the controller moves leadership, as Kafka's metadata cache does.
//! v8+ reports authorized operations when asked (see `broker::authorizer`).
//! Not implemented: topic ids (v10+).

use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use crate::broker::authorizer::AclOperation;
use crate::broker::authorizer::Resource;
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
    // Kafka: topics the principal may not Describe are left out of an
    // all-topics answer and answered TOPIC_AUTHORIZATION_FAILED when named;
    // auto-creation needs Create on the cluster or the topic.
    let visible = |name: &str| super::authorize_topic(broker, &frame, AclOperation::Describe, name);
    let may_create_named = |name: &str| {
        super::authorize_cluster(broker, &frame, AclOperation::Create)
            || super::authorize_topic(broker, &frame, AclOperation::Create, name)
    };

    let mut topics = Vec::new();
    match requested {
        None => {
            for name in broker.topic_names() {
                if !visible(&name) {
                    continue;
                }
                if let Some(topic) = broker.topic(&name) {
                    topics.push(topic_metadata(&topic, version, &known_ids(broker)));
                }
            }
        }
        Some(names) => {
            for name in names {
                let entry = match broker.topic(&name) {
                    _ if !visible(&name) => error_topic(&name, ErrorCode::TopicAuthorizationFailed),
                    Some(topic) => topic_metadata(&topic, version, &known_ids(broker)),
                    None if may_create && !may_create_named(&name) => {
                        error_topic(&name, ErrorCode::TopicAuthorizationFailed)
                    }
                    None if may_create => auto_create(broker, &name, version).await,
                    None => error_topic(&name, ErrorCode::UnknownTopicOrPartition),
                };
                topics.push(entry);
            }
        }
    }

    let mut brokers = Vec::new();
    let view = broker.cluster_view();
    let mut seen_self = false;
    let listener = frame.listener.as_deref();
    for b in &view.brokers {
        seen_self |= b.id == broker.config.broker_id;
        let Some((host, port)) = broker.address_for(b, listener) else {
            continue;
        };
        brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(str_bytes(&host))
                .with_port(port as i32)
                .with_rack(if version >= 1 {
                    b.rack.as_deref().map(str_bytes)
                } else {
                    None
                }),
        );
    }
    if !seen_self {
        let (host, port) = broker.own_address(listener);
        brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(broker.config.broker_id))
                .with_host(str_bytes(&host))
                .with_port(port as i32),
        );
    }
    // A departed broker still named as a leader is listed with its last
    // endpoint, so the answer stays consistent (see `ClusterView::departed`).
    for gone in &view.departed {
        let named = topics
            .iter()
            .any(|t| t.partitions.iter().any(|p| p.leader_id.0 == gone.id));
        if named && !brokers.iter().any(|b| b.node_id.0 == gone.id) {
            if let Some((host, port)) = broker.address_for(gone, listener) {
                brokers.push(
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(gone.id))
                        .with_host(str_bytes(&host))
                        .with_port(port as i32),
                );
            }
        }
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
            response.cluster_authorized_operations = broker.authorized_operations(&frame, Resource::Cluster);
        }
        if request.include_topic_authorized_operations {
            for t in &mut response.topics {
                let name = t.name.as_ref().map_or("", |n| n.as_str());
                t.topic_authorized_operations = broker.authorized_operations(&frame, Resource::Topic(name));
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
        Ok(topic) => topic_metadata(&topic, version, &known_ids(broker)),
        // Another request created it first: answer with what exists.
        Err(TopicError::Exists(_)) => match broker.topic(name) {
            Some(topic) => topic_metadata(&topic, version, &known_ids(broker)),
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

/// Live broker ids, and those that departed but may still be named as
/// leaders (see `ClusterView::departed`).
pub struct KnownIds {
    pub live: Vec<i32>,
    pub departed: Vec<i32>,
}

fn known_ids(broker: &Broker) -> KnownIds {
    let view = broker.cluster_view();
    let mut live: Vec<i32> = view.brokers.iter().map(|b| b.id).collect();
    if !live.contains(&broker.config.broker_id) {
        live.push(broker.config.broker_id);
    }
    KnownIds {
        live,
        departed: view.departed.iter().map(|b| b.id).collect(),
    }
}

/// A topic's entry; fields a version lacks stay at their defaults (the
/// codec refuses to encode them otherwise).
pub fn topic_metadata(topic: &Topic, version: i16, known: &KnownIds) -> MetadataResponseTopic {
    let live = &known.live;
    let partitions = topic
        .meta()
        .iter()
        .enumerate()
        .map(|(index, meta)| {
            // As Kafka's metadata cache: a leader that is neither live nor
            // just departed (still listed, see `ClusterView::departed`) is
            // reported as none (some clients fail on a leader id missing
            // from the broker list).
            let named = live.contains(&meta.leader) || known.departed.contains(&meta.leader);
            let leader = if meta.leader >= 0 && named { meta.leader } else { -1 };
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
