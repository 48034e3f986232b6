//! kafka-acls' argument semantics (Kafka 2.8 `AclCommand`): the resource filters, the ACLs that
//! `--add` creates (including the `--producer`/`--consumer` shortcuts), the filters `--remove`
//! deletes with and those `--list` describes with; `check` holds `checkArgs`' option rules.
//! Error strings are AclCommand's; the caller prints them (Kafka adds usage or a stack trace).
//!
//! Not here: clap wiring, the connection options (`--bootstrap-server`, `--authorizer*`,
//! `--command-config`, `--zk-tls-config-file`), `--force`/prompts and any I/O; see `output` for text.
//! Kafka keeps these collections in hash sets; here they are sorted, so output order is stable.

use std::collections::{BTreeMap, BTreeSet};

use super::binding::{
    parse_principal, AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, ResourcePattern,
    ResourcePatternFilter, CLUSTER_NAME, WILDCARD_HOST,
};
use super::output;
use super::types::{AclOperation, PatternType, PermissionType, ResourceType};

mod check;
pub use check::{check_args, parse_pattern_type_arg};

/// Which of `--add`, `--remove`, `--list` was given (AclCommand requires exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclAction {
    Add,
    Remove,
    List,
}

/// The parsed kafka-acls options this module needs. An empty list means the option was absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclArgs {
    pub topics: Vec<String>,
    pub groups: Vec<String>,
    pub cluster: bool,
    pub transactional_ids: Vec<String>,
    pub delegation_tokens: Vec<String>,
    /// `--resource-pattern-type`, default literal (see [`parse_pattern_type_arg`]).
    pub pattern_type: PatternType,
    pub allow_principals: Vec<String>,
    pub deny_principals: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub deny_hosts: Vec<String>,
    /// Raw `--operation` values; empty means the default, All.
    pub operations: Vec<String>,
    pub producer: bool,
    pub consumer: bool,
    pub idempotent: bool,
    /// `--principal` values, only valid with `--list`.
    pub list_principals: Vec<String>,
}

impl Default for AclArgs {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            groups: Vec::new(),
            cluster: false,
            transactional_ids: Vec::new(),
            delegation_tokens: Vec::new(),
            pattern_type: PatternType::Literal,
            allow_principals: Vec::new(),
            deny_principals: Vec::new(),
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
            operations: Vec::new(),
            producer: false,
            consumer: false,
            idempotent: false,
            list_principals: Vec::new(),
        }
    }
}

/// The cluster resource as a filter (`AclCommand.ClusterResourceFilter`).
fn cluster_filter() -> ResourcePatternFilter {
    ResourcePatternFilter::new(ResourceType::Cluster, Some(CLUSTER_NAME.into()), PatternType::Literal)
}

/// Java's `String.trim`: strips code points up to U+0020 only.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `getResourceFilter`. `--cluster`/`--idempotent` only add the cluster for literal patterns, and
/// transactional ids are not trimmed: both as in Kafka.
fn resource_filters(args: &AclArgs) -> BTreeSet<ResourcePatternFilter> {
    let pt = args.pattern_type;
    let named = |t: ResourceType, name: &str| ResourcePatternFilter::new(t, Some(name.to_string()), pt);
    let mut filters = BTreeSet::new();
    filters.extend(args.topics.iter().map(|n| named(ResourceType::Topic, java_trim(n))));
    if pt == PatternType::Literal && (args.cluster || args.idempotent) {
        filters.insert(cluster_filter());
    }
    filters.extend(args.groups.iter().map(|n| named(ResourceType::Group, java_trim(n))));
    filters.extend(
        args.transactional_ids
            .iter()
            .map(|n| named(ResourceType::TransactionalId, n)),
    );
    filters.extend(
        args.delegation_tokens
            .iter()
            .map(|n| named(ResourceType::DelegationToken, java_trim(n))),
    );
    filters
}

fn required_resource_filters(args: &AclArgs) -> Result<BTreeSet<ResourcePatternFilter>, String> {
    let filters = resource_filters(args);
    if filters.is_empty() {
        return Err(
            "You must provide at least one resource: --topic <topic> or --cluster or --group <group> \
                    or --delegation-token <Delegation Token ID>"
                .into(),
        );
    }
    Ok(filters)
}

/// The entries for one resource; `unknown_operation` stands in for Kafka's UNKNOWN-operation
/// entries, which only fail later, in `validateOperation`.
#[derive(Debug, Clone, Default)]
struct Acls {
    entries: BTreeSet<AccessControlEntry>,
    unknown_operation: bool,
}

fn principals(values: &[String]) -> Result<Vec<String>, String> {
    values
        .iter()
        .map(|v| parse_principal(java_trim(v)).map(|_| java_trim(v).to_string()))
        .collect()
}

/// `getHosts`: explicit hosts, else "*" when principals were given, else none.
fn hosts(hosts: &[String], principals_given: bool) -> Vec<String> {
    if !hosts.is_empty() {
        hosts.iter().map(|h| java_trim(h).to_string()).collect()
    } else if principals_given {
        vec![WILDCARD_HOST.to_string()]
    } else {
        Vec::new()
    }
}

/// `getAcl(opts, operations)`: every principal × operation × host, for allow and for deny.
fn acls_for(args: &AclArgs, operations: &[Option<AclOperation>]) -> Result<Acls, String> {
    let allowed = principals(&args.allow_principals)?;
    let denied = principals(&args.deny_principals)?;
    let sides = [
        (
            allowed,
            hosts(&args.allow_hosts, !args.allow_principals.is_empty()),
            PermissionType::Allow,
        ),
        (
            denied,
            hosts(&args.deny_hosts, !args.deny_principals.is_empty()),
            PermissionType::Deny,
        ),
    ];
    let mut acls = Acls::default();
    for (principals, hosts, permission) in &sides {
        if principals.is_empty() || hosts.is_empty() {
            continue;
        }
        for operation in operations {
            match operation {
                None => acls.unknown_operation = true,
                Some(AclOperation::Any) => return Err("operation must not be ANY".into()),
                Some(op) => {
                    for principal in principals {
                        for host in hosts {
                            acls.entries
                                .insert(AccessControlEntry::new(principal, host, *op, *permission));
                        }
                    }
                }
            }
        }
    }
    Ok(acls)
}

/// `--operation` values via `SecurityUtils.operation`; `None` is Kafka's UNKNOWN.
fn cli_operations(args: &AclArgs) -> Vec<Option<AclOperation>> {
    if args.operations.is_empty() {
        return vec![Some(AclOperation::All)];
    }
    args.operations
        .iter()
        .map(|o| AclOperation::from_pascal_name(java_trim(o)))
        .collect()
}

/// `getResourceFilterToAcls` including `validateOperation`.
fn filter_to_acls(args: &AclArgs) -> Result<BTreeMap<ResourcePatternFilter, Acls>, String> {
    use AclOperation::{Create, Describe, IdempotentWrite, Read, Write};
    let mut map = BTreeMap::new();
    if !args.producer && !args.consumer {
        let acls = acls_for(args, &cli_operations(args))?;
        for filter in required_resource_filters(args)? {
            map.insert(filter, acls.clone());
        }
    }
    if args.producer {
        let filters = required_resource_filters(args)?;
        let topic_acls = acls_for(args, &[Some(Write), Some(Describe), Some(Create)])?;
        let txn_acls = acls_for(args, &[Some(Write), Some(Describe)])?;
        for filter in filters {
            match filter.resource_type {
                ResourceType::Topic => map.insert(filter, topic_acls.clone()),
                ResourceType::TransactionalId => map.insert(filter, txn_acls.clone()),
                _ => None,
            };
        }
        if args.idempotent {
            map.insert(cluster_filter(), acls_for(args, &[Some(IdempotentWrite)])?);
        }
    }
    if args.consumer {
        let filters = required_resource_filters(args)?;
        let topic_acls = acls_for(args, &[Some(Read), Some(Describe)])?;
        let group_acls = acls_for(args, &[Some(Read)])?;
        for filter in filters {
            let mut acls = match filter.resource_type {
                ResourceType::Topic => topic_acls.clone(),
                ResourceType::Group => group_acls.clone(),
                _ => continue,
            };
            // The consumer's ACLs are merged with the producer's for the same resource.
            if let Some(existing) = map.get(&filter) {
                acls.entries.extend(existing.entries.iter().cloned());
                acls.unknown_operation |= existing.unknown_operation;
            }
            map.insert(filter, acls);
        }
    }
    for (filter, acls) in &map {
        validate_operations(filter.resource_type, acls)?;
    }
    Ok(map)
}

/// `validateOperation`: the resource type's supported operations plus ALL.
fn validate_operations(resource_type: ResourceType, acls: &Acls) -> Result<(), String> {
    let supported = resource_type.supported_operations();
    let valid = |op: AclOperation| op == AclOperation::All || supported.contains(&op);
    if acls.unknown_operation || acls.entries.iter().any(|e| !valid(e.operation)) {
        let names: Vec<&str> = supported
            .iter()
            .chain([&AclOperation::All])
            .map(|o| o.enum_name())
            .collect();
        return Err(format!(
            "ResourceType {resource_type} only supports operations {}",
            names.join(",")
        ));
    }
    Ok(())
}

/// `getResourceToAcls` (`--add`): the ACLs to create, grouped by resource pattern.
pub fn acls_to_add(args: &AclArgs) -> Result<Vec<(ResourcePattern, Vec<AccessControlEntry>)>, String> {
    if !args.pattern_type.is_specific() {
        return Err(format!(
            "A '--resource-pattern-type' value of '{}' is not valid when adding acls.",
            args.pattern_type
        ));
    }
    let map = filter_to_acls(args)?;
    if map.values().any(|acls| acls.entries.is_empty()) {
        return Err("You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.".into());
    }
    let to_pattern =
        |f: ResourcePatternFilter| ResourcePattern::new(f.resource_type, f.name.unwrap_or_default(), f.pattern_type);
    Ok(map
        .into_iter()
        .map(|(f, acls)| (to_pattern(f), acls.entries.into_iter().collect()))
        .collect())
}

/// `--add` as a flat list of bindings for CreateAcls.
pub fn acl_bindings_for(args: &AclArgs) -> Result<Vec<AclBinding>, String> {
    let grouped = acls_to_add(args)?;
    Ok(grouped
        .into_iter()
        .flat_map(|(pattern, entries)| entries.into_iter().map(move |e| AclBinding::new(pattern.clone(), e)))
        .collect())
}

/// One resource filter of `--remove` and the ACLs to remove from it (none: remove all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub filter: ResourcePatternFilter,
    pub acls: Vec<AccessControlEntry>,
}

impl Removal {
    /// The DeleteAcls filters AclCommand sends for this resource filter.
    pub fn binding_filters(&self) -> Vec<AclBindingFilter> {
        if self.acls.is_empty() {
            return vec![AclBindingFilter::new(
                self.filter.clone(),
                AccessControlEntryFilter::ANY,
            )];
        }
        self.acls
            .iter()
            .map(|a| AclBindingFilter::new(self.filter.clone(), a.to_filter()))
            .collect()
    }

    /// The confirmation question printed unless `--force` is given.
    pub fn confirm_prompt(&self) -> String {
        if self.acls.is_empty() {
            output::format_remove_all_prompt(&self.filter)
        } else {
            output::format_remove_prompt(&self.filter, &self.acls)
        }
    }
}

/// `--remove`: per resource filter, the ACLs to delete. Without principals that is *all* ACLs
/// of the filter, even if `--operation` was given (Kafka's behaviour).
pub fn removals_for(args: &AclArgs) -> Result<Vec<Removal>, String> {
    let map = filter_to_acls(args)?;
    Ok(map
        .into_iter()
        .map(|(filter, acls)| Removal {
            filter,
            acls: acls.entries.into_iter().collect(),
        })
        .collect())
}

/// `--list` (and the listing after `--add`/`--remove`): one DescribeAcls filter per resource,
/// or the match-everything filter when no resource was given.
pub fn filters_for(args: &AclArgs) -> Vec<AclBindingFilter> {
    let filters = resource_filters(args);
    if filters.is_empty() {
        return vec![AclBindingFilter::ANY];
    }
    filters
        .into_iter()
        .map(|f| AclBindingFilter::new(f, AccessControlEntryFilter::ANY))
        .collect()
}

/// `--principal` values for `--list`, checked and de-duplicated.
pub fn list_principals(args: &AclArgs) -> Result<Vec<String>, String> {
    let mut parsed = principals(&args.list_principals)?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

#[cfg(test)]
mod tests;
