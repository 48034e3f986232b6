//! kafka-acls' printed text, byte for byte as Kafka 2.8's `AclCommand` writes it with `println`
//! on Linux. Each function returns the full text of one `println`, including its final newline.
//!
//! Kafka's quirks are kept: a space before the first tab, a space before the trailing newline and
//! a blank line after each block. Not here: "Error while executing ACL command: ..." with a Java
//! stack trace, and usage text.

use std::collections::BTreeMap;

use super::binding::{AccessControlEntry, AclBinding, ResourcePattern, ResourcePatternFilter};

/// `acls.map("\t" + _).mkString(Newline)`.
fn tabbed(acls: &[AccessControlEntry]) -> String {
    acls.iter().map(|a| format!("\t{a}")).collect::<Vec<_>>().join("\n")
}

fn block(prefix: &str, resource: &ResourcePattern, acls: &[AccessControlEntry]) -> String {
    format!("{prefix} for resource `{resource}`: \n {} \n\n", tabbed(acls))
}

/// Printed before creating a resource's ACLs (`--add`).
pub fn format_adding(resource: &ResourcePattern, acls: &[AccessControlEntry]) -> String {
    block("Adding ACLs", resource, acls)
}

/// One resource in a listing (`--list`, and after `--add`/`--remove`).
pub fn format_current(resource: &ResourcePattern, acls: &[AccessControlEntry]) -> String {
    block("Current ACLs", resource, acls)
}

/// The `--remove` question when no principal narrows the removal.
pub fn format_remove_all_prompt(filter: &ResourcePatternFilter) -> String {
    format!("Are you sure you want to delete all ACLs for resource filter `{filter}`? (y/n)\n")
}

/// The `--remove` question listing the ACLs to remove.
pub fn format_remove_prompt(filter: &ResourcePatternFilter, acls: &[AccessControlEntry]) -> String {
    format!(
        "Are you sure you want to remove ACLs: \n {} \n from resource filter `{filter}`? (y/n)\n",
        tabbed(acls)
    )
}

/// Heads each principal's section of `--list --principal`.
pub fn format_principal_header(principal: &str) -> String {
    format!("ACLs for principal `{principal}`\n")
}

/// Groups DescribeAcls results per resource, merging duplicates from overlapping filters (`getAcls`).
pub fn group_by_resource(
    bindings: impl IntoIterator<Item = AclBinding>,
) -> BTreeMap<ResourcePattern, Vec<AccessControlEntry>> {
    let mut grouped: BTreeMap<ResourcePattern, Vec<AccessControlEntry>> = BTreeMap::new();
    for binding in bindings {
        grouped.entry(binding.pattern).or_default().push(binding.entry);
    }
    for entries in grouped.values_mut() {
        entries.sort();
        entries.dedup();
    }
    grouped
}

/// The whole listing: every resource, or with `--principal` one section per principal holding
/// only that principal's ACLs (resources without any are skipped; the header is always printed).
pub fn format_list(resources: &BTreeMap<ResourcePattern, Vec<AccessControlEntry>>, principals: &[String]) -> String {
    if principals.is_empty() {
        return resources.iter().map(|(r, acls)| format_current(r, acls)).collect();
    }
    let mut out = String::new();
    for principal in principals {
        out.push_str(&format_principal_header(principal));
        for (resource, acls) in resources {
            let own: Vec<AccessControlEntry> = acls.iter().filter(|a| a.principal == *principal).cloned().collect();
            if !own.is_empty() {
                out.push_str(&format_current(resource, &own));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::binding::CLUSTER_NAME;
    use super::super::types::{AclOperation, PatternType, PermissionType, ResourceType};
    use super::*;

    fn acl(principal: &str, op: AclOperation) -> AccessControlEntry {
        AccessControlEntry::new(principal, "*", op, PermissionType::Allow)
    }

    #[test]
    fn current_block_matches_kafka_bytes() {
        let topic = ResourcePattern::literal(ResourceType::Topic, "t");
        let text = format_current(&topic, &[acl("User:alice", AclOperation::Read)]);
        assert_eq!(
            text,
            "Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n \
             \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n\n"
        );
        let two = [
            acl("User:a", AclOperation::Read),
            acl("User:b", AclOperation::IdempotentWrite),
        ];
        assert_eq!(
            format_adding(&ResourcePattern::cluster(), &two),
            format!(
                "Adding ACLs for resource `ResourcePattern(resourceType=CLUSTER, name={CLUSTER_NAME}, patternType=LITERAL)`: \n \
                 \t(principal=User:a, host=*, operation=READ, permissionType=ALLOW)\n\
                 \t(principal=User:b, host=*, operation=IDEMPOTENT_WRITE, permissionType=ALLOW) \n\n"
            )
        );
        assert_eq!(
            format_current(&topic, &[]),
            format!("Current ACLs for resource `{topic}`: \n  \n\n")
        );
    }

    #[test]
    fn remove_prompts_match_kafka() {
        let filter = ResourcePatternFilter::new(ResourceType::Group, Some("g".into()), PatternType::Match);
        assert_eq!(
            format_remove_all_prompt(&filter),
            "Are you sure you want to delete all ACLs for resource filter \
             `ResourcePattern(resourceType=GROUP, name=g, patternType=MATCH)`? (y/n)\n"
        );
        assert_eq!(
            format_remove_prompt(&filter, &[acl("User:a", AclOperation::Read)]),
            "Are you sure you want to remove ACLs: \n \t(principal=User:a, host=*, operation=READ, permissionType=ALLOW) \n \
             from resource filter `ResourcePattern(resourceType=GROUP, name=g, patternType=MATCH)`? (y/n)\n"
        );
    }

    #[test]
    fn listing_groups_and_filters_by_principal() {
        let t = ResourcePattern::literal(ResourceType::Topic, "t");
        let g = ResourcePattern::prefixed(ResourceType::Group, "g");
        let a = acl("User:a", AclOperation::Read);
        let b = acl("User:b", AclOperation::Write);
        let grouped = group_by_resource([
            AclBinding::new(t.clone(), b.clone()),
            AclBinding::new(g.clone(), a.clone()),
            AclBinding::new(t.clone(), a.clone()),
            AclBinding::new(t.clone(), b.clone()),
        ]);
        assert_eq!(grouped[&t], [a.clone(), b.clone()]);
        assert_eq!(
            format_list(&grouped, &[]),
            format_current(&t, &[a.clone(), b.clone()]) + &format_current(&g, std::slice::from_ref(&a))
        );
        let by_b = format_list(&grouped, &["User:b".into(), "User:c".into()]);
        assert_eq!(
            by_b,
            format!(
                "ACLs for principal `User:b`\n{}ACLs for principal `User:c`\n",
                format_current(&t, &[b])
            )
        );
        assert_eq!(format_list(&BTreeMap::new(), &[]), "");
    }
}
