//! Tests for the ACL value types, filters and their Java `toString` forms.

use super::super::types::{AclOperation, PatternType, PermissionType, ResourceType};
use super::*;

fn topic(name: &str, pattern_type: PatternType) -> ResourcePattern {
    ResourcePattern::new(ResourceType::Topic, name, pattern_type)
}

fn filter(resource_type: ResourceType, name: Option<&str>, pattern_type: PatternType) -> ResourcePatternFilter {
    ResourcePatternFilter::new(resource_type, name.map(String::from), pattern_type)
}

#[test]
fn to_string_forms_match_java() {
    let pattern = ResourcePattern::literal(ResourceType::TransactionalId, "tx");
    assert_eq!(
        pattern.to_string(),
        "ResourcePattern(resourceType=TRANSACTIONAL_ID, name=tx, patternType=LITERAL)"
    );
    let entry = AccessControlEntry::new("User:alice", "*", AclOperation::DescribeConfigs, PermissionType::Allow);
    assert_eq!(
        entry.to_string(),
        "(principal=User:alice, host=*, operation=DESCRIBE_CONFIGS, permissionType=ALLOW)"
    );
    assert_eq!(
        AclBinding::new(ResourcePattern::cluster(), entry).to_string(),
        "(pattern=ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL), \
         entry=(principal=User:alice, host=*, operation=DESCRIBE_CONFIGS, permissionType=ALLOW))"
    );
    assert_eq!(
        AclBindingFilter::ANY.to_string(),
        "(patternFilter=ResourcePattern(resourceType=ANY, name=<any>, patternType=ANY), \
         entryFilter=(principal=<any>, host=<any>, operation=ANY, permissionType=ANY))"
    );
}

#[test]
fn literal_and_prefixed_filters_match_exactly() {
    let f = filter(ResourceType::Topic, Some("foo"), PatternType::Literal);
    assert!(f.matches(&topic("foo", PatternType::Literal)));
    assert!(!f.matches(&topic("foo", PatternType::Prefixed)));
    assert!(!f.matches(&topic("*", PatternType::Literal)));
    assert!(!f.matches(&ResourcePattern::literal(ResourceType::Group, "foo")));
    let f = filter(ResourceType::Topic, Some("fo"), PatternType::Prefixed);
    assert!(f.matches(&topic("fo", PatternType::Prefixed)));
    assert!(!f.matches(&topic("f", PatternType::Prefixed)));
}

#[test]
fn any_filter_matches_name_exactly_across_pattern_types() {
    let f = filter(ResourceType::Topic, Some("foo"), PatternType::Any);
    assert!(f.matches(&topic("foo", PatternType::Literal)));
    assert!(f.matches(&topic("foo", PatternType::Prefixed)));
    assert!(!f.matches(&topic("*", PatternType::Literal)));
    assert!(!f.matches(&topic("fo", PatternType::Prefixed)));
    assert!(filter(ResourceType::Any, None, PatternType::Any).matches(&topic("x", PatternType::Prefixed)));
}

#[test]
fn match_filter_finds_everything_that_affects_the_name() {
    let f = filter(ResourceType::Topic, Some("foo"), PatternType::Match);
    assert!(f.matches(&topic("foo", PatternType::Literal)));
    assert!(f.matches(&topic("*", PatternType::Literal)));
    assert!(f.matches(&topic("f", PatternType::Prefixed)));
    assert!(f.matches(&topic("foo", PatternType::Prefixed)));
    assert!(!f.matches(&topic("fooo", PatternType::Prefixed)));
    assert!(!f.matches(&topic("fo", PatternType::Literal)));
    // A prefixed "*" is an ordinary prefix, not a wildcard.
    assert!(!f.matches(&topic("*", PatternType::Prefixed)));
    // MATCH with no name matches every pattern of the type.
    assert!(filter(ResourceType::Topic, None, PatternType::Match).matches(&topic("x", PatternType::Prefixed)));
}

#[test]
fn entry_filter_uses_plain_equality() {
    let entry = AccessControlEntry::new("User:alice", "10.0.0.1", AclOperation::Read, PermissionType::Allow);
    assert!(AccessControlEntryFilter::ANY.matches(&entry));
    assert!(entry.to_filter().matches(&entry));
    let mut f = entry.to_filter();
    f.principal = Some(WILDCARD_PRINCIPAL.into());
    assert!(!f.matches(&entry), "filters do not expand wildcards");
    let f = AccessControlEntryFilter {
        operation: AclOperation::Write,
        ..entry.to_filter()
    };
    assert!(!f.matches(&entry));
    let f = AccessControlEntryFilter {
        permission: PermissionType::Deny,
        ..entry.to_filter()
    };
    assert!(!f.matches(&entry));
    let f = AccessControlEntryFilter {
        host: None,
        operation: AclOperation::Any,
        ..entry.to_filter()
    };
    assert!(f.matches(&entry));
}

#[test]
fn indefinite_fields_follow_kafka_order() {
    assert_eq!(
        AclBindingFilter::ANY.find_indefinite_field(),
        Some("Resource type is ANY.")
    );
    let binding = AclBinding::new(
        topic("t", PatternType::Literal),
        AccessControlEntry::new("User:a", "*", AclOperation::Read, PermissionType::Allow),
    );
    let exact = binding.to_filter();
    assert!(exact.matches_at_most_one());
    assert!(exact.matches(&binding));
    let f = AclBindingFilter::new(exact.pattern_filter.clone(), AccessControlEntryFilter::ANY);
    assert_eq!(f.find_indefinite_field(), Some("Principal is NULL"));
    let f = AclBindingFilter::new(
        filter(ResourceType::Topic, Some("t"), PatternType::Match),
        exact.entry_filter,
    );
    assert_eq!(f.find_indefinite_field(), Some("Resource pattern type is MATCH."));
    assert!(filter(ResourceType::Topic, Some("t"), PatternType::Any).matches_at_most_one());
    assert_eq!(
        filter(ResourceType::Topic, None, PatternType::Literal).find_indefinite_field(),
        Some("Resource name is NULL.")
    );
}

#[test]
fn create_validation_uses_broker_messages() {
    let entry = AccessControlEntry::new("User:a", "*", AclOperation::Read, PermissionType::Allow);
    let ok = AclBinding::new(topic("t", PatternType::Prefixed), entry.clone());
    assert_eq!(ok.validate_for_create(), Ok(()));
    let bad =
        |pattern: ResourcePattern, entry: AccessControlEntry| AclBinding::new(pattern, entry).validate_for_create();
    assert_eq!(
        bad(ResourcePattern::literal(ResourceType::Cluster, "c"), entry.clone()),
        Err("The only valid name for the CLUSTER resource is kafka-cluster".into())
    );
    assert_eq!(
        bad(topic("", PatternType::Literal), entry.clone()),
        Err("Invalid empty resource name".into())
    );
    assert_eq!(
        bad(topic("t", PatternType::Match), entry.clone()),
        Err("patternType must not be MATCH".into())
    );
    assert_eq!(
        bad(ResourcePattern::literal(ResourceType::Any, "t"), entry.clone()),
        Err("resourceType must not be ANY".into())
    );
    let any_op = AccessControlEntry {
        operation: AclOperation::Any,
        ..entry.clone()
    };
    assert_eq!(
        bad(topic("t", PatternType::Literal), any_op),
        Err("operation must not be ANY".into())
    );
    let no_type = AccessControlEntry {
        principal: "alice".into(),
        ..entry
    };
    assert_eq!(
        bad(topic("t", PatternType::Literal), no_type),
        Err("expected a string in format principalType:principalName but got alice".into())
    );
}

#[test]
fn principal_parse_splits_at_first_colon() {
    assert_eq!(parse_principal("User:CN=a:b"), Ok(("User", "CN=a:b")));
    assert_eq!(parse_principal("User:"), Ok(("User", "")));
    assert!(parse_principal("").is_err());
}

#[test]
fn patterns_sort_by_type_then_pattern_type_then_name() {
    let mut v = [
        topic("b", PatternType::Prefixed),
        ResourcePattern::literal(ResourceType::Group, "a"),
        topic("z", PatternType::Literal),
        topic("a", PatternType::Prefixed),
    ];
    v.sort();
    let names: Vec<_> = v
        .iter()
        .map(|p| (p.resource_type, p.pattern_type, p.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (ResourceType::Topic, PatternType::Literal, "z"),
            (ResourceType::Topic, PatternType::Prefixed, "a"),
            (ResourceType::Topic, PatternType::Prefixed, "b"),
            (ResourceType::Group, PatternType::Literal, "a"),
        ]
    );
}
