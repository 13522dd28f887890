#![cfg(feature = "cli")]
//! The maintenance commands of the `seglog` binary, run as processes on a
//! store in a temporary directory: `compact TOPIC [-p N]`, `retention run`,
//! and the cleaner columns and fields of `topics describe`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs the binary on the store `dir` (`--dir` first) with `args`, feeding
/// `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("SEGLOG_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn seglog");
    let mut input = child.stdin.take().expect("stdin");
    // A command that fails early exits without reading its stdin.
    match input.write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => drop(input),
    }
    child.wait_with_output().expect("wait")
}

/// Runs with `stdin` and expects exit 0; returns stdout.
fn ok_with(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = run(dir, args, stdin);
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs with no stdin and expects exit 0; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    ok_with(dir, args, b"")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The store directory inside `tmp` (not created yet).
fn store_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("store")
}

/// `topics describe NAME --json`, parsed.
fn describe_json(dir: &Path, topic: &str) -> Value {
    let text = ok(dir, &["topics", "describe", topic, "--json"]);
    serde_json::from_str(&text).expect("describe --json")
}

/// The first partition's object of `describe --json`.
fn partition0(description: &Value) -> &Value {
    &description["partitions"][0]
}

/// The `before -> after` pair following `label` in `line`.
fn before_after(line: &str, label: &str) -> (f64, f64) {
    let rest = &line[line
        .find(label)
        .unwrap_or_else(|| panic!("{label}: {line}"))
        + label.len()..];
    let mut words = rest.split_whitespace();
    let before = words.next().expect("before");
    assert_eq!(words.next(), Some("->"), "{line}");
    let after = words.next().expect("after").trim_end_matches(',');
    (
        before.parse().expect("number"),
        after.parse().expect("number"),
    )
}

/// The key of line `i` of a compacted topic's input: 5 keys in turn.
fn key(i: usize) -> String {
    format!("k{}", i % 5)
}

/// Produces `rounds` runs of `per_round` `KEY:VALUE` lines (line `i`
/// overall has key [`key`]`(i)` and value `v{i}`); each run is one batch,
/// more than `segment.bytes=1024`, so each rolls a segment.
fn produce_keyed(dir: &Path, topic: &str, rounds: usize, per_round: usize) {
    for round in 0..rounds {
        let input: String = (round * per_round..(round + 1) * per_round)
            .map(|i| format!("{}:v{i}\n", key(i)))
            .collect();
        ok_with(dir, &["produce", topic, "-K", ":"], input.as_bytes());
    }
}

/// A store with the compacted topic `t` (one partition, 1 KiB segments)
/// holding 600 keyed records over 6 segments.
fn compacted_store() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = store_dir(&tmp);
    ok(
        &dir,
        &[
            "topics",
            "create",
            "t",
            "--config",
            "cleanup.policy=compact",
            "--config",
            "segment.bytes=1024",
        ],
    );
    produce_keyed(&dir, "t", 6, 100);
    tmp
}

/// What `consume -e` must print after a cleaning up to `checkpoint` of
/// `total` records written by [`produce_keyed`]: below the checkpoint the
/// latest record of each key, from it on every record.
fn expected_after_cleaning(total: usize, checkpoint: usize) -> Vec<String> {
    let mut latest: HashMap<String, usize> = HashMap::new();
    for i in 0..checkpoint {
        latest.insert(key(i), i);
    }
    (0..total)
        .filter(|&i| i >= checkpoint || latest.get(&key(i)) == Some(&i))
        .map(|i| format!("{i} {} v{i}", key(i)))
        .collect()
}

#[test]
fn compact_keeps_the_latest_record_per_key() {
    let tmp = compacted_store();
    let dir = store_dir(&tmp);
    let before = describe_json(&dir, "t");
    assert!(
        partition0(&before)["segments"].as_u64() > Some(2),
        "{before}"
    );
    assert!(
        partition0(&before)["dirty_ratio"].as_f64() > Some(0.5),
        "{before}"
    );
    assert_eq!(partition0(&before)["cleaner_checkpoint"], Value::Null);

    let out = ok(&dir, &["compact", "t"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("t-0: records "), "{out}");
    let (records_before, records_after) = before_after(lines[0], "records ");
    assert!(records_after < records_before, "{out}");
    assert!(before_after(lines[0], "bytes ").1 < before_after(lines[0], "bytes ").0);
    assert!(before_after(lines[0], "segments ").0 > 0.0, "{out}");
    assert_eq!(before_after(lines[0], "dirty ratio ").1, 0.0, "{out}");
    assert!(lines[0].contains("tombstones removed 0"), "{out}");
    assert!(
        lines[1].starts_with("summary: 1 partitions, records "),
        "{out}"
    );
    assert!(lines[1].ends_with(" ms"), "{out}");

    let after = describe_json(&dir, "t");
    let checkpoint = partition0(&after)["cleaner_checkpoint"]
        .as_u64()
        .expect("a checkpoint after cleaning") as usize;
    assert!(checkpoint > 0 && checkpoint < 600, "{after}");
    assert_eq!(partition0(&after)["dirty_ratio"].as_f64(), Some(0.0));

    let consumed = ok(&dir, &["consume", "t", "-e", "-f", "%o %k %s\\n"]);
    let consumed: Vec<&str> = consumed.lines().collect();
    assert_eq!(consumed, expected_after_cleaning(600, checkpoint));

    let verified = run(&dir, &["verify", dir.to_str().expect("UTF-8 path")], b"");
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));

    let table = ok(&dir, &["topics", "describe", "t"]);
    assert!(table.contains("DIRTY-RATIO  CLEANER-CHECKPOINT"), "{table}");
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("0 "))
        .expect("partition row");
    assert!(
        row.ends_with(&format!("0.000  {checkpoint:>18}")),
        "{table}"
    );
}

#[test]
fn compacting_again_finds_nothing_dirty() {
    let tmp = compacted_store();
    let dir = store_dir(&tmp);
    ok(&dir, &["compact", "t"]);
    let out = ok(&dir, &["compact", "t", "-p", "0"]);
    assert!(out.starts_with("t-0: records 0 -> 0, "), "{out}");
    assert!(
        out.contains("\nsummary: 1 partitions, records 0 -> 0, "),
        "{out}"
    );
}

#[test]
fn compact_cleans_each_partition_or_the_one_given() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = store_dir(&tmp);
    let create = [
        "topics",
        "create",
        "m",
        "--partitions",
        "3",
        "--config",
        "cleanup.policy=compact,delete",
    ];
    ok(&dir, &create);
    ok_with(&dir, &["produce", "m", "-K", ":"], b"a:1\nb:2\nc:3\na:4\n");
    let out = ok(&dir, &["compact", "m"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (n, line) in lines[..3].iter().enumerate() {
        assert!(line.starts_with(&format!("m-{n}: records ")), "{out}");
    }
    assert!(lines[3].starts_with("summary: 3 partitions, "), "{out}");

    let out = ok(&dir, &["compact", "m", "--partition", "2"]);
    assert!(out.starts_with("m-2: records "), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn compact_refuses_what_it_cannot_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = store_dir(&tmp);
    ok(&dir, &["topics", "create", "plain"]);

    let out = run(&dir, &["compact", "plain"], b"");
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    let message = stderr(&out);
    assert!(
        message.contains("topic plain is not compacted"),
        "{message}"
    );
    assert!(message.contains("cleanup.policy=compact"), "{message}");

    let out = run(&dir, &["compact", "nope"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("unknown topic"), "{}", stderr(&out));

    ok(
        &dir,
        &[
            "topics",
            "create",
            "c",
            "--config",
            "cleanup.policy=compact",
        ],
    );
    let out = run(&dir, &["compact", "c", "-p", "1"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no partition 1"), "{}", stderr(&out));

    let missing = tmp.path().join("missing");
    let out = run(&missing, &["compact", "c"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
}

#[test]
fn describe_of_a_delete_topic_has_no_cleaner_fields() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = store_dir(&tmp);
    ok(&dir, &["topics", "create", "plain"]);
    let table = ok(&dir, &["topics", "describe", "plain"]);
    assert!(!table.contains("DIRTY-RATIO"), "{table}");
    let v = describe_json(&dir, "plain");
    let fields = partition0(&v).as_object().expect("partition object");
    assert_eq!(fields.len(), 5, "{v}");
}

#[test]
fn retention_run_deletes_segments_past_retention_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = store_dir(&tmp);
    let create = [
        "topics",
        "create",
        "r",
        "--config",
        "retention.bytes=2048",
        "--config",
        "segment.bytes=1024",
        "--config",
        "file.delete.delay.ms=0",
    ];
    ok(&dir, &create);
    // An unconfigured-retention neighbour that must keep everything.
    ok(
        &dir,
        &["topics", "create", "keep", "--config", "segment.bytes=1024"],
    );
    let lines: String = (0..50).map(|i| format!("line {i}\n")).collect();
    for _ in 0..12 {
        ok_with(&dir, &["produce", "r"], lines.as_bytes());
        ok_with(&dir, &["produce", "keep"], lines.as_bytes());
    }
    let before = describe_json(&dir, "r");
    assert_eq!(partition0(&before)["log_start_offset"], 0);

    let out = ok(&dir, &["retention", "run"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("r-0: "), "{out}");
    assert!(lines[0].contains(" segments deleted, bytes "), "{out}");
    let (log_start_before, log_start_after) = before_after(lines[0], "log start ");
    assert_eq!(log_start_before, 0.0, "{out}");
    assert!(log_start_after > 0.0, "{out}");
    assert!(lines[1].starts_with("summary: 1 partitions, "), "{out}");
    assert!(lines[1].contains(" bytes freed in "), "{out}");

    let after = describe_json(&dir, "r");
    let log_start = partition0(&after)["log_start_offset"].as_i64();
    assert_eq!(log_start, Some(log_start_after as i64), "{after}");
    assert!(partition0(&after)["size_bytes"].as_u64() <= Some(2048 + 1024));
    assert_eq!(
        partition0(&describe_json(&dir, "keep"))["log_start_offset"],
        0
    );

    let verified = run(&dir, &["verify", dir.to_str().expect("UTF-8 path")], b"");
    assert_eq!(code(&verified), 0, "{}", stderr(&verified));

    // Nothing more is due: a second pass deletes nothing.
    let again = ok(&dir, &["retention", "run"]);
    assert!(
        again.starts_with("summary: 0 partitions, 0 segments deleted, 0 bytes freed in "),
        "{again}"
    );
}

#[test]
fn retention_run_needs_an_existing_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run(&store_dir(&tmp), &["retention", "run"], b"");
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
}
