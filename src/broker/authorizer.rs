//! The operations a client may perform on a resource, as Metadata v8+,
//! DescribeCluster and DescribeGroups v3+ report them (KIP-430): a bitfield
//! with bit n set for ACL operation code n. krab has no authorizer, so like
//! Kafka without one it grants every operation the resource type supports
//! (Kafka's AclEntry.supportedOperations). An ACL check belongs here, in
//! [`authorized_operations`], and nowhere else.

/// Kafka's AclOperation codes (org.apache.kafka.common.acl.AclOperation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i8)]
pub enum AclOperation {
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
}

use AclOperation::*;

/// A resource an operation applies to.
#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    Cluster,
    Topic(&'a str),
    Group(&'a str),
}

/// Every operation the resource's type supports, in Kafka's order.
pub fn supported_operations(resource: Resource<'_>) -> &'static [AclOperation] {
    match resource {
        Resource::Topic(_) => &[
            Read,
            Write,
            Create,
            Describe,
            Delete,
            Alter,
            DescribeConfigs,
            AlterConfigs,
        ],
        Resource::Group(_) => &[Read, Describe, Delete],
        Resource::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
    }
}

/// The authorized-operations bitfield for `resource`. Without an authorizer
/// that is everything the resource supports.
pub fn authorized_operations(resource: Resource<'_>) -> i32 {
    supported_operations(resource)
        .iter()
        .fold(0, |bits, op| bits | (1 << (*op as i8)))
}

impl super::Broker {
    /// Whether the request's principal may perform `op` on `resource`.
    pub fn authorize(
        &self,
        _frame: &crate::protocol::RequestFrame,
        _op: AclOperation,
        _resource: Resource<'_>,
    ) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_bitfields_without_an_authorizer() {
        // The values a Kafka broker without an authorizer returns.
        assert_eq!(authorized_operations(Resource::Topic("t")), 3576);
        assert_eq!(authorized_operations(Resource::Group("g")), 328);
        assert_eq!(authorized_operations(Resource::Cluster), 8096);
    }

    #[test]
    fn never_unknown_any_or_all() {
        for r in [Resource::Cluster, Resource::Topic("t"), Resource::Group("g")] {
            assert_eq!(authorized_operations(r) & 0b111, 0);
        }
    }
}
