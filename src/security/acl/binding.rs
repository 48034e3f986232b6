//! Kafka's ACL value types and filters: `ResourcePattern`, `AccessControlEntry`, `AclBinding`
//! and their `*Filter` counterparts, with Java's `toString` forms (used verbatim by kafka-acls),
//! `matches`/`matchesAtMostOne`/`findIndefiniteField`, and the checks the broker applies before
//! storing an ACL (constructor checks, KafkaApis' cluster-name and empty-name checks).
//!
//! Principals stay strings ("User:alice"); `KafkaPrincipal` equality (type and name) is the same
//! as string equality on that form. Custom principal builders are out of scope.

use std::cmp::Ordering;
use std::fmt;

use super::types::{AclOperation, PatternType, PermissionType, ResourceType};

/// `ResourcePattern.WILDCARD_RESOURCE`: a literal pattern that matches every name.
pub const WILDCARD_RESOURCE: &str = "*";
/// `AclEntry.WildcardHost`.
pub const WILDCARD_HOST: &str = "*";
/// `AclEntry.WildcardPrincipalString`: only `User:*` is a wildcard, not e.g. `Group:*`.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// `Resource.CLUSTER_NAME`: the only valid name for a cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// `SecurityUtils.parseKafkaPrincipal`: splits "Type:name" at the first colon.
pub fn parse_principal(principal: &str) -> Result<(&str, &str), String> {
    principal
        .split_once(':')
        .ok_or_else(|| format!("expected a string in format principalType:principalName but got {principal}"))
}

/// A resource (or prefix of resource names) that ACLs are attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    pub fn new(resource_type: ResourceType, name: impl Into<String>, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    pub fn literal(resource_type: ResourceType, name: impl Into<String>) -> Self {
        Self::new(resource_type, name, PatternType::Literal)
    }

    pub fn prefixed(resource_type: ResourceType, name: impl Into<String>) -> Self {
        Self::new(resource_type, name, PatternType::Prefixed)
    }

    /// `Resource.CLUSTER` as a literal pattern.
    pub fn cluster() -> Self {
        Self::literal(ResourceType::Cluster, CLUSTER_NAME)
    }

    pub fn to_filter(&self) -> ResourcePatternFilter {
        ResourcePatternFilter::new(self.resource_type, Some(self.name.clone()), self.pattern_type)
    }

    /// The `ResourcePattern` constructor checks plus KafkaApis.handleCreateAcls' name checks.
    pub fn validate_for_create(&self) -> Result<(), String> {
        if self.resource_type == ResourceType::Any {
            return Err("resourceType must not be ANY".into());
        }
        if !self.pattern_type.is_specific() {
            return Err(format!("patternType must not be {}", self.pattern_type));
        }
        if self.resource_type == ResourceType::Cluster && self.name != CLUSTER_NAME {
            return Err(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        if self.name.is_empty() {
            return Err("Invalid empty resource name".into());
        }
        Ok(())
    }
}

// Ordered by type, then pattern type, then name, so one type's prefixed patterns are contiguous
// and a range scan finds the prefixes of a name (see `AclCache`).
impl Ord for ResourcePattern {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.resource_type, self.pattern_type, &self.name).cmp(&(other.resource_type, other.pattern_type, &other.name))
    }
}

impl PartialOrd for ResourcePattern {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// One ACL: who, from where, which operation, allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// "Type:name", e.g. "User:alice" or the wildcard "User:*".
    pub principal: String,
    /// A client IP address string, or "*".
    pub host: String,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl AccessControlEntry {
    pub fn new(
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission: PermissionType,
    ) -> Self {
        Self {
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        }
    }

    /// The filter matching exactly this entry (`AccessControlEntry.toFilter`).
    pub fn to_filter(&self) -> AccessControlEntryFilter {
        AccessControlEntryFilter {
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }

    /// The `AccessControlEntry` constructor checks plus `AclEntry`'s principal parse.
    pub fn validate_for_create(&self) -> Result<(), String> {
        if self.operation == AclOperation::Any {
            return Err("operation must not be ANY".into());
        }
        if self.permission == PermissionType::Any {
            return Err("permissionType must not be ANY".into());
        }
        parse_principal(&self.principal).map(|_| ())
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }
}

/// An ACL attached to a resource pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl AclBinding {
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        Self { pattern, entry }
    }

    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter::new(self.pattern.to_filter(), self.entry.to_filter())
    }

    /// Whether a CreateAcls request may store this binding; the error is the broker's message.
    pub fn validate_for_create(&self) -> Result<(), String> {
        self.pattern.validate_for_create()?;
        self.entry.validate_for_create()
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

/// Selects resource patterns. `name: None` matches any name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePatternFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    pub const ANY: ResourcePatternFilter = ResourcePatternFilter {
        resource_type: ResourceType::Any,
        name: None,
        pattern_type: PatternType::Any,
    };

    pub fn new(resource_type: ResourceType, name: Option<String>, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            name,
            pattern_type,
        }
    }

    /// `ResourcePatternFilter.matches`. ANY compares names exactly across pattern types; MATCH
    /// also accepts the literal "*" and every prefixed pattern that prefixes the name.
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(&pattern.name),
            // Java throws for a non-specific stored pattern; such a pattern cannot be stored.
            PatternType::Any | PatternType::Match => false,
        }
    }

    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }

    /// Why this filter may match more than one pattern, in Kafka's words.
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        if self.resource_type == ResourceType::Any {
            Some("Resource type is ANY.")
        } else if self.name.is_none() {
            Some("Resource name is NULL.")
        } else if self.pattern_type == PatternType::Match {
            Some("Resource pattern type is MATCH.")
        } else {
            None
        }
    }
}

impl fmt::Display for ResourcePatternFilter {
    /// Java prints filters as "ResourcePattern(...)" too, with "<any>" for a missing name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name.as_deref().unwrap_or("<any>");
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, name, self.pattern_type
        )
    }
}

/// Selects ACL entries. `None` principal/host and `Any` operation/permission match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntryFilter {
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl AccessControlEntryFilter {
    pub const ANY: AccessControlEntryFilter = AccessControlEntryFilter {
        principal: None,
        host: None,
        operation: AclOperation::Any,
        permission: PermissionType::Any,
    };

    /// `AccessControlEntryFilter.matches`: plain equality, no wildcard expansion.
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission == PermissionType::Any || self.permission == entry.permission)
    }

    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }

    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        if self.principal.is_none() {
            Some("Principal is NULL")
        } else if self.host.is_none() {
            Some("Host is NULL")
        } else if self.operation == AclOperation::Any {
            Some("Operation is ANY")
        } else if self.permission == PermissionType::Any {
            Some("Permission type is ANY")
        } else {
            None
        }
    }
}

impl fmt::Display for AccessControlEntryFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal.as_deref().unwrap_or("<any>"),
            self.host.as_deref().unwrap_or("<any>"),
            self.operation,
            self.permission
        )
    }
}

/// Selects ACL bindings (DescribeAcls, DeleteAcls, kafka-acls --list/--remove).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBindingFilter {
    pub pattern_filter: ResourcePatternFilter,
    pub entry_filter: AccessControlEntryFilter,
}

impl AclBindingFilter {
    pub const ANY: AclBindingFilter = AclBindingFilter {
        pattern_filter: ResourcePatternFilter::ANY,
        entry_filter: AccessControlEntryFilter::ANY,
    };

    pub fn new(pattern_filter: ResourcePatternFilter, entry_filter: AccessControlEntryFilter) -> Self {
        Self {
            pattern_filter,
            entry_filter,
        }
    }

    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern_filter.matches(&binding.pattern) && self.entry_filter.matches(&binding.entry)
    }

    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }

    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        self.pattern_filter
            .find_indefinite_field()
            .or_else(|| self.entry_filter.find_indefinite_field())
    }
}

impl fmt::Display for AclBindingFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(patternFilter={}, entryFilter={})",
            self.pattern_filter, self.entry_filter
        )
    }
}

#[cfg(test)]
mod tests;
