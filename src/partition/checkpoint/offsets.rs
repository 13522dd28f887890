//! Offset checkpoints (`recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`, `cleaner-offset-checkpoint`,
//! `replication-offset-checkpoint`): Kafka's `OffsetCheckpointFile`.
//!
//! ```text
//! 0                 version
//! 2                 number of entries
//! orders 0 1234     topic, partition, offset
//! orders 1 998
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use super::{
    decode_entries, encode_entries, invalid_input, is_java_space, number, read_if_exists,
    write_atomically,
};
use crate::error::Result;

/// What [`Error::CorruptCheckpoint`](crate::Error::CorruptCheckpoint) calls these files.
const KIND: &str = "offset checkpoint";

/// One line of an offset checkpoint: a partition and its offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetEntry {
    /// The topic name.
    pub topic: String,
    /// The partition number (at most `i32::MAX`, Kafka's partition type).
    pub partition: u32,
    /// The offset recorded for the partition.
    pub offset: i64,
}

impl fmt::Display for OffsetEntry {
    /// Kafka's line: `topic partition offset`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.topic, self.partition, self.offset)
    }
}

/// Reads an offset checkpoint into a map from `(topic, partition)` to offset.
///
/// As in Kafka, a missing or empty file is an empty checkpoint (Kafka
/// creates an empty file when it opens a checkpoint), and when a partition
/// appears twice the last line wins. Malformed content is
/// [`Error::CorruptCheckpoint`](crate::Error::CorruptCheckpoint).
pub fn read_offsets(path: impl AsRef<Path>) -> Result<BTreeMap<(String, u32), i64>> {
    Ok(read_offset_entries(path)?
        .into_iter()
        .map(|e| ((e.topic, e.partition), e.offset))
        .collect())
}

/// Replaces an offset checkpoint atomically with `offsets`, in key order.
///
/// Fails with an `InvalidInput` [`Error::Io`](crate::Error::Io) when a
/// topic name is empty or holds whitespace, or a partition exceeds
/// `i32::MAX`: Kafka could not read such a file back.
pub fn write_offsets(path: impl AsRef<Path>, offsets: &BTreeMap<(String, u32), i64>) -> Result<()> {
    let path = path.as_ref();
    for (topic, partition) in offsets.keys() {
        check_key(path, topic, *partition)?;
    }
    let lines = offsets
        .iter()
        .map(|((topic, partition), offset)| format!("{topic} {partition} {offset}"));
    write_atomically(path, &encode_entries(lines))
}

/// Reads an offset checkpoint's entries in file order, duplicates included.
///
/// Kafka writes them in its hash map's order; this is the form that
/// rewrites a broker's file byte for byte with [`write_offset_entries`].
/// Missing and empty files read as no entries, as with [`read_offsets`].
pub fn read_offset_entries(path: impl AsRef<Path>) -> Result<Vec<OffsetEntry>> {
    let path = path.as_ref();
    match read_if_exists(path)? {
        Some(bytes) => decode_offsets(path, &bytes),
        None => Ok(Vec::new()),
    }
}

/// Replaces an offset checkpoint atomically with `entries`, in the given
/// order.
///
/// Fails with an `InvalidInput` [`Error::Io`](crate::Error::Io) for a topic
/// name that is empty or holds whitespace, a partition above `i32::MAX`, or
/// a partition listed twice.
pub fn write_offset_entries(path: impl AsRef<Path>, entries: &[OffsetEntry]) -> Result<()> {
    let path = path.as_ref();
    let mut seen = HashSet::with_capacity(entries.len());
    for entry in entries {
        check_key(path, &entry.topic, entry.partition)?;
        if !seen.insert((entry.topic.as_str(), entry.partition)) {
            return Err(invalid_input(
                path,
                format!(
                    "partition {}-{} is listed twice",
                    entry.topic, entry.partition
                ),
            ));
        }
    }
    write_atomically(path, &encode_entries(entries.iter()))
}

/// Parses the bytes of an offset checkpoint (for tools and fuzzing; `path`
/// only names the file in errors). An empty input is an empty checkpoint.
pub fn decode_offsets(path: &Path, bytes: &[u8]) -> Result<Vec<OffsetEntry>> {
    decode_entries(path, KIND, bytes, |fields| {
        let [topic, partition, offset] = fields else {
            return Err(format!(
                "expected 3 fields `topic partition offset`, found {}",
                fields.len()
            ));
        };
        let partition: i32 = number(partition, "partition", "32-bit integer")?;
        let partition =
            u32::try_from(partition).map_err(|_| format!("negative partition {partition}"))?;
        Ok(OffsetEntry {
            topic: (*topic).to_owned(),
            partition,
            offset: number(offset, "offset", "64-bit integer")?,
        })
    })
}

/// Refuses keys Kafka's reader could not read back.
fn check_key(path: &Path, topic: &str, partition: u32) -> Result<()> {
    if topic.is_empty() || topic.contains(is_java_space) {
        return Err(invalid_input(
            path,
            format!("topic name {topic:?} cannot be written to a checkpoint (empty or whitespace)"),
        ));
    }
    if i32::try_from(partition).is_err() {
        return Err(invalid_input(
            path,
            format!("partition {partition} exceeds i32::MAX"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Error;

    fn map(entries: &[(&str, u32, i64)]) -> BTreeMap<(String, u32), i64> {
        entries
            .iter()
            .map(|&(t, p, o)| ((t.to_owned(), p), o))
            .collect()
    }

    /// The 1-based line of a `CorruptCheckpoint`, panicking on anything else.
    fn corrupt_line(bytes: &[u8]) -> usize {
        match decode_offsets(Path::new("cp"), bytes) {
            Err(Error::CorruptCheckpoint { line, kind, .. }) => {
                assert_eq!(kind, KIND);
                line
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn writes_kafka_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recovery-point-offset-checkpoint");
        write_offsets(&path, &map(&[("foo", 0, 10), ("bar-baz", 3, 7)])).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"0\n2\nbar-baz 3 7\nfoo 0 10\n"
        );
        let entries = [
            OffsetEntry {
                topic: "foo".into(),
                partition: 0,
                offset: 10,
            },
            OffsetEntry {
                topic: "bar-baz".into(),
                partition: 3,
                offset: 7,
            },
        ];
        write_offset_entries(&path, &entries).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"0\n2\nfoo 0 10\nbar-baz 3 7\n"
        );
        assert_eq!(read_offset_entries(&path).unwrap(), entries);
        write_offsets(&path, &BTreeMap::new()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0\n0\n");
    }

    #[test]
    fn roundtrip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log-start-offset-checkpoint");
        assert!(read_offsets(&path).unwrap().is_empty());
        let offsets = map(&[
            ("__consumer_offsets", 49, 0),
            ("a.b_c-d", 0, i64::MAX),
            ("x", i32::MAX as u32, -1),
        ]);
        write_offsets(&path, &offsets).unwrap();
        assert_eq!(read_offsets(&path).unwrap(), offsets);
    }

    #[test]
    fn lenient_where_kafka_is() {
        let p = Path::new("cp");
        let one = [OffsetEntry {
            topic: "t".into(),
            partition: 1,
            offset: 5,
        }];
        // Empty file, version only: empty (Kafka's CheckpointFile).
        assert!(decode_offsets(p, b"").unwrap().is_empty());
        assert!(decode_offsets(p, b"0\n").unwrap().is_empty());
        assert!(decode_offsets(p, b"0").unwrap().is_empty());
        // Runs of whitespace, trailing whitespace, CRLF, no final newline, signs.
        assert_eq!(decode_offsets(p, b"0\n1\nt  1\t5 \n").unwrap(), one);
        assert_eq!(decode_offsets(p, b"0\r\n1\r\nt 1 5\r\n").unwrap(), one);
        assert_eq!(decode_offsets(p, b"0\n1\nt 1 +5").unwrap(), one);
        // A duplicate partition: last wins in the map.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        std::fs::write(&path, b"0\n2\nt 1 5\nt 1 6\n").unwrap();
        assert_eq!(read_offsets(&path).unwrap(), map(&[("t", 1, 6)]));
    }

    #[test]
    fn malformed_names_the_line() {
        assert_eq!(corrupt_line(b"1\n0\n"), 1); // bad version
        assert_eq!(corrupt_line(b"x\n0\n"), 1);
        assert_eq!(corrupt_line(b" 0\n0\n"), 1);
        assert_eq!(corrupt_line(b"0\nx\n"), 2); // bad count
        assert_eq!(corrupt_line(b"0\n-1\n"), 2);
        assert_eq!(corrupt_line(b"0\n99999999999\n"), 2);
        assert_eq!(corrupt_line(b"0\n2\nt 0 1\n"), 4); // too few entries
        assert_eq!(corrupt_line(b"0\n1\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\nt 0 1\nt 1 1\n"), 4); // too many
        assert_eq!(corrupt_line(b"0\n0\n\n"), 3);
        assert_eq!(corrupt_line(b"0\n2\nt 0 1\nt x 1\n"), 4); // non-numeric
        assert_eq!(corrupt_line(b"0\n1\nt 0 1x\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\nt -1 1\n"), 3); // negative partition
        assert_eq!(corrupt_line(b"0\n1\nt 2147483648 1\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\nt 0\n"), 3); // missing field
        assert_eq!(corrupt_line(b"0\n1\nt 0 1 2\n"), 3); // extra field
        assert_eq!(corrupt_line(b"0\n1\n t 0 1\n"), 3); // leading whitespace
        assert_eq!(corrupt_line(b"0\n1\n\n"), 3); // empty entry line
        let err = decode_offsets(Path::new("/d/cp"), b"0\n1\nt 0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed offset checkpoint file /d/cp: line 3: expected 3 fields `topic partition offset`, found 2"
        );
    }

    #[test]
    fn writer_refuses_unreadable_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        for bad in [
            map(&[("", 0, 0)]),
            map(&[("a b", 0, 0)]),
            map(&[("a\nb", 0, 0)]),
            map(&[("t", 1 << 31, 0)]),
        ] {
            match write_offsets(&path, &bad) {
                Err(Error::Io { source, .. }) => {
                    assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput)
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let twice = [
            OffsetEntry {
                topic: "t".into(),
                partition: 0,
                offset: 1,
            },
            OffsetEntry {
                topic: "t".into(),
                partition: 0,
                offset: 2,
            },
        ];
        assert!(write_offset_entries(&path, &twice).is_err());
        assert!(!path.exists());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_offsets(Path::new("cp"), &bytes);
        }

        #[test]
        fn never_panics_on_near_valid_text(text in "0\n[0-3]\n([a-z. _-]{0,4}[ \t]{0,2}[-+0-9x]{0,4} [-+0-9]{0,3}\r?\n?){0,4}") {
            let _ = decode_offsets(Path::new("cp"), text.as_bytes());
        }

        #[test]
        fn roundtrip(entries in proptest::collection::btree_map(
            ("[a-zA-Z0-9._-]{1,30}", 0..=i32::MAX as u32), any::<i64>(), 0..20)
        ) {
            let encoded = encode_entries(entries.iter().map(|((t, p), o)| format!("{t} {p} {o}")));
            let decoded = decode_offsets(Path::new("cp"), &encoded).unwrap();
            let back: BTreeMap<_, _> = decoded.into_iter().map(|e| ((e.topic, e.partition), e.offset)).collect();
            prop_assert_eq!(back, entries);
        }
    }
}
