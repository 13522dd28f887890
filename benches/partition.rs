//! Partition benches against the raw-log baseline of DESIGN.md section 6, in
//! the same process: the two append paths (`append_records`, which encodes,
//! and `append_batch`, which validates a client batch and rewrites its
//! offsets) for batches of 100 x 100 B, 100 x 1 KiB and single 100 B
//! records; sequential decoded reads through `Partition::read`; random reads
//! of one record by offset; timestamp lookups; the recovery scan of an
//! unflushed tail; and a clean open of 1,000 partitions.
//!
//! Appends go to a fresh partition directory per ~64 MiB (created and
//! removed outside the timed loop) so the data stays in warm page cache and
//! no segment ever rolls; the `*_with_roll` variants time Kafka's roll (seal
//! with fsync, producer snapshot) as it happens every 64 MiB.

#[path = "support/raw_log.rs"]
mod raw_log;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use raw_log::RawLog;
use seglog::config::TopicConfig;
use seglog::partition::{Isolation, OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchBuilder, BatchHeader, Record};

/// Bytes appended to one partition (or raw file) before it is thrown away,
/// so benches stay in warm page cache and do not fill the disk.
const ROTATE_BYTES: u64 = 64 << 20;

/// A Kafka-like fetch size for sequential reads.
const FETCH_BYTES: usize = 1 << 20;

/// Fixed CreateTime base; `message_timestamp_after_max_ms` is lifted so the
/// fixed timestamps are always accepted.
const T0: i64 = 1_700_000_000_000;

/// `segment.bytes` a little over the rotation size: the plain append
/// benches never roll.
fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: ROTATE_BYTES as usize + (2 << 20),
        message_timestamp_after_max_ms: i64::MAX,
        ..TopicConfig::default()
    }
}

fn payload(len: usize, i: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

/// `n` records of `value_len` bytes with timestamps `T0 + first + i`.
fn records(first: i64, n: usize, value_len: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record::new(T0 + first + i as i64, Bytes::from(payload(value_len, i))))
        .collect()
}

/// The batch a client would send for `records` (offsets 0..n-1).
fn client_batch(records: &[Record]) -> Vec<u8> {
    let mut b = BatchBuilder::new(0);
    for r in records {
        b.push(r).unwrap();
    }
    b.build().unwrap()
}

fn open(dir: &Path, config: TopicConfig, options: OpenOptions) -> Partition {
    Partition::open(dir, config, options).unwrap().0
}

/// Runs `op` `iters` times against fresh partitions, each taking at most
/// `ROTATE_BYTES` (`op_bytes` per call); only the calls are timed.
fn fresh_partition_append(iters: u64, op_bytes: u64, mut op: impl FnMut(&Partition)) -> Duration {
    let root = tempfile::tempdir().unwrap();
    let per_partition = (ROTATE_BYTES / op_bytes.max(1)).max(1);
    let (mut left, mut generation, mut total) = (iters, 0u32, Duration::ZERO);
    while left > 0 {
        let dir = root.path().join(format!("bench-{generation}"));
        let partition = open(&dir, config(), OpenOptions::default());
        let n = left.min(per_partition);
        let start = Instant::now();
        for _ in 0..n {
            op(&partition);
        }
        total += start.elapsed();
        drop(partition);
        std::fs::remove_dir_all(&dir).unwrap();
        left -= n;
        generation += 1;
    }
    total
}

/// A partition with `segment.bytes` = 64 MiB, kept across criterion's
/// calls so its rolls come at their natural rate whatever the sample sizes.
fn rolling_partition() -> (tempfile::TempDir, Partition) {
    let root = tempfile::tempdir().unwrap();
    let config = TopicConfig {
        segment_bytes: ROTATE_BYTES as usize,
        ..config()
    };
    let partition = open(&root.path().join("bench-0"), config, OpenOptions::default());
    (root, partition)
}

/// Runs `op` `iters` times against `partition`, which rolls every 64 MiB
/// (timed: seal, fsync, producer snapshot, new segment); segments below
/// the active one are deleted outside the timed sections.
fn rolling_append(
    partition: &Partition,
    iters: u64,
    op_bytes: u64,
    mut op: impl FnMut(&Partition),
) -> Duration {
    let per_cleanup = (2 * ROTATE_BYTES / op_bytes.max(1)).max(1);
    let (mut left, mut total) = (iters, Duration::ZERO);
    while left > 0 {
        let n = left.min(per_cleanup);
        let start = Instant::now();
        for _ in 0..n {
            op(partition);
        }
        total += start.elapsed();
        let active = *partition.segment_base_offsets().last().unwrap();
        partition.delete_records(active).unwrap();
        left -= n;
    }
    total
}

fn raw_append(payloads: &[Vec<u8>], iters: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let path = dir.path().join("raw.log");
    let mut raw = RawLog::create(&path);
    let mut written = 0u64;
    let frame: u64 = refs.iter().map(|p| p.len() as u64 + 4).sum();
    let start = Instant::now();
    for _ in 0..iters {
        if written >= ROTATE_BYTES {
            raw = RawLog::create(&path);
            written = 0;
        }
        raw.append(&refs);
        written += frame;
    }
    start.elapsed()
}

fn bench_append(c: &mut Criterion) {
    for (n, value_len) in [(100usize, 100usize), (100, 1024), (1, 100)] {
        let mut group = c.benchmark_group(format!("partition_append/{n}x{value_len}B"));
        group.throughput(Throughput::Elements(n as u64));
        let recs = records(0, n, value_len);
        let batch = client_batch(&recs);
        let batch_bytes = batch.len() as u64;
        let payloads: Vec<Vec<u8>> = (0..n).map(|i| payload(value_len, i)).collect();
        group.bench_function("raw_log", |b| {
            b.iter_custom(|iters| raw_append(&payloads, iters))
        });
        group.bench_function("seglog_append_records", |b| {
            b.iter_custom(|iters| {
                fresh_partition_append(iters, batch_bytes, |p| {
                    black_box(p.append_records(&recs, RecordsOptions::default()).unwrap());
                })
            })
        });
        let mut buf = batch.clone();
        group.bench_function("seglog_append_batch", |b| {
            b.iter_custom(|iters| {
                fresh_partition_append(iters, batch_bytes, |p| {
                    buf.copy_from_slice(&batch);
                    black_box(p.append_batch(&mut buf).unwrap());
                })
            })
        });
        if n > 1 {
            let (_root, partition) = rolling_partition();
            group.bench_function("seglog_append_batch_with_roll", |b| {
                b.iter_custom(|iters| {
                    rolling_append(&partition, iters, batch_bytes, |p| {
                        buf.copy_from_slice(&batch);
                        black_box(p.append_batch(&mut buf).unwrap());
                    })
                })
            });
        }
        group.finish();
    }
}

/// A partition of batches of 100 records (timestamps `T0 + offset`) and
/// the raw log holding the same payloads, in their own temporary directory.
struct Filled {
    partition: Partition,
    raw: RawLog,
    _root: tempfile::TempDir,
}

impl Filled {
    fn new(batches: usize, value_len: usize) -> Self {
        let root = tempfile::tempdir().unwrap();
        let partition = open(
            &root.path().join("bench-0"),
            config(),
            OpenOptions::default(),
        );
        let payloads: Vec<Vec<u8>> = (0..100).map(|i| payload(value_len, i)).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let mut raw = RawLog::create(&root.path().join("raw.log"));
        for _ in 0..batches {
            let recs = records(partition.log_end_offset(), 100, value_len);
            partition
                .append_records(&recs, RecordsOptions::default())
                .unwrap();
            raw.append(&refs);
        }
        assert_eq!(partition.log_end_offset(), raw.len() as i64);
        Filled {
            partition,
            raw,
            _root: root,
        }
    }
}

/// Reads the whole partition with fetches of `FETCH_BYTES`, decoding every
/// record; returns the value bytes seen.
fn read_all(partition: &Partition, check_crc: bool) -> usize {
    let limits = partition.config().decode;
    let end = partition.log_end_offset();
    let (mut offset, mut total) = (partition.log_start_offset(), 0usize);
    while offset < end {
        let slice = partition
            .read_with(offset, FETCH_BYTES, Isolation::Appended)
            .unwrap();
        for batch in slice.iter() {
            if check_crc {
                batch.verify_crc().unwrap();
            }
            for r in batch.records(&limits).unwrap().iter() {
                total += r.unwrap().value().map_or(0, <[u8]>::len);
            }
            offset = batch.next_offset();
        }
    }
    total
}

// Setups are lazy (built by the first benchmark of a group that criterion's
// filter selects), so profiling one benchmark does not build the others.

fn bench_read(c: &mut Criterion) {
    for value_len in [100usize, 1024] {
        let batches = (32 << 20) / (100 * (value_len + 12));
        let mut state: Option<Filled> = None;
        let mut group = c.benchmark_group(format!("partition_read/{value_len}B"));
        group.throughput(Throughput::Elements(batches as u64 * 100));
        group.bench_function("raw_log", |b| {
            let raw = &state
                .get_or_insert_with(|| Filled::new(batches, value_len))
                .raw;
            b.iter(|| {
                let mut total = 0usize;
                raw.scan(FETCH_BYTES, |p| total += p.len());
                total
            })
        });
        group.bench_function("seglog_read", |b| {
            let f = state.get_or_insert_with(|| Filled::new(batches, value_len));
            b.iter(|| read_all(&f.partition, false))
        });
        group.bench_function("seglog_read_crc_checked", |b| {
            let f = state.get_or_insert_with(|| Filled::new(batches, value_len));
            b.iter(|| read_all(&f.partition, true))
        });
        group.finish();
    }
}

fn xorshift() -> impl FnMut() -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn bench_lookup(c: &mut Criterion) {
    const BATCHES: usize = 2_000;
    let total = BATCHES as u64 * 100;
    let mut state: Option<Filled> = None;
    let mut group = c.benchmark_group("partition_lookup");
    let mut next = xorshift();
    let mut buf = Vec::new();
    group.bench_function(BenchmarkId::new("read_one_record", "raw_log"), |b| {
        let raw = &state.get_or_insert_with(|| Filled::new(BATCHES, 100)).raw;
        b.iter(|| raw.read(next() % total, &mut buf))
    });
    group.bench_function(BenchmarkId::new("read_one_record", "seglog"), |b| {
        let partition = &state
            .get_or_insert_with(|| Filled::new(BATCHES, 100))
            .partition;
        let limits = partition.config().decode;
        b.iter(|| {
            let offset = (next() % total) as i64;
            let slice = partition.read(offset, 1).unwrap();
            let batch = slice.iter().next().unwrap();
            // `iter_from` skips the records below `offset` by their
            // length and deltas only, as a consumer seeking would.
            let set = batch.records(&limits).unwrap();
            let record = set.iter_from(offset).next().unwrap().unwrap();
            record.value().map_or(0, <[u8]>::len)
        })
    });
    group.bench_function("offset_for_timestamp", |b| {
        let partition = &state
            .get_or_insert_with(|| Filled::new(BATCHES, 100))
            .partition;
        b.iter(|| {
            partition
                .offset_for_timestamp(T0 + (next() % total) as i64)
                .unwrap()
        })
    });
    group.finish();
}

/// A partition whose single segment holds `tail_bytes` (1 KiB records)
/// that the recovery point (0) does not cover; flushed to disk so the
/// timed opens measure the scan, not writeback.
fn unflushed_tail(dir: &Path, tail_bytes: u64) -> u64 {
    let config = TopicConfig {
        segment_bytes: 2 * ROTATE_BYTES as usize,
        ..config()
    };
    let partition = open(dir, config, OpenOptions::default());
    while partition.size_bytes() < tail_bytes {
        let recs = records(partition.log_end_offset(), 100, 1024);
        partition
            .append_records(&recs, RecordsOptions::default())
            .unwrap();
    }
    partition.flush().unwrap();
    partition.size_bytes()
}

fn bench_recovery(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("bench-0");
    let mut bytes = None;
    let unclean = OpenOptions {
        recovery_point: 0,
        clean_shutdown: false,
        ..OpenOptions::default()
    };
    let mut group = c.benchmark_group("partition_recovery");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    // The tail is ROTATE_BYTES rounded up to a whole batch.
    group.throughput(Throughput::Bytes(ROTATE_BYTES));
    group.bench_function("open_unclean_64MiB_tail", |b| {
        let bytes = *bytes.get_or_insert_with(|| unflushed_tail(&dir, ROTATE_BYTES));
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let (partition, report) = Partition::open(&dir, config(), unclean).unwrap();
                total += start.elapsed();
                assert_eq!(report.recovered.len(), 1);
                assert_eq!(report.recovered[0].valid_bytes, bytes);
                drop(partition);
            }
            total
        })
    });
    group.finish();
}

const PARTITIONS: usize = 1_000;

fn count_lines(path: &str) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn count_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Apparent and allocated bytes of all files under `root` (one level of
/// partition directories).
fn store_file_bytes(root: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut apparent, mut allocated) = (0, 0);
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if let Ok(m) = file.metadata() {
                apparent += m.len();
                allocated += m.blocks() * 512;
            }
        }
    }
    (apparent, allocated)
}

fn mib((apparent, allocated): (u64, u64)) -> String {
    let m = |b: u64| b as f64 / (1 << 20) as f64;
    format!("{:.1} MiB ({:.1} MiB allocated)", m(apparent), m(allocated))
}

/// The system's dirty page cache (`Dirty:` of `/proc/meminfo`), in MiB.
fn dirty_mib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("Dirty:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

fn store_config() -> TopicConfig {
    TopicConfig {
        message_timestamp_after_max_ms: i64::MAX,
        ..TopicConfig::default()
    }
}

/// 1,000 cleanly closed partitions of 10 records each, at Kafka's default
/// `segment.bytes`; returns their directories and log end offsets. Prints
/// what creating them costs.
fn closed_store(root: &Path) -> Vec<(PathBuf, i64)> {
    let start = Instant::now();
    let partitions: Vec<(PathBuf, Partition)> = (0..PARTITIONS)
        .map(|i| {
            let dir = root.join(format!("bench-{i}"));
            let partition = open(&dir, store_config(), OpenOptions::default());
            (dir, partition)
        })
        .collect();
    let created = start.elapsed();
    let start = Instant::now();
    for (_, partition) in &partitions {
        partition
            .append_records(&records(0, 10, 100), RecordsOptions::default())
            .unwrap();
    }
    let appended = start.elapsed();
    let reserved = store_file_bytes(root);
    let dirty = dirty_mib();
    let start = Instant::now();
    let dirs = partitions
        .into_iter()
        .map(|(dir, partition)| {
            partition.close().unwrap();
            (dir, partition.log_end_offset())
        })
        .collect();
    println!(
        "open_store setup: creating {PARTITIONS} partitions took {created:.2?}, \
         their first append (10 x 100 B each) {appended:.2?}, leaving {} of files \
         and {dirty} MiB of dirty page cache; closing them {:.2?}, leaving {}",
        mib(reserved),
        start.elapsed(),
        mib(store_file_bytes(root)),
    );
    dirs
}

fn open_store(dirs: &[(PathBuf, i64)]) -> Vec<Partition> {
    dirs.iter()
        .map(|(dir, end)| {
            let options = OpenOptions {
                recovery_point: *end,
                log_start_offset: Some(0),
                clean_shutdown: true,
                ..OpenOptions::default()
            };
            open(dir, store_config(), options)
        })
        .collect()
}

fn close_store(partitions: Vec<Partition>) -> Duration {
    let start = Instant::now();
    for p in &partitions {
        p.close().unwrap();
    }
    let elapsed = start.elapsed();
    drop(partitions);
    elapsed
}

fn bench_open_store(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let mut state: Option<Vec<(PathBuf, i64)>> = None;
    let mut group = c.benchmark_group("partition_open_store");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Elements(PARTITIONS as u64));
    group.bench_function("open_1000_clean", |b| {
        let dirs = state.get_or_insert_with(|| {
            let dirs = closed_store(root.path());
            // One untimed open for the resource counts.
            let (fds, maps) = (count_fds(), count_lines("/proc/self/maps"));
            let partitions = open_store(&dirs);
            println!(
                "open_store: {PARTITIONS} open partitions hold {} file descriptors \
                 and {} mappings",
                count_fds() - fds,
                count_lines("/proc/self/maps") - maps
            );
            let closing = close_store(partitions);
            println!("open_store: closing {PARTITIONS} reopened partitions took {closing:.2?}");
            dirs
        });
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let partitions = open_store(dirs);
                total += start.elapsed();
                // Close (untimed) so the next open finds a clean store again.
                close_store(partitions);
            }
            total
        })
    });
    group.finish();
}

fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = bench_append, bench_read, bench_lookup, bench_recovery, bench_open_store
}
criterion_main!(benches);
