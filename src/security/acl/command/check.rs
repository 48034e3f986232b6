//! kafka-acls' `AclCommandOptions.checkArgs` cross-option rules and the
//! `--resource-pattern-type` converter, with AclCommand's messages.
//!
//! Not here: the connection-option rules (`--bootstrap-server` vs `--authorizer-properties`,
//! `--command-config`) and "exactly one action", which the caller's argument parser enforces.

use super::super::types::PatternType;
use super::{AclAction, AclArgs};

/// `PatternTypeConverter`: an enum name in any case; UNKNOWN and anything else are rejected.
pub fn parse_pattern_type_arg(value: &str) -> Result<PatternType, String> {
    PatternType::VALUES
        .iter()
        .copied()
        .find(|p| p.enum_name().eq_ignore_ascii_case(value))
        .ok_or_else(|| format!("Unknown resource-pattern-type: {value}"))
}

/// `AclCommandOptions.checkArgs`, minus the connection and action-count checks.
pub fn check_args(args: &AclArgs, action: AclAction) -> Result<(), String> {
    let invalid = |used: &str, others: &[(&str, bool)]| match others.iter().find(|(_, given)| *given) {
        Some((other, _)) => Err(format!("Option \"[{used}]\" can't be used with option \"[{other}]\"")),
        None => Ok(()),
    };
    if action == AclAction::List {
        invalid(
            "list",
            &[
                ("producer", args.producer),
                ("consumer", args.consumer),
                ("allow-host", !args.allow_hosts.is_empty()),
                ("allow-principal", !args.allow_principals.is_empty()),
                ("deny-host", !args.deny_hosts.is_empty()),
                ("deny-principal", !args.deny_principals.is_empty()),
            ],
        )?;
    }
    // The shortcuts infer operations and only ever allow.
    let inferred = [
        ("operation", !args.operations.is_empty()),
        ("deny-principal", !args.deny_principals.is_empty()),
        ("deny-host", !args.deny_hosts.is_empty()),
    ];
    if args.producer {
        invalid("producer", &inferred)?;
    }
    if args.consumer {
        invalid("consumer", &inferred)?;
    }
    if !args.list_principals.is_empty() && action != AclAction::List {
        return Err("The --principal option is only available if --list is set".into());
    }
    if args.producer && args.topics.is_empty() {
        return Err("With --producer you must specify a --topic".into());
    }
    if args.idempotent && !args.producer {
        return Err("The --idempotent option is only available if --producer is set".into());
    }
    if args.consumer
        && (args.topics.is_empty()
            || args.groups.is_empty()
            || (!args.producer && (args.cluster || !args.transactional_ids.is_empty())))
    {
        return Err(
            "With --consumer you must specify a --topic and a --group and no --cluster or \
                    --transactional-id option should be specified."
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn alice_on_topic() -> AclArgs {
        AclArgs {
            topics: s(&["t"]),
            allow_principals: s(&["User:alice"]),
            ..AclArgs::default()
        }
    }

    #[test]
    fn check_args_rules() {
        let ok = |args: &AclArgs, action| check_args(args, action);
        assert_eq!(ok(&alice_on_topic(), AclAction::Add), Ok(()));
        assert_eq!(
            ok(&alice_on_topic(), AclAction::List),
            Err("Option \"[list]\" can't be used with option \"[allow-principal]\"".into())
        );
        let producer_ops = AclArgs {
            producer: true,
            operations: s(&["Read"]),
            ..alice_on_topic()
        };
        assert_eq!(
            ok(&producer_ops, AclAction::Add),
            Err("Option \"[producer]\" can't be used with option \"[operation]\"".into())
        );
        let consumer_deny = AclArgs {
            consumer: true,
            groups: s(&["g"]),
            deny_hosts: s(&["h"]),
            ..alice_on_topic()
        };
        assert_eq!(
            ok(&consumer_deny, AclAction::Add),
            Err("Option \"[consumer]\" can't be used with option \"[deny-host]\"".into())
        );
        let listing = AclArgs {
            list_principals: s(&["User:a"]),
            ..AclArgs::default()
        };
        assert_eq!(ok(&listing, AclAction::List), Ok(()));
        assert_eq!(
            ok(&listing, AclAction::Remove),
            Err("The --principal option is only available if --list is set".into())
        );
        let producer = AclArgs {
            producer: true,
            topics: vec![],
            groups: s(&["g"]),
            ..alice_on_topic()
        };
        assert_eq!(
            ok(&producer, AclAction::Add),
            Err("With --producer you must specify a --topic".into())
        );
        let idempotent = AclArgs {
            idempotent: true,
            ..alice_on_topic()
        };
        assert_eq!(
            ok(&idempotent, AclAction::Add),
            Err("The --idempotent option is only available if --producer is set".into())
        );
        let consumer_msg = "With --consumer you must specify a --topic and a --group and no --cluster or \
                            --transactional-id option should be specified.";
        let consumer = AclArgs {
            consumer: true,
            ..alice_on_topic()
        };
        assert_eq!(ok(&consumer, AclAction::Add), Err(consumer_msg.into()));
        let consumer = AclArgs {
            consumer: true,
            groups: s(&["g"]),
            cluster: true,
            ..alice_on_topic()
        };
        assert_eq!(ok(&consumer, AclAction::Add), Err(consumer_msg.into()));
        assert_eq!(
            ok(
                &AclArgs {
                    producer: true,
                    ..consumer
                },
                AclAction::Add
            ),
            Ok(())
        );
    }

    #[test]
    fn pattern_type_argument() {
        assert_eq!(parse_pattern_type_arg("prefixed"), Ok(PatternType::Prefixed));
        assert_eq!(parse_pattern_type_arg("MATCH"), Ok(PatternType::Match));
        assert_eq!(
            parse_pattern_type_arg("unknown"),
            Err("Unknown resource-pattern-type: unknown".into())
        );
        assert!(parse_pattern_type_arg("regex").is_err());
    }
}
