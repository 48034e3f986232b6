//! Kafka's `Sanitizer.sanitize`/`desanitize`: the URL-encoding that turns user principals and
//! client ids into ZooKeeper node names (e.g. `/config/users/<sanitized>`).
//!
//! `sanitize` is byte-for-byte what Java's `URLEncoder.encode(name, UTF-8)` produces, followed by
//! Kafka's `*` → `%2A` and `+` → `%20`. `desanitize` follows `URLDecoder.decode` but rejects
//! escapes that do not decode to UTF-8 where Java would substitute U+FFFD. JMX quoting is not here.

/// URL-encodes `name` so it is safe as a ZooKeeper node name and in metric names.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        match byte {
            // URLEncoder's unreserved set, minus `*` which Kafka escapes (JMX treats it as a pattern).
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => out.push(char::from(byte)),
            // URLEncoder writes a space as `+`; Kafka turns that into `%20`, as any other escape would.
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Inverts [`sanitize`] (and decodes anything `URLDecoder` accepts, including `+` as a space).
pub fn desanitize(name: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
                let value = hex
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid %-escape in sanitized name {name:?}"))?;
                bytes.push(value);
                rest = &tail[2..];
                continue;
            }
            other => bytes.push(other),
        }
        rest = tail;
    }
    String::from_utf8(bytes).map_err(|_| format!("sanitized name {name:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kafka_encoding() {
        // Expected values follow java.net.URLEncoder plus Kafka's two replacements.
        let cases = [
            ("alice", "alice"),
            ("User:alice", "User%3Aalice"),
            ("a b+c*d", "a%20b%2Bc%2Ad"),
            ("CN=a,O=b", "CN%3Da%2CO%3Db"),
            ("x.y-z_0~!'()", "x.y-z_0%7E%21%27%28%29"),
            ("/%?#&", "%2F%25%3F%23%26"),
            ("\u{e9}\u{20ac}\u{1f600}", "%C3%A9%E2%82%AC%F0%9F%98%80"),
            ("", ""),
        ];
        for (raw, sanitized) in cases {
            assert_eq!(sanitize(raw), sanitized, "{raw:?}");
            assert_eq!(desanitize(sanitized).as_deref(), Ok(raw), "{sanitized:?}");
        }
    }

    #[test]
    fn desanitize_accepts_url_decoder_input_and_rejects_garbage() {
        assert_eq!(desanitize("a+b%2a*").as_deref(), Ok("a b**"));
        assert_eq!(desanitize("%c3%a9").as_deref(), Ok("\u{e9}"));
        for bad in ["%", "%2", "%G0", "%+1", "a%-1", "%C3", "%FF", "%\u{e9}"] {
            assert!(desanitize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trips_every_ascii_character() {
        let all: String = (1u8..0x80).map(char::from).collect();
        assert_eq!(desanitize(&sanitize(&all)).as_deref(), Ok(all.as_str()));
        assert!(sanitize(&all)
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%._-".contains(&b)));
    }
}
