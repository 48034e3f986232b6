//! Every API at every registered version against a real in-process broker
//! (embedded metadata store, port 0): each request is answered, the answer
//! decodes at that version, and the happy paths report no error. This is
//! what catches a response field set on a version that lacks it.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use krab::config::{BrokerConfig, RawConfig};
use krab::protocol::SUPPORTED_APIS;
use krab::records::{encode_batch, encode_message_set, Compression, LegacyMessage, Record};
use krab::tools::client::Client;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn records_for(version: i16) -> Bytes {
    if version >= 3 {
        let record = Record {
            offset: 0,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![],
        };
        Bytes::from(encode_batch(&[record], Compression::None, 0, -1, -1, -1, None).unwrap())
    } else {
        let message = LegacyMessage {
            offset: 0,
            magic: 0,
            timestamp: -1,
            log_append_time: false,
            compression: Compression::None,
            key: None,
            value: Some(Bytes::from_static(b"legacy")),
        };
        Bytes::from(encode_message_set(&[message], 0, Compression::None).unwrap())
    }
}

fn gid(s: &str) -> GroupId {
    GroupId(StrBytes::from_string(s.to_string()))
}

/// Joins `group` as its only member at `v` (answering MEMBER_ID_REQUIRED on v4+):
/// (member id, generation).
fn join(client: &mut Client, group: &str, v: i16) -> Result<(StrBytes, i32), String> {
    let mut req = JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::from_static(b"subscription"))]);
    let mut r = client.send(&req, v)?;
    if v >= 4 {
        assert_eq!(r.error_code, 79, "MEMBER_ID_REQUIRED v{v}");
        req.member_id = r.member_id.clone();
        r = client.send(&req, v)?;
    }
    assert_eq!(r.error_code, 0, "join v{v}");
    assert_eq!(r.leader, r.member_id, "sole member leads v{v}");
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.members[0].metadata, Bytes::from_static(b"subscription"));
    Ok((r.member_id, r.generation_id))
}

fn sync(
    client: &mut Client,
    group: &str,
    member: &StrBytes,
    generation: i32,
    v: i16,
) -> Result<SyncGroupResponse, String> {
    let mut req = SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_member_id(member.clone())
        .with_generation_id(generation)
        .with_assignments(vec![sync_group_request::SyncGroupRequestAssignment::default()
            .with_member_id(member.clone())
            .with_assignment(Bytes::from_static(b"assigned"))]);
    if v >= 5 {
        req.protocol_type = Some(StrBytes::from_static_str("consumer"));
        req.protocol_name = Some(StrBytes::from_static_str("range"));
    }
    client.send(&req, v)
}

const TOPIC: &str = "every-api";

fn txn_id(s: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(s.to_string()))
}

/// InitProducerId v0 for a transactional id: (producer id, epoch).
fn init_txn(client: &mut Client, id: &str) -> Result<(ProducerId, i16), String> {
    let r = client.send(
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(txn_id(id)))
            .with_transaction_timeout_ms(60_000),
        0,
    )?;
    assert_eq!(r.error_code, 0, "init {id}");
    Ok((r.producer_id, r.producer_epoch))
}

fn add_partition(client: &mut Client, id: &str, pid: ProducerId, epoch: i16, v: i16) -> Result<(), String> {
    let r = client.send(
        &AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(txn_id(id))
            .with_v3_and_below_producer_id(pid)
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(name(TOPIC))
                .with_partitions(vec![0])]),
        v,
    )?;
    let codes: Vec<i16> = r
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| t.results_by_partition.iter().map(|p| p.partition_error_code))
        .collect();
    assert_eq!(codes, vec![0], "add partitions v{v}");
    Ok(())
}

fn add_offsets(client: &mut Client, id: &str, pid: ProducerId, epoch: i16, v: i16) -> Result<(), String> {
    let r = client.send(
        &AddOffsetsToTxnRequest::default()
            .with_transactional_id(txn_id(id))
            .with_producer_id(pid)
            .with_producer_epoch(epoch)
            .with_group_id(gid("txn-group")),
        v,
    )?;
    assert_eq!(r.error_code, 0, "add offsets v{v}");
    Ok(())
}

fn end_txn(client: &mut Client, id: &str, pid: ProducerId, epoch: i16, commit: bool, v: i16) -> Result<i16, String> {
    let r = client.send(
        &EndTxnRequest::default()
            .with_transactional_id(txn_id(id))
            .with_producer_id(pid)
            .with_producer_epoch(epoch)
            .with_committed(commit),
        v,
    )?;
    Ok(r.error_code)
}

fn create(client: &mut Client, topic: &str, partitions: i32) -> Result<(), String> {
    let req = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![
        create_topics_request::CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1),
    ]);
    let r = client.send(&req, 0)?;
    assert_eq!(r.topics[0].error_code, 0, "create {topic}");
    Ok(())
}

fn exercise(client: &mut Client, api: ApiKey, v: i16) -> Result<(), String> {
    let topic = TOPIC;
    match api {
        ApiKey::ApiVersions => {
            let r = client.send(&ApiVersionsRequest::default(), v)?;
            assert_eq!(r.error_code, 0);
            assert_eq!(r.api_keys.len(), SUPPORTED_APIS.len());
        }
        ApiKey::Metadata => {
            let req = MetadataRequest::default()
                .with_topics(Some(vec![
                    metadata_request::MetadataRequestTopic::default().with_name(Some(name(topic)))
                ]))
                .with_allow_auto_topic_creation(true)
                .with_include_topic_authorized_operations(v >= 8)
                .with_include_cluster_authorized_operations(v >= 8);
            let r = client.send(&req, v)?;
            assert_eq!(r.topics.len(), 1);
            assert_eq!(r.topics[0].error_code, 0, "v{v}");
            if v >= 8 {
                // Kafka's bitfields without an authorizer.
                assert_eq!(r.topics[0].topic_authorized_operations, 3576, "topic operations v{v}");
                assert_eq!(r.cluster_authorized_operations, 8096, "cluster operations v{v}");
            }
            assert_eq!(r.topics[0].partitions.len(), 1);
            assert_eq!(r.brokers.len(), 1);
        }
        ApiKey::Produce => {
            let req = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records_for(v)))])]);
            let r = client.send(&req, v)?;
            let p = &r.responses[0].partition_responses[0];
            assert_eq!(p.error_code, 0, "produce v{v}");
            assert!(p.base_offset >= 0);
        }
        ApiKey::Fetch => {
            let req = FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20)])]);
            let r = client.send(&req, v)?;
            let p = &r.responses[0].partitions[0];
            assert_eq!(p.error_code, 0, "fetch v{v}");
            assert!(p.high_watermark > 0);
            let data = p.records.as_ref().expect("records");
            assert!(!data.is_empty(), "fetch v{v} returned no data");
            let magic = data[16];
            let expected = match v {
                0 | 1 => 0,
                2 | 3 => 1,
                _ => 2,
            };
            assert_eq!(magic, expected, "fetch v{v} magic");
        }
        ApiKey::ListOffsets => {
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default()
                        .with_timestamp(-1)
                        .with_max_num_offsets(1)])]);
            let r = client.send(&req, v)?;
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0);
            let offset = if v == 0 { p.old_style_offsets[0] } else { p.offset };
            assert!(offset > 0, "latest offset v{v}");
        }
        ApiKey::OffsetCommit => {
            let req = OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_committed_offset(1)
                            .with_committed_leader_epoch(if v >= 6 { 3 } else { -1 })
                            .with_committed_metadata(Some(StrBytes::from_static_str("meta"))),
                    ])]);
            let r = client.send(&req, v)?;
            assert_eq!(r.topics[0].partitions[0].error_code, 0, "commit v{v}");
        }
        ApiKey::OffsetFetch => {
            let req = OffsetFetchRequest::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_topics(Some(vec![offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(name(topic))
                    .with_partition_indexes(vec![0])]));
            let r = client.send(&req, v)?;
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0);
            assert_eq!(p.committed_offset, 1, "offset fetch v{v}");
            assert_eq!(p.metadata.as_deref(), Some("meta"));
            // The last commit (OffsetCommit v7) carried leader epoch 3; v5+ returns it.
            let epoch = if v >= 5 { 3 } else { -1 };
            assert_eq!(p.committed_leader_epoch, epoch, "committed leader epoch v{v}");
        }
        ApiKey::FindCoordinator => {
            let r = client.send(
                &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
                v,
            )?;
            assert_eq!(r.error_code, 0);
            assert!(r.port > 0);
        }
        ApiKey::CreateTopics => {
            let t = format!("created-v{v}");
            let req = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name(&t))
                    .with_num_partitions(3)
                    .with_replication_factor(1),
            ]);
            let r = client.send(&req, v)?;
            assert_eq!(r.topics[0].error_code, 0, "create v{v}");
            let again = client.send(&req, v)?;
            assert_eq!(again.topics[0].error_code, 36, "create twice v{v}");
        }
        ApiKey::DeleteTopics => {
            let t = format!("deleted-v{v}");
            let create = CreateTopicsRequest::default().with_timeout_ms(1000).with_topics(vec![
                create_topics_request::CreatableTopic::default()
                    .with_name(name(&t))
                    .with_num_partitions(1)
                    .with_replication_factor(1),
            ]);
            client.send(&create, 0)?;
            let r = client.send(
                &DeleteTopicsRequest::default()
                    .with_topic_names(vec![name(&t)])
                    .with_timeout_ms(1000),
                v,
            )?;
            assert_eq!(r.responses[0].error_code, 0, "delete v{v}");
            let r = client.send(
                &DeleteTopicsRequest::default()
                    .with_topic_names(vec![name(&t)])
                    .with_timeout_ms(1000),
                v,
            )?;
            assert_eq!(r.responses[0].error_code, 3, "delete twice v{v}");
        }
        ApiKey::InitProducerId => {
            let r = client.send(
                &InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(1000),
                v,
            )?;
            assert_eq!(r.error_code, 0);
            assert!(r.producer_id.0 >= 0);
        }
        ApiKey::OffsetForLeaderEpoch => {
            let req = OffsetForLeaderEpochRequest::default().with_topics(vec![
                offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(vec![
                        offset_for_leader_epoch_request::OffsetForLeaderPartition::default().with_leader_epoch(0),
                    ]),
            ]);
            let r = client.send(&req, v)?;
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0);
            assert!(p.end_offset > 0);
        }
        ApiKey::JoinGroup => {
            let group = format!("join-v{v}");
            let (member, generation) = join(client, &group, v)?;
            assert_eq!(generation, 1);
            let leave = LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(member);
            assert_eq!(client.send(&leave, 0)?.error_code, 0);
        }
        ApiKey::SyncGroup => {
            let group = format!("sync-v{v}");
            let (member, generation) = join(client, &group, 0)?;
            let r = sync(client, &group, &member, generation, v)?;
            assert_eq!(r.error_code, 0, "sync v{v}");
            assert_eq!(r.assignment, Bytes::from_static(b"assigned"));
            if v >= 5 {
                assert_eq!(r.protocol_name.as_deref(), Some("range"));
            }
        }
        ApiKey::Heartbeat => {
            let group = format!("heartbeat-v{v}");
            let (member, generation) = join(client, &group, 0)?;
            sync(client, &group, &member, generation, 0)?;
            let req = HeartbeatRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(member.clone())
                .with_generation_id(generation);
            assert_eq!(client.send(&req, v)?.error_code, 0, "heartbeat v{v}");
            let stale = req.with_generation_id(generation + 5);
            assert_eq!(client.send(&stale, v)?.error_code, 22, "ILLEGAL_GENERATION v{v}");
        }
        ApiKey::LeaveGroup => {
            let group = format!("leave-v{v}");
            let (member, _) = join(client, &group, 0)?;
            let mut req = LeaveGroupRequest::default().with_group_id(gid(&group));
            if v >= 3 {
                req.members = vec![leave_group_request::MemberIdentity::default().with_member_id(member)];
            } else {
                req.member_id = member;
            }
            let r = client.send(&req, v)?;
            assert_eq!(r.error_code, 0, "leave v{v}");
            if v >= 3 {
                assert_eq!(r.members[0].error_code, 0);
            }
        }
        ApiKey::DescribeGroups => {
            let group = format!("describe-v{v}");
            let (member, generation) = join(client, &group, 0)?;
            sync(client, &group, &member, generation, 0)?;
            let req = DescribeGroupsRequest::default()
                .with_groups(vec![gid(&group), gid("never-seen")])
                .with_include_authorized_operations(v >= 3);
            let r = client.send(&req, v)?;
            let g = &r.groups[0];
            if v >= 3 {
                assert_eq!(g.authorized_operations, 328, "group operations v{v}");
            }
            assert_eq!((g.error_code, g.group_state.as_str()), (0, "Stable"), "describe v{v}");
            assert_eq!(g.protocol_data.as_str(), "range");
            assert_eq!(g.members[0].member_assignment, Bytes::from_static(b"assigned"));
            assert_eq!(r.groups[1].group_state.as_str(), "Dead");
        }
        ApiKey::ListGroups => {
            let r = client.send(&ListGroupsRequest::default(), v)?;
            assert_eq!(r.error_code, 0);
            let g = r.groups.iter().find(|g| g.group_id.as_str() == "describe-v0");
            let g = g.ok_or("a group with a member is listed")?;
            assert_eq!(g.protocol_type.as_str(), "consumer");
            if v >= 4 {
                assert_eq!(g.group_state.as_str(), "Stable");
            }
            assert!(
                r.groups.iter().any(|g| g.group_id.as_str() == "g"),
                "a group with only offsets is listed"
            );
        }
        ApiKey::DeleteGroups => {
            let group = format!("delete-v{v}");
            let commit = OffsetCommitRequest::default()
                .with_group_id(gid(&group))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default().with_committed_offset(1),
                    ])]);
            assert_eq!(client.send(&commit, 2)?.topics[0].partitions[0].error_code, 0);
            let req = DeleteGroupsRequest::default().with_groups_names(vec![gid(&group)]);
            assert_eq!(client.send(&req, v)?.results[0].error_code, 0, "delete v{v}");
            assert_eq!(
                client.send(&req, v)?.results[0].error_code,
                69,
                "GROUP_ID_NOT_FOUND v{v}"
            );
            let (_, _) = join(client, &format!("busy-v{v}"), 0)?;
            let busy = DeleteGroupsRequest::default().with_groups_names(vec![gid(&format!("busy-v{v}"))]);
            assert_eq!(client.send(&busy, v)?.results[0].error_code, 68, "NON_EMPTY_GROUP v{v}");
        }

        ApiKey::CreatePartitions => {
            let t = format!("grown-v{v}");
            create(client, &t, 1)?;
            let req = CreatePartitionsRequest::default()
                .with_timeout_ms(1000)
                .with_topics(vec![create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(name(&t))
                    .with_count(3)
                    .with_assignments(None)]);
            let r = client.send(&req, v)?;
            assert_eq!(r.results[0].error_code, 0, "create partitions v{v}");
            let again = client.send(&req, v)?;
            assert_eq!(again.results[0].error_code, 37, "not an increase v{v}");
        }
        ApiKey::DescribeConfigs => {
            let req = DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str(TOPIC))
                    .with_configuration_keys(None),
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(4)
                    .with_resource_name(StrBytes::from_static_str("0"))
                    .with_configuration_keys(None),
            ]);
            let req = req.with_include_synonyms(v >= 1).with_include_documentation(v >= 3);
            let r = client.send(&req, v)?;
            assert_eq!(r.results[0].error_code, 0, "describe topic v{v}");
            let retention = r.results[0]
                .configs
                .iter()
                .find(|c| c.name.as_str() == "retention.ms")
                .expect("retention.ms described");
            if v >= 1 {
                assert!(!retention.synonyms.is_empty(), "synonyms v{v}");
            }
            if v >= 3 {
                assert_eq!(retention.config_type, 5, "LONG v{v}");
                assert!(retention.documentation.is_some(), "documentation v{v}");
            }
            assert_eq!(r.results[1].error_code, 0, "describe broker v{v}");
        }
        ApiKey::AlterConfigs => {
            let req = AlterConfigsRequest::default().with_resources(vec![
                alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str(TOPIC))
                    .with_configs(vec![alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("retention.ms"))
                        .with_value(Some(StrBytes::from_static_str("86400000")))]),
            ]);
            let r = client.send(&req, v)?;
            assert_eq!(r.responses[0].error_code, 0, "alter configs v{v}");
        }
        ApiKey::IncrementalAlterConfigs => {
            let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str(TOPIC))
                    .with_configs(vec![incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(StrBytes::from_static_str("cleanup.policy"))
                        .with_config_operation(0)
                        .with_value(Some(StrBytes::from_static_str("shred")))]),
            ]);
            let r = client.send(&req, v)?;
            assert_eq!(r.responses[0].error_code, 40, "an invalid policy is refused v{v}");
        }
        ApiKey::DeleteRecords => {
            let req = DeleteRecordsRequest::default().with_timeout_ms(1000).with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(name(TOPIC))
                    .with_partitions(vec![delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(0)]),
            ]);
            let r = client.send(&req, v)?;
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0, "delete records v{v}");
            assert!(p.low_watermark >= 0);
        }
        ApiKey::OffsetDelete => {
            let group = format!("offset-delete-v{v}");
            let commit = OffsetCommitRequest::default()
                .with_group_id(gid(&group))
                .with_generation_id_or_member_epoch(-1)
                .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default().with_committed_offset(1),
                    ])]);
            assert_eq!(client.send(&commit, 2)?.topics[0].partitions[0].error_code, 0);
            let delete = |group: &str, topic: &str| {
                OffsetDeleteRequest::default()
                    .with_group_id(gid(group))
                    .with_topics(vec![offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(name(topic))
                        .with_partitions(vec![
                            offset_delete_request::OffsetDeleteRequestPartition::default().with_partition_index(0),
                        ])])
            };
            let r = client.send(&delete(&group, "no-such-topic"), v)?;
            assert_eq!(
                r.topics[0].partitions[0].error_code, 3,
                "UNKNOWN_TOPIC_OR_PARTITION v{v}"
            );
            let r = client.send(&delete(&group, topic), v)?;
            assert_eq!(r.error_code, 0, "offset delete v{v}");
            assert_eq!(r.topics[0].partitions[0].error_code, 0);
            let fetch = OffsetFetchRequest::default()
                .with_group_id(gid(&group))
                .with_topics(Some(vec![offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(name(topic))
                    .with_partition_indexes(vec![0])]));
            assert_eq!(client.send(&fetch, 1)?.topics[0].partitions[0].committed_offset, -1);
            // Its last offset gone, the Empty group is gone too (Kafka's cleanupGroupMetadata).
            assert_eq!(
                client.send(&delete(&group, topic), v)?.error_code,
                69,
                "GROUP_ID_NOT_FOUND v{v}"
            );
            assert_eq!(client.send(&delete("never-seen", topic), v)?.error_code, 69);
            // A member whose subscription cannot be read counts as subscribed to everything.
            let busy = format!("offset-delete-busy-v{v}");
            join(client, &busy, 0)?;
            let r = client.send(&delete(&busy, topic), v)?;
            assert_eq!(
                r.topics[0].partitions[0].error_code, 86,
                "GROUP_SUBSCRIBED_TO_TOPIC v{v}"
            );
        }
        ApiKey::ElectLeaders => {
            let req = ElectLeadersRequest::default()
                .with_election_type(0)
                .with_timeout_ms(1000)
                .with_topic_partitions(Some(vec![elect_leaders_request::TopicPartitions::default()
                    .with_topic(name(TOPIC))
                    .with_partitions(vec![0])]));
            let r = client.send(&req, v)?;
            if v >= 1 {
                assert_eq!(r.error_code, 0, "elect leaders v{v}");
            }
            // The only replica leads already.
            assert_eq!(
                r.replica_election_results[0].partition_result[0].error_code, 84,
                "elect leaders v{v}"
            );
        }
        ApiKey::AlterPartitionReassignments => {
            let target = |replicas: Vec<i32>| {
                AlterPartitionReassignmentsRequest::default()
                    .with_timeout_ms(1000)
                    .with_topics(vec![alter_partition_reassignments_request::ReassignableTopic::default(
                    )
                    .with_name(name(TOPIC))
                    .with_partitions(vec![
                        alter_partition_reassignments_request::ReassignablePartition::default()
                            .with_partition_index(0)
                            .with_replicas(Some(replicas.into_iter().map(BrokerId).collect())),
                    ])])
            };
            let r = client.send(&target(vec![9]), v)?;
            assert_eq!(r.responses[0].partitions[0].error_code, 39, "unknown broker v{v}");
            let r = client.send(&target(vec![0]), v)?;
            assert_eq!((r.error_code, r.responses[0].partitions[0].error_code), (0, 0), "v{v}");
        }
        ApiKey::ListPartitionReassignments => {
            let r = client.send(&ListPartitionReassignmentsRequest::default().with_timeout_ms(1000), v)?;
            assert_eq!(r.error_code, 0, "list reassignments v{v}");
        }
        ApiKey::DescribeCluster => {
            let req = DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
            let r = client.send(&req, v)?;
            assert_eq!(r.error_code, 0, "describe cluster v{v}");
            assert_eq!(r.brokers.len(), 1);
            assert_eq!(r.controller_id, r.brokers[0].broker_id);
            assert_eq!(r.cluster_authorized_operations, 8096, "Kafka's cluster operations v{v}");
            let plain = client.send(&DescribeClusterRequest::default(), v)?;
            assert_eq!(plain.cluster_authorized_operations, i32::MIN, "not asked v{v}");
            if v >= 1 {
                let controllers = client.send(&DescribeClusterRequest::default().with_endpoint_type(2), v)?;
                assert_eq!(controllers.error_code, 114, "MISMATCHED_ENDPOINT_TYPE v{v}");
            }
        }
        ApiKey::AddPartitionsToTxn => {
            let id = format!("apt-v{v}");
            let (pid, epoch) = init_txn(client, &id)?;
            add_partition(client, &id, pid, epoch, v)?;
            assert_eq!(end_txn(client, &id, pid, epoch, false, 0)?, 0, "abort after add v{v}");
        }
        ApiKey::AddOffsetsToTxn => {
            let id = format!("aot-v{v}");
            let (pid, epoch) = init_txn(client, &id)?;
            add_offsets(client, &id, pid, epoch, v)?;
            assert_eq!(
                end_txn(client, &id, pid, epoch, false, 0)?,
                0,
                "abort after offsets v{v}"
            );
        }
        ApiKey::EndTxn => {
            let id = format!("end-v{v}");
            let (pid, epoch) = init_txn(client, &id)?;
            assert_eq!(
                end_txn(client, &id, pid, epoch, true, v)?,
                48,
                "nothing to commit: INVALID_TXN_STATE v{v}"
            );
            add_partition(client, &id, pid, epoch, 0)?;
            assert_eq!(end_txn(client, &id, pid, epoch, true, v)?, 0, "commit v{v}");
            assert_eq!(end_txn(client, &id, pid, epoch, true, v)?, 0, "a retried commit v{v}");
            let stale = if v >= 2 { 90 } else { 47 };
            assert_eq!(
                end_txn(client, &id, pid, epoch - 1, true, v)?,
                stale,
                "fenced epoch v{v}"
            );
        }
        ApiKey::TxnOffsetCommit => {
            let id = format!("toc-v{v}");
            let (pid, epoch) = init_txn(client, &id)?;
            add_offsets(client, &id, pid, epoch, 0)?;
            let r = client.send(
                &TxnOffsetCommitRequest::default()
                    .with_transactional_id(txn_id(&id))
                    .with_group_id(gid("txn-group"))
                    .with_producer_id(pid)
                    .with_producer_epoch(epoch)
                    .with_generation_id(-1)
                    .with_topics(vec![txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                        .with_name(name(TOPIC))
                        .with_partitions(vec![
                            txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(0),
                        ])]),
                v,
            )?;
            assert_eq!(r.topics[0].partitions[0].error_code, 0, "txn offset commit v{v}");
            assert_eq!(end_txn(client, &id, pid, epoch, true, 0)?, 0, "commit offsets v{v}");
        }
        ApiKey::WriteTxnMarkers => {
            let (pid, epoch) = init_txn(client, &format!("wtm-v{v}"))?;
            let r = client.send(
                &WriteTxnMarkersRequest::default().with_markers(vec![
                    write_txn_markers_request::WritableTxnMarker::default()
                        .with_producer_id(pid)
                        .with_producer_epoch(epoch)
                        .with_transaction_result(false)
                        .with_topics(vec![write_txn_markers_request::WritableTxnMarkerTopic::default()
                            .with_name(name(TOPIC))
                            .with_partition_indexes(vec![0])]),
                ]),
                v,
            )?;
            assert_eq!(r.markers[0].topics[0].partitions[0].error_code, 0, "marker v{v}");
        }
        ApiKey::DescribeTransactions => {
            let id = format!("desc-v{v}");
            init_txn(client, &id)?;
            let r = client.send(
                &DescribeTransactionsRequest::default().with_transactional_ids(vec![txn_id(&id), txn_id("nope")]),
                v,
            )?;
            assert_eq!(r.transaction_states[0].error_code, 0, "describe v{v}");
            assert_eq!(r.transaction_states[0].transaction_state.as_str(), "Empty");
            assert_eq!(
                r.transaction_states[1].error_code, 105,
                "TRANSACTIONAL_ID_NOT_FOUND v{v}"
            );
        }
        ApiKey::ListTransactions => {
            let id = format!("list-v{v}");
            init_txn(client, &id)?;
            let r = client.send(&ListTransactionsRequest::default().with_duration_filter(-1), v)?;
            assert_eq!(r.error_code, 0, "list v{v}");
            assert!(
                r.transaction_states.iter().any(|t| t.transactional_id.as_str() == id),
                "listed v{v}"
            );
        }
        ApiKey::SaslHandshake => {
            // On a PLAINTEXT listener the API layer answers ILLEGAL_SASL_STATE, as Kafka.
            let r = client.send(
                &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
                v,
            )?;
            assert_eq!(r.error_code, 34, "handshake v{v}");
        }
        ApiKey::SaslAuthenticate => {
            let r = client.send(&SaslAuthenticateRequest::default(), v)?;
            assert_eq!(r.error_code, 34, "authenticate v{v}");
        }
        ApiKey::AlterUserScramCredentials => {
            use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
            let upsert = ScramCredentialUpsertion::default()
                .with_name(StrBytes::from_string(format!("user-v{v}")))
                .with_mechanism(1)
                .with_iterations(4096)
                .with_salt(Bytes::from_static(b"salt"))
                .with_salted_password(Bytes::from(vec![7u8; 32]));
            let r = client.send(
                &AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsert]),
                v,
            )?;
            assert_eq!(r.results.len(), 1, "alter scram v{v}");
            assert_eq!(
                r.results[0].error_code, 0,
                "alter scram v{v}: {:?}",
                r.results[0].error_message
            );
        }
        ApiKey::DescribeUserScramCredentials => {
            use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
            let user = UserName::default().with_name(StrBytes::from_string(format!("user-v{v}")));
            let r = client.send(
                &DescribeUserScramCredentialsRequest::default().with_users(Some(vec![user])),
                v,
            )?;
            assert_eq!(r.error_code, 0, "describe scram v{v}");
            assert_eq!(r.results.len(), 1, "describe scram v{v}");
            assert_eq!(r.results[0].credential_infos.len(), 1, "describe scram v{v}");
            assert_eq!(r.results[0].credential_infos[0].iterations, 4096, "describe scram v{v}");
        }
        ApiKey::CreateAcls => {
            use kafka_protocol::messages::create_acls_request::AclCreation;
            let creation = AclCreation::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string(format!("acl-topic-v{v}")))
                .with_resource_pattern_type(3)
                .with_principal(StrBytes::from_static_str("User:alice"))
                .with_host(StrBytes::from_static_str("*"))
                .with_operation(3)
                .with_permission_type(3);
            let r = client.send(&CreateAclsRequest::default().with_creations(vec![creation]), v)?;
            assert_eq!(r.results.len(), 1, "create acls v{v}");
            assert_eq!(
                r.results[0].error_code, 0,
                "create acls v{v}: {:?}",
                r.results[0].error_message
            );
        }
        ApiKey::DescribeAcls => {
            let request = DescribeAclsRequest::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(StrBytes::from_static_str("acl-topic-v0")))
                .with_pattern_type_filter(3)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1);
            let r = client.send(&request, v)?;
            assert_eq!(r.error_code, 0, "describe acls v{v}: {:?}", r.error_message);
            if r.resources.len() != 1 || r.resources[0].acls.len() != 1 {
                return Err(format!("describe acls v{v}: {:?}", r.resources));
            }
        }
        ApiKey::DeleteAcls => {
            use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
            let filter = DeleteAclsFilter::default()
                .with_resource_type_filter(2)
                .with_resource_name_filter(Some(StrBytes::from_string(format!("acl-topic-v{v}"))))
                .with_pattern_type_filter(3)
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(1)
                .with_permission_type(1);
            let r = client.send(&DeleteAclsRequest::default().with_filters(vec![filter]), v)?;
            let deleted = r.filter_results.first().map(|f| (f.error_code, f.matching_acls.len()));
            if deleted != Some((0, 1)) {
                return Err(format!("delete acls v{v}: {:?}", r.filter_results));
            }
        }
        other => panic!("no exercise for {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_and_version_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = RawConfig::new();
    raw.insert("listeners".into(), "PLAINTEXT://127.0.0.1:0".into());
    raw.insert("log.dirs".into(), dir.path().display().to_string());
    raw.insert("group.initial.rebalance.delay.ms".into(), "0".into());
    // ACL APIs need an authorizer; the test's own principal passes every check.
    raw.insert(
        "authorizer.class.name".into(),
        "kafka.security.authorizer.AclAuthorizer".into(),
    );
    raw.insert("super.users".into(), "User:ANONYMOUS".into());
    let (config, _) = BrokerConfig::from_raw(&raw).unwrap();
    let running = krab::broker::run(config).await.unwrap();
    let addr = running.local_addr.to_string();
    let failures = tokio::task::spawn_blocking(move || {
        let mut client = Client::connect(&addr).unwrap();
        // Order matters: the topic exists before produce, data before fetch.
        let order = [
            ApiKey::ApiVersions,
            ApiKey::Metadata,
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::ListOffsets,
            ApiKey::OffsetCommit,
            ApiKey::OffsetFetch,
            ApiKey::FindCoordinator,
            ApiKey::CreateTopics,
            ApiKey::DeleteTopics,
            ApiKey::InitProducerId,
            ApiKey::OffsetForLeaderEpoch,
            ApiKey::JoinGroup,
            ApiKey::SyncGroup,
            ApiKey::Heartbeat,
            ApiKey::LeaveGroup,
            ApiKey::DescribeGroups,
            ApiKey::ListGroups,
            ApiKey::DeleteGroups,
            ApiKey::CreatePartitions,
            ApiKey::DescribeConfigs,
            ApiKey::AlterConfigs,
            ApiKey::IncrementalAlterConfigs,
            ApiKey::DeleteRecords,
            ApiKey::OffsetDelete,
            ApiKey::DescribeCluster,
            ApiKey::ElectLeaders,
            ApiKey::AlterPartitionReassignments,
            ApiKey::ListPartitionReassignments,
            ApiKey::AddPartitionsToTxn,
            ApiKey::AddOffsetsToTxn,
            ApiKey::EndTxn,
            ApiKey::TxnOffsetCommit,
            ApiKey::WriteTxnMarkers,
            ApiKey::DescribeTransactions,
            ApiKey::ListTransactions,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate,
            ApiKey::AlterUserScramCredentials,
            ApiKey::DescribeUserScramCredentials,
            ApiKey::CreateAcls,
            ApiKey::DescribeAcls,
            ApiKey::DeleteAcls,
        ];
        let ranges: BTreeMap<i16, (i16, i16)> = SUPPORTED_APIS
            .iter()
            .map(|(a, min, max)| (*a as i16, (*min, *max)))
            .collect();
        assert_eq!(ranges.len(), order.len(), "a registered API has no exercise here");
        let mut failures = Vec::new();
        for api in order {
            let (min, max) = ranges[&(api as i16)];
            for v in min..=max {
                if let Err(e) = exercise(&mut client, api, v) {
                    failures.push(format!("{api:?} v{v}: {e}"));
                    client = Client::connect(&addr).unwrap();
                }
            }
        }
        failures
    })
    .await
    .unwrap();
    running.shutdown().await;
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
