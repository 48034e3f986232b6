//! Property tests: random and mutated frames thrown at every request decoder
//! krab uses (the stable-toolchain companion of the fuzz targets). Passing
//! means no panic and no runaway allocation; errors are expected.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use krab::protocol::fuzz_support::{decode_any_request, decode_request_body};
use krab::protocol::SUPPORTED_APIS;
use proptest::prelude::*;

/// Valid request bodies (header included) to mutate, one per API at its
/// highest and lowest supported versions.
fn seeds() -> Vec<Bytes> {
    let mut out = Vec::new();
    for (api, min, max) in SUPPORTED_APIS {
        for version in [*min, *max] {
            let mut body = BytesMut::new();
            let header = RequestHeader::default()
                .with_request_api_key(*api as i16)
                .with_request_api_version(version)
                .with_correlation_id(7)
                .with_client_id(Some(StrBytes::from_static_str("prop")));
            header.encode(&mut body, api.request_header_version(version)).unwrap();
            let topic = TopicName(StrBytes::from_static_str("t"));
            let ok = match api {
                ApiKey::Produce => ProduceRequest::default()
                    .with_acks(1)
                    .with_topic_data(vec![produce_request::TopicProduceData::default()
                        .with_name(topic)
                        .with_partition_data(vec![produce_request::PartitionProduceData::default()
                            .with_records(Some(Bytes::from_static(&[0u8; 70])))])])
                    .encode(&mut body, version),
                ApiKey::Fetch => FetchRequest::default()
                    .with_topics(vec![fetch_request::FetchTopic::default()
                        .with_topic(topic)
                        .with_partitions(vec![fetch_request::FetchPartition::default()])])
                    .encode(&mut body, version),
                ApiKey::Metadata => MetadataRequest::default()
                    .with_topics(Some(vec![
                        metadata_request::MetadataRequestTopic::default().with_name(Some(topic))
                    ]))
                    .encode(&mut body, version),
                ApiKey::OffsetCommit => OffsetCommitRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("g")))
                    .with_topics(vec![offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic)
                        .with_partitions(vec![Default::default()])])
                    .encode(&mut body, version),
                ApiKey::CreateTopics => CreateTopicsRequest::default()
                    .with_topics(vec![create_topics_request::CreatableTopic::default().with_name(topic)])
                    .encode(&mut body, version),
                _ => Ok(()),
            };
            if ok.is_ok() {
                out.push(body.freeze());
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_any_request(Bytes::from(data));
    }

    #[test]
    fn mutated_valid_requests_never_panic(
        seed in 0usize..64,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let seeds = seeds();
        let mut data = seeds[seed % seeds.len()].to_vec();
        for (at, value) in flips {
            let len = data.len();
            if len > 0 {
                data[at % len] = value;
            }
        }
        let keep = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
        data.truncate(keep);
        decode_any_request(Bytes::from(data));
    }
}

/// A body that declares a 2^31-element array must be refused without
/// reserving memory for it (the vendored codec's patch).
#[test]
fn huge_declared_lengths_are_refused_cheaply() {
    for (api, min, max) in SUPPORTED_APIS {
        for version in *min..=*max {
            let mut body = BytesMut::new();
            for _ in 0..16 {
                body.put_i32(i32::MAX);
            }
            decode_request_body(*api, version, &body.freeze());
        }
    }
}
