#![cfg(feature = "cli")]
//! Consumer groups in the `seglog` binary, run as processes on a store in a
//! temporary directory: `consume -G` (resuming from committed offsets,
//! committing what it printed), `groups list|describe|delete|reset-offsets`,
//! and `verify` over the `__consumer_offsets` partitions they write.

use std::collections::BTreeSet;
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

/// Runs with no stdin and expects exit 0 and nothing on stderr; returns
/// stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args, b"");
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs with no stdin and expects exit 2 (usage or store error); returns
/// stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args, b"");
    assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}");
    stderr(&out)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A store in a temporary directory with `topic` of `partitions`, and
/// `lines` produced to it (keyless: round-robin over the partitions).
fn store_with(topic: &str, partitions: u32, lines: &[String]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("store");
    let n = partitions.to_string();
    ok(&dir, &["topics", "create", topic, "--partitions", &n]);
    produce(&dir, topic, lines);
    (tmp, dir)
}

fn produce(dir: &Path, topic: &str, lines: &[String]) {
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = run(dir, &["produce", topic], input.as_bytes());
    assert_eq!(code(&out), 0, "produce: {}", stderr(&out));
}

/// `v1` ... `vN`.
fn values(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("v{i}")).collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// The rows of a table printed by `groups`, cells split at whitespace,
/// without the header (which is checked).
fn rows(table: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut lines = table.lines();
    let first: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(first, header, "{table}");
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

const DESCRIBE_HEADER: &[&str] = &[
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "CONSUMER-ID",
];
const RESET_HEADER: &[&str] = &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"];

/// `(partition, current offset, log end offset, lag)` per row of
/// `groups describe`, checking the constant columns.
fn described(dir: &Path, group: &str) -> Vec<(u32, i64, i64, i64)> {
    let table = ok(dir, &["groups", "describe", group]);
    rows(&table, DESCRIBE_HEADER)
        .into_iter()
        .map(|row| {
            assert_eq!(row.len(), 7, "{table}");
            assert_eq!((row[0].as_str(), row[6].as_str()), (group, "-"), "{table}");
            let n = |i: usize| row[i].parse::<i64>().expect("a number");
            (n(2) as u32, n(3), n(4), n(5))
        })
        .collect()
}

/// `(partition, new offset)` per row of `groups reset-offsets`.
fn reset(dir: &Path, group: &str, topic: &str, to: &[&str]) -> Vec<(u32, i64)> {
    let args = [&["groups", "reset-offsets", group, "--topic", topic], to].concat();
    let table = ok(dir, &args);
    rows(&table, RESET_HEADER)
        .into_iter()
        .map(|row| {
            assert_eq!((row[0].as_str(), row[1].as_str()), (group, topic));
            (
                row[2].parse().expect("partition"),
                row[3].parse().expect("offset"),
            )
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_group_resumes_where_it_stopped_and_follows_resets() {
    let (_tmp, dir) = store_with("t", 3, &values(20));

    // -c 8: exactly eight records, then the other twelve, none twice.
    let first = lines(&ok(&dir, &["consume", "-G", "g1", "-e", "-c", "8", "t"]));
    assert_eq!(first.len(), 8, "{first:?}");
    let second = lines(&ok(&dir, &["consume", "-G", "g1", "-e", "t"]));
    assert_eq!(second.len(), 12, "{second:?}");
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 20, "a record was printed twice: {all:?}");
    assert_eq!(sorted(all), sorted(values(20)));

    // Nothing left: a third run prints nothing.
    assert_eq!(ok(&dir, &["consume", "-G", "g1", "-e", "t"]), "");

    // Round-robin: 7, 7 and 6 records; everything committed, lag 0.
    let expected = vec![(0, 7, 7, 0), (1, 7, 7, 0), (2, 6, 6, 0)];
    assert_eq!(described(&dir, "g1"), expected);
    assert_eq!(ok(&dir, &["groups", "list"]), "g1\n");

    // Back to the beginning: all twenty again.
    let earliest = reset(&dir, "g1", "t", &["--to-earliest"]);
    assert_eq!(earliest, vec![(0, 0), (1, 0), (2, 0)]);
    let again = lines(&ok(&dir, &["consume", "-G", "g1", "-e", "t"]));
    assert_eq!(sorted(again), sorted(values(20)));

    // To offset 5 (clamped to each log end): 2 + 2 + 1 records.
    assert_eq!(
        reset(&dir, "g1", "t", &["--to-offset", "5"]),
        vec![(0, 5), (1, 5), (2, 5)]
    );
    assert_eq!(
        described(&dir, "g1"),
        vec![(0, 5, 7, 2), (1, 5, 7, 2), (2, 5, 6, 1)]
    );
    let tail = lines(&ok(
        &dir,
        &["consume", "-G", "g1", "-e", "-f", "%p:%o\\n", "t"],
    ));
    assert_eq!(
        sorted(tail),
        ["0:5", "0:6", "1:5", "1:6", "2:5"]
            .map(String::from)
            .to_vec()
    );
    assert_eq!(
        reset(&dir, "g1", "t", &["--to-offset", "1000"]),
        vec![(0, 7), (1, 7), (2, 6)]
    );

    // To the end: nothing to read.
    reset(&dir, "g1", "t", &["--to-earliest"]);
    assert_eq!(
        reset(&dir, "g1", "t", &["--to-latest"]),
        vec![(0, 7), (1, 7), (2, 6)]
    );
    assert_eq!(ok(&dir, &["consume", "-G", "g1", "-e", "t"]), "");

    // Deleted: gone from the list, describe and delete refuse it.
    assert_eq!(ok(&dir, &["groups", "delete", "g1"]), "");
    assert_eq!(ok(&dir, &["groups", "list"]), "");
    assert!(fails(&dir, &["groups", "describe", "g1"]).contains("does not exist"));
    assert!(fails(&dir, &["groups", "delete", "g1"]).contains("does not exist"));

    // The store, __consumer_offsets included, verifies clean.
    let verify = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("verify")
        .arg(&dir)
        .output()
        .expect("run verify");
    assert_eq!(code(&verify), 0, "{}", stderr(&verify));
    // The topic's 3 segments and one per __consumer_offsets partition.
    let summary = String::from_utf8_lossy(&verify.stdout);
    assert!(summary.contains("summary: 53 segments"), "{summary}");
    assert!(dir.join("__consumer_offsets-0").is_dir());
}

#[test]
fn group_output_matches_the_plain_consumer() {
    let (_tmp, dir) = store_with("t", 3, &values(9));
    for format in [
        &["--json"][..],
        &["-f", "%t %p %o %k %s %K %S %T [%h]\\n"][..],
    ] {
        let plain = ok(&dir, &[&["consume", "-e", "t"], format].concat());
        let grouped = ok(
            &dir,
            &[&["consume", "-G", "fmt", "-e"], format, &["t"]].concat(),
        );
        reset(&dir, "fmt", "t", &["--to-earliest"]);
        assert_eq!(sorted(lines(&grouped)), sorted(lines(&plain)), "{format:?}");
    }
    let json: Value = serde_json::from_str(
        ok(
            &dir,
            &["consume", "-G", "j", "-e", "-c", "1", "--json", "t"],
        )
        .trim(),
    )
    .expect("one JSON line");
    assert_eq!(json["topic"], "t");
}

#[test]
fn a_group_consumes_several_topics() {
    let (_tmp, dir) = store_with("a", 2, &values(4));
    ok(&dir, &["topics", "create", "b", "--partitions", "1"]);
    produce(&dir, "b", &["b1".to_string(), "b2".to_string()]);
    let out = ok(
        &dir,
        &["consume", "-G", "multi", "-e", "-f", "%t:%s\\n", "a", "b"],
    );
    let expected = ["a:v1", "a:v2", "a:v3", "a:v4", "b:b1", "b:b2"].map(String::from);
    assert_eq!(sorted(lines(&out)), expected.to_vec());
    let table = ok(&dir, &["groups", "describe", "multi"]);
    let topics: Vec<String> = rows(&table, DESCRIBE_HEADER)
        .into_iter()
        .map(|r| format!("{}-{}", r[1], r[2]))
        .collect();
    assert_eq!(topics, ["a-0", "a-1", "b-0"].map(String::from).to_vec());
    let json: Value =
        serde_json::from_str(&ok(&dir, &["groups", "describe", "multi", "--json"])).expect("JSON");
    assert_eq!(json["group"], "multi");
    assert_eq!(json["state"], "Empty");
    assert_eq!(json["members"], Value::Array(Vec::new()));
    assert_eq!(json["offsets"][2]["topic"], "b");
    assert_eq!(json["offsets"][2]["current_offset"], 2);
    assert_eq!(json["offsets"][2]["lag"], 0);
    assert_eq!(json["offsets"][2]["consumer_id"], Value::Null);
}

#[test]
fn the_start_offset_applies_only_without_a_committed_offset() {
    let (_tmp, dir) = store_with("t", 1, &values(5));
    // -o end for a new group: nothing now, but the position is committed.
    assert_eq!(
        ok(&dir, &["consume", "-G", "late", "-e", "-o", "end", "t"]),
        ""
    );
    assert_eq!(described(&dir, "late"), vec![(0, 5, 5, 0)]);
    produce(&dir, "t", &["v6".to_string()]);
    // The committed offset wins over -o.
    let out = ok(
        &dir,
        &["consume", "-G", "late", "-e", "-o", "beginning", "t"],
    );
    assert_eq!(out, "v6\n");
    // -o -2 for another new group.
    assert_eq!(
        ok(&dir, &["consume", "-G", "tail", "-e", "-o", "-2", "t"]),
        "v5\nv6\n"
    );
}

#[test]
fn reset_to_a_datetime() {
    let (_tmp, dir) = store_with("t", 2, &values(4));
    assert_eq!(
        reset(
            &dir,
            "g",
            "t",
            &["--to-datetime", "1970-01-01T00:00:00.000Z"]
        ),
        vec![(0, 0), (1, 0)]
    );
    assert_eq!(
        reset(&dir, "g", "t", &["--to-datetime", "32503680000000"]),
        vec![(0, 2), (1, 2)]
    );
    assert_eq!(
        reset(
            &dir,
            "g",
            "t",
            &["--to-datetime", "3000-01-01T01:00:00+01:00"]
        ),
        vec![(0, 2), (1, 2)]
    );
    fails(
        &dir,
        &[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-datetime",
            "2024-01-01T00:00:00",
        ],
    );
}

#[test]
fn bad_invocations_exit_2() {
    let (_tmp, dir) = store_with("t", 1, &values(1));
    // Reading never creates __consumer_offsets.
    assert_eq!(ok(&dir, &["groups", "list"]), "");
    assert!(fails(&dir, &["groups", "describe", "nope"]).contains("does not exist"));
    assert!(fails(&dir, &["groups", "delete", "nope"]).contains("does not exist"));
    assert!(!dir.join("__consumer_offsets-0").exists());
    // Nor does a reset of an unknown topic.
    fails(
        &dir,
        &[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "nope",
            "--to-earliest",
        ],
    );
    assert!(!dir.join("__consumer_offsets-0").exists());
    // Exactly one target.
    fails(&dir, &["groups", "reset-offsets", "g", "--topic", "t"]);
    let both = [
        "groups",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--to-latest",
    ];
    fails(&dir, &both);
    fails(
        &dir,
        &[
            "groups",
            "reset-offsets",
            "g",
            "--topic",
            "t",
            "--to-offset",
            "-1",
        ],
    );
    // Several topics need -G; -G excludes -p; the group id is not empty.
    fails(&dir, &["consume", "-e", "t", "t2"]);
    fails(&dir, &["consume", "-G", "g", "-p", "0", "-e", "t"]);
    fails(&dir, &["consume", "-G", "", "-e", "t"]);
    assert!(fails(&dir, &["consume", "-G", "g", "-e", "t", "nope"]).contains("nope"));
    assert!(!dir.join("__consumer_offsets-0").exists());
}

#[test]
fn a_damaged_batch_is_reported_and_skipped_as_without_a_group() {
    let (_tmp, dir) = store_with("t", 1, &["first-AAAA".to_string()]);
    produce(&dir, "t", &["second".to_string()]);
    let log = dir.join("t-0").join("00000000000000000000.log");
    let mut bytes = std::fs::read(&log).expect("read the segment");
    let at = bytes
        .windows(4)
        .position(|w| w == b"AAAA")
        .expect("the first value");
    bytes[at] = b'B';
    std::fs::write(&log, &bytes).expect("write the segment");

    let plain = run(&dir, &["consume", "-e", "t"], b"");
    let grouped = run(&dir, &["consume", "-G", "g", "-e", "t"], b"");
    for out in [&plain, &grouped] {
        assert_eq!(code(out), 1, "{}", stderr(out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "second\n");
        assert!(
            stderr(out).contains("damaged batch at offset 0"),
            "{}",
            stderr(out)
        );
    }
    // What was printed is committed: the next run has nothing to print.
    assert_eq!(ok(&dir, &["consume", "-G", "g", "-e", "t"]), "");
}
