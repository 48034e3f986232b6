//! Tests for kafka-acls' argument rules (after Kafka's AclCommandTest) and error messages.

use super::*;

use AclOperation::*;

fn s(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn allow(principal: &str, host: &str, op: AclOperation) -> AccessControlEntry {
    AccessControlEntry::new(principal, host, op, PermissionType::Allow)
}

fn topic(name: &str) -> ResourcePattern {
    ResourcePattern::literal(ResourceType::Topic, name)
}

fn group(name: &str) -> ResourcePattern {
    ResourcePattern::literal(ResourceType::Group, name)
}

fn alice_on_topic() -> AclArgs {
    AclArgs {
        topics: s(&["t"]),
        allow_principals: s(&["User:alice"]),
        ..AclArgs::default()
    }
}

/// `acls_to_add` with each resource's operations, for compact assertions.
fn ops_by_resource(args: &AclArgs) -> Vec<(ResourcePattern, Vec<AclOperation>)> {
    let added = acls_to_add(args).unwrap();
    added
        .into_iter()
        .map(|(p, acls)| (p, acls.iter().map(|a| a.operation).collect()))
        .collect()
}

#[test]
fn add_defaults_to_all_operations_from_any_host() {
    assert_eq!(
        acl_bindings_for(&alice_on_topic()).unwrap(),
        [AclBinding::new(topic("t"), allow("User:alice", "*", All))]
    );
}

#[test]
fn add_crosses_principals_operations_and_hosts() {
    let args = AclArgs {
        topics: s(&[" t ", "t"]),
        groups: s(&["g"]),
        allow_principals: s(&["User:a", "User:b"]),
        allow_hosts: s(&["h1", " h2"]),
        deny_principals: s(&["User:c"]),
        operations: s(&["Read", " describe "]),
        ..AclArgs::default()
    };
    let added = acls_to_add(&args).unwrap();
    assert_eq!(
        added.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        [topic("t"), group("g")]
    );
    let entries = &added[0].1;
    assert_eq!(entries.len(), 2 * 2 * 2 + 2);
    assert!(entries.contains(&allow("User:b", "h2", Describe)));
    assert!(entries.contains(&AccessControlEntry::new("User:c", "*", Read, PermissionType::Deny)));
    assert!(
        !entries.iter().any(|e| e.principal == "User:c" && e.host != "*"),
        "allow hosts do not apply to deny"
    );
}

#[test]
fn operation_names_follow_security_utils() {
    let with_ops = |ops: &[&str]| {
        acls_to_add(&AclArgs {
            operations: s(ops),
            ..alice_on_topic()
        })
    };
    assert!(
        with_ops(&["DescribeConfigs", "ALTERCONFIGS", "idempotentwrite"]).is_err(),
        "IdempotentWrite is cluster-only"
    );
    let ok = with_ops(&["DescribeConfigs", "ALTERCONFIGS"]).unwrap();
    assert_eq!(
        ok[0].1.iter().map(|a| a.operation).collect::<Vec<_>>(),
        [DescribeConfigs, AlterConfigs]
    );
    let topic_ops = "ResourceType TOPIC only supports operations \
                     READ,WRITE,CREATE,DESCRIBE,DELETE,ALTER,DESCRIBE_CONFIGS,ALTER_CONFIGS,ALL";
    assert_eq!(with_ops(&["describe-configs"]), Err(topic_ops.into()));
    assert_eq!(with_ops(&["DESCRIBE_CONFIGS"]), Err(topic_ops.into()));
    assert_eq!(with_ops(&["Read", "Any"]), Err("operation must not be ANY".into()));
}

#[test]
fn operations_are_validated_per_resource_type() {
    let args = AclArgs {
        groups: s(&["g"]),
        operations: s(&["Write"]),
        ..alice_on_topic()
    };
    assert_eq!(
        acls_to_add(&args),
        Err("ResourceType GROUP only supports operations READ,DESCRIBE,DELETE,ALL".into())
    );
    let args = AclArgs {
        topics: vec![],
        transactional_ids: s(&["x"]),
        operations: s(&["Read"]),
        ..alice_on_topic()
    };
    assert_eq!(
        acls_to_add(&args),
        Err("ResourceType TRANSACTIONAL_ID only supports operations DESCRIBE,WRITE,ALL".into())
    );
    let args = AclArgs {
        topics: vec![],
        cluster: true,
        operations: s(&["ClusterAction", "IdempotentWrite"]),
        ..alice_on_topic()
    };
    assert_eq!(
        ops_by_resource(&args),
        [(ResourcePattern::cluster(), vec![ClusterAction, IdempotentWrite])]
    );
}

#[test]
fn producer_shortcut() {
    let args = AclArgs {
        producer: true,
        transactional_ids: s(&["tx"]),
        cluster: true,
        groups: s(&["g"]),
        ..alice_on_topic()
    };
    // --cluster and --group are ignored without --idempotent / --consumer.
    assert_eq!(
        ops_by_resource(&args),
        [
            (topic("t"), vec![Write, Create, Describe]),
            (
                ResourcePattern::literal(ResourceType::TransactionalId, "tx"),
                vec![Write, Describe]
            ),
        ]
    );
    let args = AclArgs {
        producer: true,
        idempotent: true,
        pattern_type: PatternType::Prefixed,
        ..alice_on_topic()
    };
    assert_eq!(
        ops_by_resource(&args),
        [
            (
                ResourcePattern::prefixed(ResourceType::Topic, "t"),
                vec![Write, Create, Describe]
            ),
            (ResourcePattern::cluster(), vec![IdempotentWrite]),
        ]
    );
}

#[test]
fn consumer_shortcut_and_merge_with_producer() {
    let args = AclArgs {
        consumer: true,
        groups: s(&["g"]),
        ..alice_on_topic()
    };
    assert_eq!(
        ops_by_resource(&args),
        [(topic("t"), vec![Read, Describe]), (group("g"), vec![Read])]
    );
    let args = AclArgs { producer: true, ..args };
    assert_eq!(
        ops_by_resource(&args),
        [
            (topic("t"), vec![Read, Write, Create, Describe]),
            (group("g"), vec![Read])
        ]
    );
}

#[test]
fn add_errors_use_acl_command_messages() {
    let args = AclArgs {
        pattern_type: PatternType::Match,
        ..alice_on_topic()
    };
    assert_eq!(
        acls_to_add(&args),
        Err("A '--resource-pattern-type' value of 'MATCH' is not valid when adding acls.".into())
    );
    let args = AclArgs {
        allow_principals: vec![],
        allow_hosts: s(&["h"]),
        ..alice_on_topic()
    };
    assert_eq!(
        acls_to_add(&args),
        Err("You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.".into())
    );
    let args = AclArgs {
        topics: vec![],
        cluster: true,
        pattern_type: PatternType::Prefixed,
        ..alice_on_topic()
    };
    let err = acls_to_add(&args).unwrap_err();
    assert!(
        err.starts_with("You must provide at least one resource: --topic <topic> or --cluster"),
        "{err}"
    );
    let args = AclArgs {
        allow_principals: s(&["alice"]),
        ..alice_on_topic()
    };
    assert_eq!(
        acls_to_add(&args),
        Err("expected a string in format principalType:principalName but got alice".into())
    );
}

#[test]
fn names_are_trimmed_except_transactional_ids() {
    let args = AclArgs {
        topics: s(&[" t\t"]),
        transactional_ids: s(&[" tx "]),
        delegation_tokens: s(&[" tok"]),
        operations: s(&["Describe"]),
        ..alice_on_topic()
    };
    let names: Vec<String> = acls_to_add(&args).unwrap().into_iter().map(|(p, _)| p.name).collect();
    assert_eq!(names, ["t", " tx ", "tok"]);
}

#[test]
fn remove_without_principals_removes_everything_for_the_filter() {
    let args = AclArgs {
        operations: s(&["Read"]),
        pattern_type: PatternType::Match,
        ..alice_on_topic()
    };
    let args = AclArgs {
        allow_principals: vec![],
        ..args
    };
    let removals = removals_for(&args).unwrap();
    let filter = ResourcePatternFilter::new(ResourceType::Topic, Some("t".into()), PatternType::Match);
    assert_eq!(
        removals,
        [Removal {
            filter: filter.clone(),
            acls: vec![]
        }]
    );
    assert_eq!(
        removals[0].binding_filters(),
        [AclBindingFilter::new(filter.clone(), AccessControlEntryFilter::ANY)]
    );
    assert!(removals[0]
        .confirm_prompt()
        .starts_with("Are you sure you want to delete all ACLs for resource filter `"));

    let args = AclArgs {
        operations: s(&["Read"]),
        ..alice_on_topic()
    };
    let removals = removals_for(&args).unwrap();
    let read = allow("User:alice", "*", Read);
    assert_eq!(removals[0].acls, std::slice::from_ref(&read));
    assert_eq!(
        removals[0].binding_filters(),
        [AclBindingFilter::new(topic("t").to_filter(), read.to_filter())]
    );
    assert!(removals[0]
        .confirm_prompt()
        .starts_with("Are you sure you want to remove ACLs: \n \t(principal=User:alice"));
}

#[test]
fn list_filters_and_principals() {
    assert_eq!(filters_for(&AclArgs::default()), [AclBindingFilter::ANY]);
    let args = AclArgs {
        topics: s(&["t"]),
        cluster: true,
        pattern_type: PatternType::Any,
        ..AclArgs::default()
    };
    let expected = ResourcePatternFilter::new(ResourceType::Topic, Some("t".into()), PatternType::Any);
    assert_eq!(
        filters_for(&args),
        [AclBindingFilter::new(expected, AccessControlEntryFilter::ANY)]
    );
    let args = AclArgs {
        cluster: true,
        ..AclArgs::default()
    };
    assert_eq!(
        filters_for(&args)[0].pattern_filter,
        ResourcePattern::cluster().to_filter()
    );
    let args = AclArgs {
        list_principals: s(&["User:b", " User:a", "User:b"]),
        ..AclArgs::default()
    };
    assert_eq!(list_principals(&args), Ok(s(&["User:a", "User:b"])));
    assert!(list_principals(&AclArgs {
        list_principals: s(&["b"]),
        ..AclArgs::default()
    })
    .is_err());
}
