//! Formatting batches and records as the lines `seglog dump` prints: text
//! lines like Kafka's `kafka-dump-log --print-data-log`, and JSON lines.
//!
//! Text: a key, value or header value is shown as a quoted string when it
//! is valid UTF-8 without control characters, as `base64:<standard base64>`
//! otherwise, and as `null` when null.
//!
//! JSON: one object per record, keys in a fixed order, bytes as standard
//! base64 with padding:
//! `{"offset":N,"timestamp":N,"key":B64|null,"value":B64|null,"headers":[{"key":"k","value":B64|null}]}`.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use seglog::record::layout::CODEC_MASK;
use seglog::record::{BatchHeader, BatchView, HeaderRef, RecordRef};

/// The text line describing a batch at byte `position` of its file.
pub fn batch_line(position: u64, batch: &BatchView<'_>) -> String {
    let codec = match batch.compression() {
        Ok(c) => c.name().to_string(),
        Err(_) => format!("unknown({})", batch.attributes() & CODEC_MASK),
    };
    let horizon = batch
        .delete_horizon()
        .map_or_else(|| "none".to_string(), |h| h.to_string());
    let (crc, computed) = (batch.crc(), batch.compute_crc());
    let mut line = format!(
        "baseOffset: {} lastOffset: {} count: {} position: {position} timestampType: {} \
         baseTimestamp: {} maxTimestamp: {} size: {} compression: {codec} producerId: {} \
         producerEpoch: {} baseSequence: {} partitionLeaderEpoch: {} isTransactional: {} \
         isControl: {} deleteHorizonMs: {horizon} crc: {crc:#010x}",
        batch.base_offset(),
        batch.last_offset(),
        batch.record_count(),
        batch.timestamp_type().name(),
        batch.base_timestamp(),
        batch.max_timestamp(),
        batch.size(),
        batch.producer_id(),
        batch.producer_epoch(),
        batch.base_sequence(),
        batch.partition_leader_epoch(),
        batch.is_transactional(),
        batch.is_control(),
    );
    if crc != computed {
        let _ = write!(line, " computedCrc: {computed:#010x}");
    }
    let _ = write!(line, " isValid: {}", crc == computed);
    line
}

/// The text line of one record; `control` marks a record of a control
/// batch, whose key names the control record type.
pub fn record_line(record: &RecordRef<'_>, control: bool) -> String {
    let size = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64);
    let mut line = format!(
        "| offset: {} timestamp: {} keySize: {} valueSize: {}",
        record.offset(),
        record.timestamp(),
        size(record.key()),
        size(record.value()),
    );
    if control {
        let _ = write!(line, " controlType: {}", control_type(record.key()));
    }
    let _ = write!(
        line,
        " key: {} value: {} headers: [",
        shown(record.key()),
        shown(record.value())
    );
    for (n, HeaderRef { key, value }) in record.headers().enumerate() {
        let sep = if n == 0 { "" } else { ", " };
        let _ = write!(
            line,
            "{sep}{:?}: {}",
            String::from_utf8_lossy(key),
            shown(value)
        );
    }
    line.push(']');
    line
}

/// Bytes for a text line: quoted text, `base64:...`, or `null`.
fn shown(bytes: Option<&[u8]>) -> String {
    let Some(bytes) = bytes else {
        return "null".to_string();
    };
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?}"),
        _ => format!("base64:{}", STANDARD.encode(bytes)),
    }
}

/// The type a control record's key names (version i16, type i16), as
/// Kafka's `ControlRecordType` calls it.
fn control_type(key: Option<&[u8]>) -> String {
    let Some(&[_, _, hi, lo, ..]) = key else {
        return "UNKNOWN".to_string();
    };
    let name = match i16::from_be_bytes([hi, lo]) {
        0 => "ABORT",
        1 => "COMMIT",
        2 => "LEADER_CHANGE",
        3 => "SNAPSHOT_HEADER",
        4 => "SNAPSHOT_FOOTER",
        5 => "KRAFT_VERSION",
        6 => "KRAFT_VOTERS",
        n => return format!("UNKNOWN({n})"),
    };
    name.to_string()
}

/// Writes one record as a JSON object (no newline) into `out`, which is
/// cleared first.
pub fn record_json(record: &RecordRef<'_>, out: &mut String) {
    out.clear();
    let _ = write!(
        out,
        "{{\"offset\":{},\"timestamp\":{},\"key\":",
        record.offset(),
        record.timestamp()
    );
    json_bytes(record.key(), out);
    out.push_str(",\"value\":");
    json_bytes(record.value(), out);
    out.push_str(",\"headers\":[");
    for (n, HeaderRef { key, value }) in record.headers().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        json_string(&String::from_utf8_lossy(key), out);
        out.push_str(",\"value\":");
        json_bytes(value, out);
        out.push('}');
    }
    out.push_str("]}");
}

/// Bytes as a JSON base64 string, or `null`.
fn json_bytes(bytes: Option<&[u8]>, out: &mut String) {
    match bytes {
        None => out.push_str("null"),
        Some(b) => {
            out.push('"');
            STANDARD.encode_string(b, out);
            out.push('"');
        }
    }
}

/// A JSON string literal, escaped as serde_json escapes it.
fn json_string(text: &str, out: &mut String) {
    match serde_json::to_string(text) {
        Ok(quoted) => out.push_str(&quoted),
        // Serialising a `str` cannot fail; keep valid JSON regardless.
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seglog::record::{BatchBuilder, DecodeLimits, Header, Record};

    fn with_record<T>(record: Record, mut f: impl FnMut(&RecordRef<'_>) -> T) -> T {
        let mut b = BatchBuilder::new(7);
        b.push(&record).expect("push");
        let bytes = b.build().expect("build");
        let view = BatchView::parse(&bytes).expect("parse");
        let set = view.records(&DecodeLimits::default()).expect("records");
        let rec = set.iter().next().expect("one").expect("decodes");
        f(&rec)
    }

    #[test]
    fn json_has_fixed_key_order_and_nulls() {
        let rec = Record::tombstone(5, "k")
            .with_header(Header::new("h\"1", "x"))
            .with_header(Header {
                key: "h2".into(),
                value: None,
            });
        let mut out = String::new();
        with_record(rec, |r| record_json(r, &mut out));
        assert_eq!(
            out,
            r#"{"offset":7,"timestamp":5,"key":"aw==","value":null,"headers":[{"key":"h\"1","value":"eA=="},{"key":"h2","value":null}]}"#
        );
    }

    #[test]
    fn text_shows_printable_as_text_else_base64() {
        let rec = Record::keyed(5, vec![0u8, 1, 2], "hi\"there");
        let line = with_record(rec, |r| record_line(r, false));
        assert_eq!(
            line,
            r#"| offset: 7 timestamp: 5 keySize: 3 valueSize: 8 key: base64:AAEC value: "hi\"there" headers: []"#
        );
    }

    #[test]
    fn names_control_types() {
        assert_eq!(control_type(Some(&[0, 0, 0, 2, 9])), "LEADER_CHANGE");
        assert_eq!(control_type(Some(&[0, 0, 0, 42])), "UNKNOWN(42)");
        assert_eq!(control_type(None), "UNKNOWN");
    }
}
