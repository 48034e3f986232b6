//! `krab acls`: kafka-acls.sh. With `--authorizer-properties
//! zookeeper.connect=HOST:PORT` it reads and writes the ACL znodes and
//! their change notifications directly, as Kafka's tool did; with
//! `--bootstrap-server` (with `--command-config` for a secured listener) it uses CreateAcls,
//! DeleteAcls and DescribeAcls. The argument rules, the `--producer` and
//! `--consumer` shortcuts and the printed text are Kafka 2.8's
//! (`security::acl::command` and `output`). Not implemented: delegation
//! tokens as resources beyond listing what is stored.

use std::io::BufRead;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::KafkaLayout;
use crate::security::acl::command::{self, check_args, parse_pattern_type_arg, AclAction, AclArgs};
use crate::security::acl::output::{format_adding, format_list, group_by_resource};
use crate::security::acl::{
    delete_matching, AccessControlEntry, AclBinding, AclBindingFilter, AclCache, AclOperation, PatternType,
    PermissionType, ResourcePattern, ResourceType,
};

use super::client::Client;
use super::cluster::{connect_zookeeper, runtime};
use super::topics::kafka_error_name;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["add", "remove", "list"])))]
pub struct AclsArgs {
    /// Authorizer properties, KEY=VALUE (zookeeper.connect=HOST:PORT[/chroot]).
    #[arg(long, value_name = "PROP", num_args = 1..)]
    pub authorizer_properties: Vec<String>,
    /// Work through the brokers' Admin API instead: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Add ACLs.
    #[arg(long)]
    pub add: bool,
    /// Remove ACLs.
    #[arg(long)]
    pub remove: bool,
    /// List ACLs.
    #[arg(long)]
    pub list: bool,
    /// Topic resources (`*` for all).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Vec<String>,
    /// Consumer group resources (`*` for all).
    #[arg(long, value_name = "GROUP")]
    pub group: Vec<String>,
    /// The cluster resource.
    #[arg(long)]
    pub cluster: bool,
    /// Transactional id resources (`*` for all).
    #[arg(long, value_name = "ID")]
    pub transactional_id: Vec<String>,
    /// Delegation token resources (`*` for all).
    #[arg(long, value_name = "TOKEN")]
    pub delegation_token: Vec<String>,
    /// literal (default) or prefixed; --list and --remove also take any and match.
    #[arg(long, value_name = "TYPE")]
    pub resource_pattern_type: Option<String>,
    /// Principal to allow, e.g. User:alice.
    #[arg(long, value_name = "PRINCIPAL")]
    pub allow_principal: Vec<String>,
    /// Principal to deny, e.g. User:mallory.
    #[arg(long, value_name = "PRINCIPAL")]
    pub deny_principal: Vec<String>,
    /// Hosts the allow applies to (default `*`).
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Hosts the deny applies to (default `*`).
    #[arg(long, value_name = "HOST")]
    pub deny_host: Vec<String>,
    /// Operations: Read, Write, Create, Delete, Alter, Describe, ClusterAction,
    /// DescribeConfigs, AlterConfigs, IdempotentWrite, All (default All).
    #[arg(long, value_name = "OPERATION")]
    pub operation: Vec<String>,
    /// Shortcut: Write, Describe and Create on the topics.
    #[arg(long)]
    pub producer: bool,
    /// Shortcut: Read and Describe on the topics, Read on the group.
    #[arg(long)]
    pub consumer: bool,
    /// With --producer: IdempotentWrite on the cluster.
    #[arg(long)]
    pub idempotent: bool,
    /// With --list: only this principal's ACLs.
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
    /// Remove without asking.
    #[arg(long)]
    pub force: bool,
}

fn acl_args(args: &AclsArgs) -> Result<AclArgs, String> {
    let pattern_type = match &args.resource_pattern_type {
        Some(v) => parse_pattern_type_arg(v)?,
        None => PatternType::Literal,
    };
    Ok(AclArgs {
        topics: args.topic.clone(),
        groups: args.group.clone(),
        cluster: args.cluster,
        transactional_ids: args.transactional_id.clone(),
        delegation_tokens: args.delegation_token.clone(),
        pattern_type,
        allow_principals: args.allow_principal.clone(),
        deny_principals: args.deny_principal.clone(),
        allow_hosts: args.allow_host.clone(),
        deny_hosts: args.deny_host.clone(),
        operations: args.operation.clone(),
        producer: args.producer,
        consumer: args.consumer,
        idempotent: args.idempotent,
        list_principals: args.principal.clone(),
    })
}

/// Where the ACLs are read and written.
enum Target {
    ZooKeeper(tokio::runtime::Runtime, KafkaLayout),
    Brokers(Client),
}

pub fn run(args: &AclsArgs) -> Result<String, String> {
    let action = if args.add {
        AclAction::Add
    } else if args.remove {
        AclAction::Remove
    } else {
        AclAction::List
    };
    let acl = acl_args(args)?;
    check_args(&acl, action)?;
    // Every argument error is reported before anything is contacted.
    let additions = match action {
        AclAction::Add => command::acls_to_add(&acl)?,
        _ => Vec::new(),
    };
    let removals = match action {
        AclAction::Remove => command::removals_for(&acl)?,
        _ => Vec::new(),
    };
    let principals = command::list_principals(&acl)?;
    let zk = args
        .authorizer_properties
        .iter()
        .find_map(|p| p.strip_prefix("zookeeper.connect="))
        .map(str::to_string);
    let mut target = match (&zk, &args.bootstrap_server) {
        (Some(_), Some(_)) => {
            return Err("Only one of --bootstrap-server or --authorizer-properties must be specified".into())
        }
        (Some(connect), None) => {
            let rt = runtime()?;
            let layout = connect_zookeeper(&rt, connect)?;
            Target::ZooKeeper(rt, layout)
        }
        (None, Some(bootstrap)) => Target::Brokers(Client::connect(bootstrap)?),
        (None, None) => return Err("One of --bootstrap-server or --authorizer-properties must be specified".into()),
    };
    let mut out = String::new();
    for (pattern, entries) in additions {
        out.push_str(&format_adding(&pattern, &entries));
        add(&mut target, &pattern, &entries)?;
    }
    for removal in removals {
        if !args.force && !confirm(&removal.confirm_prompt())? {
            continue;
        }
        remove(&mut target, &removal.binding_filters())?;
    }
    let listed = list(&mut target, &command::filters_for(&acl))?;
    out.push_str(&format_list(&group_by_resource(listed), &principals));
    // Kafka's blocks end with a blank line; the caller's println adds the last newline.
    Ok(out.strip_suffix('\n').unwrap_or(&out).to_string())
}

fn confirm(prompt: &str) -> Result<bool, String> {
    print!("{prompt}");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim().eq_ignore_ascii_case("y"))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Adds `entries` to one resource: one znode write and one change
/// notification, as Kafka's tool writes them.
fn add(target: &mut Target, pattern: &ResourcePattern, entries: &[AccessControlEntry]) -> Result<(), String> {
    match target {
        Target::ZooKeeper(rt, layout) => rt.block_on(async {
            layout
                .update_acls(pattern, |current| {
                    let mut next = current.to_vec();
                    for entry in entries {
                        if !next.contains(entry) {
                            next.push(entry.clone());
                        }
                    }
                    next
                })
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }),
        Target::Brokers(client) => {
            let bindings: Vec<AclBinding> = entries
                .iter()
                .map(|e| AclBinding::new(pattern.clone(), e.clone()))
                .collect();
            let creations = bindings
                .iter()
                .map(|b| {
                    AclCreation::default()
                        .with_resource_type(b.pattern.resource_type.code())
                        .with_resource_name(str_bytes(&b.pattern.name))
                        .with_resource_pattern_type(b.pattern.pattern_type.code())
                        .with_principal(str_bytes(&b.entry.principal))
                        .with_host(str_bytes(&b.entry.host))
                        .with_operation(b.entry.operation.code())
                        .with_permission_type(b.entry.permission.code())
                })
                .collect();
            let response = client.send(&CreateAclsRequest::default().with_creations(creations), 2)?;
            for r in &response.results {
                if r.error_code != 0 {
                    return Err(format!(
                        "Error while executing ACL command: {} {}",
                        kafka_error_name(r.error_code),
                        r.error_message.as_deref().unwrap_or("")
                    ));
                }
            }
            Ok(())
        }
    }
}

fn remove(target: &mut Target, filters: &[AclBindingFilter]) -> Result<(), String> {
    match target {
        Target::ZooKeeper(rt, layout) => rt.block_on(async {
            let cache = stored(layout).await?;
            for pattern in cache.delete_candidates(filters) {
                layout
                    .update_acls(&pattern, |current| delete_matching(&pattern, current, filters).0)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }),
        Target::Brokers(client) => {
            let wire = filters.iter().map(wire_delete_filter).collect();
            let response = client.send(&DeleteAclsRequest::default().with_filters(wire), 2)?;
            for r in &response.filter_results {
                if r.error_code != 0 {
                    return Err(format!(
                        "Error while executing ACL command: {} {}",
                        kafka_error_name(r.error_code),
                        r.error_message.as_deref().unwrap_or("")
                    ));
                }
            }
            Ok(())
        }
    }
}

fn wire_delete_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    DeleteAclsFilter::default()
        .with_resource_type_filter(f.pattern_filter.resource_type.code())
        .with_resource_name_filter(f.pattern_filter.name.as_deref().map(str_bytes))
        .with_pattern_type_filter(f.pattern_filter.pattern_type.code())
        .with_principal_filter(f.entry_filter.principal.as_deref().map(str_bytes))
        .with_host_filter(f.entry_filter.host.as_deref().map(str_bytes))
        .with_operation(f.entry_filter.operation.code())
        .with_permission_type(f.entry_filter.permission.code())
}

async fn stored(layout: &KafkaLayout) -> Result<AclCache, String> {
    let (found, malformed) = layout.load_acls().await.map_err(|e| e.to_string())?;
    for (path, reason) in malformed {
        eprintln!("Ignoring malformed ACL znode {path}: {reason}");
    }
    let mut cache = AclCache::new();
    for (pattern, entries) in found {
        cache.set(pattern, entries);
    }
    Ok(cache)
}

fn list(target: &mut Target, filters: &[AclBindingFilter]) -> Result<Vec<AclBinding>, String> {
    match target {
        Target::ZooKeeper(rt, layout) => rt.block_on(async {
            let cache = stored(layout).await?;
            Ok(filters.iter().flat_map(|f| cache.acls(f)).collect())
        }),
        Target::Brokers(client) => {
            let mut out = Vec::new();
            for f in filters {
                let request = DescribeAclsRequest::default()
                    .with_resource_type_filter(f.pattern_filter.resource_type.code())
                    .with_resource_name_filter(f.pattern_filter.name.as_deref().map(str_bytes))
                    .with_pattern_type_filter(f.pattern_filter.pattern_type.code())
                    .with_principal_filter(f.entry_filter.principal.as_deref().map(str_bytes))
                    .with_host_filter(f.entry_filter.host.as_deref().map(str_bytes))
                    .with_operation(f.entry_filter.operation.code())
                    .with_permission_type(f.entry_filter.permission.code());
                let response = client.send(&request, 2)?;
                if response.error_code != 0 {
                    return Err(format!(
                        "Error while executing ACL command: {} {}",
                        kafka_error_name(response.error_code),
                        response.error_message.as_deref().unwrap_or("")
                    ));
                }
                for resource in response.resources {
                    let (Some(rt), Some(pt)) = (
                        ResourceType::from_code(resource.resource_type),
                        PatternType::from_code(resource.pattern_type),
                    ) else {
                        continue;
                    };
                    let pattern = ResourcePattern::new(rt, resource.resource_name.to_string(), pt);
                    for acl in resource.acls {
                        let (Some(op), Some(perm)) = (
                            AclOperation::from_code(acl.operation),
                            PermissionType::from_code(acl.permission_type),
                        ) else {
                            continue;
                        };
                        let entry = AccessControlEntry::new(acl.principal.to_string(), acl.host.to_string(), op, perm);
                        out.push(AclBinding::new(pattern.clone(), entry));
                    }
                }
            }
            Ok(out)
        }
    }
}
