//! Durations as KafkaOffsetMonitor's command line wrote them (Scala's
//! `5.seconds`, `1.days`, `10 minutes`) and the short forms people type
//! (`5s`, `1d`, `500ms`).

use std::time::Duration;

/// Parses `<number>[.| ]<unit>` or `<number><short unit>`. A bare number is
/// seconds. The result must be positive and at most ten years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start_matches(['.', ' ']).to_ascii_lowercase();
    let amount: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 5.seconds, 1.days, 10m)"))?;
    let unit_ms: u64 = match unit.as_str() {
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (ms, seconds, minutes, hours, days)"
            ))
        }
    };
    let ms = amount
        .checked_mul(unit_ms)
        .filter(|ms| *ms > 0 && *ms <= 10 * 365 * 86_400_000)
        .ok_or_else(|| format!("{text:?} must be more than zero and at most ten years"))?;
    Ok(Duration::from_millis(ms))
}

/// The shortest exact spelling, for pages and logs: `5s`, `1d`, `90m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scala_and_short_forms() {
        assert_eq!(parse_duration("5.seconds").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1.days").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("1.day").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("10 minutes").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7_200));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "seconds",
            "5.fortnights",
            "0.seconds",
            "-5s",
            "1.5s",
            "99999999999999999999d",
            "5 s x",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::from_secs(5_400)), "90m");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1500ms");
    }
}
