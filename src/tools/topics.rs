//! `krab topics`: kafka-topics.sh through the Kafka protocol
//! (`--bootstrap-server`): create, list, describe, alter, delete. The
//! `--zookeeper` mode is in `topics_zk.rs`.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{BrokerId, CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::client::Client;

/// One kafka-topics action.
#[derive(Debug, Clone)]
pub enum TopicsAction {
    Create {
        topic: String,
        partitions: i32,
        replication_factor: i16,
        config: BTreeMap<String, String>,
        /// `--replica-assignment`: the replicas of partitions 0, 1, ...
        replica_assignment: Option<Vec<Vec<i32>>>,
        if_not_exists: bool,
    },
    List,
    /// More partitions and/or config changes.
    Alter {
        topic: String,
        partitions: Option<i32>,
        /// Replicas of the partitions being added.
        replica_assignment: Option<Vec<Vec<i32>>>,
        set_config: BTreeMap<String, String>,
        delete_config: Vec<String>,
        if_exists: bool,
    },
    Describe {
        topic: Option<String>,
        filter: DescribeFilter,
    },
    Delete {
        topic: String,
        if_exists: bool,
    },
}

/// kafka-topics' `--describe` filters: with one, only the matching
/// partition lines are printed (no topic header), as Kafka prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescribeFilter {
    All,
    UnderReplicated,
    Unavailable,
    UnderMinIsr,
}

impl DescribeFilter {
    /// Whether a partition line is printed.
    pub fn keeps(self, leader: i32, replicas: &[i32], isr: &[i32], live: &[i32], min_isr: usize) -> bool {
        match self {
            DescribeFilter::All => true,
            DescribeFilter::UnderReplicated => isr.len() < replicas.len(),
            DescribeFilter::Unavailable => leader < 0 || !live.contains(&leader),
            DescribeFilter::UnderMinIsr => isr.len() < min_isr,
        }
    }
}

pub(super) fn kafka_error_name(code: i16) -> &'static str {
    match code {
        1 => "OFFSET_OUT_OF_RANGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        10 => "MESSAGE_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        76 => "UNSUPPORTED_COMPRESSION_TYPE",
        17 => "INVALID_TOPIC_EXCEPTION",
        36 => "TOPIC_ALREADY_EXISTS",
        37 => "INVALID_PARTITIONS",
        38 => "INVALID_REPLICATION_FACTOR",
        39 => "INVALID_REPLICA_ASSIGNMENT",
        40 => "INVALID_CONFIG",
        73 => "TOPIC_DELETION_DISABLED",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        31 => "CLUSTER_AUTHORIZATION_FAILED",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        42 => "INVALID_REQUEST",
        53 => "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        54 => "SECURITY_DISABLED",
        58 => "SASL_AUTHENTICATION_FAILED",
        91 => "RESOURCE_NOT_FOUND",
        92 => "DUPLICATE_RESOURCE",
        93 => "UNACCEPTABLE_CREDENTIAL",
        _ => "ERROR",
    }
}

/// kafka-topics' first `--describe` line for a topic.
pub(super) fn describe_header(name: &str, partitions: usize, rf: usize, configs: &BTreeMap<String, String>) -> String {
    let configs = configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    format!("Topic: {name}\tPartitionCount: {partitions}\tReplicationFactor: {rf}\tConfigs: {configs}")
}

/// kafka-topics' `--describe` line for one partition.
pub(super) fn describe_partition(name: &str, p: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> String {
    let join = |v: &[i32]| v.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    let leader = if leader < 0 {
        "none".to_string()
    } else {
        leader.to_string()
    };
    format!(
        "\tTopic: {name}\tPartition: {p}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
        join(replicas),
        join(isr)
    )
}

/// Runs the action; `Ok` holds what to print, `Err` a one-line error.
pub fn run(bootstrap: &str, action: TopicsAction) -> Result<String, String> {
    let mut client = Client::connect(bootstrap)?;
    match action {
        TopicsAction::Create {
            topic,
            partitions,
            replication_factor,
            config,
            replica_assignment,
            if_not_exists,
        } => {
            let assignments = replica_assignment
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(p, replicas)| {
                    CreatableReplicaAssignment::default()
                        .with_partition_index(p as i32)
                        .with_broker_ids(replicas.into_iter().map(BrokerId).collect())
                })
                .collect::<Vec<_>>();
            let (partitions, replication_factor) = if assignments.is_empty() {
                (partitions, replication_factor)
            } else {
                (-1, -1)
            };
            let configs = config
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.clone()))
                        .with_value(Some(StrBytes::from_string(v.clone())))
                })
                .collect();
            let request =
                CreateTopicsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(vec![CreatableTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.clone())))
                        .with_num_partitions(partitions)
                        .with_replication_factor(replication_factor)
                        .with_assignments(assignments)
                        .with_configs(configs)]);
            let response = client.send(&request, 4)?;
            let result = response.topics.first().ok_or("empty CreateTopics response")?;
            match result.error_code {
                0 => Ok(format!("Created topic {topic}.")),
                36 if if_not_exists => Ok(String::new()),
                code => Err(format!(
                    "Error while executing topic command : {} ({})",
                    result.error_message.as_deref().unwrap_or("topic creation failed"),
                    kafka_error_name(code)
                )),
            }
        }
        TopicsAction::List => {
            let response = client.send(&MetadataRequest::default().with_topics(None), 1)?;
            let mut names: Vec<String> = response
                .topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                .collect();
            names.sort();
            Ok(names.join("\n"))
        }
        TopicsAction::Describe { topic, filter } => {
            let topics = topic
                .map(|t| vec![MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t))))]);
            let request = MetadataRequest::default()
                .with_topics(topics)
                .with_allow_auto_topic_creation(false);
            let response = client.send(&request, 5)?;
            let live: Vec<i32> = response.brokers.iter().map(|b| b.node_id.0).collect();
            let mut out = Vec::new();
            let mut topics = response.topics;
            topics.sort_by(|a, b| {
                a.name
                    .as_ref()
                    .map(|n| n.to_string())
                    .cmp(&b.name.as_ref().map(|n| n.to_string()))
            });
            for t in topics {
                let name = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                if t.error_code != 0 {
                    return Err(format!(
                        "Topic '{name}' does not exist ({})",
                        kafka_error_name(t.error_code)
                    ));
                }
                let rf = t.partitions.first().map(|p| p.replica_nodes.len()).unwrap_or(0);
                let configs = super::topics_alter::describe_overrides(&mut client, &name)?;
                if filter == DescribeFilter::All {
                    out.push(describe_header(&name, t.partitions.len(), rf, &configs));
                }
                let min_isr = configs
                    .get("min.insync.replicas")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let mut parts = t.partitions;
                parts.sort_by_key(|p| p.partition_index);
                for p in parts {
                    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<i32>>();
                    let (replicas, isr) = (ids(&p.replica_nodes), ids(&p.isr_nodes));
                    if filter.keeps(p.leader_id.0, &replicas, &isr, &live, min_isr) {
                        out.push(describe_partition(
                            &name,
                            p.partition_index,
                            p.leader_id.0,
                            &replicas,
                            &isr,
                        ));
                    }
                }
            }
            Ok(out.join("\n"))
        }
        TopicsAction::Alter {
            topic,
            partitions,
            replica_assignment,
            set_config,
            delete_config,
            if_exists,
        } => super::topics_alter::alter(
            &mut client,
            &topic,
            partitions,
            replica_assignment,
            &set_config,
            &delete_config,
            if_exists,
        ),
        TopicsAction::Delete { topic, if_exists } => {
            let request = DeleteTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topic_names(vec![TopicName(StrBytes::from_string(topic.clone()))]);
            let response = client.send(&request, 3)?;
            let result = response.responses.first().ok_or("empty DeleteTopics response")?;
            match result.error_code {
                0 => Ok(format!("Topic {topic} is marked for deletion.")),
                3 if if_exists => Ok(String::new()),
                3 => Err(format!("Topic '{topic}' does not exist as expected")),
                code => Err(format!(
                    "Error while deleting topic {topic}: {}",
                    kafka_error_name(code)
                )),
            }
        }
    }
}
