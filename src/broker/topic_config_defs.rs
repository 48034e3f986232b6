//! Every topic config of Kafka 2.8 (`LogConfig`), with its type, valid
//! values, default, broker-level synonym and documentation: what CreateTopics,
//! AlterConfigs, IncrementalAlterConfigs and the tools validate against, and
//! what DescribeConfigs reports. `honoured` says whether krab acts on the
//! value today or only stores and reports it (listed in the README).

/// The values a config accepts (Kafka's `ConfigDef` type plus validator).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Int {
        min: i64,
    },
    Long {
        min: i64,
    },
    Double {
        min: f64,
        max: f64,
    },
    Bool,
    /// One of these strings (Kafka compares case-insensitively for these).
    OneOf(&'static [&'static str]),
    /// A comma-separated list of these strings, at least one.
    ListOf(&'static [&'static str]),
    /// `*`, or `partition:broker` pairs separated by commas (throttled replicas).
    ThrottledReplicas,
    /// A Kafka version such as `0.10.2`, `2.1-IV2` (message.format.version).
    ApiVersion,
}

/// The type DescribeConfigs v3+ reports (Kafka's `ConfigType`).
impl Kind {
    pub fn describe_type(self) -> i8 {
        match self {
            Kind::Bool => 1,
            Kind::OneOf(_) | Kind::ApiVersion => 2,
            Kind::Int { .. } => 3,
            Kind::Long { .. } => 5,
            Kind::Double { .. } => 6,
            Kind::ListOf(_) | Kind::ThrottledReplicas => 7,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Kafka's default, as DescribeConfigs shows it.
    pub default: &'static str,
    /// The broker config that supplies the default (`log.*`), if any.
    pub synonym: Option<&'static str>,
    /// Whether krab acts on the value (otherwise it is stored and reported).
    pub honoured: bool,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    synonym: Option<&'static str>,
    honoured: bool,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        kind,
        default,
        synonym,
        honoured,
        doc,
    }
}

const LONG_MAX: &str = "9223372036854775807";
const INT_MAX: i64 = i32::MAX as i64;

/// Kafka 2.8's topic configs, in Kafka's (alphabetical) order.
#[rustfmt::skip]
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def("cleanup.policy", Kind::ListOf(&["compact", "delete"]), "delete", Some("log.cleanup.policy"), true,
        "\"delete\" discards old segments by time or size; \"compact\" keeps the latest value of each key."),
    def("compression.type", Kind::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]), "producer",
        Some("compression.type"), true,
        "The compression of stored batches; \"producer\" keeps what the producer sent."),
    def("delete.retention.ms", Kind::Long { min: 0 }, "86400000", Some("log.cleaner.delete.retention.ms"), false,
        "How long tombstones are kept in a compacted topic."),
    def("file.delete.delay.ms", Kind::Long { min: 0 }, "60000", Some("log.segment.delete.delay.ms"), true,
        "How long a deleted segment waits before its files are removed."),
    def("flush.messages", Kind::Long { min: 0 }, LONG_MAX, Some("log.flush.interval.messages"), true,
        "fsync the log after this many messages."),
    def("flush.ms", Kind::Long { min: 0 }, LONG_MAX, Some("log.flush.interval.ms"), true,
        "fsync the log when the last fsync is older than this."),
    def("follower.replication.throttled.replicas", Kind::ThrottledReplicas, "",
        Some("follower.replication.throttled.replicas"), true,
        "Replicas whose replication is throttled on the follower side: partition:broker pairs or *."),
    def("index.interval.bytes", Kind::Int { min: 0 }, "4096", Some("log.index.interval.bytes"), true,
        "Bytes of log between offset index entries."),
    def("leader.replication.throttled.replicas", Kind::ThrottledReplicas, "",
        Some("leader.replication.throttled.replicas"), false,
        "Replicas whose replication is throttled on the leader side: partition:broker pairs or *."),
    def("max.compaction.lag.ms", Kind::Long { min: 1 }, LONG_MAX, Some("log.cleaner.max.compaction.lag.ms"), false,
        "Longest time a record stays ineligible for compaction."),
    def("max.message.bytes", Kind::Int { min: 0 }, "1048588", Some("message.max.bytes"), true,
        "Largest record batch the topic accepts."),
    def("message.downconversion.enable", Kind::Bool, "true", Some("log.message.downconversion.enable"), true,
        "Whether old fetch versions get messages down-converted to their format."),
    def("message.format.version", Kind::ApiVersion, "2.8-IV1", Some("log.message.format.version"), true,
        "The message format version stored for the topic."),
    def("message.timestamp.difference.max.ms", Kind::Long { min: 0 }, LONG_MAX,
        Some("log.message.timestamp.difference.max.ms"), true,
        "Largest difference between a record's CreateTime and the broker's clock."),
    def("message.timestamp.type", Kind::OneOf(&["CreateTime", "LogAppendTime"]), "CreateTime",
        Some("log.message.timestamp.type"), true,
        "Whether record timestamps are the producer's (CreateTime) or the broker's (LogAppendTime)."),
    def("min.cleanable.dirty.ratio", Kind::Double { min: 0.0, max: 1.0 }, "0.5",
        Some("log.cleaner.min.cleanable.ratio"), false,
        "Share of the log that must be uncleaned before it is compacted."),
    def("min.compaction.lag.ms", Kind::Long { min: 0 }, "0", Some("log.cleaner.min.compaction.lag.ms"), false,
        "Shortest time a record stays uncompacted."),
    def("min.insync.replicas", Kind::Int { min: 1 }, "1", Some("min.insync.replicas"), true,
        "ISR size an acks=all write needs."),
    def("preallocate", Kind::Bool, "false", Some("log.preallocate"), true,
        "Whether segment files are preallocated when created."),
    def("retention.bytes", Kind::Long { min: i64::MIN }, "-1", Some("log.retention.bytes"), true,
        "Largest size a partition keeps before old segments are deleted; -1 unlimited."),
    def("retention.ms", Kind::Long { min: -1 }, "604800000", Some("log.retention.ms"), true,
        "How long segments are kept before deletion; -1 unlimited."),
    def("segment.bytes", Kind::Int { min: 14 }, "1073741824", Some("log.segment.bytes"), true,
        "Segment file size at which the log rolls."),
    def("segment.index.bytes", Kind::Int { min: 0 }, "10485760", Some("log.index.size.max.bytes"), true,
        "Size of the offset index of a segment."),
    def("segment.jitter.ms", Kind::Long { min: 0 }, "0", Some("log.roll.jitter.ms"), true,
        "Random jitter subtracted from segment.ms so segments do not roll together."),
    def("segment.ms", Kind::Long { min: 1 }, "604800000", Some("log.roll.ms"), true,
        "Time after which the log rolls even if the segment is not full."),
    def("unclean.leader.election.enable", Kind::Bool, "false", Some("unclean.leader.election.enable"), true,
        "Whether a replica outside the ISR may lead when the whole ISR is gone (data loss)."),
];

pub fn find(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Kafka's message format versions (ApiVersion) a topic may name.
const FORMAT_VERSIONS: &[&str] = &[
    "0.8.0", "0.8.1", "0.8.2", "0.9.0", "0.10.0", "0.10.1", "0.10.2", "0.11.0", "1.0", "1.1", "2.0", "2.1", "2.2",
    "2.3", "2.4", "2.5", "2.6", "2.7", "2.8",
];

/// The message format (magic) a `message.format.version` implies.
pub fn format_magic(version: &str) -> Option<i8> {
    let base = parse_api_version(version)?;
    Some(match base {
        "0.8.0" | "0.8.1" | "0.8.2" | "0.9.0" => 0,
        "0.10.0" | "0.10.1" | "0.10.2" => 1,
        _ => 2,
    })
}

/// `0.10.2`, `0.10.2.1`, `0.10.0-IV1`, `2.1`, `2.1.0`, `2.1-IV2` → the known base version.
fn parse_api_version(text: &str) -> Option<&'static str> {
    let (numbers, iv) = match text.split_once('-') {
        Some((n, iv)) => (n, Some(iv)),
        None => (text, None),
    };
    if iv.is_some_and(|iv| !(iv.len() >= 3 && iv.starts_with("IV") && iv[2..].bytes().all(|b| b.is_ascii_digit()))) {
        return None;
    }
    let parts: Vec<&str> = numbers.split('.').collect();
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    // 0.x versions are named by three numbers, later ones by two.
    let significant = if parts[0] == "0" { 3 } else { 2 };
    if parts.len() < significant {
        return None;
    }
    let base = parts[..significant].join(".");
    FORMAT_VERSIONS.iter().copied().find(|v| *v == base)
}

/// Why `value` is not valid for `def`, in Kafka's words ("Value must be at least 14").
pub fn check(def: &TopicConfigDef, value: &str) -> Result<(), String> {
    let v = value.trim();
    match def.kind {
        Kind::Int { min } => {
            let n: i64 = v
                .parse()
                .map_err(|_| "Expected value to be a 32-bit integer".to_string())?;
            if n > INT_MAX || n < i64::from(i32::MIN) {
                return Err("Expected value to be a 32-bit integer".into());
            }
            at_least(n, min)
        }
        Kind::Long { min } => {
            let n: i64 = v
                .parse()
                .map_err(|_| "Expected value to be a 64-bit integer".to_string())?;
            at_least(n, min)
        }
        Kind::Double { min, max } => {
            let n: f64 = v.parse().map_err(|_| "Expected value to be a double".to_string())?;
            if !(min..=max).contains(&n) {
                return Err(format!("Value must be in the range [{min}, {max}]"));
            }
            Ok(())
        }
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "false" => Ok(()),
            _ => Err("Expected value to be either true or false".into()),
        },
        Kind::OneOf(allowed) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                Ok(())
            } else {
                Err(format!("String must be one of: {}", allowed.join(", ")))
            }
        }
        Kind::ListOf(allowed) => {
            let items: Vec<&str> = v.split(',').map(str::trim).collect();
            if items.iter().all(|i| allowed.contains(i)) && !v.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "Invalid value {v}; every item must be one of: {}",
                    allowed.join(", ")
                ))
            }
        }
        Kind::ThrottledReplicas => {
            if v.is_empty() || v == "*" {
                return Ok(());
            }
            let valid = v.split(',').all(|pair| {
                pair.trim()
                    .split_once(':')
                    .is_some_and(|(p, b)| p.trim().parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok())
            });
            if valid {
                Ok(())
            } else {
                Err(
                    "Must be the literal '*' or a list of replicas in the following format: \
                     [partitionId]:[brokerId],[partitionId]:[brokerId],..."
                        .into(),
                )
            }
        }
        Kind::ApiVersion => {
            if parse_api_version(v).is_some() {
                Ok(())
            } else {
                Err(format!(
                    "Version `{v}` is not a valid version (known: {})",
                    FORMAT_VERSIONS.join(", ")
                ))
            }
        }
    }
}

fn at_least(n: i64, min: i64) -> Result<(), String> {
    if n < min {
        Err(format!("Value must be at least {min}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, value: &str) -> bool {
        check(find(name).unwrap(), value).is_ok()
    }

    #[test]
    fn kafka_28_has_26_topic_configs_in_order() {
        assert_eq!(TOPIC_CONFIGS.len(), 26);
        let names: Vec<&str> = TOPIC_CONFIGS.iter().map(|d| d.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for d in TOPIC_CONFIGS {
            assert!(
                check(d, d.default).is_ok(),
                "{} default {:?} must be valid",
                d.name,
                d.default
            );
        }
    }

    #[test]
    fn types_and_ranges() {
        assert!(ok("segment.bytes", "14") && !ok("segment.bytes", "13") && !ok("segment.bytes", "4294967296"));
        assert!(ok("retention.ms", "-1") && !ok("retention.ms", "-2"));
        assert!(ok("retention.bytes", "-5"), "Kafka does not bound retention.bytes");
        assert!(ok("flush.messages", "0") && !ok("flush.messages", "x"));
        assert!(ok("min.cleanable.dirty.ratio", "0.01") && !ok("min.cleanable.dirty.ratio", "1.5"));
        assert!(ok("preallocate", "TRUE") && !ok("preallocate", "yes"));
        assert!(ok("compression.type", "gzip") && !ok("compression.type", "brotli"));
        assert!(ok("cleanup.policy", "compact,delete") && !ok("cleanup.policy", "shred"));
        assert!(!ok("cleanup.policy", ""));
        assert!(ok("message.timestamp.type", "LogAppendTime") && !ok("message.timestamp.type", "Now"));
        assert!(ok("leader.replication.throttled.replicas", "0:1,1:2"));
        assert!(ok("leader.replication.throttled.replicas", "*"));
        assert!(!ok("leader.replication.throttled.replicas", "0-1"));
    }

    #[test]
    fn message_format_versions() {
        for v in ["0.9.0", "0.10.2", "0.10.2.1", "0.10.0-IV1", "2.1-IV2", "2.8", "1.0.0"] {
            assert!(ok("message.format.version", v), "{v}");
        }
        for v in ["0.10", "3.0", "2.9", "x", "2.1-V2", ""] {
            assert!(!ok("message.format.version", v), "{v}");
        }
        assert_eq!(format_magic("0.9.0"), Some(0));
        assert_eq!(format_magic("0.10.2-IV0"), Some(1));
        assert_eq!(format_magic("0.11.0"), Some(2));
    }
}
