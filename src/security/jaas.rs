//! Parser for a Kafka `sasl.jaas.config` value: one login module, a control flag, `key=value`
//! options and a mandatory trailing `;`, e.g.
//! `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";`
//!
//! Follows Kafka's JaasConfig tokenizer loosely: values may be quoted (`"..."` with backslash
//! escapes) or bare words (bare numbers are accepted, which Kafka rejects); `//` and `/* */`
//! comments are skipped. It does not parse full JAAS files (`Name { ... };` sections).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasConfig {
    pub login_module: String,
    /// Lower-cased: `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl JaasConfig {
    /// The PLAIN server's user table: option `user_<name>="<password>"` → `name → password`.
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("user_")
                    .filter(|name| !name.is_empty())
                    .map(|n| (n.into(), v.clone()))
            })
            .collect()
    }

    pub fn username(&self) -> Option<&str> {
        self.options.get("username").map(String::as_str)
    }

    pub fn password(&self) -> Option<&str> {
        self.options.get("password").map(String::as_str)
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '=' | ';' | '"' | '\'')
}

/// Splits the text into tokens. Comments are recognised only where a token could start, so a bare
/// value such as `/etc/x//y` stays one word.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.find(['\n', '\r']).map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            let end = after.find("*/").ok_or("unterminated /* comment in JAAS config")?;
            rest = &after[end + 2..];
        } else if c == '=' || c == ';' {
            tokens.push(if c == '=' { Token::Equals } else { Token::Semicolon });
            rest = &rest[1..];
        } else if c == '"' {
            let (value, after) = quoted(&rest[1..])?;
            tokens.push(Token::Quoted(value));
            rest = after;
        } else if c == '\'' {
            // Kafka's tokenizer treats ' as a quote but then rejects the value; say so plainly.
            return Err("single-quoted values are not supported in JAAS config; use \"...\"".into());
        } else {
            let end = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
            tokens.push(Token::Word(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    Ok(tokens)
}

/// Reads a quoted value after its opening `"`; returns it unescaped plus the text after the closing `"`.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some('r') => value.push('\r'),
                Some(other) => value.push(other),
                None => break,
            },
            other => value.push(other),
        }
    }
    Err("unterminated quoted value in JAAS config".into())
}

/// Parses a `sasl.jaas.config` value holding exactly one login module.
pub fn parse(text: &str) -> Result<JaasConfig, String> {
    let mut tokens = tokenize(text)?.into_iter();
    let login_module = match tokens.next() {
        Some(Token::Word(w)) => w,
        None => return Err("login module not specified in JAAS config".into()),
        Some(t) => return Err(format!("expected a login module name in JAAS config, found {t:?}")),
    };
    let flag = match tokens.next() {
        Some(Token::Word(w)) => w.to_ascii_lowercase(),
        _ => return Err(format!("control flag not specified for {login_module} in JAAS config")),
    };
    if !matches!(flag.as_str(), "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!("invalid control flag {flag:?} in JAAS config"));
    }
    let mut options = BTreeMap::new();
    loop {
        let key = match tokens.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(k)) => k,
            None => return Err("JAAS config must end with ';'".into()),
            Some(t) => return Err(format!("expected an option name in JAAS config, found {t:?}")),
        };
        if tokens.next() != Some(Token::Equals) {
            return Err(format!("expected '=' after {key:?} in JAAS config"));
        }
        let value = match tokens.next() {
            Some(Token::Word(v) | Token::Quoted(v)) => v,
            _ => return Err(format!("value not specified for {key:?} in JAAS config")),
        };
        // Kafka silently keeps the last duplicate; a duplicated user is more likely a mistake.
        if options.insert(key.clone(), value).is_some() {
            return Err(format!("option {key:?} given twice in JAAS config"));
        }
    }
    if tokens.next().is_some() {
        return Err("JAAS config must contain exactly one login module".into());
    }
    Ok(JaasConfig {
        login_module,
        flag,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
        username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\";";

    #[test]
    fn parses_plain_module() {
        let config = parse(PLAIN).unwrap();
        assert_eq!(
            config.login_module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(config.flag, "required");
        assert_eq!(
            (config.username(), config.password()),
            (Some("admin"), Some("admin-secret"))
        );
        let users = config.plain_users();
        assert_eq!(users.len(), 2);
        assert_eq!(users.get("alice").map(String::as_str), Some("alice-secret"));
    }

    #[test]
    fn parses_scram_module_with_layout_escapes_and_comments() {
        let text = "\n  org.apache.kafka.common.security.scram.ScramLoginModule\tREQUIRED\n\
            // a comment\n  username = alice /* inline */ password=\"p\\\"w\\\\d;=\"\n  tokenauth=true\n  iterations=8192 ;\n";
        let config = parse(text).unwrap();
        assert_eq!(
            config.login_module,
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        );
        assert_eq!(config.flag, "required");
        assert_eq!(config.username(), Some("alice"));
        assert_eq!(config.password(), Some("p\"w\\d;="));
        assert_eq!(config.options.get("iterations").map(String::as_str), Some("8192"));
        assert!(config.plain_users().is_empty());
        assert_eq!(parse("M optional;").unwrap().options.len(), 0);
        let path = parse("M required keytab=/etc/x//y url=http://h:1/p;").unwrap();
        assert_eq!(path.options.get("keytab").map(String::as_str), Some("/etc/x//y"));
        assert_eq!(path.options.get("url").map(String::as_str), Some("http://h:1/p"));
        assert_eq!(
            parse("M required a=\"\";")
                .unwrap()
                .options
                .get("a")
                .map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn rejects_bad_configs() {
        for bad in [
            "",
            "   ",
            ";",
            "M",
            "M required",
            "M required a=\"b\"",
            "M mandatory a=b;",
            "M required a;",
            "M required a=;",
            "M required =b;",
            "M required a=b=c;",
            "M required a=\"b;",
            "M required a=\"b\\",
            "M required a='b';",
            "M required a=b; N required c=d;",
            "M required a=b;;",
            "M required a=b a=c;",
            "M required a=b /* unterminated;",
            "M required a=b // comment eats the semicolon;",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
