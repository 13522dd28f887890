//! Batch codec benches: encode and decode of 100 records (100 B and 1 KiB
//! values), per codec, and CRC-32C throughput.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use seglog::record::{BatchBuilder, BatchView, Compression, DecodeLimits, Record};

fn records(n: usize, value_len: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let value: Vec<u8> = (0..value_len)
                .map(|j| ((i * 31 + j * 7) % 251) as u8)
                .collect();
            Record::keyed(1_700_000_000_000 + i as i64, format!("key-{i:06}"), value)
        })
        .collect()
}

fn encode(records: &[Record], codec: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new(0).compression(codec);
    for r in records {
        b.push(r).unwrap();
    }
    b.build().unwrap()
}

fn bench_codec(c: &mut Criterion) {
    let limits = DecodeLimits::default();
    for value_len in [100usize, 1024] {
        let recs = records(100, value_len);
        let mut group = c.benchmark_group(format!("batch/100x{value_len}B"));
        group.throughput(Throughput::Elements(100));
        for codec in Compression::ALL.into_iter().filter(|c| c.is_available()) {
            group.bench_function(format!("encode/{codec}"), |b| {
                b.iter(|| encode(black_box(&recs), codec))
            });
            let bytes = encode(&recs, codec);
            group.bench_function(format!("decode/{codec}"), |b| {
                b.iter(|| {
                    let view = BatchView::parse(black_box(&bytes)).unwrap();
                    let set = view.records(&limits).unwrap();
                    let mut total = 0usize;
                    for r in set.iter() {
                        total += r.unwrap().value().map_or(0, <[u8]>::len);
                    }
                    total
                })
            });
        }
        group.finish();
    }
}

fn bench_crc(c: &mut Criterion) {
    let data = vec![0xa5u8; 1 << 20];
    let mut group = c.benchmark_group("crc32c");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("1MiB", |b| b.iter(|| crc32c::crc32c(black_box(&data))));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = bench_codec, bench_crc }
criterion_main!(benches);
