//! Tests for the authorize decision (after Kafka's AclAuthorizerTest) and the filter helpers.

use super::super::binding::{AccessControlEntryFilter, CLUSTER_NAME};
use super::*;

use AclOperation::*;
use PermissionType::{Allow, Deny};

const ALICE: &str = "User:alice";
const HOST1: &str = "192.168.1.1";
const HOST2: &str = "192.168.1.2";

fn ace(principal: &str, host: &str, operation: AclOperation, permission: PermissionType) -> AccessControlEntry {
    AccessControlEntry::new(principal, host, operation, permission)
}

fn topic(name: &str) -> ResourcePattern {
    ResourcePattern::literal(ResourceType::Topic, name)
}

fn cache(items: Vec<(ResourcePattern, Vec<AccessControlEntry>)>) -> AclCache {
    let mut cache = AclCache::new();
    for (pattern, entries) in items {
        cache.set(pattern, entries);
    }
    cache
}

/// Authorizes on a topic with no super users and allow.everyone.if.no.acl.found=false.
fn can(cache: &AclCache, principal: &str, host: &str, op: AclOperation, topic: &str) -> bool {
    cache.authorize(principal, host, op, ResourceType::Topic, topic, &[], false)
}

#[test]
fn topic_acls_combine_host_principal_and_deny() {
    // Kafka's testTopicAcl.
    let c = cache(vec![(
        topic("t"),
        vec![
            ace(ALICE, HOST1, Read, Allow),
            ace(ALICE, HOST2, Read, Allow),
            ace(ALICE, HOST1, Read, Deny),
            ace(ALICE, HOST1, Write, Allow),
            ace(ALICE, "*", Describe, Allow),
            ace("User:rob", "*", Read, Allow),
            ace("User:batman", "*", Write, Allow),
        ],
    )]);
    assert!(can(&c, ALICE, HOST2, Read, "t"));
    assert!(!can(&c, ALICE, HOST1, Read, "t"), "deny on host1 wins");
    assert!(can(&c, ALICE, HOST1, Write, "t"));
    assert!(!can(&c, ALICE, HOST2, Write, "t"), "write only allowed from host1");
    assert!(can(&c, ALICE, HOST1, Describe, "t"));
    assert!(!can(&c, ALICE, HOST1, Alter, "t"));
    assert!(can(&c, "User:rob", HOST1, Describe, "t"), "read implies describe");
    assert!(can(&c, "User:batman", HOST1, Describe, "t"), "write implies describe");
    assert!(!can(&c, "User:robin", HOST1, Describe, "t"));
    assert!(
        !can(&c, "Group:rob", HOST1, Read, "t"),
        "principal type is part of the identity"
    );
}

#[test]
fn deny_takes_precedence_over_wildcard_allow() {
    let c = cache(vec![(
        topic("t"),
        vec![ace("User:*", "*", All, Allow), ace(ALICE, HOST1, All, Deny)],
    )]);
    assert!(!can(&c, ALICE, HOST1, Read, "t"));
    assert!(can(&c, ALICE, HOST2, Read, "t"));
    assert!(
        can(&c, "User:random", HOST1, IdempotentWrite, "t"),
        "User:* with ALL allows everything"
    );
}

#[test]
fn only_user_star_is_a_wildcard_principal() {
    let c = cache(vec![(
        topic("t"),
        vec![ace("Group:*", "*", Read, Allow), ace("User:bob", "*", Read, Allow)],
    )]);
    assert!(!can(&c, ALICE, HOST1, Read, "t"));
    assert!(!can(&c, "Group:x", HOST1, Read, "t"));
}

#[test]
fn super_users_bypass_acls() {
    let c = cache(vec![(topic("t"), vec![ace("User:*", "*", All, Deny)])]);
    let supers = parse_super_users("User:superuser1; User:superuser2").unwrap();
    assert!(c.authorize("User:superuser2", HOST1, Read, ResourceType::Topic, "t", &supers, false));
    assert!(!c.authorize(ALICE, HOST1, Read, ResourceType::Topic, "t", &supers, true));
    // Super users also pass where no ACL exists at all.
    assert!(AclCache::new().authorize(
        "User:superuser1",
        HOST1,
        Alter,
        ResourceType::Cluster,
        CLUSTER_NAME,
        &supers,
        false
    ));
}

#[test]
fn no_acls_at_all_falls_back_to_allow_everyone() {
    let empty = AclCache::new();
    assert!(!empty.authorize(ALICE, HOST1, Read, ResourceType::Topic, "t", &[], false));
    assert!(empty.authorize(ALICE, HOST1, Read, ResourceType::Topic, "t", &[], true));
    // ACLs that exist for the resource but not for this principal deny even with allow-everyone.
    let c = cache(vec![(topic("t"), vec![ace("User:bob", "*", Read, Allow)])]);
    assert!(!c.authorize(ALICE, HOST1, Read, ResourceType::Topic, "t", &[], true));
    // ACLs on another resource or type do not count as ACLs for this one.
    assert!(c.authorize(ALICE, HOST1, Read, ResourceType::Topic, "u", &[], true));
    assert!(c.authorize(ALICE, HOST1, Read, ResourceType::Group, "t", &[], true));
}

#[test]
fn wildcard_resource_acls_apply_to_every_name() {
    let mut c = cache(vec![(topic("*"), vec![ace(ALICE, HOST1, Read, Allow)])]);
    assert!(can(&c, ALICE, HOST1, Read, "t"));
    assert!(can(&c, ALICE, HOST1, Read, ""), "empty names match the wildcard");
    c.set(topic("t"), vec![ace(ALICE, HOST1, Write, Allow)]);
    c.set(
        topic("*"),
        vec![ace(ALICE, HOST1, Read, Allow), ace(ALICE, HOST1, Write, Deny)],
    );
    assert!(
        !can(&c, ALICE, HOST1, Write, "t"),
        "deny on * beats allow on the literal name"
    );
    assert!(can(&c, ALICE, HOST1, Read, "t"));
}

#[test]
fn prefixed_acls_match_names_they_prefix() {
    let deny_read = ace(ALICE, "*", Read, Deny);
    let mut items: Vec<_> = [
        "a_other",
        "foo-x1",
        "foo-x2-zzz",
        "fooo-",
        "fo-",
        "fop-",
        "fon-",
        "z_other",
    ]
    .into_iter()
    .map(|p| {
        (
            ResourcePattern::prefixed(ResourceType::Topic, p),
            vec![deny_read.clone()],
        )
    })
    .collect();
    items.push((topic("a_other"), vec![deny_read.clone()]));
    items.push((
        ResourcePattern::prefixed(ResourceType::Topic, "foo-"),
        vec![ace(ALICE, "*", Read, Allow)],
    ));
    items.push((ResourcePattern::prefixed(ResourceType::Group, "foo"), vec![deny_read]));
    let c = cache(items);
    assert!(can(&c, ALICE, HOST1, Read, "foo-topic"));
    assert!(can(&c, ALICE, HOST1, Read, "foo-"));
    assert!(
        !can(&c, ALICE, HOST1, Read, "foo"),
        "a prefix longer than the name does not apply"
    );
    assert!(!can(&c, ALICE, HOST1, Read, "fooo-1"));
    assert!(
        !can(&c, ALICE, HOST1, Read, "foo-x1-y"),
        "a longer matching deny prefix wins"
    );
    assert!(!c.authorize(ALICE, HOST1, Read, ResourceType::Group, "foo-topic", &[], false));
}

#[test]
fn single_character_and_unicode_prefixes() {
    // Kafka's testSingleCharacterResourceAcls.
    let allow = vec![ace(ALICE, "*", Read, Allow)];
    let c = cache(vec![
        (topic("f"), allow.clone()),
        (ResourcePattern::prefixed(ResourceType::Topic, "_"), allow.clone()),
    ]);
    assert!(can(&c, ALICE, HOST1, Read, "f"));
    assert!(!can(&c, ALICE, HOST1, Read, "foo"));
    assert!(can(&c, ALICE, HOST1, Read, "_foo"));
    assert!(can(&c, ALICE, HOST1, Read, "_"));
    assert!(!can(&c, ALICE, HOST1, Read, "foo_"));
    let c = cache(vec![(
        ResourcePattern::prefixed(ResourceType::Topic, "é"),
        allow.clone(),
    )]);
    assert!(can(&c, ALICE, HOST1, Read, "élan"));
    assert!(!can(&c, ALICE, HOST1, Read, "e"));
    // A prefixed "" (rejected by CreateAcls) applies only to the empty name, as in Kafka.
    let c = cache(vec![(ResourcePattern::prefixed(ResourceType::Topic, ""), allow)]);
    assert!(can(&c, ALICE, HOST1, Read, ""));
    assert!(!can(&c, ALICE, HOST1, Read, "x"));
}

#[test]
fn allow_implications_follow_kafka() {
    // Kafka's testAclInheritance on the cluster resource.
    let implied: &[(AclOperation, &[AclOperation])] = &[
        (
            All,
            &[
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
            ],
        ),
        (Read, &[Describe]),
        (Write, &[Describe]),
        (Delete, &[Describe]),
        (Alter, &[Describe]),
        (AlterConfigs, &[DescribeConfigs]),
        (Describe, &[]),
        (Create, &[]),
        (IdempotentWrite, &[]),
    ];
    let concrete = &AclOperation::VALUES[2..];
    for (granted, also) in implied {
        let c = cache(vec![(
            ResourcePattern::cluster(),
            vec![ace(ALICE, "*", *granted, Allow)],
        )]);
        for op in concrete {
            let allowed = c.authorize(ALICE, HOST1, *op, ResourceType::Cluster, CLUSTER_NAME, &[], false);
            assert_eq!(allowed, op == granted || also.contains(op), "ALLOW {granted} vs {op}");
        }
    }
}

#[test]
fn deny_implies_nothing_but_deny_all_denies_everything() {
    for denied in [All, Describe, DescribeConfigs, Read] {
        let entries = vec![ace(ALICE, "*", denied, Deny), ace(ALICE, "*", All, Allow)];
        let c = cache(vec![(ResourcePattern::cluster(), entries)]);
        for op in &AclOperation::VALUES[2..] {
            let allowed = c.authorize(ALICE, HOST1, *op, ResourceType::Cluster, CLUSTER_NAME, &[], false);
            assert_eq!(allowed, !(denied == All || *op == denied), "DENY {denied} vs {op}");
        }
    }
}

#[test]
fn set_dedups_and_empty_removes() {
    let mut c = AclCache::new();
    let a = ace(ALICE, "*", Read, Allow);
    c.set(topic("t"), vec![a.clone(), a.clone()]);
    assert_eq!(c.get(&topic("t")), std::slice::from_ref(&a));
    assert_eq!(c.all().count(), 1);
    c.set(topic("t"), vec![]);
    assert!(c.is_empty());
    assert_eq!(c.get(&topic("t")), &[] as &[AccessControlEntry]);
}

#[test]
fn describe_and_delete_filters() {
    let read = ace(ALICE, "*", Read, Allow);
    let write = ace("User:bob", "*", Write, Allow);
    let prefixed = ResourcePattern::prefixed(ResourceType::Topic, "fo");
    let c = cache(vec![
        (topic("foo"), vec![read.clone(), write.clone()]),
        (topic("*"), vec![read.clone()]),
        (prefixed.clone(), vec![write.clone()]),
    ]);
    let matching = ResourcePatternFilter::new(ResourceType::Topic, Some("foo".into()), PatternType::Match);
    let f = AclBindingFilter::new(matching, AccessControlEntryFilter::ANY);
    assert_eq!(c.acls(&f).len(), 4);
    let alice_only = AclBindingFilter::new(ResourcePatternFilter::ANY, read.to_filter());
    assert_eq!(c.acls(&alice_only).len(), 2);

    // A literal filter for an uncached name still yields that pattern (it may exist in ZooKeeper).
    let exact = AclBindingFilter::new(topic("bar").to_filter(), AccessControlEntryFilter::ANY);
    assert_eq!(c.delete_candidates(&[exact]), [topic("bar")]);
    let any_foo = ResourcePatternFilter::new(ResourceType::Topic, Some("fo".into()), PatternType::Any);
    let f = AclBindingFilter::new(any_foo, AccessControlEntryFilter::ANY);
    assert_eq!(
        c.delete_candidates(std::slice::from_ref(&f)),
        [topic("fo"), prefixed.clone()]
    );

    let by_bob = AclBindingFilter::new(ResourcePatternFilter::ANY, write.to_filter());
    let (keep, deleted) = delete_matching(&topic("foo"), c.get(&topic("foo")), &[f, AclBindingFilter::ANY, by_bob]);
    assert!(keep.is_empty());
    // Each deleted binding is reported once, under the first filter that matched it.
    assert_eq!(deleted.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 1]);
    let (keep, deleted) = delete_matching(&prefixed, &[write.clone(), read.clone()], &[alice_only]);
    assert_eq!(keep, [write]);
    assert_eq!(deleted, [(0, AclBinding::new(prefixed, read))]);
}

#[test]
fn super_users_parse_like_kafka() {
    assert_eq!(parse_super_users(""), Ok(vec![]));
    assert_eq!(
        parse_super_users("User:a; User:b ;"),
        Ok(vec!["User:a".to_string(), "User:b".to_string()])
    );
    assert_eq!(parse_super_users(";;"), Ok(vec![]));
    assert!(parse_super_users("User:a;;User:b").is_err());
    assert!(parse_super_users("alice").is_err());
}
