//! Client benches over a [`Store`], against the raw-log baseline of
//! DESIGN.md section 6 in the same process: a topic of 8 partitions, keyed
//! records with 100 B values.
//!
//! * Produce: 2 threads sharing one [`Producer`] (`send`, then `flush` at
//!   the end of each iteration), `acks=1` without idempotence and
//!   `acks=all` with it (and `acks=1` from one thread, to show the
//!   contention), against 2 threads appending batches of 100 records
//!   straight to disjoint partitions with `Partition::append_records` (also
//!   with 64 KiB index files, a diagnostic), and against 2 threads
//!   appending the same batches to 2 raw logs.
//! * Consume: one [`Consumer`] assigned all 8 partitions (`check.crcs` true
//!   and false), against `Partition::read` with record iteration (with and
//!   without a CRC check of every batch) and against a `scan` of 8 raw logs
//!   holding the same payloads.
//!
//! Appends go to a fresh store (or raw files) every ~64 MiB, created and
//! removed outside the timed sections, so the data stays in warm page cache
//! and the benches do not fill the disk.

#[path = "support/raw_log.rs"]
#[allow(dead_code)] // `read` serves the other benches
mod raw_log;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use parking_lot::Mutex;
use raw_log::RawLog;
use seglog::Store;
use seglog::client::{
    Acks, AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
};
use seglog::config::{StoreConfig, TopicConfig};
use seglog::partition::{Isolation, Partition, RecordsOptions};
use seglog::record::{BatchHeader, Record};

const TOPIC: &str = "bench";
const PARTITIONS: u32 = 8;
const VALUE_LEN: usize = 100;
/// Distinct keys the records cycle through.
const KEYS: usize = 10_000;
/// Records per direct append or raw append call.
const BATCH: usize = 100;
/// Threads appending in the produce benches.
const THREADS: usize = 2;
/// Records each thread sends per iteration (then the producer is flushed).
const PER_THREAD: usize = 10_000;
/// Approximate stored bytes per record (value, key, record and batch
/// overhead), to decide when to rotate.
const RECORD_BYTES: u64 = 130;
/// Bytes written to one store (or pair of raw files) before it is replaced.
const ROTATE_BYTES: u64 = 64 << 20;
/// Bytes of data the consume benches read (spread over the 8 partitions).
const READ_BYTES: u64 = 32 << 20;
/// A Kafka-like fetch size for the direct reads and the raw scan.
const FETCH_BYTES: usize = 1 << 20;

fn payload(len: usize, i: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

/// Keys and values shared by every bench (`Bytes` clones are a reference
/// count, as a client holding its data in `Bytes` would pay).
struct Data {
    keys: Vec<Bytes>,
    values: Vec<Bytes>,
}

impl Data {
    fn new() -> Self {
        Data {
            keys: (0..KEYS)
                .map(|i| Bytes::from(format!("key-{i:06}")))
                .collect(),
            values: (0..BATCH)
                .map(|i| Bytes::from(payload(VALUE_LEN, i)))
                .collect(),
        }
    }

    fn key(&self, i: usize) -> Bytes {
        self.keys[(i.wrapping_mul(7_919)) % KEYS].clone()
    }

    fn value(&self, i: usize) -> Bytes {
        self.values[i % BATCH].clone()
    }

    /// `count` batches of `BATCH` keyed records, timestamped now.
    fn batches(&self, first: usize, count: usize) -> Vec<Vec<Record>> {
        let now = now_ms();
        (0..count)
            .map(|b| {
                (0..BATCH)
                    .map(|r| {
                        let i = first + b * BATCH + r;
                        Record::keyed(now, self.key(i), self.value(i))
                    })
                    .collect()
            })
            .collect()
    }

    /// The raw log's frames for one batch: key then value, as one payload.
    fn raw_payloads(&self, first: usize) -> Vec<Vec<u8>> {
        (0..BATCH)
            .map(|r| [self.key(first + r), self.value(first + r)].concat())
            .collect()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Kafka's defaults, or `segment.index.bytes` = `index_bytes`.
fn topic_config(index_bytes: Option<usize>) -> TopicConfig {
    let mut config = TopicConfig::default();
    if let Some(bytes) = index_bytes {
        config.segment_index_bytes = bytes;
    }
    config
}

/// A store in its own temporary directory, with the bench topic.
struct BenchStore {
    store: Store,
    _dir: tempfile::TempDir,
}

impl BenchStore {
    fn new() -> Self {
        BenchStore::with_index_bytes(None)
    }

    fn with_index_bytes(index_bytes: Option<usize>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(dir.path(), StoreConfig::default().maintenance_thread(false)).unwrap();
        store
            .create_topic(TOPIC, PARTITIONS, topic_config(index_bytes))
            .unwrap();
        BenchStore { store, _dir: dir }
    }

    fn partitions(&self) -> Vec<Partition> {
        self.store.topic(TOPIC).unwrap().partitions()
    }

    fn records(&self) -> u64 {
        self.partitions()
            .iter()
            .map(|p| p.log_end_offset() as u64)
            .sum()
    }
}

/// Makes a fresh state.
type Make<S> = Box<dyn Fn() -> S>;
/// Checks a state before it is dropped, given the records appended to it.
type Check<S> = Box<dyn Fn(&S, u64)>;

/// State replaced every `ROTATE_BYTES` of appends; kept across criterion's
/// calls so the cost of creating it is never timed.
struct Rotating<S> {
    make: Make<S>,
    check: Check<S>,
    current: Option<S>,
    used: u64,
    /// Records appended to `current`.
    appended: u64,
}

impl<S> Rotating<S> {
    fn new(make: impl Fn() -> S + 'static, check: impl Fn(&S, u64) + 'static) -> Self {
        Rotating {
            make: Box::new(make),
            check: Box::new(check),
            current: None,
            used: 0,
            appended: 0,
        }
    }

    /// Runs `iters` iterations of `records_per_iter` records through
    /// `timed(state, n)` (which times `n` iterations), replacing the state
    /// whenever it would pass `ROTATE_BYTES`.
    fn run(
        &mut self,
        iters: u64,
        records_per_iter: u64,
        mut timed: impl FnMut(&S, u64) -> Duration,
    ) -> Duration {
        let bytes_per_iter = records_per_iter * RECORD_BYTES;
        let (mut left, mut total) = (iters, Duration::ZERO);
        while left > 0 {
            if self.current.is_none() || self.used + bytes_per_iter > ROTATE_BYTES {
                if let Some(old) = self.current.take() {
                    (self.check)(&old, self.appended);
                }
                self.current = Some((self.make)());
                self.used = 0;
                self.appended = 0;
            }
            let room = ((ROTATE_BYTES - self.used) / bytes_per_iter).max(1);
            let n = left.min(room);
            let state = self.current.as_ref().unwrap();
            total += timed(state, n);
            self.used += n * bytes_per_iter;
            self.appended += n * records_per_iter;
            left -= n;
        }
        total
    }

    /// Checks the current state, then drops it.
    fn finish(mut self) {
        if let Some(state) = self.current.take() {
            (self.check)(&state, self.appended);
        }
    }
}

/// A producer over its own store. Fields drop in order: the producer
/// (delivers what is buffered, joins its thread) before the store.
struct ProducerStore {
    producer: Producer,
    store: BenchStore,
}

fn check_store(store: &BenchStore, appended: u64) {
    let found = store.records();
    assert_eq!(found, appended, "records in the store / records sent");
}

/// Each of `threads` threads sends `PER_THREAD` keyed records per
/// iteration, then flushes. Delivery futures are dropped, as most clients
/// do; the record count of each store is checked when it is replaced.
/// Each thread has its own keys and values (`data[t]`), so the threads do
/// not share reference counts.
fn produce(data: &[Data], state: &ProducerStore, threads: usize, iters: u64) -> Duration {
    let producer = &state.producer;
    let start = Instant::now();
    std::thread::scope(|s| {
        for (t, data) in data.iter().enumerate().take(threads) {
            s.spawn(move || {
                for it in 0..iters as usize {
                    for r in 0..PER_THREAD {
                        let i = (it * threads + t) * PER_THREAD + r;
                        let record = ProducerRecord::keyed(TOPIC, data.key(i), data.value(i));
                        black_box(producer.send(record).unwrap());
                    }
                    producer.flush();
                }
            });
        }
    });
    start.elapsed()
}

/// Each of the 2 threads appends `PER_THREAD` records per iteration in
/// batches of `BATCH` to its own 4 partitions, in turn.
fn direct_append(batches: &[Vec<Record>], state: &BenchStore, iters: u64) -> Duration {
    let partitions = state.partitions();
    let per_thread = PARTITIONS as usize / THREADS;
    let start = Instant::now();
    std::thread::scope(|s| {
        for mine in partitions.chunks(per_thread) {
            s.spawn(move || {
                let mut n = 0usize;
                for _ in 0..iters {
                    for _ in 0..PER_THREAD / BATCH {
                        let p = &mine[n % mine.len()];
                        black_box(
                            p.append_records(
                                &batches[n % batches.len()],
                                RecordsOptions::default(),
                            )
                            .unwrap(),
                        );
                        n += 1;
                    }
                }
            });
        }
    });
    start.elapsed()
}

/// Two raw logs in their own temporary directory, one per thread.
struct RawPair {
    logs: Vec<Mutex<RawLog>>,
    _dir: tempfile::TempDir,
}

impl RawPair {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let logs = (0..THREADS)
            .map(|t| Mutex::new(RawLog::create(&dir.path().join(format!("raw-{t}.log")))))
            .collect();
        RawPair { logs, _dir: dir }
    }
}

fn raw_append(payloads: &[&[u8]], state: &RawPair, iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for log in &state.logs {
            s.spawn(move || {
                let mut raw = log.lock();
                for _ in 0..iters {
                    for _ in 0..PER_THREAD / BATCH {
                        black_box(raw.append(payloads));
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn producer_config(acks: Acks) -> ProducerConfig {
    ProducerConfig::default()
        .linger_ms(5)
        .batch_size(16_384)
        .acks(acks)
        .enable_idempotence(acks == Acks::All)
}

fn bench_produce(c: &mut Criterion) {
    let per_thread: Vec<Data> = (0..THREADS).map(|_| Data::new()).collect();
    let data = &per_thread[0];
    let mut group = c.benchmark_group("clients_produce/8p_100B_keyed");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((THREADS * PER_THREAD) as u64));

    let payloads = data.raw_payloads(0);
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let mut raw = Rotating::new(RawPair::new, |_, _| {});
    group.bench_function("raw_log_2_threads", |b| {
        b.iter_custom(|iters| {
            raw.run(iters, (THREADS * PER_THREAD) as u64, |s, n| {
                raw_append(&refs, s, n)
            })
        })
    });
    drop(raw);

    let batches = data.batches(0, 64);
    let mut direct = Rotating::new(BenchStore::new, check_store);
    group.bench_function("direct_append_records_2_threads", |b| {
        b.iter_custom(|iters| {
            direct.run(iters, (THREADS * PER_THREAD) as u64, |s, n| {
                direct_append(&batches, s, n)
            })
        })
    });
    direct.finish();

    // Diagnostic: the same with 64 KiB index files instead of 10 MiB
    // (every new segment maps and faults in its two preallocated indexes).
    let mut small_index =
        Rotating::new(|| BenchStore::with_index_bytes(Some(64 << 10)), check_store);
    group.bench_function("direct_append_records_2_threads_64KiB_indexes", |b| {
        b.iter_custom(|iters| {
            small_index.run(iters, (THREADS * PER_THREAD) as u64, |s, n| {
                direct_append(&batches, s, n)
            })
        })
    });
    small_index.finish();

    let variants = [
        ("producer_acks1_2_threads", Acks::One, 2),
        ("producer_acks1_1_thread", Acks::One, 1),
        ("producer_acks_all_idempotent_2_threads", Acks::All, 2),
    ];
    for (name, acks, threads) in variants {
        let mut state = Rotating::new(
            move || {
                let store = BenchStore::new();
                let producer = Producer::new(&store.store, producer_config(acks)).unwrap();
                ProducerStore { producer, store }
            },
            |s: &ProducerStore, appended| check_store(&s.store, appended),
        );
        group.throughput(Throughput::Elements((threads * PER_THREAD) as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                state.run(iters, (threads * PER_THREAD) as u64, |s, n| {
                    produce(&per_thread, s, threads, n)
                })
            })
        });
        state.finish();
    }
    group.finish();
}

/// A store whose 8 partitions hold `READ_BYTES` of keyed records in
/// batches of `BATCH`, and 8 raw logs holding the same keys and values.
struct Filled {
    store: BenchStore,
    raws: Vec<RawLog>,
    records: u64,
    _raw_dir: tempfile::TempDir,
}

impl Filled {
    fn new(data: &Data) -> Self {
        let store = BenchStore::new();
        let raw_dir = tempfile::tempdir().unwrap();
        let mut raws: Vec<RawLog> = (0..PARTITIONS)
            .map(|p| RawLog::create(&raw_dir.path().join(format!("raw-{p}.log"))))
            .collect();
        let partitions = store.partitions();
        let batches = data.batches(0, 64);
        let payloads: Vec<Vec<Vec<u8>>> = (0..64).map(|b| data.raw_payloads(b * BATCH)).collect();
        let mut n = 0usize;
        while store
            .partitions()
            .iter()
            .map(Partition::size_bytes)
            .sum::<u64>()
            < READ_BYTES
        {
            let p = n % PARTITIONS as usize;
            partitions[p]
                .append_records(&batches[n % batches.len()], RecordsOptions::default())
                .unwrap();
            let refs: Vec<&[u8]> = payloads[n % payloads.len()]
                .iter()
                .map(Vec::as_slice)
                .collect();
            raws[p].append(&refs);
            n += 1;
        }
        let records = store.records();
        assert_eq!(records, raws.iter().map(RawLog::len).sum::<u64>());
        Filled {
            store,
            raws,
            records,
            _raw_dir: raw_dir,
        }
    }
}

/// Polls a new consumer assigned to all partitions until it has returned
/// every record; returns the value bytes seen.
fn consume_all(f: &Filled, check_crcs: bool) -> usize {
    let config = ConsumerConfig::default()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .check_crcs(check_crcs);
    let mut consumer = Consumer::new(&f.store.store, config).unwrap();
    let assignment: Vec<(&str, u32)> = (0..PARTITIONS).map(|p| (TOPIC, p)).collect();
    consumer.assign(&assignment).unwrap();
    let (mut seen, mut bytes) = (0u64, 0usize);
    while seen < f.records {
        let records = consumer.poll(Duration::from_secs(5)).unwrap();
        assert!(!records.is_empty(), "poll returned nothing before the end");
        seen += records.len() as u64;
        for r in &records {
            bytes += r.value.as_ref().map_or(0, Bytes::len);
        }
    }
    assert_eq!(seen, f.records);
    bytes
}

/// Reads every partition with `Partition::read` fetches of `FETCH_BYTES`
/// and iterates every record; returns the value bytes seen.
fn read_all(f: &Filled, check_crc: bool) -> usize {
    let mut total = 0usize;
    for partition in f.store.partitions() {
        let limits = partition.config().decode;
        let end = partition.log_end_offset();
        let mut offset = partition.log_start_offset();
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
    }
    total
}

fn bench_consume(c: &mut Criterion) {
    let data = Data::new();
    let mut state: Option<Filled> = None;
    let mut group = c.benchmark_group("clients_consume/8p_100B_keyed");
    group.sampling_mode(SamplingMode::Flat);
    let records = state.get_or_insert_with(|| Filled::new(&data)).records;
    group.throughput(Throughput::Elements(records));
    let f = state.as_ref().unwrap();
    group.bench_function("raw_scan", |b| {
        b.iter(|| {
            let mut total = 0usize;
            for raw in &f.raws {
                raw.scan(FETCH_BYTES, |p| total += p.len());
            }
            total
        })
    });
    group.bench_function("direct_read", |b| b.iter(|| read_all(f, false)));
    group.bench_function("direct_read_crc_checked", |b| b.iter(|| read_all(f, true)));
    group.bench_function("consumer_check_crcs_true", |b| {
        b.iter(|| consume_all(f, true))
    });
    group.bench_function("consumer_check_crcs_false", |b| {
        b.iter(|| consume_all(f, false))
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
    targets = bench_produce, bench_consume
}
criterion_main!(benches);
