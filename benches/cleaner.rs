//! Retention and compaction benches.
//!
//! * Compaction: a compacted topic (`segment.bytes` 1 MiB) holding ~64 MiB
//!   of dirty log, 100 B values in batches of 100, with keys chosen so that
//!   10%, 50% or 90% of the records repeat an earlier key; one
//!   `Store::compact(topic, Some(0))` is timed on a freshly written copy
//!   per iteration (the copy is written and removed outside the timed
//!   part). The 50% case also with lz4 batches, and twice as diagnostics
//!   of the per-segment costs: in 16 MiB segments, and in 1 MiB segments
//!   with 64 KiB instead of 10 MiB index files. Reported as MB/s of dirty
//!   log (criterion's byte throughput: bytes of the dirty segments). A
//!   separate, untimed probe run per case prints the cleaner's own
//!   statistics, the cleaning thread's CPU time, the offset map's size and
//!   the process's memory growth during the cleaning.
//! * Retention: one `Store::run_retention` pass over a partition of 1,000
//!   sealed 4 KiB segments that are all due (`retention.ms`,
//!   `file.delete.delay.ms=0`), with the partition's share of it; and
//!   passes where nothing is due (the steady-state cost of checking),
//!   through the store and through `Partition::delete_old_segments`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use seglog::Store;
use seglog::cleaner::{CleanStats, CleanerConfig, OffsetMap};
use seglog::clock::ManualClock;
use seglog::config::{CleanupPolicy, StoreConfig, TopicConfig};
use seglog::partition::{Partition, RecordsOptions};
use seglog::record::{BatchBuilder, Compression, Record};

/// Dirty log written per compaction copy (uncompressed batch bytes).
const DIRTY_BYTES: u64 = 64 << 20;
const SEGMENT_BYTES: usize = 1 << 20;
const VALUE_LEN: usize = 100;
const BATCH: usize = 100;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// A JSON-like 100 B value: a fixed structure around the key and random
/// digits, so lz4 finds the repeats a real payload has, and no more.
fn value(key: u32, next: &mut impl FnMut() -> u64) -> Bytes {
    let r = next();
    let mut v = format!(
        "{{\"id\":\"key-{key:010}\",\"seq\":{},\"amount\":{}.{:02},\"state\":\"SHIPPED\",\"note\":\"",
        r % 1_000_000,
        (r >> 20) % 10_000,
        (r >> 40) % 100
    )
    .into_bytes();
    while v.len() < VALUE_LEN - 2 {
        v.push(b'a' + (next() % 26) as u8);
    }
    v.extend_from_slice(b"\"}");
    Bytes::from(v)
}

/// The records of one compaction case and their client batches.
struct DirtyLog {
    /// Key index of each record, in offset order.
    keys: Vec<u32>,
    /// Client batches of `BATCH` records (offsets 0..n-1 each).
    batches: Vec<Vec<u8>>,
    /// Bytes of the batches (as stored: compressed for lz4).
    bytes: u64,
    /// `segment.bytes` of the topic.
    segment_bytes: usize,
    /// `segment.index.bytes` of the topic.
    index_bytes: usize,
}

fn key_bytes(key: u32) -> Bytes {
    Bytes::from(format!("key-{key:010}"))
}

/// Records whose key repeats an earlier one (uniformly chosen among the
/// keys so far) with probability `duplicates`, else is new; enough batches
/// for `DIRTY_BYTES` of uncompressed batches.
fn dirty_log(
    duplicates: f64,
    compression: Compression,
    (segment_bytes, index_bytes): (usize, usize),
) -> DirtyLog {
    let mut next = xorshift(0x5eed_0000 + (duplicates * 100.0) as u64);
    let threshold = (duplicates * u64::MAX as f64) as u64;
    let timestamp = now_ms();
    let (mut keys, mut batches, mut distinct) = (Vec::new(), Vec::new(), 0u32);
    let (mut bytes, mut uncompressed) = (0u64, 0u64);
    while uncompressed < DIRTY_BYTES {
        let mut plain = BatchBuilder::new(0);
        let mut packed = BatchBuilder::new(0).compression(compression);
        for _ in 0..BATCH {
            let key = if distinct > 0 && next() < threshold {
                (next() % u64::from(distinct)) as u32
            } else {
                distinct += 1;
                distinct - 1
            };
            keys.push(key);
            let record = Record::keyed(timestamp, key_bytes(key), value(key, &mut next));
            plain.push(&record).unwrap();
            packed.push(&record).unwrap();
        }
        uncompressed += plain.build().unwrap().len() as u64;
        let batch = packed.build().unwrap();
        bytes += batch.len() as u64;
        batches.push(batch);
    }
    DirtyLog {
        keys,
        batches,
        bytes,
        segment_bytes,
        index_bytes,
    }
}

fn compact_config(log: &DirtyLog) -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        segment_bytes: log.segment_bytes,
        segment_index_bytes: log.index_bytes,
        ..TopicConfig::default()
    }
}

/// Writes the log to a new single-partition compacted topic `name`.
fn write_copy(store: &Store, name: &str, log: &DirtyLog) -> Partition {
    let partition = store
        .create_topic(name, 1, compact_config(log))
        .unwrap()
        .partition(0)
        .unwrap();
    let mut buf = Vec::new();
    for batch in &log.batches {
        buf.clear();
        buf.extend_from_slice(batch);
        partition.append_batch(&mut buf).unwrap();
    }
    partition
}

fn compact(store: &Store, name: &str) -> CleanStats {
    let mut done = store.compact(name, Some(0)).unwrap();
    assert_eq!(done.len(), 1);
    done.pop().unwrap().stats
}

/// Bytes of the dirty (non-active) segments.
fn dirty_segment_bytes(partition: &Partition) -> u64 {
    partition
        .segment_infos()
        .iter()
        .filter(|s| !s.active)
        .map(|s| s.size)
        .sum()
}

unsafe extern "C" {
    /// glibc: returns free heap memory to the system, so a probe's heap
    /// growth shows in `RssAnon` instead of reusing what earlier cases freed.
    fn malloc_trim(pad: usize) -> i32;
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`, `RssAnon`...).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// This thread's user and system CPU time in seconds
/// (`/proc/thread-self/stat` fields 14 and 15, at 100 ticks a second).
fn thread_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

fn mib_of_kib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The untimed probe run of a case: one cleaning with the memory watched.
/// `VmHWM` is reset first (`/proc/self/clear_refs` = 5), so its growth over
/// `VmRSS` before is the cleaning's peak (file-backed pages of mapped
/// segments included); a thread samples `RssAnon` every millisecond for the
/// heap's peak. Also rebuilds an `OffsetMap` from the same keys to report
/// the bytes its array grew to.
fn probe(store: &Store, name: &str, label: &str, log: &DirtyLog) -> u64 {
    let partition = write_copy(store, name, log);
    let dirty = dirty_segment_bytes(&partition);
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe { malloc_trim(0) };
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (rss_before, anon_before) = (status_kib("VmRSS"), status_kib("RssAnon"));
    let stop = Arc::new(AtomicBool::new(false));
    let anon_peak = Arc::new(AtomicU64::new(anon_before));
    let sampler = {
        let (stop, anon_peak) = (Arc::clone(&stop), Arc::clone(&anon_peak));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                anon_peak.fetch_max(status_kib("RssAnon"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let (user, sys) = thread_cpu();
    let start = Instant::now();
    let stats = compact(store, name);
    let elapsed = start.elapsed();
    let (user_after, sys_after) = thread_cpu();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let hwm = status_kib("VmHWM");
    let budget = CleanerConfig::default();
    let mut map = OffsetMap::new(budget.dedupe_buffer_size, budget.io_buffer_load_factor).unwrap();
    for (offset, &key) in log.keys.iter().enumerate() {
        if (offset as i64) < stats.first_dirty_after {
            assert!(map.put(format!("key-{key:010}").as_bytes(), offset as i64));
        }
    }
    assert_eq!(map.len(), stats.map_keys);
    let dirty_records = stats.first_dirty_after as f64;
    println!(
        "compaction probe {label}: dirty {:.1} MiB ({} batches, {} records in the dirty \
         segments), {:.3} s = {:.0} MB/s (cleaner's own clock {:.0} MB/s), CPU of the cleaning thread: user {:.2} s, system {:.2} s; segments {} -> {}, \
         {:.1} -> {:.1} MiB, records {} -> {}; offset map {} keys ({:.2}% of the {} MiB budget's \
         slots), array {:.1} MiB; memory: VmHWM - VmRSS before = {} MiB, peak RssAnon - \
         RssAnon before = {:.1} MiB (sampled every ms){}",
        dirty as f64 / (1 << 20) as f64,
        dirty_records as u64 / BATCH as u64,
        dirty_records as u64,
        elapsed.as_secs_f64(),
        dirty as f64 / 1e6 / elapsed.as_secs_f64(),
        stats.throughput_mb_per_s(),
        user_after - user,
        sys_after - sys,
        stats.segments_before,
        stats.segments_after,
        stats.bytes_before as f64 / (1 << 20) as f64,
        stats.bytes_after as f64 / (1 << 20) as f64,
        stats.records_before,
        stats.records_after,
        stats.map_keys,
        stats.map_utilization * 100.0,
        budget.dedupe_buffer_size >> 20,
        map.allocated_bytes() as f64 / (1 << 20) as f64,
        if reset {
            format!("{:.1}", mib_of_kib(hwm.saturating_sub(rss_before)))
        } else {
            "n/a (clear_refs refused)".into()
        },
        mib_of_kib(
            anon_peak
                .load(Ordering::Relaxed)
                .saturating_sub(anon_before)
        ),
        if stats.map_full { "; MAP FULL" } else { "" },
    );
    store.delete_topic(name).unwrap();
    dirty
}

fn bench_compaction(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(
        root.path(),
        StoreConfig::default().maintenance_thread(false),
    )
    .unwrap();
    let mut generation = 0u64;
    let mut name = || {
        generation += 1;
        format!("compact-{generation}")
    };
    // Kafka's default `segment.index.bytes`, 10 MiB.
    let default = (SEGMENT_BYTES, 10 << 20);
    // The last two cases are diagnostics for the per-segment costs: the
    // same log in 16 MiB segments (4 dirty ones), and in 1 MiB segments
    // whose indexes are preallocated at 64 KiB instead of 10 MiB.
    let cases = [
        ("dup10_none", 0.1, Compression::None, default),
        ("dup50_none", 0.5, Compression::None, default),
        ("dup90_none", 0.9, Compression::None, default),
        ("dup50_lz4", 0.5, Compression::Lz4, default),
        (
            "dup50_none_16MiB_segments",
            0.5,
            Compression::None,
            (16 << 20, 10 << 20),
        ),
        (
            "dup50_none_64KiB_indexes",
            0.5,
            Compression::None,
            (SEGMENT_BYTES, 64 << 10),
        ),
    ];
    let mut group = c.benchmark_group("cleaner_compact/64MiB_100B");
    group.sampling_mode(SamplingMode::Flat);
    for (label, duplicates, compression, sizes) in cases {
        let log = dirty_log(duplicates, compression, sizes);
        println!(
            "compaction case {label}: {} records, {} batches, {:.1} MiB of batches",
            log.keys.len(),
            log.batches.len(),
            log.bytes as f64 / (1 << 20) as f64
        );
        let dirty = probe(&store, &name(), label, &log);
        group.throughput(Throughput::Bytes(dirty));
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let topic = name();
                    let partition = write_copy(&store, &topic, &log);
                    assert_eq!(dirty_segment_bytes(&partition), dirty);
                    drop(partition);
                    let start = Instant::now();
                    let stats = compact(&store, &topic);
                    total += start.elapsed();
                    assert!(!stats.map_full && stats.dirty_bytes > 0);
                    store.delete_topic(&topic).unwrap();
                }
                total
            })
        });
    }
    group.finish();
    store.close().unwrap();
}

/// Sealed segments of the retention benches.
const SEGMENTS: usize = 1_000;
/// Records of ~100 B per batch: ~3.4 KB, so each batch fills one 4 KiB
/// segment.
const RETENTION_BATCH: usize = 30;
const RETENTION_MS: i64 = 3_600_000;
const T0: i64 = 1_700_000_000_000;
/// `segment.index.bytes` of the retention topics (see `retention_config`).
const SMALL_INDEX: usize = 64 << 10;

/// `segment.index.bytes` 64 KiB only makes the setup faster: sealed
/// segments' indexes are trimmed to their entries either way, so the
/// passes delete the same files.
fn retention_config(index_bytes: usize) -> TopicConfig {
    TopicConfig {
        segment_bytes: 4096,
        segment_index_bytes: index_bytes,
        retention_ms: RETENTION_MS,
        file_delete_delay_ms: 0,
        ..TopicConfig::default()
    }
}

/// A store on a manual clock.
fn clocked_store(dir: &std::path::Path) -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    let config = StoreConfig::default()
        .maintenance_thread(false)
        .clock(Arc::new(clock.clone()));
    (Store::open(dir, config).unwrap(), clock)
}

/// A topic `name` whose one partition holds `SEGMENTS` sealed segments and
/// the active one; batch (and segment) `i` has timestamp `T0 + i`.
fn segmented(store: &Store, name: &str, index_bytes: usize) -> Partition {
    let partition = store
        .create_topic(name, 1, retention_config(index_bytes))
        .unwrap()
        .partition(0)
        .unwrap();
    let values: Vec<Bytes> = (0..RETENTION_BATCH)
        .map(|i| Bytes::from(vec![b'a' + (i % 26) as u8; VALUE_LEN]))
        .collect();
    for i in 0..=SEGMENTS {
        let records: Vec<Record> = values
            .iter()
            .map(|v| Record::new(T0 + i as i64, v.clone()))
            .collect();
        partition
            .append_records(&records, RecordsOptions::default())
            .unwrap();
    }
    assert_eq!(partition.segment_base_offsets().len(), SEGMENTS + 1);
    partition
}

/// The clock time at which segments `0..SEGMENTS` are due and the active
/// one is not (`now - max timestamp > retention.ms`).
const ALL_DUE: i64 = T0 + RETENTION_MS + SEGMENTS as i64;

fn bench_retention(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let (store, clock) = clocked_store(root.path());
    let mut generation = 0u64;
    let mut group = c.benchmark_group("cleaner_retention/1000_segments");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(SEGMENTS as u64));

    for (index_bytes, label) in [(10 << 20, "10 MiB"), (SMALL_INDEX, "64 KiB")] {
        let setup = Instant::now();
        let probe = segmented(&store, "retention-probe", index_bytes);
        println!(
            "retention setup: {} segments of {} B written in {:.2?} with {label} indexes \
             ({} files in the partition directory)",
            SEGMENTS + 1,
            probe.size_bytes() / (SEGMENTS as u64 + 1),
            setup.elapsed(),
            std::fs::read_dir(probe.dir()).unwrap().count()
        );
        drop(probe);
        store.delete_topic("retention-probe").unwrap();
    }

    // The partition's own share of each pass (`RetentionStats::elapsed`:
    // `Partition::delete_old_segments` and two size sums); the rest is the
    // store's checkpoint files.
    let mut partition_share = Vec::new();
    group.sample_size(10);
    group.bench_function("all_due_store_run_retention", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                generation += 1;
                let name = format!("retention-{generation}");
                clock.set(T0);
                let partition = segmented(&store, &name, SMALL_INDEX);
                clock.set(ALL_DUE);
                let start = Instant::now();
                let done = store.run_retention().unwrap();
                total += start.elapsed();
                assert_eq!(done.len(), 1);
                assert_eq!(done[0].stats.segments_deleted, SEGMENTS);
                partition_share.push(done[0].stats.elapsed);
                assert_eq!(partition.segment_base_offsets().len(), 1);
                drop(partition);
                store.delete_topic(&name).unwrap();
            }
            total
        })
    });
    partition_share.sort();
    if let Some(median) = partition_share.get(partition_share.len() / 2) {
        println!(
            "all_due_store_run_retention: partition share (apply_retention) median {median:.2?} \
             over {} passes, {:.2?} per segment",
            partition_share.len(),
            *median / SEGMENTS as u32
        );
    }
    group.sample_size(20);

    clock.set(T0);
    let steady = segmented(&store, "retention-steady", SMALL_INDEX);
    // Nothing is due: the newest segment is at T0 + 1000, the oldest at T0.
    clock.set(T0 + RETENTION_MS);
    group.sampling_mode(SamplingMode::Auto);
    group.bench_function("nothing_due_store_run_retention", |b| {
        b.iter(|| {
            let done = store.run_retention().unwrap();
            assert!(done.is_empty());
        })
    });
    group.bench_function("nothing_due_partition_delete_old_segments", |b| {
        b.iter(|| {
            let outcome = steady.delete_old_segments(T0 + RETENTION_MS).unwrap();
            assert!(outcome.deleted.is_empty());
        })
    });
    group.finish();
    drop(steady);
    store.close().unwrap();
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
    targets = bench_compaction, bench_retention
}
criterion_main!(benches);
