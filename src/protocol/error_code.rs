//! Kafka error codes, as sent on the wire. Internal errors are `thiserror`
//! enums; they become one of these at the handler edge, per partition.

/// A Kafka protocol error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i16)]
pub enum ErrorCode {
    UnknownServerError = -1,
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    InvalidFetchSize = 4,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    MessageTooLarge = 10,
    OffsetMetadataTooLarge = 12,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    InvalidTopicException = 17,
    RecordListTooLarge = 18,
    NotEnoughReplicas = 19,
    InvalidRequiredAcks = 21,
    TransactionalIdAuthorizationFailed = 53,
    IllegalGeneration = 22,
    UnknownMemberId = 25,
    InvalidTimestamp = 32,
    UnsupportedVersion = 35,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    InvalidReplicaAssignment = 39,
    InvalidConfig = 40,
    InvalidRequest = 42,
    UnsupportedForMessageFormat = 43,
    OutOfOrderSequenceNumber = 45,
    DuplicateSequenceNumber = 46,
    InvalidProducerEpoch = 47,
    InvalidRecord = 87,
    UnknownProducerId = 59,
    TopicDeletionDisabled = 73,
    UnsupportedCompressionType = 76,
    InvalidGroupId = 24,
    CoordinatorLoadInProgress = 14,
    InconsistentGroupProtocol = 23,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    NonEmptyGroup = 68,
    GroupIdNotFound = 69,
    MemberIdRequired = 79,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
    GroupSubscribedToTopic = 86,
    KafkaStorageError = 56,
    BrokerNotAvailable = 8,
    ReplicaNotAvailable = 9,
    StaleControllerEpoch = 11,
    NotEnoughReplicasAfterAppend = 20,
    NotController = 41,
    FencedLeaderEpoch = 74,
    UnknownLeaderEpoch = 75,
    PreferredLeaderNotAvailable = 80,
    EligibleLeadersNotAvailable = 83,
    ElectionNotNeeded = 84,
    NoReassignmentInProgress = 85,
    InvalidTxnState = 48,
    InvalidProducerIdMapping = 49,
    InvalidTransactionTimeout = 50,
    ConcurrentTransactions = 51,
    TransactionCoordinatorFenced = 52,
    ProducerFenced = 90,
    TransactionalIdNotFound = 105,
    TopicAuthorizationFailed = 29,
    GroupAuthorizationFailed = 30,
    ClusterAuthorizationFailed = 31,
    UnsupportedSaslMechanism = 33,
    IllegalSaslState = 34,
    SaslAuthenticationFailed = 58,
    UnacceptableCredential = 93,
    ResourceNotFound = 91,
    DuplicateResource = 92,
    SecurityDisabled = 54,
}

impl ErrorCode {
    pub fn code(self) -> i16 {
        self as i16
    }
}

impl From<ErrorCode> for i16 {
    fn from(e: ErrorCode) -> i16 {
        e as i16
    }
}
