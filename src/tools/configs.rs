//! `krab configs`: kafka-configs.sh for topics and brokers. With
//! `--zookeeper` it reads and writes `/config/topics/<t>` and
//! `/config/brokers/<id|<default>>` with their `/config/changes`
//! notifications, as Kafka's tool did; with `--bootstrap-server` it uses
//! DescribeConfigs and IncrementalAlterConfigs. Values are checked with the
//! brokers' own rules before anything is written, and a refused change
//! writes nothing. Output lines are Kafka 2.8's.
//! Users (SCRAM credentials) are in `configs_users`. Not implemented:
//! quotas (the clients and ips entity types, quota keys on users).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::broker::dynamic_config;
use crate::broker::topic_rules::validate_topic_config;
use crate::metadata::layout_admin::BROKER_DEFAULT_ENTITY;
use crate::metadata::KafkaLayout;

use super::client::Client;
use super::cluster::{connect_zookeeper, runtime};
use super::topics::kafka_error_name;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["bootstrap_server", "zookeeper"])))]
#[command(group(clap::ArgGroup::new("action").required(true).args(["describe", "alter"])))]
pub struct ConfigsArgs {
    /// The brokers to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: Option<String>,
    /// Work on ZooKeeper's znodes directly, as Kafka's tool did: HOST:PORT[/chroot].
    #[arg(long, value_name = "HOST:PORT")]
    pub zookeeper: Option<String>,
    /// List the configs of the entity.
    #[arg(long)]
    pub describe: bool,
    /// Change the configs of the entity.
    #[arg(long)]
    pub alter: bool,
    /// topics, brokers or users.
    #[arg(long, value_name = "TYPE")]
    pub entity_type: Option<String>,
    /// The topic name, broker id or user name.
    #[arg(long, value_name = "NAME")]
    pub entity_name: Option<String>,
    /// The cluster-wide default of the entity type (brokers).
    #[arg(long)]
    pub entity_default: bool,
    /// Shortcut for --entity-type topics --entity-name TOPIC.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Shortcut for --entity-type brokers --entity-name ID.
    #[arg(long, value_name = "ID")]
    pub broker: Option<String>,
    /// Shortcut for --entity-type brokers --entity-default.
    #[arg(long)]
    pub broker_defaults: bool,
    /// Configs to set: k1=v1,k2=[v2,v3].
    #[arg(long, value_name = "CONFIGS")]
    pub add_config: Option<String>,
    /// Config names to remove: k1,k2.
    #[arg(long, value_name = "NAMES")]
    pub delete_config: Option<String>,
    /// With --describe and --bootstrap-server: every config, not only dynamic ones.
    #[arg(long)]
    pub all: bool,
}

/// What the command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    Topic(String),
    /// A broker id, or `<default>`.
    Broker(String),
}

impl Entity {
    /// Kafka's `ConfigEntity.toString`.
    fn describe(&self) -> String {
        match self {
            Entity::Topic(t) => format!("topic '{t}'"),
            Entity::Broker(b) if b == BROKER_DEFAULT_ENTITY => "default brokers".into(),
            Entity::Broker(b) => format!("brokers '{b}'"),
        }
    }
}

fn entity(args: &ConfigsArgs) -> Result<Entity, String> {
    if let Some(t) = &args.topic {
        return Ok(Entity::Topic(t.clone()));
    }
    if let Some(b) = &args.broker {
        return Ok(Entity::Broker(b.clone()));
    }
    if args.broker_defaults {
        return Ok(Entity::Broker(BROKER_DEFAULT_ENTITY.into()));
    }
    let kind = args
        .entity_type
        .as_deref()
        .ok_or("--entity-type (topics or brokers) is required")?;
    match (kind, &args.entity_name, args.entity_default) {
        ("topics", Some(name), false) => Ok(Entity::Topic(name.clone())),
        ("topics", _, _) => Err("--entity-name is required with --entity-type topics".into()),
        ("brokers", Some(id), false) => {
            id.parse::<u32>()
                .map_err(|_| format!("The entity name for brokers must be a valid integer broker id, got {id}"))?;
            Ok(Entity::Broker(id.clone()))
        }
        ("brokers", None, true) => Ok(Entity::Broker(BROKER_DEFAULT_ENTITY.into())),
        ("brokers", _, _) => {
            Err("one of --entity-name or --entity-default is required with --entity-type brokers".into())
        }
        ("clients" | "ips", _, _) => Err(format!("entity type {kind} is not supported by krab yet")),
        (other, _, _) => Err(format!(
            "Invalid entity type {other}, the entity type must be one of topics, brokers, users"
        )),
    }
}

/// `k1=v1,k2=[v2,v3]`: commas inside brackets belong to the value.
pub fn parse_add_config(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let mut items = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            format!("Invalid entity config: all configs to be added must be in the format \"key=val\", got {item:?}")
        })?;
        let v = v.trim();
        let v = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(v);
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

fn delete_list(args: &ConfigsArgs) -> Vec<String> {
    args.delete_config
        .as_deref()
        .map(|d| {
            d.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn run(args: &ConfigsArgs) -> Result<String, String> {
    if args.entity_type.as_deref() == Some("users") {
        let add = args
            .add_config
            .as_deref()
            .map(parse_add_config)
            .transpose()?
            .unwrap_or_default();
        if args.alter && add.is_empty() && args.delete_config.is_none() {
            return Err("--alter needs --add-config or --delete-config".into());
        }
        return super::configs_users::run(
            args.zookeeper.as_deref(),
            args.bootstrap_server.as_deref(),
            args.entity_name.as_deref(),
            args.alter,
            &add,
            &delete_list(args),
        );
    }
    let entity = entity(args)?;
    let add = args
        .add_config
        .as_deref()
        .map(parse_add_config)
        .transpose()?
        .unwrap_or_default();
    let delete = delete_list(args);
    if args.alter && add.is_empty() && delete.is_empty() {
        return Err("--alter needs --add-config or --delete-config".into());
    }
    if let Some(k) = delete.iter().find(|k| add.contains_key(*k)) {
        return Err(format!("Invalid config(s): {k} is both added and deleted"));
    }
    match (&args.zookeeper, &args.bootstrap_server) {
        (Some(zk), _) => with_zookeeper(zk, &entity, args.alter, add, delete),
        (None, Some(bootstrap)) => {
            let mut client = Client::connect(bootstrap)?;
            if args.alter {
                alter_with_broker(&mut client, &entity, add, delete)
            } else {
                describe_with_broker(&mut client, &entity, args.all)
            }
        }
        (None, None) => Err("one of --zookeeper or --bootstrap-server is required".into()),
    }
}

fn with_zookeeper(
    connect: &str,
    entity: &Entity,
    alter: bool,
    add: BTreeMap<String, String>,
    delete: Vec<String>,
) -> Result<String, String> {
    let rt = runtime()?;
    let layout = connect_zookeeper(&rt, connect)?;
    rt.block_on(async {
        if !alter {
            let current = stored_config(&layout, entity).await?;
            let listed: Vec<String> = current.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return Ok(format!("Configs for {} are {}", entity.describe(), listed.join(",")));
        }
        let current = stored_config(&layout, entity).await?;
        if let Some(missing) = delete.iter().find(|k| !current.contains_key(*k)) {
            return Err(format!("Invalid config(s): {missing}"));
        }
        alter_in_zookeeper(&layout, entity, add, &delete).await?;
        Ok(format!("Completed updating config for entity: {}.", entity.describe()))
    })
}

async fn stored_config(layout: &KafkaLayout, entity: &Entity) -> Result<BTreeMap<String, String>, String> {
    match entity {
        Entity::Topic(t) => {
            if layout.topic_assignment(t).await.map_err(|e| e.to_string())?.is_none() {
                return Err(format!("Topic {t} does not exist"));
            }
            Ok(layout
                .topic_config(t)
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default())
        }
        Entity::Broker(b) => layout.broker_config(b).await.map_err(|e| e.to_string()),
    }
}

/// Sets `add` and removes `delete` (absent keys are no error) in the
/// entity's znode, validated as the brokers validate, with a notification.
pub async fn alter_in_zookeeper(
    layout: &KafkaLayout,
    entity: &Entity,
    add: BTreeMap<String, String>,
    delete: &[String],
) -> Result<(), String> {
    let mut current = stored_config(layout, entity).await?;
    current.extend(add);
    current.retain(|k, _| !delete.contains(k));
    match entity {
        Entity::Topic(t) => {
            validate_topic_config(&current).map_err(|e| e.to_string())?;
            layout.change_topic_config(t, &current).await.map_err(|e| e.to_string())
        }
        Entity::Broker(b) => {
            dynamic_config::validate(b, &current).map_err(|(_, m)| m)?;
            layout
                .change_broker_config(b, &current)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

fn resource(entity: &Entity) -> (i8, String) {
    match entity {
        Entity::Topic(t) => (2, t.clone()),
        Entity::Broker(b) if b == BROKER_DEFAULT_ENTITY => (4, String::new()),
        Entity::Broker(b) => (4, b.clone()),
    }
}

fn alter_with_broker(
    client: &mut Client,
    entity: &Entity,
    add: BTreeMap<String, String>,
    delete: Vec<String>,
) -> Result<String, String> {
    alter_through_broker(client, entity, &add, &delete)?;
    Ok(match entity {
        Entity::Topic(t) => format!("Completed updating config for topic {t}."),
        Entity::Broker(b) if b == BROKER_DEFAULT_ENTITY => {
            "Completed updating default config for brokers in the cluster.".into()
        }
        Entity::Broker(b) => format!("Completed updating config for broker {b}."),
    })
}

/// IncrementalAlterConfigs SET `add` and DELETE `delete` on the entity.
pub fn alter_through_broker(
    client: &mut Client,
    entity: &Entity,
    add: &BTreeMap<String, String>,
    delete: &[String],
) -> Result<(), String> {
    let (kind, name) = resource(entity);
    let mut ops: Vec<AlterableConfig> = add
        .iter()
        .map(|(k, v)| {
            AlterableConfig::default()
                .with_name(StrBytes::from_string(k.clone()))
                .with_config_operation(0)
                .with_value(Some(StrBytes::from_string(v.clone())))
        })
        .collect();
    ops.extend(delete.iter().map(|k| {
        AlterableConfig::default()
            .with_name(StrBytes::from_string(k.clone()))
            .with_config_operation(1)
    }));
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(StrBytes::from_string(name))
        .with_configs(ops)]);
    let response = client.send(&request, 1)?;
    let r = response.responses.first().ok_or("the broker answered no resource")?;
    if r.error_code != 0 {
        let message = r.error_message.as_deref().unwrap_or("");
        return Err(format!(
            "Error while executing config command with args: {} ({message})",
            kafka_error_name(r.error_code)
        ));
    }
    Ok(())
}

const SOURCE_NAMES: [&str; 7] = [
    "UNKNOWN",
    "DYNAMIC_TOPIC_CONFIG",
    "DYNAMIC_BROKER_CONFIG",
    "DYNAMIC_DEFAULT_BROKER_CONFIG",
    "STATIC_BROKER_CONFIG",
    "DEFAULT_CONFIG",
    "DYNAMIC_BROKER_LOGGER_CONFIG",
];

fn source_name(source: i8) -> &'static str {
    SOURCE_NAMES
        .get(usize::try_from(source).unwrap_or(0))
        .copied()
        .unwrap_or("UNKNOWN")
}

fn describe_with_broker(client: &mut Client, entity: &Entity, all: bool) -> Result<String, String> {
    let (kind, name) = resource(entity);
    let request = DescribeConfigsRequest::default()
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(StrBytes::from_string(name))
            .with_configuration_keys(None)])
        .with_include_synonyms(true);
    let response = client.send(&request, 1)?;
    let r = response.results.first().ok_or("the broker answered no resource")?;
    if r.error_code != 0 {
        return Err(format!(
            "Error while executing config command: {} {}",
            kafka_error_name(r.error_code),
            r.error_message.as_deref().unwrap_or("")
        ));
    }
    // Without --all, only what was set for this entity (Kafka's "Dynamic configs").
    let own_source = match entity {
        Entity::Topic(_) => 1,
        Entity::Broker(b) if b == BROKER_DEFAULT_ENTITY => 3,
        Entity::Broker(_) => 2,
    };
    let heading = match entity {
        Entity::Topic(t) => format!("{} configs for topic {t} are:", if all { "All" } else { "Dynamic" }),
        Entity::Broker(b) if b == BROKER_DEFAULT_ENTITY => "Default configs for brokers in the cluster are:".into(),
        Entity::Broker(b) => format!("{} configs for broker {b} are:", if all { "All" } else { "Dynamic" }),
    };
    let mut lines = vec![heading];
    for c in r.configs.iter().filter(|c| all || c.config_source == own_source) {
        let synonyms: Vec<String> = c
            .synonyms
            .iter()
            .map(|s| {
                format!(
                    "{}:{}={}",
                    source_name(s.source),
                    s.name.as_str(),
                    s.value.as_deref().unwrap_or("null")
                )
            })
            .collect();
        lines.push(format!(
            "  {}={} sensitive={} synonyms={{{}}}",
            c.name.as_str(),
            c.value.as_deref().unwrap_or("null"),
            c.is_sensitive,
            synonyms.join(", ")
        ));
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_keeps_bracketed_lists() {
        let parsed = parse_add_config("retention.ms=1000,cleanup.policy=[compact,delete], segment.bytes=2048").unwrap();
        assert_eq!(parsed["retention.ms"], "1000");
        assert_eq!(parsed["cleanup.policy"], "compact,delete");
        assert_eq!(parsed["segment.bytes"], "2048");
        assert!(parse_add_config("novalue").is_err());
    }
}
