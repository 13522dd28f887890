//! Segment benches against the raw-log baseline of DESIGN.md section 6, in
//! the same process: append (batches of 100 x 100 B and 100 x 1 KiB, single
//! 100 B records), sequential decoded scans, random reads by offset, offset
//! and timestamp lookups, and the recovery scan rate.

#[path = "support/raw_log.rs"]
mod raw_log;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use raw_log::RawLog;
use seglog::Error;
use seglog::record::{BatchBuilder, BatchView, Record};
use seglog::segment::{LogSegment, SegmentConfig};

/// Bytes written before a segment or raw file is thrown away, so benches
/// stay in warm page cache and do not fill the disk.
const ROTATE_BYTES: u64 = 64 << 20;

fn config() -> SegmentConfig {
    SegmentConfig {
        segment_bytes: ROTATE_BYTES as usize + (1 << 20),
        ..SegmentConfig::default()
    }
}

fn payload(len: usize, i: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

const T0: i64 = 1_700_000_000_000;

fn encoded_batch_at(offset: i64, n: usize, value_len: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(offset).partition_leader_epoch(0);
    for i in 0..n {
        b.push(&Record::new(T0 + offset + i as i64, payload(value_len, i)))
            .unwrap();
    }
    b.build().unwrap()
}

fn encoded_batch(n: usize, value_len: usize) -> Vec<u8> {
    encoded_batch_at(0, n, value_len)
}

/// Appends `iters` copies of `batch` (offsets rewritten), rotating segments.
fn segment_append(dir: &Path, batch: &[u8], records: i64, iters: u64) -> Duration {
    let mut seg = LogSegment::create(dir, 0, config()).unwrap();
    let mut bytes = batch.to_vec();
    let start = Instant::now();
    for _ in 0..iters {
        let next = seg.next_offset();
        bytes[..8].copy_from_slice(&next.to_be_bytes());
        let view = BatchView::parse(&bytes).unwrap();
        if seg.size() >= ROTATE_BYTES {
            seg = rotate(dir, seg);
        }
        match seg.append(&view) {
            Ok(_) => {}
            Err(Error::SegmentFull { .. }) => {
                seg = rotate(dir, seg);
                seg.append(&view).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
    }
    let elapsed = start.elapsed();
    black_box(records);
    elapsed
}

fn rotate(dir: &Path, seg: LogSegment) -> LogSegment {
    let base = seg.next_offset();
    drop(seg);
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    LogSegment::create(dir, base, config()).unwrap()
}

fn raw_append(dir: &Path, payloads: &[Vec<u8>], iters: u64) -> Duration {
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let path = dir.join("raw.log");
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
        let mut group = c.benchmark_group(format!("append/{n}x{value_len}B"));
        group.throughput(Throughput::Elements(n as u64));
        let batch = encoded_batch(n, value_len);
        let payloads: Vec<Vec<u8>> = (0..n).map(|i| payload(value_len, i)).collect();
        let dir = tempfile::tempdir().unwrap();
        group.bench_function("raw_log", |b| {
            b.iter_custom(|iters| raw_append(dir.path(), &payloads, iters))
        });
        let dir = tempfile::tempdir().unwrap();
        group.bench_function("seglog_segment", |b| {
            b.iter_custom(|iters| segment_append(dir.path(), &batch, n as i64, iters))
        });
        group.finish();
    }
}

/// A sealed segment of `batches` batches of 100 records, and the raw log
/// holding the same payloads.
fn filled(dir: &Path, batches: usize, value_len: usize) -> (LogSegment, RawLog) {
    let mut seg = LogSegment::create(dir, 0, config()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..100).map(|i| payload(value_len, i)).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let mut raw = RawLog::create(&dir.join("raw.log"));
    for _ in 0..batches {
        let bytes = encoded_batch_at(seg.next_offset(), 100, value_len);
        seg.append(&BatchView::parse(&bytes).unwrap()).unwrap();
        raw.append(&refs);
    }
    seg.seal().unwrap();
    (seg, raw)
}

fn bench_scan(c: &mut Criterion) {
    for value_len in [100usize, 1024] {
        let dir = tempfile::tempdir().unwrap();
        let batches = (32 << 20) / (100 * (value_len + 12));
        let (seg, raw) = filled(dir.path(), batches, value_len);
        let limits = seg.config().decode;
        let mut group = c.benchmark_group(format!("scan/{value_len}B"));
        group.throughput(Throughput::Elements(raw.len()));
        group.bench_function("raw_log", |b| {
            b.iter(|| {
                let mut total = 0usize;
                raw.scan(1 << 20, |p| total += p.len());
                total
            })
        });
        group.bench_function("seglog_segment", |b| {
            b.iter(|| {
                let mut total = 0usize;
                for batch in seg.read(0, usize::MAX).unwrap().iter() {
                    for r in batch.records(&limits).unwrap().iter() {
                        total += r.unwrap().value().map_or(0, <[u8]>::len);
                    }
                }
                total
            })
        });
        group.bench_function("recovery_crc_scan", |b| {
            b.iter(|| {
                let slice = seg.read(0, usize::MAX).unwrap();
                slice
                    .iter()
                    .all(|batch| seglog::record::BatchHeader::verify_crc(&batch).is_ok())
            })
        });
        group.finish();
    }
}

fn bench_lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (seg, raw) = filled(dir.path(), 2_000, 100);
    let limits = seg.config().decode;
    let total = raw.len();
    let mut group = c.benchmark_group("lookup");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = Vec::new();
    group.bench_function(BenchmarkId::new("read_one_record", "raw_log"), |b| {
        b.iter(|| raw.read(next() % total, &mut buf))
    });
    group.bench_function(BenchmarkId::new("read_one_record", "seglog_segment"), |b| {
        b.iter(|| {
            let offset = (next() % total) as i64;
            let loc = seg.translate_offset(offset).unwrap().unwrap();
            let slice = seg.read(loc.position, 1).unwrap();
            let batch = slice.iter().next().unwrap();
            let set = batch.records(&limits).unwrap();
            let record = set.iter_from(offset).next().unwrap().unwrap();
            record.value().map_or(0, <[u8]>::len)
        })
    });
    group.bench_function("translate_offset", |b| {
        b.iter(|| seg.translate_offset((next() % total) as i64).unwrap())
    });
    group.bench_function("find_offset_by_timestamp", |b| {
        b.iter(|| {
            seg.find_offset_by_timestamp(T0 + (next() % total) as i64, 0)
                .unwrap()
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

criterion_group! { name = benches; config = criterion(); targets = bench_append, bench_scan, bench_lookup }
criterion_main!(benches);
