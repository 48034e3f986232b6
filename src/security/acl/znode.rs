//! Kafka's ZooKeeper layout for ACLs (`ZkData.scala` ZkAclStore/ZkAclChangeStore, `AclEntry`):
//! resource znode paths, the `{"version":1,"acls":[...]}` payload, and the change-notification
//! payloads under `/kafka-acl-changes` (literal) and `/kafka-acl-extended-changes` (prefixed).
//!
//! Not here: ZooKeeper I/O, znode ACLs (`zookeeper.set.acl`) and purging old change nodes.
//! Resource names go into paths unescaped, exactly as Kafka does; a name containing `/` (legal
//! for groups and transactional ids) therefore fails at ZooKeeper, in Kafka and here alike.

use serde::Serialize;
use serde_json::{Map, Value};

use super::binding::{parse_principal, AccessControlEntry, ResourcePattern};
use super::types::{AclOperation, PatternType, PermissionType, ResourceType};

/// Root of literal patterns: `/kafka-acl/<Type>/<name>`.
pub const LITERAL_ACL_PATH: &str = "/kafka-acl";
/// Root of prefixed patterns: `/kafka-acl-extended/prefixed/<Type>/<prefix>`.
pub const PREFIXED_ACL_PATH: &str = "/kafka-acl-extended/prefixed";
/// Parent of literal change nodes (payload `TOPIC:name`).
pub const LITERAL_CHANGE_PATH: &str = "/kafka-acl-changes";
/// Parent of prefixed change nodes (JSON payload).
pub const EXTENDED_CHANGE_PATH: &str = "/kafka-acl-extended-changes";
/// Name prefix of the persistent-sequential change nodes.
pub const CHANGE_SEQUENCE_PREFIX: &str = "acl_changes_";

/// The stores a broker scans at start-up, with their roots (`ZkAclStore.stores`).
pub const STORES: [(PatternType, &str); 2] = [
    (PatternType::Literal, LITERAL_ACL_PATH),
    (PatternType::Prefixed, PREFIXED_ACL_PATH),
];

/// The store root for a specific pattern type; `None` for the filter-only types.
pub fn store_path(pattern_type: PatternType) -> Option<&'static str> {
    STORES.iter().find(|(p, _)| *p == pattern_type).map(|(_, path)| *path)
}

/// `ZkAclStore.path(resourceType)`: the parent of a type's resource znodes, e.g. `/kafka-acl/Topic`.
pub fn type_path(pattern_type: PatternType, resource_type: ResourceType) -> Option<String> {
    if resource_type == ResourceType::Any {
        return None;
    }
    Some(format!("{}/{}", store_path(pattern_type)?, resource_type.pascal_name()))
}

/// `ResourceZNode.path`: where a pattern's ACLs live; `None` for non-storable patterns.
pub fn resource_path(pattern: &ResourcePattern) -> Option<String> {
    Some(format!(
        "{}/{}",
        type_path(pattern.pattern_type, pattern.resource_type)?,
        pattern.name
    ))
}

/// Maps a child of a store root ("Topic", or any case of it) back to its type, as `loadCache`
/// does with `SecurityUtils.resourceType`; `None` for anything else, which Kafka skips.
pub fn parse_type_dir(child: &str) -> Option<ResourceType> {
    ResourceType::from_pascal_name(child).filter(|t| *t != ResourceType::Any)
}

/// `KafkaZkClient.createAclPaths`: every persistent path the authorizer creates at start-up.
pub fn paths_to_create() -> Vec<String> {
    let mut paths = Vec::new();
    for (pattern_type, root) in STORES {
        paths.push(root.to_string());
        paths.extend(
            ResourceType::CONCRETE
                .iter()
                .filter_map(|t| type_path(pattern_type, *t)),
        );
    }
    paths.push(LITERAL_CHANGE_PATH.to_string());
    paths.push(EXTENDED_CHANGE_PATH.to_string());
    paths
}

#[derive(Serialize)]
struct AclsJson<'a> {
    version: i32,
    acls: Vec<AclJson<'a>>,
}

// Field order is Kafka's (a Scala Map4 keeps insertion order).
#[derive(Serialize)]
struct AclJson<'a> {
    principal: &'a str,
    #[serde(rename = "permissionType")]
    permission_type: &'static str,
    operation: &'static str,
    host: &'a str,
}

/// `ResourceZNode.encode`: entries are written in the order given.
pub fn encode_acls(acls: &[AccessControlEntry]) -> Vec<u8> {
    let doc = AclsJson {
        version: 1,
        acls: acls
            .iter()
            .map(|a| AclJson {
                principal: &a.principal,
                permission_type: a.permission.pascal_name(),
                operation: a.operation.pascal_name(),
                host: &a.host,
            })
            .collect(),
    };
    // Serializing plain strings and integers into a Vec cannot fail.
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// `AclEntry.fromBytes`: empty data means no ACLs. Unlike Kafka, which loads unparseable JSON as
/// "no ACLs" and unknown operation/permission names as never-matching UNKNOWN entries, every
/// malformed document is an error so the caller can log it.
pub fn decode_acls(data: &[u8]) -> Result<Vec<AccessControlEntry>, String> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let doc: Value = serde_json::from_slice(data).map_err(|e| format!("invalid ACL JSON: {e}"))?;
    let doc = doc.as_object().ok_or("ACL JSON is not an object")?;
    match doc.get("version").map(|v| v.as_i64()) {
        Some(Some(1)) => {}
        Some(_) => return Err("unsupported ACL JSON version (expected 1)".into()),
        None => return Err("ACL JSON has no version".into()),
    }
    let items = doc
        .get("acls")
        .and_then(Value::as_array)
        .ok_or("ACL JSON has no acls array")?;
    items.iter().map(decode_acl).collect()
}

fn decode_acl(item: &Value) -> Result<AccessControlEntry, String> {
    let item = item.as_object().ok_or("ACL entry is not an object")?;
    let principal = string_field(item, "principal")?;
    parse_principal(principal)?;
    let permission = string_field(item, "permissionType")?;
    let permission = PermissionType::from_pascal_name(permission)
        .filter(|p| *p != PermissionType::Any)
        .ok_or_else(|| format!("invalid permissionType {permission:?}"))?;
    let host = string_field(item, "host")?;
    let operation = string_field(item, "operation")?;
    let operation = AclOperation::from_pascal_name(operation)
        .filter(|o| *o != AclOperation::Any)
        .ok_or_else(|| format!("invalid operation {operation:?}"))?;
    Ok(AccessControlEntry::new(principal, host, operation, permission))
}

fn string_field<'a>(item: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    item.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("ACL entry has no string {key:?}"))
}

/// The sequential-node path prefix and payload announcing a change to `pattern`
/// (`ZkAclChangeStore.createChangeNode`); `None` for non-storable patterns.
pub fn change_notification(pattern: &ResourcePattern) -> Option<(String, Vec<u8>)> {
    if pattern.resource_type == ResourceType::Any {
        return None;
    }
    match pattern.pattern_type {
        PatternType::Literal => Some((
            format!("{LITERAL_CHANGE_PATH}/{CHANGE_SEQUENCE_PREFIX}"),
            encode_literal_change(pattern),
        )),
        PatternType::Prefixed => Some((
            format!("{EXTENDED_CHANGE_PATH}/{CHANGE_SEQUENCE_PREFIX}"),
            encode_extended_change(pattern),
        )),
        PatternType::Any | PatternType::Match => None,
    }
}

/// `LiteralAclChangeStore.encode` as of 2.4: `TOPIC:name`, `TRANSACTIONAL_ID:name`, ...
pub fn encode_literal_change(pattern: &ResourcePattern) -> Vec<u8> {
    format!("{}:{}", pattern.resource_type.enum_name(), pattern.name).into_bytes()
}

#[derive(Serialize)]
struct ExtendedChange<'a> {
    version: i32,
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    name: &'a str,
    #[serde(rename = "patternType")]
    pattern_type: &'static str,
}

/// `ExtendedAclChangeStore.encode`: `{"version":1,"resourceType":"TOPIC","name":..,"patternType":"PREFIXED"}`.
pub fn encode_extended_change(pattern: &ResourcePattern) -> Vec<u8> {
    let event = ExtendedChange {
        version: 1,
        resource_type: pattern.resource_type.enum_name(),
        name: &pattern.name,
        pattern_type: pattern.pattern_type.enum_name(),
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

/// Decodes either store's change payload: `Topic:foo` (0.9–2.3), `TOPIC:foo` (2.4+), or the
/// extended JSON. Type names are accepted in either spelling and any case; `None` if unusable.
pub fn decode_change(data: &[u8]) -> Option<ResourcePattern> {
    // Java decodes with `new String(bytes, UTF_8)`, which substitutes U+FFFD.
    let text = String::from_utf8_lossy(data);
    if text.trim_start().starts_with('{') {
        return decode_extended_change(&text);
    }
    let (resource_type, name) = text.split_once(':')?;
    let resource_type = ResourceType::parse_lenient(resource_type).filter(|t| *t != ResourceType::Any)?;
    Some(ResourcePattern::literal(resource_type, name))
}

fn decode_extended_change(text: &str) -> Option<ResourcePattern> {
    let doc: Value = serde_json::from_str(text).ok()?;
    let doc = doc.as_object()?;
    // Kafka rejects versions above its own; a missing version reads as 0.
    if doc.get("version").map_or(Some(0), Value::as_i64)? > 1 {
        return None;
    }
    let field = |key: &str| doc.get(key).and_then(Value::as_str);
    let resource_type = ResourceType::parse_lenient(field("resourceType")?).filter(|t| *t != ResourceType::Any)?;
    let pattern_type = PatternType::parse_lenient(field("patternType")?).filter(|p| p.is_specific())?;
    Some(ResourcePattern::new(resource_type, field("name")?, pattern_type))
}

#[cfg(test)]
mod tests;
