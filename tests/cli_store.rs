#![cfg(feature = "cli")]
//! The store commands of the `seglog` binary, run as processes on a store in
//! a temporary directory: `topics create|list|describe|alter|delete`,
//! `produce` (stdin lines) and `consume` (kcat formats and `--json`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use seglog::Store;
use seglog::config::StoreConfig;
use seglog::partitioner::partition_for_key;
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

/// Runs with no stdin and expects exit 0; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args, b"");
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Produces `input` with `args` and expects exit 0 and an empty stdout.
fn produce(dir: &Path, args: &[&str], input: &[u8]) {
    let out = run(dir, &[&["produce"], args].concat(), input);
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "produce prints nothing");
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

/// A new store in a temporary directory, with `topic` of `partitions`.
fn store_with(topic: &str, partitions: u32) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let n = partitions.to_string();
    ok(
        &tmp.path().join("store"),
        &["topics", "create", topic, "--partitions", &n],
    );
    tmp
}

fn dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("store")
}

/// A record as `consume --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Json {
    partition: u32,
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn b64(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(STANDARD.decode(s).expect("base64")),
        other => panic!("not bytes: {other}"),
    }
}

/// Parses `consume --json` output, checking the exact key order.
fn parse_json(text: &str, topic: &str) -> Vec<Json> {
    text.lines()
        .map(|line| {
            let prefix = format!("{{\"topic\":\"{topic}\",\"partition\":");
            assert!(line.starts_with(&prefix), "{line}");
            for (a, b) in [
                ("\"partition\"", "\"offset\""),
                ("\"offset\"", "\"timestamp\""),
                ("\"timestamp\"", "\"key\""),
                ("\"key\"", "\"value\""),
                ("\"value\"", "\"headers\""),
            ] {
                assert!(line.find(a) < line.find(b), "key order: {line}");
            }
            let v: Value = serde_json::from_str(line).expect("one JSON object per line");
            assert_eq!(v.as_object().map(|o| o.len()), Some(7), "{line}");
            Json {
                partition: v["partition"].as_u64().expect("partition") as u32,
                offset: v["offset"].as_i64().expect("offset"),
                timestamp: v["timestamp"].as_i64().expect("timestamp"),
                key: b64(&v["key"]),
                value: b64(&v["value"]),
                headers: v["headers"]
                    .as_array()
                    .expect("headers")
                    .iter()
                    .map(|h| {
                        let key = h["key"].as_str().expect("header key").to_string();
                        (key, b64(&h["value"]))
                    })
                    .collect(),
            }
        })
        .collect()
}

fn consume_json(dir: &Path, topic: &str, extra: &[&str]) -> Vec<Json> {
    let args = [&["consume", topic, "-e", "--json"], extra].concat();
    parse_json(&ok(dir, &args), topic)
}

#[test]
fn topics_create_list_describe_alter_delete() {
    let tmp = store_with("orders", 3);
    let d = dir(&tmp);
    ok(
        &d,
        &[
            "topics",
            "create",
            "audit.log_v2",
            "--config",
            "retention.ms=1234",
            "--config",
            "cleanup.policy=compact",
        ],
    );
    assert_eq!(ok(&d, &["topics", "list"]), "audit.log_v2\norders\n");

    let table = ok(&d, &["topics", "describe", "orders"]);
    assert!(table.contains("Topic: orders"), "{table}");
    assert!(table.contains("Partitions: 3"), "{table}");
    assert!(table.contains("LOG-START-OFFSET"), "{table}");
    assert!(table.contains("  retention.ms="), "{table}");
    let described = ok(&d, &["topics", "describe", "audit.log_v2"]);
    assert!(described.contains("  retention.ms=1234\n"), "{described}");
    assert!(
        described.contains("  cleanup.policy=compact\n"),
        "{described}"
    );

    ok(
        &d,
        &[
            "topics",
            "alter",
            "orders",
            "--config",
            "retention.ms=5000",
            "--partitions",
            "5",
        ],
    );
    let v: Value =
        serde_json::from_str(&ok(&d, &["topics", "describe", "orders", "--json"])).expect("json");
    assert_eq!(v["name"], "orders");
    assert_eq!(v["config"]["retention.ms"], "5000");
    let partitions = v["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 5);
    assert_eq!(partitions[4]["partition"], 4);
    assert_eq!(partitions[4]["log_end_offset"], 0);
    assert_eq!(partitions[4]["segments"], 1);

    // Shrinking is refused and changes nothing, configs included.
    let out = run(
        &d,
        &[
            "topics",
            "alter",
            "orders",
            "--partitions",
            "2",
            "--config",
            "retention.ms=1",
        ],
        b"",
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot shrink"), "{}", stderr(&out));
    let v: Value =
        serde_json::from_str(&ok(&d, &["topics", "describe", "orders", "--json"])).expect("json");
    assert_eq!(v["config"]["retention.ms"], "5000");
    // alter needs something to change.
    assert_eq!(code(&run(&d, &["topics", "alter", "orders"], b"")), 2);

    ok(&d, &["topics", "delete", "audit.log_v2"]);
    assert_eq!(ok(&d, &["topics", "list"]), "orders\n");
    let out = run(&d, &["topics", "create", "orders"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
}

#[test]
fn produce_then_consume_round_trips_stdin() {
    let tmp = store_with("t", 4);
    let d = dir(&tmp);
    let input = "k1:v1\nk2:v2\nk1:again\nno separator\n:empty key\nk3:\nk4:a:b:c\n\n\
                 ünï:cödé ✓\r\ntab\tkey:v\nlast:no newline";
    produce(&d, &["t", "-K", ":"], input.as_bytes());

    let records = consume_json(&d, "t", &[]);
    assert_eq!(records.len(), input.lines().count());
    let mut keyless = Vec::new();
    for line in input.split('\n') {
        let (key, value) = match line.split_once(':') {
            Some((k, v)) => (Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()),
            None => (None, line.as_bytes().to_vec()),
        };
        let matching: Vec<&Json> = records
            .iter()
            .filter(|r| r.key == key && r.value.as_deref() == Some(&value[..]))
            .collect();
        assert_eq!(matching.len(), 1, "{line:?} in {records:?}");
        match &key {
            Some(k) => assert_eq!(matching[0].partition, partition_for_key(k, 4), "{line:?}"),
            None => keyless.push(matching[0].partition),
        }
        assert!(matching[0].headers.is_empty());
    }
    // Keyless lines go round-robin from partition 0.
    assert_eq!(keyless, [0, 1]);
    // Each partition in offset order from 0, and input order is kept.
    for p in 0..4 {
        let offsets: Vec<i64> = records
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, (0..offsets.len() as i64).collect::<Vec<_>>());
    }
    let k1: Vec<&[u8]> = records
        .iter()
        .filter(|r| r.key.as_deref() == Some(b"k1"))
        .filter_map(|r| r.value.as_deref())
        .collect();
    assert_eq!(k1, [&b"v1"[..], b"again"]);

    // Without -K the whole line is the value; the default format prints it.
    let tmp = store_with("plain", 1);
    produce(&dir(&tmp), &["plain"], input.as_bytes());
    let printed = ok(&dir(&tmp), &["consume", "plain", "-e"]);
    assert_eq!(printed, format!("{input}\n"));
}

#[test]
fn format_string_placeholders() {
    let tmp = store_with("f", 2);
    let d = dir(&tmp);
    produce(&d, &["f", "-K", "=", "-p", "1"], b"a=1\nb=2\n");
    let out = ok(&d, &["consume", "f", "-e", "-f", r"%p:%o:%k=%s\n"]);
    assert_eq!(out, "1:0:a=1\n1:1:b=2\n");
    let out = ok(&d, &["consume", "f", "-e", "-f", r"%t|%K|%S|%h|100%%\t\n"]);
    assert_eq!(out, "f|1|1||100%\t\nf|1|1||100%\t\n");
    let bad = run(&d, &["consume", "f", "-e", "-f", "%x"], b"");
    assert_eq!(code(&bad), 2);
    assert!(stderr(&bad).contains("%x"), "{}", stderr(&bad));
}

#[test]
fn start_offsets_and_count() {
    let tmp = store_with("o", 1);
    let d = dir(&tmp);
    let first: String = (0..6).map(|n| format!("v{n}\n")).collect();
    produce(&d, &["o"], first.as_bytes());
    std::thread::sleep(Duration::from_millis(20));
    let second: String = (6..10).map(|n| format!("v{n}\n")).collect();
    produce(&d, &["o"], second.as_bytes());
    let all = consume_json(&d, "o", &[]);
    assert_eq!(all.len(), 10);

    let values = |args: &[&str]| ok(&d, &[&["consume", "o", "-e"], args].concat());
    assert_eq!(values(&["-o", "-2"]), "v8\nv9\n");
    assert_eq!(values(&["-o-2"]), "v8\nv9\n");
    assert_eq!(values(&["-o", "5", "-c", "2"]), "v5\nv6\n");
    assert_eq!(values(&["-c", "3"]), "v0\nv1\nv2\n");
    assert_eq!(values(&["-o", "end"]), "");
    assert_eq!(values(&["-o", "-100", "-c", "1"]), "v0\n");
    assert_eq!(values(&["-o", "99"]), "");
    let ts = all[6].timestamp;
    assert!(ts > all[5].timestamp);
    assert_eq!(values(&["-o", &format!("s@{ts}")]), second);
    assert_eq!(values(&["-o", &format!("s@{}", ts + 1_000_000)]), "");
    assert_eq!(values(&["-o", "beginning", "-c", "1"]), "v0\n");
    // -c alone ends the run without -e once COUNT records are printed.
    assert_eq!(
        ok(&d, &["consume", "o", "-o", "-3", "-c", "3"]),
        "v7\nv8\nv9\n"
    );
    assert_eq!(code(&run(&d, &["consume", "o", "-o", "x"], b"")), 2);
}

#[test]
fn explicit_partition_and_headers() {
    let tmp = store_with("h", 3);
    let d = dir(&tmp);
    produce(
        &d,
        &[
            "h",
            "-p",
            "2",
            "-H",
            "trace=abc",
            "-H",
            "empty=",
            "-H",
            "nul",
        ],
        b"x\ny\n",
    );
    produce(&d, &["h", "-p", "0", "-K", ":"], b"k:z\n");
    let records = consume_json(&d, "h", &["-p", "2"]);
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.partition, 2);
        assert_eq!(
            r.headers,
            vec![
                ("trace".to_string(), Some(b"abc".to_vec())),
                ("empty".to_string(), Some(Vec::new())),
                ("nul".to_string(), None),
            ]
        );
    }
    let out = ok(&d, &["consume", "h", "-e", "-p", "2", "-f", r"%h\n"]);
    assert_eq!(out, "trace=abc,empty=,nul\ntrace=abc,empty=,nul\n");
    // The explicit partition wins over the key's.
    let zero = consume_json(&d, "h", &["-p", "0"]);
    assert_eq!(zero.len(), 1);
    assert_eq!(zero[0].key.as_deref(), Some(&b"k"[..]));

    let out = run(&d, &["produce", "h", "-p", "3"], b"x\n");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no partition 3"), "{}", stderr(&out));
    assert_eq!(code(&run(&d, &["consume", "h", "-e", "-p", "3"], b"")), 2);
}

#[test]
fn partitions_interleave_round_robin() {
    let tmp = store_with("rr", 2);
    let d = dir(&tmp);
    produce(&d, &["rr"], b"a\nb\nc\nd\n");
    let out = ok(&d, &["consume", "rr", "-e", "-f", r"%p%s "]);
    // One poll round reads partition 0 then partition 1.
    assert_eq!(out, "0a 0c 1b 1d ");
}

#[test]
fn a_cli_written_store_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = dir(&tmp);
    ok(
        &d,
        &[
            "topics",
            "create",
            "big",
            "--partitions",
            "2",
            "--config",
            "segment.bytes=20000",
        ],
    );
    let lines: String = (0..5000)
        .map(|n| format!("key{}:value {n}\n", n % 7))
        .collect();
    produce(&d, &["big", "-K", ":"], lines.as_bytes());
    let records = consume_json(&d, "big", &[]);
    assert_eq!(records.len(), 5000);
    let v: Value =
        serde_json::from_str(&ok(&d, &["topics", "describe", "big", "--json"])).expect("json");
    let segments: u64 = v["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["segments"].as_u64().expect("segments"))
        .sum();
    assert!(segments > 2, "segment.bytes rolls segments: {v}");

    let out = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("verify")
        .arg(&d)
        .output()
        .expect("run");
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(", 5000 records,"), "{}", stdout(&out));
    // The library opens it too, cleanly.
    let store = Store::open(&d, StoreConfig::default()).expect("open");
    let topic = store.topic("big").expect("topic");
    let ends: i64 = (0..2)
        .map(|p| topic.partition(p).expect("partition").log_end_offset())
        .sum();
    assert_eq!(ends, 5000);
    store.close().expect("close");
}

#[test]
fn too_large_lines_are_refused_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = dir(&tmp);
    ok(
        &d,
        &[
            "topics",
            "create",
            "small",
            "--config",
            "max.message.bytes=200",
        ],
    );
    let input = format!("ok1\n{}\nok2\n", "x".repeat(500));
    let out = run(&d, &["produce", "small"], input.as_bytes());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2 not appended"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&d, &["consume", "small", "-e"]), "ok1\nok2\n");
}

#[test]
fn bad_names_unknown_topics_and_configs_are_refused() {
    let tmp = store_with("t", 1);
    let d = dir(&tmp);
    for name in ["../x", "a/b", "..", ""] {
        let out = run(&d, &["topics", "create", name], b"");
        assert_ne!(code(&out), 0, "{name:?}");
        assert!(
            stderr(&out).contains("invalid topic name"),
            "{}",
            stderr(&out)
        );
    }
    let mut outside: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    outside.sort();
    assert_eq!(outside, ["store"]);
    assert_eq!(ok(&d, &["topics", "list"]), "t\n");

    for args in [
        &["produce", "nope"][..],
        &["consume", "nope", "-e"],
        &["topics", "describe", "nope"],
        &["topics", "delete", "nope"],
        &["topics", "alter", "nope", "--config", "retention.ms=1"],
    ] {
        let out = run(&d, args, b"x\n");
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(
            stderr(&out).contains("unknown topic \"nope\""),
            "{}",
            stderr(&out)
        );
    }

    for args in [
        &["topics", "create", "u", "--config", "no.such.key=1"][..],
        &["topics", "alter", "t", "--config", "no.such.key=1"],
        &["topics", "create", "u", "--config", "retention.ms=soon"],
        &["topics", "create", "u", "--config", "novalue"],
        &["topics", "create", "u", "--partitions", "0"],
    ] {
        let out = run(&d, args, b"");
        assert_eq!(code(&out), 2, "{args:?}");
    }
    assert_eq!(ok(&d, &["topics", "list"]), "t\n");

    // Commands other than `topics create` never create a store.
    let missing = tmp.path().join("missing");
    let out = run(&missing, &["topics", "list"], b"");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no store at"), "{}", stderr(&out));
    assert!(!missing.exists());
}

#[test]
fn a_locked_store_is_reported() {
    let tmp = store_with("t", 1);
    let d = dir(&tmp);
    let store = Store::open(&d, StoreConfig::default()).expect("open");
    for args in [
        &["topics", "list"][..],
        &["produce", "t"],
        &["consume", "t", "-e"],
    ] {
        let out = run(&d, args, b"x\n");
        assert_eq!(code(&out), 2, "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("is locked"), "{err}");
        assert!(err.contains(&d.display().to_string()), "{err}");
    }
    store.close().expect("close");
    drop(store);
    assert_eq!(ok(&d, &["topics", "list"]), "t\n");
}

#[test]
fn dir_option_placement_and_environment() {
    let tmp = store_with("t", 1);
    let d = dir(&tmp);
    // After the subcommand.
    let out = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .args(["topics", "list", "--dir"])
        .arg(&d)
        .output()
        .expect("run");
    assert_eq!(stdout(&out), "t\n", "{}", stderr(&out));
    // From SEGLOG_DIR.
    let out = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .args(["topics", "list"])
        .env("SEGLOG_DIR", &d)
        .output()
        .expect("run");
    assert_eq!(stdout(&out), "t\n", "{}", stderr(&out));
    // The default, ./seglog-data.
    let out = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .args(["topics", "create", "here"])
        .env_remove("SEGLOG_DIR")
        .current_dir(tmp.path())
        .output()
        .expect("run");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(tmp.path().join("seglog-data").join("here-0").is_dir());
}

#[test]
fn consume_without_exit_waits_for_records() {
    let tmp = store_with("w", 2);
    let d = dir(&tmp);
    produce(&d, &["w"], b"a\nb\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("--dir")
        .arg(&d)
        .args(["consume", "w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(700) {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "it keeps waiting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // While it waits it holds the store.
    assert_eq!(code(&run(&d, &["topics", "list"], b"")), 2);
    child.kill().expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(stdout(&out), "a\nb\n");
    // The store opens again after the kill (recovery, no clean marker).
    assert_eq!(ok(&d, &["consume", "w", "-e"]), "a\nb\n");
}

#[test]
fn produce_appends_lines_before_end_of_input() {
    let tmp = store_with("live", 1);
    let d = dir(&tmp);
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("--dir")
        .arg(&d)
        .args(["produce", "live"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(b"typed-by-hand-7f3a\n").expect("write");
    input.flush().expect("flush");
    // The line reaches the segment while stdin is still open.
    let log = d.join("live-0").join("00000000000000000000.log");
    let started = Instant::now();
    let needle = b"typed-by-hand-7f3a";
    loop {
        let bytes = std::fs::read(&log).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not appended");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.try_wait().expect("poll").is_none());
    drop(input);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(ok(&d, &["consume", "live", "-e"]), "typed-by-hand-7f3a\n");
}

#[test]
fn a_closed_stdout_ends_consume_quietly() {
    let tmp = store_with("many", 1);
    let d = dir(&tmp);
    let lines: String = (0..20_000).map(|n| format!("line {n}\n")).collect();
    produce(&d, &["many"], lines.as_bytes());
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglog"))
        .arg("--dir")
        .arg(&d)
        .args(["consume", "many", "-e"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 7];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("read");
    assert_eq!(&first, b"line 0\n");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    // The store was closed cleanly all the same.
    assert!(d.join(seglog::store::CLEAN_SHUTDOWN_FILE).exists());
    assert_eq!(
        ok(&d, &["consume", "many", "-o", "-1", "-e"]),
        "line 19999\n"
    );
}

#[test]
fn control_batches_are_skipped() {
    use seglog::record::{BatchBuilder, BatchView, Record};
    use seglog::segment::{LogSegment, SegmentConfig};

    // A partition directory as a Kafka broker leaves it: a transaction
    // (two records, then its COMMIT marker), then a plain record.
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = dir(&tmp);
    let partition = d.join("tx-0");
    std::fs::create_dir_all(&partition).expect("mkdir");
    let mut segment = LogSegment::create(&partition, 0, SegmentConfig::default()).expect("create");
    let now = seglog::clock::Clock::now_ms(&seglog::clock::SystemClock);
    let batches = [
        (
            0,
            false,
            vec![Record::new(now, "in-txn-1"), Record::new(now, "in-txn-2")],
        ),
        (
            2,
            true,
            vec![Record::keyed(
                now,
                vec![0u8, 0, 0, 1],
                vec![0u8, 0, 0, 0, 0, 0],
            )],
        ),
        (3, false, vec![Record::new(now, "after")]),
    ];
    for (base, control, records) in batches {
        let mut builder = BatchBuilder::new(base);
        if base < 3 {
            builder = builder
                .transactional(true)
                .producer(7, 0, 0)
                .control(control);
        }
        for r in &records {
            builder.push(r).expect("push");
        }
        let bytes = builder.build().expect("build");
        segment
            .append(&BatchView::parse(&bytes).expect("parse"))
            .expect("append");
    }
    segment.seal().expect("seal");
    drop(segment);

    assert_eq!(
        ok(&d, &["consume", "tx", "-e", "-f", r"%o %s\n"]),
        "0 in-txn-1\n1 in-txn-2\n3 after\n"
    );
    assert_eq!(consume_json(&d, "tx", &["-o", "2"]).len(), 1);
}
