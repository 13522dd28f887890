//! SIGKILL in the middle of appends, many times over the same log.
//!
//! The test re-executes its own binary as a child that runs only the hidden
//! test `crash_child_writer`: it opens the partition, appends batches whose
//! record values name their offsets, prints every acknowledged offset (after
//! `append_records` returned) and every flushed offset, one line each,
//! flushing stdout per line. The parent kills it with SIGKILL at a random
//! moment, reopens the partition as after a crash and checks:
//!
//! * the log is an ordered prefix: offsets `0..end` dense, each value the
//!   one written at its offset, every batch's CRC valid;
//! * every acknowledged offset is present (a SIGKILL keeps the page cache,
//!   so acknowledged means present), and at most the one append in flight
//!   when the child died is there beyond them;
//! * after a clean `close()`, `verify_segment` finds no fault in any segment.
//!
//! Rounds continue the same log: each child appends after the end the
//! previous round recovered. `SEGLOG_CRASH_ROUNDS` sets the number of rounds
//! (default 20), `SEGLOG_CRASH_SEED` replays a run (the seed is printed).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use seglog::clock::ManualClock;
use seglog::config::TopicConfig;
use seglog::partition::{OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchHeader, Record};
use seglog::segment::verify_segment;

const T0: i64 = 1_700_000_000_000;
/// Records per append, at most.
const MAX_BATCH: i64 = 10;
/// The child's name, for `--exact`.
const CHILD: &str = "crash_child_writer";
/// Environment passed to the child.
const ENV_DIR: &str = "SEGLOG_CRASH_CHILD_DIR";
const ENV_CLEAN: &str = "SEGLOG_CRASH_CHILD_CLEAN";
const ENV_RECOVERY_POINT: &str = "SEGLOG_CRASH_CHILD_RECOVERY_POINT";
const ENV_SEED: &str = "SEGLOG_CRASH_CHILD_SEED";
/// How long the parent waits for the child to start appending.
const STARTUP: Duration = Duration::from_secs(60);

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 64 << 10,
        segment_index_bytes: 64 << 10,
        index_interval_bytes: 1024,
        preallocate_window_bytes: 16 << 10,
        ..TopicConfig::default()
    }
    .clock(Arc::new(ManualClock::new(T0)))
}

/// The value of the record at `offset`: it names its offset (~50 bytes).
fn value_for(offset: i64) -> String {
    format!(
        "seq-{offset:012}-{}",
        "s".repeat(20 + (offset % 17) as usize)
    )
}

/// A small deterministic generator (splitmix64), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The child: appends until killed. Does nothing unless the parent set
/// `SEGLOG_CRASH_CHILD_DIR` (so `cargo test -- --ignored` passes it by).
#[test]
#[ignore = "the child process of `sigkill_during_appends`"]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else {
        return;
    };
    let options = OpenOptions {
        clean_shutdown: env_number::<u8>(ENV_CLEAN) == Some(1),
        recovery_point: env_number(ENV_RECOVERY_POINT).unwrap_or(0),
        ..OpenOptions::default()
    };
    let mut rng = Rng(env_number(ENV_SEED).unwrap_or(1));
    let (p, _) = Partition::open(&dir, config(), options).unwrap();
    let mut out = std::io::stdout().lock();
    let mut next = p.log_end_offset();
    // libtest has printed "test crash_child_writer ... " without a newline.
    writeln!(out, "\nREADY {next}").unwrap();
    out.flush().unwrap();
    // The parent kills within about 100 ms; stop on our own long after.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let n = rng.range(1, MAX_BATCH as u64) as i64;
        let records: Vec<Record> = (next..next + n)
            .map(|o| Record::new(T0, value_for(o)))
            .collect();
        let info = p
            .append_records(&records, RecordsOptions::default())
            .unwrap();
        assert_eq!((info.base_offset, info.last_offset), (next, next + n - 1));
        next += n;
        writeln!(out, "ACK {}", info.last_offset).unwrap();
        out.flush().unwrap();
        if rng.range(0, 63) == 0 {
            let flushed = p.flush().unwrap();
            writeln!(out, "FLUSHED {flushed}").unwrap();
            out.flush().unwrap();
        }
    }
    panic!("the parent never killed the child");
}

/// What the child reported on stdout.
enum Event {
    Ready(i64),
    Ack(i64),
    Flushed(i64),
}

/// Parses the child's complete lines (a line cut by the kill is dropped;
/// libtest's own lines are ignored).
fn read_events(stdout: impl Read, events: mpsc::Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with('\n') => return,
            Ok(_) => {}
        }
        let mut words = line.split_whitespace();
        let (Some(tag), Some(Ok(n))) = (words.next(), words.next().map(str::parse::<i64>)) else {
            continue;
        };
        let event = match tag {
            "READY" => Event::Ready(n),
            "ACK" => Event::Ack(n),
            "FLUSHED" => Event::Flushed(n),
            _ => continue,
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// What one child round left behind, as the parent saw it.
#[derive(Debug, Default)]
struct Round {
    ready_at: Option<i64>,
    last_ack: Option<i64>,
    last_flushed: Option<i64>,
    killed_after_ready: bool,
    delay: Duration,
}

/// Runs one child against `dir` and kills it at a random moment.
fn run_child(dir: &Path, clean: bool, recovery_point: i64, rng: &mut Rng) -> Round {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            CHILD,
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_CLEAN, if clean { "1" } else { "0" })
        .env(ENV_RECOVERY_POINT, recovery_point.to_string())
        .env(ENV_SEED, rng.next().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || read_events(stdout, tx));
    let mut stderr = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut round = Round::default();
    let note = |round: &mut Round, event: Event| match event {
        Event::Ready(n) => round.ready_at = Some(n),
        Event::Ack(n) => round.last_ack = Some(n),
        Event::Flushed(n) => round.last_flushed = Some(n),
    };
    // Mostly kill while appending; sometimes anywhere, opening included.
    round.killed_after_ready = rng.range(0, 4) != 0;
    if round.killed_after_ready {
        let event = rx.recv_timeout(STARTUP);
        match event {
            Ok(event) => note(&mut round, event),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child did not start: {}", stderr.join().unwrap());
            }
        }
        assert!(round.ready_at.is_some(), "READY must come first");
        round.delay = Duration::from_millis(rng.range(2, 100));
    } else {
        round.delay = Duration::from_millis(rng.range(0, 40));
    }
    thread::sleep(round.delay); // randomises the moment of the kill
    child.kill().unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stderr = stderr.join().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die of SIGKILL, not {status:?}; stderr:\n{stderr}"
    );
    for event in rx.try_iter() {
        note(&mut round, event);
    }
    round
}

/// Reads the log from `from` to its end and checks it is dense and ordered
/// with the right values and valid CRCs. Returns its end.
fn check_from(p: &Partition, from: i64) -> i64 {
    assert_eq!(p.log_start_offset(), 0);
    let mut next = from;
    loop {
        let slice = p.read(next, 256 << 10).unwrap();
        if slice.is_empty() {
            break;
        }
        for (i, batch) in slice.iter().enumerate() {
            if i == 0 {
                assert!(batch.base_offset() <= next && next <= batch.last_offset());
            } else {
                assert_eq!(batch.base_offset(), next, "gap or overlap between batches");
            }
            batch.verify_crc().unwrap();
            for record in batch.records(&p.config().decode).unwrap().iter() {
                let record = record.unwrap();
                if record.offset() < next {
                    continue;
                }
                assert_eq!(record.offset(), next, "offsets must be dense");
                assert_eq!(record.value().unwrap(), value_for(next).as_bytes());
                next += 1;
            }
        }
    }
    assert_eq!(next, p.log_end_offset());
    next
}

/// Runs `verify_segment` on every segment from the one holding `from` on.
fn verify_from(dir: &Path, from: i64, config: &TopicConfig, context: &str) {
    let bases = common::segment_bases(dir);
    let first = bases.iter().rposition(|&b| b <= from).unwrap_or(0);
    let segment_config = config.segment_config();
    for &base in &bases[first..] {
        let verified = verify_segment(dir, base, &segment_config).unwrap();
        assert!(
            verified.is_ok(),
            "segment {base} after close: {:?}; {context}",
            verified.faults
        );
    }
}

#[test]
fn sigkill_during_appends() {
    let rounds: u32 = env_number("SEGLOG_CRASH_ROUNDS").unwrap_or(20);
    let seed: u64 = env_number("SEGLOG_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    eprintln!("sigkill_during_appends: {rounds} rounds, SEGLOG_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("crash-0");
    // The log as the parent last verified and closed it.
    let mut end = 0;
    let mut acked_rounds = 0;
    let started = Instant::now();
    for round_no in 0..rounds {
        // The parent closed the log cleanly; the child sometimes opens it as
        // unclean anyway (recovery of a sound log must change nothing).
        let clean = rng.range(0, 3) != 0;
        let round = run_child(&dir, clean, end, &mut rng);
        let context = format!("round {round_no} (seed {seed}): {round:?}, log end before {end}");
        if let Some(ready) = round.ready_at {
            assert_eq!(
                ready, end,
                "the child opened a different log end; {context}"
            );
        }
        if round.last_ack.is_some() {
            acked_rounds += 1;
        }
        let acked_end = round.last_ack.map_or(end, |last| last + 1);
        let recovery_point = round.last_flushed.unwrap_or(end).max(end);
        assert!(recovery_point <= acked_end, "{context}");

        let options = OpenOptions {
            clean_shutdown: false,
            recovery_point,
            ..OpenOptions::default()
        };
        let (p, report) = Partition::open(&dir, config(), options).unwrap();
        let recovered = p.log_end_offset();
        assert!(
            recovered >= acked_end,
            "acknowledged records lost: end {recovered} < acknowledged {acked_end}; {context}; {report:?}"
        );
        assert!(
            recovered <= acked_end + MAX_BATCH,
            "more than the one append in flight appeared: end {recovered}, acknowledged {acked_end}; {context}"
        );
        // The whole log every 10 rounds and at the end; otherwise from a
        // little before this round's appends (older segments are sealed and
        // were checked before), so many rounds stay linear in time.
        let full = round_no % 10 == 9 || round_no + 1 == rounds;
        let from = if full { 0 } else { (end - 1_000).max(0) };
        assert_eq!(check_from(&p, from), recovered, "{context}");
        p.close().unwrap();
        drop(p);
        verify_from(&dir, from, &config(), &context);
        end = recovered;
    }
    let segments = common::segment_bases(&dir).len();
    eprintln!(
        "{rounds} rounds ({acked_rounds} with acknowledged appends): {end} records in {segments} segments, {:?}",
        started.elapsed()
    );
    if rounds >= 10 {
        assert!(
            acked_rounds > 0,
            "no round got as far as an acknowledged append"
        );
    }
}
