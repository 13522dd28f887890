//! The `-f FORMAT` strings of `seglog consume`, with kcat's placeholders.
//!
//! | Placeholder | Prints                                                   |
//! |-------------|----------------------------------------------------------|
//! | `%t`        | the topic                                                |
//! | `%p`        | the partition                                            |
//! | `%o`        | the offset                                               |
//! | `%k`        | the key, raw bytes (nothing when null)                   |
//! | `%s`        | the value, raw bytes (nothing when null)                 |
//! | `%K`        | the key's length in bytes, `-1` when null                |
//! | `%S`        | the value's length in bytes, `-1` when null              |
//! | `%T`        | the timestamp, milliseconds since the Unix epoch         |
//! | `%h`        | the headers as `k=v,k2=v2` (a null value prints `k`)     |
//! | `%%`        | a `%`                                                    |
//!
//! Escapes: `\n`, `\t`, `\r` and `\\`; any other backslash is kept as is.
//! An unknown placeholder or a trailing `%` is refused when the format is
//! parsed, before anything is read.

use std::io::{self, Write};

use seglog::record::{HeaderRef, RecordRef};

/// The default format: the value and a newline.
pub const DEFAULT: &str = "%s\\n";

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Bytes printed as they are.
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    KeyLength,
    ValueLength,
    Timestamp,
    Headers,
}

/// A parsed `-f` format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// Where a record comes from, for `%t` and `%p`.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The topic's name.
    pub topic: &'a str,
    /// The partition number.
    pub partition: u32,
}

impl Format {
    /// Parses a format string (the `value_parser` of `-f`).
    pub fn parse(text: &str) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => match chars.next() {
                    Some('%') => literal.push(b'%'),
                    Some(p) => {
                        flush_literal(&mut literal, &mut pieces);
                        pieces.push(placeholder(p)?);
                    }
                    None => return Err("the format ends with a lone `%` (write `%%`)".into()),
                },
                '\\' => escape(chars.next(), &mut literal),
                c => push_char(c, &mut literal),
            }
        }
        flush_literal(&mut literal, &mut pieces);
        Ok(Format { pieces })
    }

    /// Writes one record as the format says.
    pub fn write(
        &self,
        origin: Origin<'_>,
        record: &RecordRef<'_>,
        out: &mut impl Write,
    ) -> io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.write_all(bytes)?,
                Piece::Topic => out.write_all(origin.topic.as_bytes())?,
                Piece::Partition => write!(out, "{}", origin.partition)?,
                Piece::Offset => write!(out, "{}", record.offset())?,
                Piece::Key => out.write_all(record.key().unwrap_or_default())?,
                Piece::Value => out.write_all(record.value().unwrap_or_default())?,
                Piece::KeyLength => write!(out, "{}", length(record.key()))?,
                Piece::ValueLength => write!(out, "{}", length(record.value()))?,
                Piece::Timestamp => write!(out, "{}", record.timestamp())?,
                Piece::Headers => write_headers(record, out)?,
            }
        }
        Ok(())
    }
}

/// The piece a `%` placeholder letter names.
fn placeholder(letter: char) -> Result<Piece, String> {
    Ok(match letter {
        't' => Piece::Topic,
        'p' => Piece::Partition,
        'o' => Piece::Offset,
        'k' => Piece::Key,
        's' => Piece::Value,
        'K' => Piece::KeyLength,
        'S' => Piece::ValueLength,
        'T' => Piece::Timestamp,
        'h' => Piece::Headers,
        other => {
            return Err(format!(
                "unknown placeholder `%{other}` (known: %t %p %o %k %s %K %S %T %h %%)"
            ));
        }
    })
}

/// Appends what a backslash followed by `next` stands for.
fn escape(next: Option<char>, literal: &mut Vec<u8>) {
    match next {
        Some('n') => literal.push(b'\n'),
        Some('t') => literal.push(b'\t'),
        Some('r') => literal.push(b'\r'),
        Some('\\') => literal.push(b'\\'),
        Some(other) => {
            literal.push(b'\\');
            push_char(other, literal);
        }
        None => literal.push(b'\\'),
    }
}

fn push_char(c: char, literal: &mut Vec<u8>) {
    literal.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

fn flush_literal(literal: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// Kafka's length convention: `-1` for null.
fn length(bytes: Option<&[u8]>) -> i64 {
    bytes.map_or(-1, |b| b.len() as i64)
}

/// `k=v,k2=v2`; a header with a null value prints its key alone.
fn write_headers(record: &RecordRef<'_>, out: &mut impl Write) -> io::Result<()> {
    for (n, HeaderRef { key, value }) in record.headers().enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        out.write_all(key)?;
        if let Some(value) = value {
            out.write_all(b"=")?;
            out.write_all(value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use seglog::record::{BatchBuilder, BatchView, DecodeLimits, Header, Record};

    fn render(format: &str, record: Record) -> String {
        let format = Format::parse(format).expect("parses");
        let mut b = BatchBuilder::new(42);
        b.push(&record).expect("push");
        let bytes = b.build().expect("build");
        let view = BatchView::parse(&bytes).expect("parse");
        let set = view.records(&DecodeLimits::default()).expect("records");
        let rec = set.iter().next().expect("one").expect("decodes");
        let mut out = Vec::new();
        let origin = Origin {
            topic: "orders",
            partition: 3,
        };
        format.write(origin, &rec, &mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn every_placeholder() {
        let rec = Record::keyed(1_700, "k1", "v1")
            .with_header(Header::new("a", "1"))
            .with_header(Header {
                key: "b".into(),
                value: None,
            });
        assert_eq!(
            render(r"%t/%p/%o %k=%s %K %S %T [%h] 100%%\n\t\\\x", rec),
            "orders/3/42 k1=v1 2 2 1700 [a=1,b] 100%\n\t\\\\x"
        );
    }

    #[test]
    fn nulls_print_nothing_and_minus_one() {
        let rec = Record::tombstone(5, "k");
        assert_eq!(render("[%k][%s] %K %S %h", rec), "[k][] 1 -1 ");
        assert_eq!(render(DEFAULT, Record::new(1, "ü")), "ü\n");
    }

    #[test]
    fn refuses_unknown_placeholders() {
        assert!(Format::parse("%x").is_err());
        assert!(Format::parse("abc%").is_err());
        assert_eq!(
            Format::parse("a\\").expect("parses").pieces,
            vec![Piece::Literal(b"a\\".to_vec())]
        );
    }
}
