//! Encoders and lenient decoders for the JSON Kafka (ZooKeeper mode) stores in znodes.
//!
//! Writers produce exactly Kafka's key sets (see kafka/zk/ZkData.scala); readers ignore
//! unknown keys, accept numbers written as strings and vice versa, and report problems
//! as a reason string instead of panicking.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A live broker as read from /brokers/ids/<id>.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    /// Top-level "host"/"port", or the first PLAINTEXT endpoint when those are unset.
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
    /// As registered, e.g. "PLAINTEXT://host:9092".
    pub endpoints: Vec<String>,
}

/// Leader and ISR of one partition: /brokers/topics/<t>/partitions/<p>/state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    /// -1 when there is no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub controller_epoch: i32,
}

const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Listener names that are not a security protocol name are plaintext listeners in krab.
fn security_protocol(listener_name: &str) -> &'static str {
    SECURITY_PROTOCOLS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(listener_name))
        .copied()
        .unwrap_or("PLAINTEXT")
}

/// "host:port", with brackets around IPv6 literals (Kafka's Utils.formatAddress).
pub fn format_address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits "NAME://host:port" (host may be a bracketed IPv6 literal).
pub fn parse_endpoint(endpoint: &str) -> Option<(&str, &str, u16)> {
    let (name, address) = endpoint.split_once("://")?;
    let (host, port) = address.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some((name, host, port.parse().ok()?))
}

/// /brokers/ids/<id> version 4. Top-level host/port are always filled (pykafka and
/// KafkaOffsetMonitor read only those): the first plaintext endpoint, else the first one.
pub fn broker_registration(
    endpoints: &[(&str, &str, u16)],
    rack: Option<&str>,
    timestamp_ms: i64,
) -> Result<Vec<u8>, String> {
    let protocols: Vec<(&str, &str)> = endpoints
        .iter()
        .map(|(name, _, _)| (*name, security_protocol(name)))
        .collect();
    broker_registration_with_protocols(endpoints, &protocols, rack, timestamp_ms)
}

/// As [`broker_registration`], with each listener's security protocol
/// given (`listener.security.protocol.map`); a listener missing from
/// `protocols` is taken by its name.
pub fn broker_registration_with_protocols(
    endpoints: &[(&str, &str, u16)],
    protocols: &[(&str, &str)],
    rack: Option<&str>,
    timestamp_ms: i64,
) -> Result<Vec<u8>, String> {
    let protocol_of = |name: &str| -> String {
        protocols
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| security_protocol(name).to_string(), |(_, p)| p.to_string())
    };
    let (_, host, port) = endpoints
        .iter()
        .find(|(name, _, _)| protocol_of(name) == "PLAINTEXT")
        .or_else(|| endpoints.first())
        .copied()
        .ok_or("a broker needs at least one endpoint")?;
    let protocol_map: Map<String, Value> = endpoints
        .iter()
        .map(|(name, _, _)| (name.to_string(), Value::from(protocol_of(name))))
        .collect();
    let endpoint_urls: Vec<String> = endpoints
        .iter()
        .map(|(name, host, port)| format!("{name}://{}", format_address(host, *port)))
        .collect();
    let mut registration = json!({
        "listener_security_protocol_map": protocol_map,
        "endpoints": endpoint_urls,
        "jmx_port": -1,
        "host": host,
        "timestamp": timestamp_ms.to_string(),
        "port": port,
        "version": 4,
    });
    if let (Some(rack), Some(object)) = (rack, registration.as_object_mut()) {
        object.insert("rack".into(), rack.into());
    }
    Ok(registration.to_string().into_bytes())
}

fn parse_object(data: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// An integer written as a JSON number or as a decimal string.
fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn int_field(object: &Map<String, Value>, key: &str) -> Result<i64, String> {
    object
        .get(key)
        .and_then(as_i64)
        .ok_or_else(|| format!("missing or non-integer \"{key}\""))
}

fn i32_field(object: &Map<String, Value>, key: &str) -> Result<i32, String> {
    i32::try_from(int_field(object, key)?).map_err(|_| format!("\"{key}\" out of range"))
}

fn int_list(value: &Value) -> Option<Vec<i32>> {
    value
        .as_array()?
        .iter()
        .map(|v| as_i64(v).and_then(|n| i32::try_from(n).ok()))
        .collect()
}

pub fn parse_broker(id: i32, data: &[u8]) -> Result<BrokerInfo, String> {
    let object = parse_object(data)?;
    let version = int_field(&object, "version")?;
    if version < 1 {
        return Err(format!("unsupported broker registration version {version}"));
    }
    let endpoints: Vec<String> = object
        .get("endpoints")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let rack = object.get("rack").and_then(Value::as_str).map(str::to_owned);
    let top_level_host = object.get("host").and_then(Value::as_str).filter(|h| !h.is_empty());
    let top_level_port = object
        .get("port")
        .and_then(as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    let (host, port) = match (top_level_host, top_level_port) {
        (Some(host), Some(port)) => (host.to_owned(), port),
        _ => {
            let protocol_map = object.get("listener_security_protocol_map").and_then(Value::as_object);
            let protocol_of = |name: &str| match protocol_map.and_then(|m| m.get(name)).and_then(Value::as_str) {
                Some(protocol) => protocol.to_owned(),
                None => name.to_owned(),
            };
            let parsed: Vec<_> = endpoints.iter().filter_map(|e| parse_endpoint(e)).collect();
            let (_, host, port) = parsed
                .iter()
                .find(|(name, _, _)| protocol_of(name) == "PLAINTEXT")
                .or_else(|| parsed.first())
                .ok_or("no host/port and no usable endpoint")?;
            (host.to_string(), *port)
        }
    };
    Ok(BrokerInfo {
        id,
        host,
        port,
        rack,
        endpoints,
    })
}

/// /controller: `{"version":1,"brokerid":1,"timestamp":"<ms>"}`.
pub fn controller(broker_id: i32, timestamp_ms: i64) -> Vec<u8> {
    json!({"version": 1, "brokerid": broker_id, "timestamp": timestamp_ms.to_string()})
        .to_string()
        .into_bytes()
}

/// Accepts the JSON form and the bare integer very old brokers wrote.
pub fn parse_controller(data: &[u8]) -> Result<i32, String> {
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(object)) => i32_field(&object, "brokerid"),
        Ok(bare) => as_i64(&bare)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| "not a broker id".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

/// Plain decimal integers: /controller_epoch and consumer offsets.
pub fn parse_decimal(data: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_owned())?;
    text.trim()
        .parse()
        .map_err(|_| format!("not a decimal integer: {text:?}"))
}

/// /cluster/id: `{"version":"1","id":"<22 chars>"}` (version is a string in Kafka).
pub fn cluster_id(id: &str) -> Vec<u8> {
    json!({"version": "1", "id": id}).to_string().into_bytes()
}

pub fn parse_cluster_id(data: &[u8]) -> Result<String, String> {
    let object = parse_object(data)?;
    object
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "missing \"id\"".into())
}

/// /brokers/topics/<t>: `{"version":1,"partitions":{"0":[1,2]}}`.
pub fn topic_assignment(assignment: &BTreeMap<i32, Vec<i32>>) -> Vec<u8> {
    json!({"version": 1, "partitions": partitions_value(assignment)})
        .to_string()
        .into_bytes()
}

fn partitions_value(assignment: &BTreeMap<i32, Vec<i32>>) -> Value {
    Value::Object(
        assignment
            .iter()
            .map(|(p, replicas)| (p.to_string(), json!(replicas)))
            .collect(),
    )
}

/// Replaces "partitions" and keeps every other key (e.g. Kafka 2.8's "topic_id").
pub fn replace_partitions(existing: &[u8], assignment: &BTreeMap<i32, Vec<i32>>) -> Vec<u8> {
    match parse_object(existing) {
        Ok(mut object) => {
            object.insert("partitions".into(), partitions_value(assignment));
            Value::Object(object).to_string().into_bytes()
        }
        Err(_) => topic_assignment(assignment),
    }
}

pub fn parse_topic_assignment(data: &[u8]) -> Result<BTreeMap<i32, Vec<i32>>, String> {
    let object = parse_object(data)?;
    let partitions = object
        .get("partitions")
        .and_then(Value::as_object)
        .ok_or("missing \"partitions\" object")?;
    partitions
        .iter()
        .map(|(key, replicas)| {
            let partition = key
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("partition key {key:?} is not a number"))?;
            let replicas = int_list(replicas).ok_or_else(|| format!("replicas of partition {key} are not integers"))?;
            Ok((partition, replicas))
        })
        .collect()
}

/// /config/topics/<t> (and /config/clients etc.): `{"version":1,"config":{"k":"v"}}`.
pub fn entity_config(config: &BTreeMap<String, String>) -> Vec<u8> {
    json!({"version": 1, "config": config}).to_string().into_bytes()
}

pub fn parse_entity_config(data: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let object = parse_object(data)?;
    let Some(config) = object.get("config") else {
        return Ok(BTreeMap::new());
    };
    let config = config.as_object().ok_or("\"config\" is not an object")?;
    Ok(config
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect())
}

/// `{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`.
pub fn partition_state(state: &PartitionState) -> Vec<u8> {
    json!({
        "controller_epoch": state.controller_epoch,
        "leader": state.leader,
        "version": 1,
        "leader_epoch": state.leader_epoch,
        "isr": state.isr,
    })
    .to_string()
    .into_bytes()
}

pub fn parse_partition_state(data: &[u8]) -> Result<PartitionState, String> {
    let object = parse_object(data)?;
    Ok(PartitionState {
        leader: i32_field(&object, "leader")?,
        leader_epoch: i32_field(&object, "leader_epoch")?,
        isr: object
            .get("isr")
            .and_then(int_list)
            .ok_or("missing or non-integer \"isr\"")?,
        controller_epoch: i32_field(&object, "controller_epoch")?,
    })
}

/// /latest_producer_id_block: `{"version":1,"broker":1,"block_start":"0","block_end":"999"}`.
pub fn producer_id_block(broker_id: i32, start: i64, end_inclusive: i64) -> Vec<u8> {
    json!({
        "version": 1,
        "broker": broker_id,
        "block_start": start.to_string(),
        "block_end": end_inclusive.to_string(),
    })
    .to_string()
    .into_bytes()
}

pub fn parse_producer_id_block_end(data: &[u8]) -> Result<i64, String> {
    int_field(&parse_object(data)?, "block_end")
}

#[cfg(test)]
#[path = "kafka_json_tests.rs"]
mod tests;

/// `{"version":1,"partitions":[{"topic":"t","partition":0},...]}`, the
/// format of /admin/preferred_replica_election and Kafka's election JSON files.
pub fn partition_list(partitions: &[(String, i32)]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = partitions
        .iter()
        .map(|(topic, partition)| serde_json::json!({"topic": topic, "partition": partition}))
        .collect();
    serde_json::json!({"version": 1, "partitions": list})
        .to_string()
        .into_bytes()
}

pub fn parse_partition_list(data: &[u8]) -> Result<Vec<(String, i32)>, String> {
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
    let list = value
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or("no \"partitions\" list")?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let topic = item
            .get("topic")
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("entry without a topic: {item}"))?;
        let partition = item
            .get("partition")
            .and_then(|p| p.as_i64())
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p >= 0)
            .ok_or_else(|| format!("entry without a valid partition: {item}"))?;
        if out.iter().any(|(t, p)| t == topic && *p == partition) {
            return Err(format!("partition {topic}-{partition} is listed twice"));
        }
        out.push((topic.to_string(), partition));
    }
    Ok(out)
}

/// One partition's target replicas in a reassignment.
pub type Reassignment = BTreeMap<(String, i32), Vec<i32>>;

/// `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]},...]}`, the
/// format of /admin/reassign_partitions and kafka-reassign-partitions.sh's files.
pub fn reassignment(partitions: &Reassignment) -> Vec<u8> {
    let list: Vec<serde_json::Value> = partitions
        .iter()
        .map(|((topic, partition), replicas)| {
            serde_json::json!({"topic": topic, "partition": partition, "replicas": replicas})
        })
        .collect();
    serde_json::json!({"version": 1, "partitions": list})
        .to_string()
        .into_bytes()
}

/// Parses a reassignment; every entry needs a topic, a partition and a
/// non-empty list of distinct broker ids (`log_dirs`, if present, is ignored).
pub fn parse_reassignment(data: &[u8]) -> Result<Reassignment, String> {
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
    let list = value
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or("no \"partitions\" list")?;
    let mut out = Reassignment::new();
    for item in list {
        let topic = item
            .get("topic")
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("entry without a topic: {item}"))?;
        let partition = item
            .get("partition")
            .and_then(|p| p.as_i64())
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p >= 0)
            .ok_or_else(|| format!("entry without a valid partition: {item}"))?;
        let replicas: Vec<i32> = item
            .get("replicas")
            .and_then(|r| r.as_array())
            .ok_or_else(|| format!("entry without replicas: {item}"))?
            .iter()
            .map(|r| r.as_i64().and_then(|r| i32::try_from(r).ok()).filter(|r| *r >= 0))
            .collect::<Option<Vec<i32>>>()
            .ok_or_else(|| format!("replicas must be broker ids: {item}"))?;
        if replicas.is_empty() {
            return Err(format!("partition {topic}-{partition} has an empty replica list"));
        }
        let mut distinct = replicas.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != replicas.len() {
            return Err(format!(
                "partition {topic}-{partition} lists a replica twice: {replicas:?}"
            ));
        }
        if out.insert((topic.to_string(), partition), replicas).is_some() {
            return Err(format!("partition {topic}-{partition} is listed twice"));
        }
    }
    Ok(out)
}
