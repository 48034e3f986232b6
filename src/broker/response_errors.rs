//! The error codes a response carries, for `krab_request_errors_total`.
//!
//! Kafka responses report errors in place, at whatever level the API has
//! them (the top, per topic, per partition, per group, per member), and one
//! request can succeed for one partition and fail for another. Rather than
//! have every handler remember to count its failures, `handlers::respond` tallies
//! the finished response through [`ResponseErrors`], one line per response
//! type listing where its codes live. The handlers stay unaware of metrics,
//! a new handler cannot compile without saying where its codes are, and the
//! tally is exactly what the client was told.

use std::iter::once;

use kafka_protocol::messages::*;

/// Every non-zero error code of one response, with how often it occurs.
/// Empty (and allocation-free) for the usual error-free response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorTally {
    codes: Vec<(i16, u32)>,
}

impl ErrorTally {
    pub fn of<R: ResponseErrors + ?Sized>(response: &R) -> ErrorTally {
        let mut tally = ErrorTally::default();
        response.error_codes(&mut tally);
        tally
    }

    /// Counts `code` unless it is 0 (NONE).
    pub fn add(&mut self, code: i16) {
        if code == 0 {
            return;
        }
        match self.codes.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => self.codes.push((code, 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// All error codes counted, with repeats.
    pub fn total(&self) -> u64 {
        self.codes.iter().map(|(_, n)| u64::from(*n)).sum()
    }

    /// Distinct codes with their counts, in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = (i16, u32)> + '_ {
        self.codes.iter().copied()
    }
}

/// Where a response type keeps its error codes.
pub trait ResponseErrors {
    fn error_codes(&self, tally: &mut ErrorTally);
}

/// One impl per response: `Type => |r| <iterator of i16 codes>;`.
macro_rules! error_codes {
    ($($ty:ty => |$r:ident| $codes:expr;)*) => {
        $(impl ResponseErrors for $ty {
            fn error_codes(&self, tally: &mut ErrorTally) {
                let $r = self;
                for code in $codes {
                    tally.add(code);
                }
            }
        })*
    };
}

error_codes! {
    ProduceResponse => |r| r.responses.iter().flat_map(|t| &t.partition_responses).map(|p| p.error_code);
    FetchResponse => |r| once(r.error_code).chain(r.responses.iter().flat_map(|t| &t.partitions).map(|p| p.error_code));
    ListOffsetsResponse => |r| r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code);
    MetadataResponse => |r| r.topics.iter().flat_map(|t| once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code)));
    OffsetCommitResponse => |r| r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code);
    OffsetFetchResponse => |r| once(r.error_code)
        .chain(r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code))
        .chain(r.groups.iter().flat_map(|g| {
            once(g.error_code).chain(g.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code))
        }));
    FindCoordinatorResponse => |r| once(r.error_code).chain(r.coordinators.iter().map(|c| c.error_code));
    ApiVersionsResponse => |r| once(r.error_code);
    CreateTopicsResponse => |r| r.topics.iter().flat_map(|t| [t.error_code, t.topic_config_error_code]);
    DeleteTopicsResponse => |r| r.responses.iter().map(|t| t.error_code);
    InitProducerIdResponse => |r| once(r.error_code);
    OffsetForLeaderEpochResponse => |r| r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code);
    JoinGroupResponse => |r| once(r.error_code);
    SyncGroupResponse => |r| once(r.error_code);
    HeartbeatResponse => |r| once(r.error_code);
    SaslHandshakeResponse => |r| once(r.error_code);
    DescribeAclsResponse => |r| once(r.error_code);
    CreateAclsResponse => |r| r.results.iter().map(|c| c.error_code);
    DeleteAclsResponse => |r| r.filter_results.iter().map(|f| f.error_code);
    SaslAuthenticateResponse => |r| once(r.error_code);
    DescribeUserScramCredentialsResponse => |r| once(r.error_code).chain(r.results.iter().map(|u| u.error_code));
    AlterUserScramCredentialsResponse => |r| r.results.iter().map(|u| u.error_code);
    LeaveGroupResponse => |r| once(r.error_code).chain(r.members.iter().map(|m| m.error_code));
    ListGroupsResponse => |r| once(r.error_code);
    DescribeGroupsResponse => |r| r.groups.iter().map(|g| g.error_code);
    DeleteGroupsResponse => |r| r.results.iter().map(|g| g.error_code);
    CreatePartitionsResponse => |r| r.results.iter().map(|t| t.error_code);
    ElectLeadersResponse => |r| once(r.error_code)
        .chain(r.replica_election_results.iter().flat_map(|t| &t.partition_result).map(|p| p.error_code));
    AlterPartitionReassignmentsResponse => |r| once(r.error_code)
        .chain(r.responses.iter().flat_map(|t| &t.partitions).map(|p| p.error_code));
    ListPartitionReassignmentsResponse => |r| once(r.error_code);
    DescribeConfigsResponse => |r| r.results.iter().map(|c| c.error_code);
    AlterConfigsResponse => |r| r.responses.iter().map(|c| c.error_code);
    IncrementalAlterConfigsResponse => |r| r.responses.iter().map(|c| c.error_code);
    DeleteRecordsResponse => |r| r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code);
    OffsetDeleteResponse => |r| once(r.error_code).chain(r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code));
    DescribeClusterResponse => |r| once(r.error_code);
    AddPartitionsToTxnResponse => |r| once(r.error_code)
        .chain(r.results_by_topic_v3_and_below.iter().flat_map(|t| &t.results_by_partition).map(|p| p.partition_error_code));
    AddOffsetsToTxnResponse => |r| once(r.error_code);
    EndTxnResponse => |r| once(r.error_code);
    TxnOffsetCommitResponse => |r| r.topics.iter().flat_map(|t| &t.partitions).map(|p| p.error_code);
    WriteTxnMarkersResponse => |r| r.markers.iter().flat_map(|m| &m.topics).flat_map(|t| &t.partitions).map(|p| p.error_code);
    DescribeTransactionsResponse => |r| r.transaction_states.iter().map(|s| s.error_code);
    ListTransactionsResponse => |r| once(r.error_code);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};

    #[test]
    fn codes_are_counted_at_every_level() {
        let partitions = vec![
            PartitionProduceResponse::default().with_error_code(3),
            PartitionProduceResponse::default(),
            PartitionProduceResponse::default().with_error_code(3),
            PartitionProduceResponse::default().with_error_code(10),
        ];
        let response = ProduceResponse::default().with_responses(vec![
            TopicProduceResponse::default().with_partition_responses(partitions)
        ]);
        let tally = ErrorTally::of(&response);
        assert_eq!(tally.total(), 3);
        assert_eq!(tally.iter().collect::<Vec<_>>(), vec![(3, 2), (10, 1)]);

        let metadata =
            MetadataResponse::default().with_topics(vec![metadata_response::MetadataResponseTopic::default()
                .with_error_code(5)
                .with_partitions(vec![
                    metadata_response::MetadataResponsePartition::default().with_error_code(5)
                ])]);
        assert_eq!(ErrorTally::of(&metadata).total(), 2);
    }

    #[test]
    fn an_error_free_response_tallies_nothing() {
        let tally = ErrorTally::of(&FetchResponse::default());
        assert!(tally.is_empty());
        assert_eq!(tally.total(), 0);
    }
}
