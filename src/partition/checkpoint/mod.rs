//! Kafka's small text files beside the segments: offset checkpoints,
//! `leader-epoch-checkpoint` and `partition.metadata`, byte for byte as a
//! broker writes them.
//!
//! | file | where | content |
//! |---|---|---|
//! | `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`, `cleaner-offset-checkpoint`, `replication-offset-checkpoint` | log-dir root | `0\n<count>\n` then `<topic> <partition> <offset>\n` per partition ([`read_offsets`]) |
//! | `leader-epoch-checkpoint` | partition directory | `0\n<count>\n` then `<epoch> <start offset>\n` per epoch ([`read_leader_epochs`]) |
//! | `partition.metadata` | partition directory | `version: 0\ntopic_id: <22-char id>`, no final newline ([`read_partition_metadata`]) |
//!
//! Reading follows Kafka's `CheckpointFile`: lines end at `\n`, `\r` or
//! `\r\n` (Java's `readLine`); fields are separated by runs of whitespace;
//! an empty file, or one holding only the version line, reads as empty;
//! every entry line must parse and their number must equal the count. The
//! file must be UTF-8. Anything else is [`Error::CorruptCheckpoint`] naming
//! the file and the 1-based line. Writing produces exactly Kafka's bytes
//! (`\n` line ends, single spaces) and replaces the file atomically: a
//! `<name>.tmp` beside it is written and fsynced, renamed over the target,
//! and the directory is fsynced, as Kafka's `atomicMoveWithFallback` does.
//!
//! [`Error::CorruptCheckpoint`]: crate::Error::CorruptCheckpoint

mod leader_epoch;
mod offsets;
mod partition_metadata;

use std::io;
use std::path::Path;

pub(crate) use crate::durable_fs::write_atomically;
pub use leader_epoch::{EpochEntry, decode_leader_epochs, read_leader_epochs, write_leader_epochs};
pub use offsets::{
    OffsetEntry, decode_offsets, read_offset_entries, read_offsets, write_offset_entries,
    write_offsets,
};
pub use partition_metadata::{
    ParseTopicIdError, TopicId, decode_partition_metadata, read_partition_metadata,
    write_partition_metadata,
};

use crate::error::{Error, Result};

/// Log-dir root: everything below this offset of each partition is on disk.
pub const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// Log-dir root: each partition's log start offset (after retention and
/// `DeleteRecords`).
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// Log-dir root: where each compacted partition's clean section ends.
pub const CLEANER_OFFSET_CHECKPOINT: &str = "cleaner-offset-checkpoint";
/// Log-dir root: each partition's high watermark (a broker's replication
/// state; seglog reads it and leaves it alone).
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";
/// Partition directory: leader epochs and the offsets they start at.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// Partition directory: the topic id.
pub const PARTITION_METADATA: &str = "partition.metadata";

/// The version Kafka writes on line 1 of every checkpoint of this module.
const VERSION: i32 = 0;

/// Java's `\s`: the separators of Kafka's `split("\\s+")`.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// Lines as Java's `BufferedReader.readLine` yields them: ended by `\n`,
/// `\r` or `\r\n`; a final line needs no terminator; no empty line is
/// produced after a final terminator.
struct JavaLines<'a> {
    rest: &'a str,
}

impl<'a> JavaLines<'a> {
    fn new(text: &'a str) -> Self {
        JavaLines { rest: text }
    }
}

impl<'a> Iterator for JavaLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(end) = self.rest.find(['\n', '\r']) else {
            return Some(std::mem::take(&mut self.rest));
        };
        let line = &self.rest[..end];
        let terminator = if self.rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        self.rest = &self.rest[end + terminator..];
        Some(line)
    }
}

/// Builds [`Error::CorruptCheckpoint`].
fn corrupt(path: &Path, kind: &'static str, line: usize, reason: impl Into<String>) -> Error {
    Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        kind,
        line,
        reason: reason.into(),
    }
}

/// The bytes as UTF-8 (Kafka reads with a strict UTF-8 decoder), or the
/// error naming the line of the first bad byte.
fn utf8<'a>(path: &Path, kind: &'static str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        // Safe to view as text: `valid_up_to` is a char boundary.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let complete = JavaLines::new(prefix).count();
        let line = if prefix.is_empty() || prefix.ends_with(['\n', '\r']) {
            complete + 1
        } else {
            complete
        };
        corrupt(path, kind, line, "not valid UTF-8")
    })
}

/// A file's bytes, `None` when it does not exist.
fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The `InvalidInput` error a writer returns for values Kafka's reader could
/// not read back.
fn invalid_input(path: &Path, reason: String) -> Error {
    Error::io(path, io::Error::new(io::ErrorKind::InvalidInput, reason))
}

/// Parses Kafka's `CheckpointFile` layout: version line, count line, one
/// entry per line. `entry` gets the whitespace-separated fields of a line.
fn decode_entries<T>(
    path: &Path,
    kind: &'static str,
    bytes: &[u8],
    mut entry: impl FnMut(&[&str]) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let text = utf8(path, kind, bytes)?;
    let mut lines = JavaLines::new(text);
    // Kafka: no version line, or no count line, is an empty checkpoint.
    let Some(version) = lines.next() else {
        return Ok(Vec::new());
    };
    match version.parse::<i32>() {
        Ok(VERSION) => {}
        Ok(other) => {
            return Err(corrupt(
                path,
                kind,
                1,
                format!("unsupported version {other}, expected {VERSION}"),
            ));
        }
        Err(_) => {
            return Err(corrupt(
                path,
                kind,
                1,
                format!("version {version:?} is not a number"),
            ));
        }
    }
    let Some(count) = lines.next() else {
        return Ok(Vec::new());
    };
    let count = match count.parse::<i32>() {
        Ok(n) => usize::try_from(n)
            .map_err(|_| corrupt(path, kind, 2, format!("negative entry count {n}")))?,
        Err(_) => {
            return Err(corrupt(
                path,
                kind,
                2,
                format!("entry count {count:?} is not a number"),
            ));
        }
    };
    let mut entries = Vec::with_capacity(count.min(1024));
    let mut line_no = 2;
    for line in lines {
        line_no += 1;
        if entries.len() == count {
            return Err(corrupt(
                path,
                kind,
                line_no,
                format!("more entries than the {count} declared on line 2"),
            ));
        }
        if line.starts_with(is_java_space) {
            return Err(corrupt(path, kind, line_no, "line starts with whitespace"));
        }
        let fields: Vec<&str> = line
            .split(is_java_space)
            .filter(|f| !f.is_empty())
            .collect();
        entries.push(entry(&fields).map_err(|reason| corrupt(path, kind, line_no, reason))?);
    }
    if entries.len() != count {
        return Err(corrupt(
            path,
            kind,
            line_no + 1,
            format!(
                "file ends after {} entries, line 2 declares {count}",
                entries.len()
            ),
        ));
    }
    Ok(entries)
}

/// Kafka's `CheckpointFile` bytes: version, count, one line per entry.
fn encode_entries<I>(entries: I) -> Vec<u8>
where
    I: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    use std::io::Write as _;
    let mut out = Vec::with_capacity(16 + 32 * entries.len());
    // Writing into a Vec cannot fail.
    let _ = writeln!(out, "{VERSION}\n{}", entries.len());
    for entry in entries {
        let _ = writeln!(out, "{entry}");
    }
    out
}

/// Parses one decimal field as Java's `Integer.parseInt` / `Long.parseLong`
/// would (optional sign, ASCII digits).
fn number<T: std::str::FromStr>(
    field: &str,
    what: &str,
    type_name: &str,
) -> std::result::Result<T, String> {
    field
        .parse()
        .map_err(|_| format!("{what} {field:?} is not a {type_name}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn java_lines() {
        let lines = |s| JavaLines::new(s).collect::<Vec<_>>();
        assert_eq!(lines(""), Vec::<&str>::new());
        assert_eq!(lines("a"), ["a"]);
        assert_eq!(lines("a\n"), ["a"]);
        assert_eq!(lines("a\n\n"), ["a", ""]);
        assert_eq!(lines("a\r\nb\rc\n"), ["a", "b", "c"]);
        assert_eq!(lines("\n"), [""]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let path = Path::new("x");
        for (bytes, line) in [
            (&b"\xff"[..], 1),
            (b"0\n\xff", 2),
            (b"0\n1\nt\xff 0 1\n", 3),
            (b"0\r\n1\r\n\xff", 3),
        ] {
            match decode_offsets(path, bytes) {
                Err(Error::CorruptCheckpoint { line: l, .. }) => assert_eq!(l, line, "{bytes:?}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
    }

    /// The real Kafka fixtures (DESIGN.md section 7 item 13).
    fn fixtures() -> Option<PathBuf> {
        let dir = std::env::var_os("SEGLOG_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kafka-real")
            });
        if dir.is_dir() {
            return Some(dir);
        }
        if std::env::var("SEGLOG_REQUIRE_FIXTURES").as_deref() == Ok("1") {
            panic!(
                "SEGLOG_REQUIRE_FIXTURES=1 but no fixtures at {}",
                dir.display()
            );
        }
        eprintln!(
            "skipping: no Kafka fixtures at {} (set SEGLOG_FIXTURES)",
            dir.display()
        );
        None
    }

    /// Every file below `dir` whose name satisfies `wanted`, sorted.
    fn find(dir: &Path, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                find(&path, wanted, out);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(wanted)
            {
                out.push(path);
            }
        }
    }

    /// Parses every checkpoint of one kind in the fixtures, rewrites it with
    /// our writer and compares the bytes. Empty files (Kafka creates them
    /// when it opens a checkpoint) read as empty and are not compared.
    /// Returns (files, empty files).
    fn check_fixtures<T>(
        wanted: &dyn Fn(&str) -> bool,
        read: &dyn Fn(&Path) -> Result<T>,
        write: &dyn Fn(&Path, &T) -> Result<()>,
    ) -> Option<(usize, usize)> {
        let root = fixtures()?;
        let mut files = Vec::new();
        find(&root, wanted, &mut files);
        let tmp = tempfile::tempdir().unwrap();
        let mut empty = 0;
        for file in &files {
            let original = std::fs::read(file).unwrap();
            let value = read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if original.is_empty() {
                empty += 1;
                continue;
            }
            let copy = tmp.path().join(file.file_name().unwrap());
            write(&copy, &value).unwrap();
            let rewritten = std::fs::read(&copy).unwrap();
            assert!(
                rewritten == original,
                "{}: rewrite differs:\n{:?}\n{:?}",
                file.display(),
                String::from_utf8_lossy(&original),
                String::from_utf8_lossy(&rewritten)
            );
        }
        eprintln!("{} files, {} empty", files.len(), empty);
        Some((files.len(), empty))
    }

    #[test]
    fn fixture_offset_checkpoints() {
        let Some((files, _)) = check_fixtures(
            &|name| name.ends_with("-offset-checkpoint"),
            &|p| read_offset_entries(p),
            &|p, v| write_offset_entries(p, v),
        ) else {
            return;
        };
        assert!(files > 0, "no offset checkpoints in the fixtures");
        // The map API agrees with the ordered one.
        let mut paths = Vec::new();
        find(
            &fixtures().unwrap(),
            &|n| n.ends_with("-offset-checkpoint"),
            &mut paths,
        );
        for path in paths {
            let map = read_offsets(&path).unwrap();
            let entries = read_offset_entries(&path).unwrap();
            assert_eq!(map.len(), entries.len(), "{}", path.display());
            for e in entries {
                assert_eq!(map[&(e.topic, e.partition)], e.offset);
            }
        }
    }

    #[test]
    fn fixture_leader_epoch_checkpoints() {
        let Some((files, _)) = check_fixtures(
            &|name| name == LEADER_EPOCH_CHECKPOINT,
            &|p| read_leader_epochs(p),
            &|p, v| write_leader_epochs(p, v),
        ) else {
            return;
        };
        assert!(files > 0, "no leader-epoch-checkpoint in the fixtures");
    }

    #[test]
    fn fixture_partition_metadata() {
        let Some((files, empty)) = check_fixtures(
            &|name| name == PARTITION_METADATA,
            &|p| read_partition_metadata(p),
            &|p, id| write_partition_metadata(p, *id),
        ) else {
            return;
        };
        assert!(files > 0, "no partition.metadata in the fixtures");
        assert_eq!(empty, 0);
        // Every id is KRaft's metadata topic id or a random v4 UUID as Kafka
        // generates them (never starting with '-').
        let mut paths = Vec::new();
        find(
            &fixtures().unwrap(),
            &|n| n == PARTITION_METADATA,
            &mut paths,
        );
        for path in paths {
            let id = read_partition_metadata(&path).unwrap();
            if id == TopicId::METADATA {
                assert!(
                    path.parent().unwrap().ends_with("__cluster_metadata-0"),
                    "{}",
                    path.display()
                );
                continue;
            }
            let b = id.to_bytes();
            assert_eq!(b[6] >> 4, 4, "{}", path.display());
            assert_eq!(b[8] >> 6, 2, "{}", path.display());
            assert!(!id.to_string().starts_with('-'));
        }
    }
}
