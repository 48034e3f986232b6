//! Old-Kafka emulation (`emulate.kafka.version`): the broker offers only
//! the API versions a given Kafka release knew, so a client configured for
//! that release is tested against what it will meet in production. The
//! tables are each release's maximum request versions for the APIs krab
//! serves (from Kafka's release history, as kafka-python records them);
//! the effective table is their intersection with krab's registry. An API a
//! release lacks is unknown: a request for it closes the connection, as
//! those brokers did (0.9 had no ApiVersions, so clients probing it see the
//! connection drop, exactly as with a real 0.9 broker).

use kafka_protocol::messages::ApiKey;

use super::registry::SUPPORTED_APIS;

/// A Kafka release whose protocol surface can be emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaRelease {
    V0_9,
    V0_10_2,
    V1_1,
    V2_0,
    V2_8,
    /// Current Kafka: everything krab serves.
    V3,
}

/// The accepted spellings, for error messages and docs.
pub const RELEASE_NAMES: &str = "0.9.0, 0.10.2, 1.1, 2.0, 2.8, 3.x";

impl KafkaRelease {
    pub fn parse(text: &str) -> Result<KafkaRelease, String> {
        let t = text.trim();
        Ok(match t {
            "0.9" | "0.9.0" | "0.9.0.0" | "0.9.0.1" => KafkaRelease::V0_9,
            "0.10" | "0.10.2" | "0.10.2.0" | "0.10.2.1" | "0.10.2.2" => KafkaRelease::V0_10_2,
            "1.1" | "1.1.0" | "1.1.1" => KafkaRelease::V1_1,
            "2.0" | "2.0.0" | "2.0.1" => KafkaRelease::V2_0,
            "2.8" | "2.8.0" | "2.8.1" | "2.8.2" => KafkaRelease::V2_8,
            _ if t == "3" || t == "3.x" || t.starts_with("3.") => KafkaRelease::V3,
            _ => {
                return Err(format!(
                    "unknown Kafka version {t:?} to emulate (one of {RELEASE_NAMES})"
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            KafkaRelease::V0_9 => "0.9.0",
            KafkaRelease::V0_10_2 => "0.10.2",
            KafkaRelease::V1_1 => "1.1",
            KafkaRelease::V2_0 => "2.0",
            KafkaRelease::V2_8 => "2.8",
            KafkaRelease::V3 => "3.x",
        }
    }

    /// The message format the release wrote by default
    /// (log.message.format.version), when older than magic 2.
    pub fn message_format(self) -> Option<&'static str> {
        match self {
            KafkaRelease::V0_9 => Some("0.9.0"),
            KafkaRelease::V0_10_2 => Some("0.10.2"),
            _ => None,
        }
    }

    /// (API key, max version) of every API krab serves that the release
    /// knew; `None` for a release with no limit.
    #[rustfmt::skip]
    fn max_versions(self) -> Option<&'static [(i16, i16)]> {
        Some(match self {
            KafkaRelease::V0_9 => &[
                (0, 1), (1, 1), (2, 0), (3, 0), (8, 2), (9, 1), (10, 0), (11, 0), (12, 0), (13, 0), (14, 0),
                (15, 0), (16, 0),
            ],
            KafkaRelease::V0_10_2 => &[
                (0, 2), (1, 3), (2, 1), (3, 2), (8, 2), (9, 2), (10, 0), (11, 1), (12, 0), (13, 0), (14, 0),
                (15, 0), (16, 0), (17, 0), (18, 0), (19, 1), (20, 0),
            ],
            KafkaRelease::V1_1 => &[
                (0, 5), (1, 7), (2, 2), (3, 5), (8, 3), (9, 3), (10, 1), (11, 2), (12, 1), (13, 1), (14, 1),
                (15, 1), (16, 1), (18, 1), (19, 2), (20, 1), (21, 0), (22, 0), (23, 0), (24, 0), (25, 0),
                (26, 0), (27, 0), (28, 0), (29, 0), (30, 0), (31, 0), (32, 1), (33, 0), (36, 0), (37, 0), (42, 0),
                (17, 1),
            ],
            KafkaRelease::V2_0 => &[
                (0, 6), (1, 8), (2, 3), (3, 6), (8, 4), (9, 4), (10, 2), (11, 3), (12, 2), (13, 2), (14, 2),
                (15, 2), (16, 2), (18, 2), (19, 3), (20, 2), (21, 1), (22, 1), (23, 1), (24, 1), (25, 1),
                (26, 1), (27, 0), (28, 1), (29, 1), (30, 1), (31, 1), (32, 2), (33, 1), (36, 0), (37, 1), (42, 1),
                (17, 1),
            ],
            KafkaRelease::V2_8 => &[
                (0, 9), (1, 12), (2, 6), (3, 11), (8, 8), (9, 7), (10, 3), (11, 7), (12, 4), (13, 4), (14, 5),
                (15, 5), (16, 4), (18, 3), (19, 7), (20, 6), (21, 2), (22, 4), (23, 4), (24, 3), (25, 3),
                (26, 3), (27, 1), (28, 3), (32, 4), (33, 2), (37, 3), (42, 2), (43, 2), (44, 1), (45, 0),
                (46, 0), (47, 0), (60, 0), (17, 1), (29, 2), (30, 2), (31, 2), (36, 2), (50, 0), (51, 0),
            ],
            KafkaRelease::V3 => return None,
        })
    }
}

/// The (API, min, max) versions a broker offers: krab's registry, cut down
/// to what `release` knew.
pub fn api_table(release: Option<KafkaRelease>) -> Vec<(ApiKey, i16, i16)> {
    let limits = release.and_then(KafkaRelease::max_versions);
    SUPPORTED_APIS
        .iter()
        .filter_map(|&(api, min, max)| match limits {
            None => Some((api, min, max)),
            Some(limits) => limits
                .iter()
                .find(|(key, _)| *key == api as i16)
                .map(|&(_, limit)| (api, min, max.min(limit)))
                .filter(|(_, min, max)| min <= max),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(table: &[(ApiKey, i16, i16)], api: ApiKey) -> Option<(i16, i16)> {
        table
            .iter()
            .find(|(a, _, _)| *a == api)
            .map(|(_, min, max)| (*min, *max))
    }

    #[test]
    fn kafka_0_9_has_no_api_versions_and_old_produce() {
        let table = api_table(Some(KafkaRelease::V0_9));
        assert_eq!(range(&table, ApiKey::ApiVersions), None);
        assert_eq!(range(&table, ApiKey::Produce), Some((0, 1)));
        assert_eq!(range(&table, ApiKey::CreateTopics), None);
        assert_eq!(range(&table, ApiKey::ListGroups), Some((0, 0)));
    }

    #[test]
    fn newer_releases_are_capped_by_krab() {
        assert_eq!(api_table(Some(KafkaRelease::V3)), api_table(None));
        let table = api_table(Some(KafkaRelease::V2_8));
        assert_eq!(
            range(&table, ApiKey::Fetch),
            Some((0, 11)),
            "krab serves Fetch up to 11"
        );
        assert_eq!(range(&table, ApiKey::Produce), Some((0, 9)));
        assert_eq!(range(&table, ApiKey::OffsetFetch), Some((0, 7)));
    }

    #[test]
    fn names_parse() {
        assert_eq!(KafkaRelease::parse("0.9.0"), Ok(KafkaRelease::V0_9));
        assert_eq!(KafkaRelease::parse("0.10"), Ok(KafkaRelease::V0_10_2));
        assert_eq!(KafkaRelease::parse("3.7.1"), Ok(KafkaRelease::V3));
        assert!(KafkaRelease::parse("0.8.2").unwrap_err().contains("0.9.0, 0.10.2"));
        assert!(KafkaRelease::parse("banana").is_err());
    }
}
