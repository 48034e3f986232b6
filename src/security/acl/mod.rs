//! Kafka-compatible ACLs (Kafka 2.8 `AclAuthorizer` semantics), all pure logic:
//! - [`types`]: the wire enums and their names; [`binding`]: patterns, entries, bindings, filters;
//! - [`znode`]: the ZooKeeper layout, ACL JSON and change-notification payloads;
//! - [`authorizer`]: the ACL cache and the authorize decision;
//! - [`command`] and [`output`]: kafka-acls' argument rules and its exact printed text.
//!
//! ZooKeeper I/O, the wire protocol (Create/Describe/DeleteAcls) and clap wiring live elsewhere.

pub mod authorizer;
pub mod binding;
pub mod command;
pub mod output;
pub mod types;
pub mod znode;

pub use authorizer::{delete_matching, parse_super_users, AclCache};
pub use binding::{
    parse_principal, AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, ResourcePattern,
    ResourcePatternFilter, CLUSTER_NAME, WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE,
};
pub use types::{AclOperation, PatternType, PermissionType, ResourceType};
