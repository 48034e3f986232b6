//! The four ACL enums of Kafka's wire protocol (`ResourceType`, `AclOperation`,
//! `AclPermissionType`, `PatternType`) with their int8 codes and both of Kafka's spellings:
//! the Pascal form used in ZooKeeper and by `SecurityUtils` ("TransactionalId") and the Java enum
//! name used by `toString`, kafka-acls output and 2.4+ change notifications ("TRANSACTIONAL_ID").
//!
//! Kafka's `UNKNOWN` (code 0) variants are left out: unknown codes and names give `None`.

use std::fmt;

/// Defines a Copy enum with its wire code, Pascal name and Java enum name.
macro_rules! kafka_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal, $pascal:literal, $upper:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            /// Every variant, in wire-code order.
            pub const VALUES: &'static [$name] = &[$($name::$variant,)+];

            /// The variant with this wire code; `None` where Kafka would say UNKNOWN.
            pub fn from_code(code: i8) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The int8 wire code.
            pub fn code(self) -> i8 {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// `SecurityUtils` form, e.g. "TransactionalId": ZooKeeper paths and ACL JSON.
            pub fn pascal_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $pascal,)+
                }
            }

            /// Java enum name, e.g. "TRANSACTIONAL_ID": `toString`, CLI output, change events.
            pub fn enum_name(self) -> &'static str {
                match self {
                    $(Self::$variant => $upper,)+
                }
            }

            /// `SecurityUtils` lookup: the Pascal name in any case, without separators
            /// ("DescribeConfigs", "DESCRIBECONFIGS", "describeconfigs"; not "DESCRIBE_CONFIGS").
            pub fn from_pascal_name(name: &str) -> Option<Self> {
                // Java upper-cases with Locale.ROOT, i.e. full Unicode case mapping, as here.
                let upper = name.to_uppercase();
                Self::VALUES.iter().copied().find(|v| v.pascal_name().to_ascii_uppercase() == upper)
            }

            /// Java `valueOf(name.toUpperCase(ROOT))`: the enum name in any case.
            pub fn from_enum_name(name: &str) -> Option<Self> {
                let upper = name.to_uppercase();
                Self::VALUES.iter().copied().find(|v| v.enum_name() == upper)
            }

            /// Either spelling, in any case.
            pub fn parse_lenient(name: &str) -> Option<Self> {
                Self::from_pascal_name(name).or_else(|| Self::from_enum_name(name))
            }
        }

        impl fmt::Display for $name {
            /// Java's `toString`, i.e. the enum name.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.enum_name())
            }
        }
    };
}

kafka_enum! {
    /// `org.apache.kafka.common.resource.ResourceType`. `Any` is only valid in filters.
    ResourceType {
        Any = 1, "Any", "ANY";
        Topic = 2, "Topic", "TOPIC";
        Group = 3, "Group", "GROUP";
        Cluster = 4, "Cluster", "CLUSTER";
        TransactionalId = 5, "TransactionalId", "TRANSACTIONAL_ID";
        DelegationToken = 6, "DelegationToken", "DELEGATION_TOKEN";
    }
}

kafka_enum! {
    /// `org.apache.kafka.common.acl.AclOperation`. `Any` is only valid in filters.
    AclOperation {
        Any = 1, "Any", "ANY";
        All = 2, "All", "ALL";
        Read = 3, "Read", "READ";
        Write = 4, "Write", "WRITE";
        Create = 5, "Create", "CREATE";
        Delete = 6, "Delete", "DELETE";
        Alter = 7, "Alter", "ALTER";
        Describe = 8, "Describe", "DESCRIBE";
        ClusterAction = 9, "ClusterAction", "CLUSTER_ACTION";
        DescribeConfigs = 10, "DescribeConfigs", "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "AlterConfigs", "ALTER_CONFIGS";
        IdempotentWrite = 12, "IdempotentWrite", "IDEMPOTENT_WRITE";
    }
}

kafka_enum! {
    /// `org.apache.kafka.common.acl.AclPermissionType`. `Any` is only valid in filters.
    PermissionType {
        Any = 1, "Any", "ANY";
        Deny = 2, "Deny", "DENY";
        Allow = 3, "Allow", "ALLOW";
    }
}

kafka_enum! {
    /// `org.apache.kafka.common.resource.PatternType`. `Any` and `Match` are only valid in filters.
    PatternType {
        Any = 1, "Any", "ANY";
        Match = 2, "Match", "MATCH";
        Literal = 3, "Literal", "LITERAL";
        Prefixed = 4, "Prefixed", "PREFIXED";
    }
}

impl ResourceType {
    /// The types an ACL can be stored for (`AclEntry.ResourceTypes`).
    pub const CONCRETE: [ResourceType; 5] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::Cluster,
        ResourceType::TransactionalId,
        ResourceType::DelegationToken,
    ];

    /// `AclEntry.supportedOperations`, in Kafka's source order; empty for `Any`.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::Any => &[],
        }
    }
}

impl PatternType {
    /// `PatternType.isSpecific`: a pattern an ACL can be stored under (not a filter-only type).
    pub fn is_specific(self) -> bool {
        matches!(self, PatternType::Literal | PatternType::Prefixed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for &t in ResourceType::VALUES {
            assert_eq!(ResourceType::from_code(t.code()), Some(t));
        }
        for &o in AclOperation::VALUES {
            assert_eq!(AclOperation::from_code(o.code()), Some(o));
        }
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(PermissionType::Allow.code(), 3);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(ResourceType::DelegationToken.code(), 6);
        for code in [0, 7, -1, i8::MAX] {
            assert_eq!(ResourceType::from_code(code), None);
        }
        assert_eq!(AclOperation::from_code(0), None);
        assert_eq!(AclOperation::from_code(13), None);
        assert_eq!(PermissionType::from_code(4), None);
        assert_eq!(PatternType::from_code(0), None);
    }

    #[test]
    fn names_follow_security_utils_and_java_enum_names() {
        assert_eq!(ResourceType::TransactionalId.pascal_name(), "TransactionalId");
        assert_eq!(ResourceType::TransactionalId.to_string(), "TRANSACTIONAL_ID");
        assert_eq!(AclOperation::DescribeConfigs.pascal_name(), "DescribeConfigs");
        assert_eq!(AclOperation::DescribeConfigs.to_string(), "DESCRIBE_CONFIGS");
        assert_eq!(PermissionType::Allow.pascal_name(), "Allow");
        assert_eq!(PatternType::Prefixed.to_string(), "PREFIXED");
    }

    #[test]
    fn pascal_lookup_is_case_insensitive_without_separators() {
        let op = AclOperation::from_pascal_name;
        assert_eq!(op("DescribeConfigs"), Some(AclOperation::DescribeConfigs));
        assert_eq!(op("DESCRIBECONFIGS"), Some(AclOperation::DescribeConfigs));
        assert_eq!(op("describeconfigs"), Some(AclOperation::DescribeConfigs));
        assert_eq!(op("read"), Some(AclOperation::Read));
        // SecurityUtils has no separator-tolerant spelling.
        assert_eq!(op("DESCRIBE_CONFIGS"), None);
        assert_eq!(op("describe-configs"), None);
        assert_eq!(op(" Read"), None);
        assert_eq!(op(""), None);
        assert_eq!(op("Any"), Some(AclOperation::Any));
        assert_eq!(
            ResourceType::from_pascal_name("TRANSACTIONALID"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(PermissionType::from_pascal_name("DENY"), Some(PermissionType::Deny));
    }

    #[test]
    fn enum_name_lookup_and_lenient_lookup() {
        assert_eq!(
            ResourceType::from_enum_name("transactional_id"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(ResourceType::from_enum_name("TransactionalId"), None);
        assert_eq!(ResourceType::from_enum_name("Topic"), Some(ResourceType::Topic));
        assert_eq!(
            ResourceType::parse_lenient("TransactionalId"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(
            ResourceType::parse_lenient("DELEGATION_TOKEN"),
            Some(ResourceType::DelegationToken)
        );
        assert_eq!(ResourceType::parse_lenient("Broker"), None);
        assert_eq!(PatternType::parse_lenient("prefixed"), Some(PatternType::Prefixed));
    }

    #[test]
    fn supported_operations_and_specific_patterns() {
        assert!(ResourceType::Cluster
            .supported_operations()
            .contains(&AclOperation::IdempotentWrite));
        assert!(!ResourceType::Topic.supported_operations().contains(&AclOperation::All));
        assert_eq!(ResourceType::Any.supported_operations(), &[] as &[AclOperation]);
        assert!(PatternType::Literal.is_specific() && PatternType::Prefixed.is_specific());
        assert!(!PatternType::Any.is_specific() && !PatternType::Match.is_specific());
    }
}
