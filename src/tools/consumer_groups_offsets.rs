//! `krab consumer-groups --delete-offsets --group G --topic T[:P,P...]`, as
//! kafka-consumer-groups.sh (Kafka 2.4+, KIP-496): through OffsetDelete with
//! `--bootstrap-server`, or on the `/consumers` znodes with `--zookeeper`.
//! A topic without partitions means all of its partitions (with
//! `--zookeeper`, all it has offsets for). The output is Kafka's: a
//! summary line, then TOPIC / PARTITION / STATUS per partition. Unlike
//! Kafka's tool, any error also makes the exit status non-zero.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_delete_request::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::{GroupId, OffsetDeleteRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::partition_offsets::{coordinator, partition_counts};

/// `--topic` values: a topic, optionally with `:partition,partition`.
pub fn parse_topic_specs(specs: &[String]) -> Result<Vec<(String, Vec<i32>)>, String> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for spec in specs {
        let (topic, partitions) = match spec.split_once(':') {
            None => (spec.as_str(), vec![]),
            Some((topic, list)) => {
                let partitions = list
                    .split(',')
                    .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
                    .collect::<Option<Vec<i32>>>()
                    .ok_or_else(|| format!("Error: invalid partitions in --topic {spec} (expected TOPIC:0,1,2)"))?;
                (topic, partitions)
            }
        };
        if topic.is_empty() {
            return Err(format!("Error: invalid --topic {spec}"));
        }
        out.push((topic.to_string(), partitions));
    }
    if out.is_empty() {
        return Err("Error: --delete-offsets requires at least one --topic".into());
    }
    Ok(out)
}

/// Kafka's summary line for the group-level error code.
pub fn summary(group: &str, topics: &[(String, Vec<i32>)], code: i16) -> String {
    let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    match code {
        0 => format!(
            "Request succeed for deleting offsets with topic {} group {group}",
            names.join(", ")
        ),
        24 => format!("Error: '{group}' is not valid."),
        69 => format!("Error: '{group}' does not exist."),
        68 => format!("Error: Deleting offsets of a consumer group '{group}' is forbidden if the group is not empty."),
        code => format!("Error: Encounter some unknown error: error code {code}"),
    }
}

/// The per-partition table; `Err` when anything failed (the text is the same).
pub fn result_table(
    summary_line: String,
    results: &BTreeMap<(String, i32), i16>,
    group_ok: bool,
) -> Result<String, String> {
    let mut out = summary_line;
    let failed = !group_ok || results.values().any(|c| *c != 0);
    if group_ok && failed {
        out = "Error: Encounter some partition level error, see the follow-up details:".into();
    }
    if group_ok {
        out.push_str(&format!("\n\n{:<30} {:<15} {:<15}", "TOPIC", "PARTITION", "STATUS"));
        for ((topic, partition), code) in results {
            let status = match code {
                0 => "Successful".to_string(),
                3 => "Error: This server does not host this topic-partition.".to_string(),
                86 => "Error: The consumer group is actively subscribed to the topic.".to_string(),
                c => format!("Error: error code {c}"),
            };
            out.push_str(&format!("\n{topic:<30} {partition:<15} {status:<15}"));
        }
    }
    let out = out.trim_end().to_string();
    if failed {
        Err(out)
    } else {
        Ok(out)
    }
}

/// Through the group's coordinator (OffsetDelete v0).
pub fn delete_via_broker(bootstrap: &str, group: &str, topics: &[(String, Vec<i32>)]) -> Result<String, String> {
    let unspecified: Vec<String> = topics
        .iter()
        .filter(|(_, p)| p.is_empty())
        .map(|(t, _)| t.clone())
        .collect();
    let counts = if unspecified.is_empty() {
        BTreeMap::new()
    } else {
        partition_counts(bootstrap, &unspecified)?
    };
    let mut request_topics = Vec::new();
    for (topic, partitions) in topics {
        let partitions: Vec<i32> = if partitions.is_empty() {
            // An unknown topic is still sent (as partition 0): the broker says it is unknown.
            (0..counts.get(topic).copied().unwrap_or(1).max(1)).collect()
        } else {
            partitions.clone()
        };
        request_topics.push(
            OffsetDeleteRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(p))
                        .collect(),
                ),
        );
    }
    let request = OffsetDeleteRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
        .with_topics(request_topics);
    let response = coordinator(bootstrap, group)?.send(&request, 0)?;
    let mut results = BTreeMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            results.insert((t.name.to_string(), p.partition_index), p.error_code);
        }
    }
    result_table(
        summary(group, topics, response.error_code),
        &results,
        response.error_code == 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs() {
        let specs = vec!["a".to_string(), "b:0,2".to_string()];
        assert_eq!(
            parse_topic_specs(&specs).unwrap(),
            vec![("a".to_string(), vec![]), ("b".to_string(), vec![0, 2])]
        );
        assert!(parse_topic_specs(&["b:x".to_string()]).is_err());
        assert!(parse_topic_specs(&["b:-1".to_string()]).is_err());
        assert!(parse_topic_specs(&[":1".to_string()]).is_err());
        assert!(parse_topic_specs(&[]).is_err());
    }

    #[test]
    fn table_fails_on_any_partition_error() {
        let topics = vec![("t".to_string(), vec![])];
        let mut results = BTreeMap::new();
        results.insert(("t".to_string(), 0), 0);
        let ok = result_table(summary("g", &topics, 0), &results, true).unwrap();
        assert!(ok.starts_with("Request succeed for deleting offsets with topic t group g"));
        assert!(ok.contains("Successful"));
        results.insert(("t".to_string(), 1), 86);
        let err = result_table(summary("g", &topics, 0), &results, true).unwrap_err();
        assert!(err.contains("actively subscribed"), "{err}");
        let err = result_table(summary("g", &topics, 69), &BTreeMap::new(), false).unwrap_err();
        assert_eq!(err, "Error: 'g' does not exist.");
    }
}
