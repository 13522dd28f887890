//! Kafka's `key=value` properties text, as `--config` flags and
//! `server.properties` use it.

use crate::error::{Error, Result};

/// Parses `key=value` lines; blank lines and `#` / `!` comments are
/// skipped, whitespace around keys and values trimmed.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::InvalidConfig {
                key: line.to_string(),
                value: String::new(),
                reason: "expected key=value".into(),
            });
        };
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// Parses a value of `key`, naming both in the error.
pub(crate) fn parse_value<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value.parse().map_err(|_| Error::InvalidConfig {
        key: key.to_string(),
        value: value.to_string(),
        reason: format!("expected a {}", std::any::type_name::<T>()),
    })
}

/// An error for a value outside its range.
pub(crate) fn out_of_range(key: &str, value: &str, reason: &str) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_comments() {
        let p = parse_properties("# c\n a = 1 \n\n!x\nb=two=2\n").unwrap();
        assert_eq!(
            p,
            vec![("a".into(), "1".into()), ("b".into(), "two=2".into())]
        );
        assert!(parse_properties("novalue").is_err());
    }
}
