//! The one registry of what krab implements. ApiVersions is generated from it
//! and requests outside it are refused before they reach a handler.

use kafka_protocol::messages::ApiKey;

/// (API, min version, max version) for every API a handler serves.
pub const SUPPORTED_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 0, 11),
    (ApiKey::ListOffsets, 0, 5),
    (ApiKey::Metadata, 0, 9),
    (ApiKey::OffsetCommit, 0, 7),
    (ApiKey::OffsetFetch, 0, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 0, 4),
    (ApiKey::DeleteTopics, 0, 3),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::WriteTxnMarkers, 0, 1),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::OffsetForLeaderEpoch, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::CreatePartitions, 0, 1),
    (ApiKey::DescribeConfigs, 0, 4),
    (ApiKey::AlterConfigs, 0, 1),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DeleteRecords, 0, 1),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::AlterPartitionReassignments, 0, 0),
    (ApiKey::ListPartitionReassignments, 0, 0),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeAcls, 0, 2),
    (ApiKey::CreateAcls, 0, 2),
    (ApiKey::DeleteAcls, 0, 2),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
];

/// The supported (min, max) versions of an API key, if any.
pub fn supported_range(key: i16) -> Option<(i16, i16)> {
    SUPPORTED_APIS
        .iter()
        .find(|(api, _, _)| *api as i16 == key)
        .map(|(_, min, max)| (*min, *max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_within_the_codec_ranges() {
        for (api, min, max) in SUPPORTED_APIS {
            let codec = api.valid_versions();
            assert!(
                *min >= codec.min && *max <= codec.max,
                "{api:?} {min}..{max} outside codec"
            );
        }
    }

    #[test]
    fn lookup() {
        assert_eq!(supported_range(18), Some((0, 3)));
        assert_eq!(supported_range(11), Some((0, 7)));
        assert_eq!(supported_range(1000), None);
    }
}
