//! Authorization: whether a request's principal may perform an operation on
//! a resource ([`Broker::authorize`](super::Broker::authorize)), and the
//! operations a client may perform as Metadata v8+, DescribeCluster and
//! DescribeGroups v3+ report them (KIP-430: a bitfield with bit n set for
//! ACL operation code n). Without `authorizer.class.name` everything the
//! resource type supports is granted, as in Kafka without an authorizer.

pub use crate::security::acl::AclOperation;

use crate::protocol::RequestFrame;
use crate::security::acl::ResourceType;

/// A resource an operation applies to.
#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    Cluster,
    Topic(&'a str),
    Group(&'a str),
    TransactionalId(&'a str),
}

impl Resource<'_> {
    fn acl_type_and_name(&self) -> (ResourceType, &str) {
        match self {
            Resource::Cluster => (ResourceType::Cluster, crate::security::acl::CLUSTER_NAME),
            Resource::Topic(t) => (ResourceType::Topic, t),
            Resource::Group(g) => (ResourceType::Group, g),
            Resource::TransactionalId(t) => (ResourceType::TransactionalId, t),
        }
    }
}

/// Every operation the resource's type supports, in Kafka's order
/// (`ResourceType::supported_operations`, Kafka's AclEntry).
pub fn supported_operations(resource: Resource<'_>) -> &'static [AclOperation] {
    resource.acl_type_and_name().0.supported_operations()
}

/// The authorized-operations bitfield for `resource`. Without an authorizer
/// that is everything the resource supports.
pub fn authorized_operations(resource: Resource<'_>) -> i32 {
    supported_operations(resource)
        .iter()
        .fold(0, |bits, op| bits | (1 << op.code()))
}

impl super::Broker {
    /// Whether the request's principal may perform `op` on `resource`:
    /// always without `authorizer.class.name`, else Kafka's AclAuthorizer
    /// rules over the ACLs last loaded (see `broker::acls`).
    pub fn authorize(&self, frame: &RequestFrame, op: AclOperation, resource: Resource<'_>) -> bool {
        let Some(settings) = &self.config.security.authorizer else {
            return true;
        };
        let principal = frame.principal.as_deref().unwrap_or(crate::security::ANONYMOUS);
        let host = frame.peer.map(|p| p.ip().to_string()).unwrap_or_default();
        let (resource_type, name) = resource.acl_type_and_name();
        self.acls.snapshot().authorize(
            principal,
            &host,
            op,
            resource_type,
            name,
            &settings.super_users,
            settings.allow_everyone_if_no_acl_found,
        )
    }

    /// The authorized-operations bitfield of `resource` for this request's
    /// principal (KIP-430).
    pub fn authorized_operations(&self, frame: &RequestFrame, resource: Resource<'_>) -> i32 {
        if self.config.security.authorizer.is_none() {
            return authorized_operations(resource);
        }
        supported_operations(resource)
            .iter()
            .filter(|op| self.authorize(frame, **op, resource))
            .fold(0, |bits, op| bits | (1 << op.code()))
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
