#![cfg(feature = "cli")]
//! The `seglog` command-line tool, run as a process: `dump` (text and
//! `--json`) and `verify` on segments written through the library, on
//! damaged copies of them, and on the real Kafka fixtures.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use seglog::record::{BatchBuilder, BatchHeader, Compression, Header, Record};
use seglog::segment::{FileKind, LogSegment, OffsetIndex, SegmentConfig, file_name};
use serde_json::Value;

/// Runs the binary with `args`.
fn seglog<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seglog"))
        .args(args)
        .output()
        .expect("run seglog")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A sealed segment at base offset 0 and what was written into it.
struct Written {
    dir: tempfile::TempDir,
    /// Every record with its offset, in offset order.
    records: Vec<(i64, Record)>,
    /// Byte position of every batch in the `.log`.
    positions: Vec<u64>,
    /// Base offset of every batch.
    bases: Vec<i64>,
}

impl Written {
    fn log(&self) -> PathBuf {
        file_name::file_path(self.dir.path(), 0, FileKind::Log)
    }
}

/// Records of batch `b`: keyed, null key, tombstone, binary bytes, headers
/// with null values; values large enough that the index gets entries.
fn batch_records(b: i64) -> Vec<Record> {
    let ts = 1_700_000_000_000 + b * 1000;
    let filler = noise(600 + b as usize, b as u64);
    vec![
        Record::keyed(ts, format!("key-{b}"), format!("value {b} {filler}")),
        Record::new(ts + 1, vec![0u8, 159, 146, 150, 255, b as u8]),
        Record::tombstone(ts + 2, vec![0xffu8, 0, b as u8]).with_header(Header {
            key: "null-header".into(),
            value: None,
        }),
        Record::keyed(ts + 3, "ünïcödé ✓", "line\nbreak")
            .with_header(Header::new("trace", "t-1"))
            .with_header(Header::new("bin\"q", vec![1u8, 2, 3])),
    ]
}

/// `len` pseudo-random letters, so compressed batches stay large.
fn noise(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Writes 24 batches: plain, gzip and lz4 ones, one LogAppendTime batch
/// and one control batch (its record is printed like any other).
fn write_segment() -> Written {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut segment = LogSegment::create(dir.path(), 0, SegmentConfig::default()).expect("create");
    let (mut records, mut positions, mut bases) = (Vec::new(), Vec::new(), Vec::new());
    let mut offset = 0i64;
    for b in 0..24 {
        let mut list = batch_records(b);
        let mut builder = BatchBuilder::new(offset).partition_leader_epoch(3);
        builder = match b % 3 {
            1 => builder.compression(Compression::Gzip),
            2 => builder.compression(Compression::Lz4),
            _ => builder,
        };
        if b == 7 {
            builder = builder.log_append_time(1_800_000_000_000);
        }
        if b == 11 {
            builder = builder.control(true).transactional(true).producer(42, 1, 0);
            list = vec![Record::keyed(
                1_700_000_011_000,
                vec![0u8, 0, 0, 1],
                vec![0u8, 0, 0, 0, 0, 5],
            )];
        }
        for r in &list {
            builder.push(r).expect("push");
        }
        let bytes = builder.build().expect("build");
        let view = seglog::record::BatchView::parse(&bytes).expect("parse");
        positions.push(segment.append(&view).expect("append"));
        bases.push(offset);
        for mut r in list {
            if b == 7 {
                r.timestamp = 1_800_000_000_000;
            }
            records.push((offset, r));
            offset += 1;
        }
    }
    segment.seal().expect("seal");
    drop(segment);
    Written {
        dir,
        records,
        positions,
        bases,
    }
}

/// Decodes a base64 JSON field (`null` is `None`).
fn b64(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(STANDARD.decode(s).expect("standard base64")),
        other => panic!("not base64 or null: {other}"),
    }
}

/// Checks one JSON line against the record written at `offset`.
fn check_json_line(line: &str, offset: i64, record: &Record) {
    let keys = [
        "\"offset\":",
        "\"timestamp\":",
        "\"key\":",
        "\"value\":",
        "\"headers\":",
    ];
    let at: Vec<usize> = keys.iter().map(|k| line.find(k).expect(k)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "key order: {line}");
    assert!(line.starts_with("{\"offset\":"), "{line}");
    let v: Value = serde_json::from_str(line).expect("a JSON line");
    let object = v.as_object().expect("an object");
    assert_eq!(object.len(), 5, "{line}");
    assert_eq!(v["offset"].as_i64(), Some(offset));
    assert_eq!(v["timestamp"].as_i64(), Some(record.timestamp));
    assert_eq!(b64(&v["key"]), record.key.as_ref().map(|k| k.to_vec()));
    assert_eq!(b64(&v["value"]), record.value.as_ref().map(|k| k.to_vec()));
    let headers = v["headers"].as_array().expect("headers array");
    assert_eq!(headers.len(), record.headers.len());
    for (json, header) in headers.iter().zip(&record.headers) {
        assert_eq!(json.as_object().map(|o| o.len()), Some(2));
        assert_eq!(json["key"].as_str(), Some(header.key.as_str()));
        assert_eq!(
            b64(&json["value"]),
            header.value.as_ref().map(|h| h.to_vec())
        );
    }
}

#[test]
fn dump_json_prints_every_record_exactly() {
    let w = write_segment();
    for path in [w.dir.path().to_path_buf(), w.log()] {
        let out = seglog(&[Path::new("dump"), &path, Path::new("--json")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(out.stderr.is_empty(), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), w.records.len());
        for (line, (offset, record)) in lines.iter().zip(&w.records) {
            check_json_line(line, *offset, record);
        }
    }
}

#[test]
fn dump_text_prints_batches_and_records() {
    let w = write_segment();
    let out = seglog(&[Path::new("dump"), w.dir.path()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let batches: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("baseOffset: "))
        .collect();
    assert_eq!(batches.len(), w.positions.len());
    assert!(batches.iter().all(|l| l.ends_with("isValid: true")));
    assert!(batches[0].starts_with("baseOffset: 0 lastOffset: 3 count: 4 position: 0 "));
    assert!(batches[1].contains(" compression: gzip "), "{}", batches[1]);
    assert!(
        batches[7].contains(" timestampType: LogAppendTime "),
        "{}",
        batches[7]
    );
    assert!(batches[11].contains(" isTransactional: true isControl: true "));
    let records = text.lines().filter(|l| l.starts_with("| offset: ")).count();
    assert_eq!(records, w.records.len());
    let first = "| offset: 0 timestamp: 1700000000000 keySize: 5 valueSize: 608 key: \"key-0\"";
    assert!(text.contains(first), "{text}");
    assert!(text.contains("controlType: COMMIT"));
    assert!(
        text.contains("key: null value: base64:AJ+Slv8A headers: []"),
        "{text}"
    );
    let third = "key: base64:/wAA value: null headers: [\"null-header\": null]";
    assert!(text.contains(third), "{text}");
}

#[test]
fn dump_index_files_lists_entries() {
    let w = write_segment();
    let index_path = file_name::file_path(w.dir.path(), 0, FileKind::OffsetIndex);
    let index = OffsetIndex::open(&index_path, 0, 10 << 20, false).expect("open index");
    assert!(index.len() >= 2, "the segment should have index entries");
    let out = seglog(&[Path::new("dump"), &index_path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entries: Vec<String> = stdout(&out).lines().skip(1).map(String::from).collect();
    let expected: Vec<String> = (0..index.len())
        .map(|n| index.entry(n))
        .map(|(o, p)| format!("offset: {o} position: {p}"))
        .collect();
    assert_eq!(entries, expected);
    let time_path = file_name::file_path(w.dir.path(), 0, FileKind::TimeIndex);
    let out = seglog(&[Path::new("dump"), &time_path]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .skip(1)
            .all(|l| l.starts_with("timestamp: "))
    );
}

#[test]
fn verify_accepts_a_sound_segment_and_store() {
    let w = write_segment();
    let out = seglog(&[Path::new("verify"), &w.log()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let summary = format!(
        "summary: 1 segments, 24 batches, {} records, ",
        w.records.len()
    );
    assert!(stdout(&out).starts_with(&summary), "{}", stdout(&out));
    assert!(stdout(&out).trim_end().ends_with(", 0 faults"));

    // A store: partition directories beside files verify must skip.
    let store = tempfile::tempdir().expect("tempdir");
    let partition = store.path().join("orders-0");
    std::fs::create_dir(&partition).expect("mkdir");
    for entry in std::fs::read_dir(w.dir.path()).expect("list").flatten() {
        std::fs::copy(entry.path(), partition.join(entry.file_name())).expect("copy");
    }
    std::fs::write(store.path().join("meta.properties"), "version=1\n").expect("write");
    std::fs::write(partition.join("00000000000000000024.snapshot"), [0u8; 4]).expect("write");
    std::fs::write(partition.join("00000000000000000050.log.deleted"), [1u8; 9]).expect("write");
    let out = seglog(&[Path::new("verify"), Path::new("-v"), store.path()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&summary), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(": ok, 24 batches"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn verify_and_dump_name_a_batch_with_a_bad_crc() {
    let w = write_segment();
    let copy = common::copy_dir(w.dir.path());
    let log = file_name::file_path(copy.path(), 0, FileKind::Log);
    let mut bytes = std::fs::read(&log).expect("read");
    let position = w.positions[5];
    // The low byte of baseTimestamp: covered by the CRC, records still decode.
    bytes[position as usize + 34] ^= 0x01;
    std::fs::write(&log, &bytes).expect("write");

    let out = seglog(&[Path::new("verify"), copy.path()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let expected = format!("{}: byte {position}: CRC-32C mismatch", log.display());
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));
    assert!(stdout(&out).contains(", 1 faults"), "{}", stdout(&out));

    // The dump goes on past the damaged batch and still exits 1.
    let out = seglog(&[Path::new("dump"), copy.path(), Path::new("--json")]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), w.records.len());
    let out = seglog(&[Path::new("dump"), &log]);
    assert_eq!(code(&out), 1);
    let marked = format!("position: {position} ");
    let line = stdout(&out)
        .lines()
        .find(|l| l.contains(&marked))
        .map(String::from);
    assert!(line.is_some_and(|l| l.ends_with("isValid: false")));
}

#[test]
fn verify_and_dump_report_a_torn_batch() {
    let w = write_segment();
    let copy = common::copy_dir(w.dir.path());
    let log = file_name::file_path(copy.path(), 0, FileKind::Log);
    let position = w.positions[20];
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open");
    file.set_len(position + 70).expect("truncate");
    drop(file);

    let out = seglog(&[Path::new("verify"), &log]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let expected = format!("{}: byte {position}: ", log.display());
    assert!(stdout(&out).contains(&expected), "{}", stdout(&out));

    let out = seglog(&[Path::new("dump"), copy.path(), Path::new("--json")]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    let before = w.records.iter().filter(|(o, _)| *o < w.bases[20]).count();
    assert_eq!(stdout(&out).lines().count(), before);
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    assert_eq!(code(&seglog(&[Path::new("verify"), &missing])), 2);
    assert_eq!(code(&seglog(&[Path::new("dump"), &missing])), 2);
    assert_eq!(code(&seglog(&[Path::new("verify"), dir.path()])), 2);
    let other = dir.path().join("meta.properties");
    std::fs::write(&other, "x").expect("write");
    assert_eq!(code(&seglog(&[Path::new("dump"), &other])), 2);
    assert_eq!(code(&seglog(&["verify"])), 2);
    assert_eq!(code(&seglog(&["frobnicate"])), 2);
}

/// Records in a partition directory, counted through the library.
fn record_count(dir: &Path) -> u64 {
    let mut count = 0;
    for base in common::segment_bases(dir) {
        let data = std::fs::read(file_name::file_path(dir, base, FileKind::Log)).expect("read");
        for item in seglog::record::batches(&data) {
            let (_, view) = item.expect("fixture batches frame");
            count += u64::try_from(view.record_count()).expect("non-negative count");
        }
    }
    count
}

#[test]
fn fixtures_verify_cleanly() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let out = seglog(&[Path::new("verify"), &root]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).trim_end().ends_with(", 0 faults"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn fixtures_dump_json_has_one_line_per_record() {
    let Some(root) = common::fixtures() else {
        return;
    };
    let (mut total, mut partitions) = (0u64, 0);
    for dir in common::partition_dirs(&root) {
        let expected = record_count(&dir);
        if expected == 0 {
            continue;
        }
        partitions += 1;
        let out = seglog(&[Path::new("dump"), &dir, Path::new("--json")]);
        assert_eq!(code(&out), 0, "{}: {}", dir.display(), stderr(&out));
        let mut last = i64::MIN;
        let mut lines = 0u64;
        for line in stdout(&out).lines() {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let offset = v["offset"].as_i64().expect("offset");
            assert!(offset > last, "{}: offsets go up", dir.display());
            last = offset;
            lines += 1;
        }
        assert_eq!(lines, expected, "{}", dir.display());
        total += lines;
    }
    eprintln!("{partitions} partitions with data, {total} records dumped");
    assert!(total > 150_000, "{total} records");
}
