//! The ACL cache and Kafka 2.8's `AclAuthorizer` decision (`authorizeAction`, `matchingAcls`),
//! plus the pure parts of its `acls(filter)` and `deleteAcls` (which patterns and entries a set of
//! filters hits) and the `super.users` parse.
//!
//! Not here: ZooKeeper reads/writes and change listening, audit logging, and
//! `authorizeByResourceType` (the "any topic" check used by InitProducerId in 2.8).

use std::collections::BTreeMap;

use super::binding::{
    parse_principal, AccessControlEntry, AclBinding, AclBindingFilter, ResourcePattern, ResourcePatternFilter,
    WILDCARD_HOST, WILDCARD_PRINCIPAL, WILDCARD_RESOURCE,
};
use super::types::{AclOperation, PatternType, PermissionType, ResourceType};

/// `AclAuthorizer.configure`'s `super.users`: `;`-separated principals, each trimmed and checked.
pub fn parse_super_users(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    // Java's split drops trailing empty strings, so "User:a;" is one user but "User:a;;User:b" fails.
    let parts: Vec<&str> = value.split(';').collect();
    let keep = parts.iter().rposition(|p| !p.is_empty()).map_or(0, |i| i + 1);
    parts[..keep]
        .iter()
        .map(|p| {
            let p = p.trim();
            parse_principal(p).map(|_| p.to_string())
        })
        .collect()
}

/// Whether an ALLOW entry for `granted` permits `requested`: ALL permits everything, and
/// Read/Write/Delete/Alter imply Describe, AlterConfigs implies DescribeConfigs.
fn allow_implies(granted: AclOperation, requested: AclOperation) -> bool {
    granted == requested
        || granted == AclOperation::All
        || match requested {
            AclOperation::Describe => {
                matches!(
                    granted,
                    AclOperation::Read | AclOperation::Write | AclOperation::Delete | AclOperation::Alter
                )
            }
            AclOperation::DescribeConfigs => granted == AclOperation::AlterConfigs,
            _ => false,
        }
}

/// Every ACL the broker knows, keyed by resource pattern; mirrors `AclAuthorizer.aclCache`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclCache {
    by_resource: BTreeMap<ResourcePattern, Vec<AccessControlEntry>>,
}

impl AclCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces a pattern's ACLs (e.g. after reading its znode); an empty list removes the pattern.
    /// Entries are kept sorted and de-duplicated, as Kafka keeps a set.
    pub fn set(&mut self, pattern: ResourcePattern, mut entries: Vec<AccessControlEntry>) {
        if entries.is_empty() {
            self.by_resource.remove(&pattern);
        } else {
            entries.sort();
            entries.dedup();
            self.by_resource.insert(pattern, entries);
        }
    }

    /// The ACLs stored for exactly this pattern.
    pub fn get(&self, pattern: &ResourcePattern) -> &[AccessControlEntry] {
        self.by_resource.get(pattern).map_or(&[], Vec::as_slice)
    }

    /// Number of patterns with ACLs.
    pub fn len(&self) -> usize {
        self.by_resource.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }

    pub fn patterns(&self) -> impl Iterator<Item = &ResourcePattern> + '_ {
        self.by_resource.keys()
    }

    /// Every binding, ordered by pattern then entry.
    pub fn all(&self) -> impl Iterator<Item = AclBinding> + '_ {
        self.by_resource
            .iter()
            .flat_map(|(pattern, entries)| entries.iter().map(move |e| AclBinding::new(pattern.clone(), e.clone())))
    }

    /// `AclAuthorizer.acls(filter)`: the bindings a DescribeAcls filter selects.
    pub fn acls(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.by_resource
            .iter()
            .filter(|(pattern, _)| filter.pattern_filter.matches(pattern))
            .flat_map(|(pattern, entries)| {
                entries
                    .iter()
                    .filter(|e| filter.entry_filter.matches(e))
                    .map(move |e| AclBinding::new(pattern.clone(), e.clone()))
            })
            .collect()
    }

    /// The ACLs that can apply to a literal resource: the literal name, the literal "*", and every
    /// prefixed pattern that is a prefix of the name (`matchingAcls`).
    fn candidates(&self, resource_type: ResourceType, name: &str) -> Vec<&[AccessControlEntry]> {
        let mut found = vec![
            self.get(&ResourcePattern::literal(resource_type, name)),
            self.get(&ResourcePattern::literal(resource_type, WILDCARD_RESOURCE)),
        ];
        // Kafka scans the patterns from the name's first character up to the name itself; every
        // non-empty prefix sorts inside that range. (So a prefixed "" matches only the name "".)
        let first_len = name.chars().next().map_or(0, char::len_utf8);
        let low = ResourcePattern::prefixed(resource_type, &name[..first_len]);
        let high = ResourcePattern::prefixed(resource_type, name);
        for (pattern, entries) in self.by_resource.range(low..=high) {
            if name.starts_with(pattern.name.as_str()) {
                found.push(entries);
            }
        }
        found
    }

    /// `AclAuthorizer.authorizeAction` for the literal resource `resource_type`/`name`.
    /// `principal` is "Type:name"; `host` is the client's IP address string.
    #[allow(clippy::too_many_arguments)]
    pub fn authorize(
        &self,
        principal: &str,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
        super_users: &[String],
        allow_everyone_if_no_acl_found: bool,
    ) -> bool {
        if super_users.iter().any(|s| s == principal) {
            return true;
        }
        let candidates = self.candidates(resource_type, name);
        if candidates.iter().all(|c| c.is_empty()) {
            return allow_everyone_if_no_acl_found;
        }
        let applicable = || {
            candidates.iter().flat_map(|c| c.iter()).filter(|e| {
                (e.principal == principal || e.principal == WILDCARD_PRINCIPAL)
                    && (e.host == host || e.host == WILDCARD_HOST)
            })
        };
        // Deny implies nothing: only a Deny for this operation or for All counts.
        let denied = applicable().any(|e| {
            e.permission == PermissionType::Deny && (e.operation == operation || e.operation == AclOperation::All)
        });
        !denied && applicable().any(|e| e.permission == PermissionType::Allow && allow_implies(e.operation, operation))
    }

    /// The patterns `deleteAcls` visits for these filters: cached patterns plus, for filters that
    /// name one resource, the patterns they denote even if not cached (`filterToResources`),
    /// keeping those some filter matches. The caller re-reads each from ZooKeeper.
    pub fn delete_candidates(&self, filters: &[AclBindingFilter]) -> Vec<ResourcePattern> {
        let mut patterns: Vec<ResourcePattern> = self.by_resource.keys().cloned().collect();
        for f in filters
            .iter()
            .map(|f| &f.pattern_filter)
            .filter(|f| f.matches_at_most_one())
        {
            patterns.extend(filter_to_resources(f));
        }
        patterns.sort();
        patterns.dedup();
        patterns.retain(|p| filters.iter().any(|f| f.pattern_filter.matches(p)));
        patterns
    }
}

/// `AclAuthorizer.filterToResources` for a filter that matches at most one pattern.
fn filter_to_resources(filter: &ResourcePatternFilter) -> Vec<ResourcePattern> {
    let Some(name) = &filter.name else {
        return Vec::new();
    };
    let types: &[PatternType] = match filter.pattern_type {
        PatternType::Literal => &[PatternType::Literal],
        PatternType::Prefixed => &[PatternType::Prefixed],
        PatternType::Any => &[PatternType::Literal, PatternType::Prefixed],
        PatternType::Match => &[],
    };
    types
        .iter()
        .map(|t| ResourcePattern::new(filter.resource_type, name.clone(), *t))
        .collect()
}

/// Applies DeleteAcls filters to one pattern's current entries. Returns the entries to keep and
/// the deleted bindings, each tagged with the index of the first filter that matched it (Kafka
/// reports a deleted binding once, under that filter).
pub fn delete_matching(
    pattern: &ResourcePattern,
    current: &[AccessControlEntry],
    filters: &[AclBindingFilter],
) -> (Vec<AccessControlEntry>, Vec<(usize, AclBinding)>) {
    let applicable: Vec<(usize, &AclBindingFilter)> = filters
        .iter()
        .enumerate()
        .filter(|(_, f)| f.pattern_filter.matches(pattern))
        .collect();
    let mut keep = Vec::new();
    let mut deleted = Vec::new();
    for entry in current {
        match applicable.iter().find(|(_, f)| f.entry_filter.matches(entry)) {
            Some((index, _)) => deleted.push((*index, AclBinding::new(pattern.clone(), entry.clone()))),
            None => keep.push(entry.clone()),
        }
    }
    (keep, deleted)
}

#[cfg(test)]
mod tests;
