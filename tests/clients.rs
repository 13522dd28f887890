//! The client helpers over a store: Producer (batching, partitioning,
//! buffer memory, acks, idempotence) and Consumer (poll, seek, lookups,
//! control batches, resets), under concurrency and across a restart.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use seglog::client::{
    Acks, AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRecord, Producer, ProducerConfig,
    ProducerRecord,
};
use seglog::clock::ManualClock;
use seglog::config::{StoreConfig, TopicConfig};
use seglog::partition::{Partition, RecordsOptions};
use seglog::partitioner::{KeylessStrategy, partition_for_key};
use seglog::record::{BatchBuilder, BatchHeader, BatchView, Header, Record, TimestampType};
use seglog::{Error, Store};

const T0: i64 = 1_700_000_000_000;

fn open_store(dir: &Path) -> Store {
    let config = StoreConfig::default().clock(Arc::new(ManualClock::new(T0)));
    Store::open(dir, config).unwrap()
}

fn earliest() -> ConsumerConfig {
    ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::Earliest)
}

/// Record counts of the batches of a partition, in order.
fn batch_counts(partition: &Partition) -> Vec<i32> {
    let mut counts = Vec::new();
    let mut offset = partition.log_start_offset();
    while offset < partition.log_end_offset() {
        let slice = partition.read(offset, 1 << 20).unwrap();
        for batch in slice.iter() {
            counts.push(batch.record_count());
            offset = batch.next_offset();
        }
    }
    counts
}

/// The batches of a partition (header fields only are used).
fn batches(partition: &Partition) -> Vec<seglog::record::RecordBatch> {
    let mut out = Vec::new();
    let mut offset = partition.log_start_offset();
    while offset < partition.log_end_offset() {
        for batch in partition.read(offset, 1 << 20).unwrap().iter() {
            offset = batch.next_offset();
            out.push(batch);
        }
    }
    out
}

/// Everything in the assigned partitions, polled until `expected` records.
fn consume_all(consumer: &mut Consumer, expected: usize) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} records",
            out.len()
        );
        out.extend(consumer.poll(Duration::from_millis(100)).unwrap());
    }
    out
}

#[test]
fn roundtrip_keys_land_in_murmur2_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .create_topic("orders", 4, TopicConfig::default())
        .unwrap();
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    let futures: Vec<_> = (0..200)
        .map(|i| {
            let record =
                ProducerRecord::keyed("orders", format!("key-{}", i % 23), format!("v{i}"))
                    .with_header(Header::new("n", i.to_string()))
                    .with_timestamp(T0 + i);
            producer.send(record).unwrap()
        })
        .collect();
    producer.flush();
    let sent: Vec<_> = futures.iter().map(|f| f.wait().unwrap()).collect();

    let mut consumer = Consumer::new(&store, earliest()).unwrap();
    consumer
        .assign(&[("orders", 0), ("orders", 1), ("orders", 2), ("orders", 3)])
        .unwrap();
    let records = consume_all(&mut consumer, 200);
    assert_eq!(records.len(), 200);
    let mut next_offset = [0i64; 4];
    let mut by_value = HashMap::new();
    for r in &records {
        let key = r.key.as_deref().unwrap();
        assert_eq!(r.partition, partition_for_key(key, 4));
        assert_eq!(
            r.offset, next_offset[r.partition as usize],
            "dense, in order"
        );
        next_offset[r.partition as usize] += 1;
        assert_eq!(r.timestamp_type, TimestampType::CreateTime);
        by_value.insert(r.value.clone().unwrap(), r.clone());
    }
    for (i, meta) in sent.iter().enumerate() {
        let r = &by_value[&Bytes::from(format!("v{i}"))];
        assert_eq!((meta.partition, meta.offset), (r.partition, r.offset));
        assert_eq!(meta.timestamp, T0 + i as i64);
        assert_eq!(r.timestamp, T0 + i as i64);
        assert_eq!(r.headers, vec![Header::new("n", i.to_string())]);
        assert_eq!(&*meta.topic, "orders");
    }
    // Nothing more: a short poll comes back empty.
    assert!(consumer.poll(Duration::from_millis(20)).unwrap().is_empty());
}

#[test]
fn records_sent_within_linger_share_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 3, TopicConfig::default()).unwrap();
    let producer = Producer::new(&store, ProducerConfig::default().linger_ms(500)).unwrap();
    let start = Instant::now();
    let futures: Vec<_> = (0..10)
        .map(|i| {
            producer
                .send(ProducerRecord::new("t", format!("v{i}")).with_partition(1))
                .unwrap()
        })
        .collect();
    assert!(!futures[0].is_done(), "held back for linger.ms");
    let last = futures[9].wait().unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "sent after linger.ms"
    );
    assert_eq!((last.partition, last.offset), (1, 9));
    assert_eq!(batch_counts(&topic.partition(1).unwrap()), vec![10]);
}

#[test]
fn full_batches_go_without_waiting_for_linger() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let config = ProducerConfig::default().linger_ms(60_000).batch_size(1024);
    let producer = Producer::new(&store, config).unwrap();
    let futures: Vec<_> = (0..100)
        .map(|i| {
            producer
                .send(ProducerRecord::new("t", vec![i as u8; 100]))
                .unwrap()
        })
        .collect();
    // The first batch filled up long before the minute of linger.
    let first = futures[0].wait_timeout(Duration::from_secs(20));
    assert_eq!(first.unwrap().unwrap().offset, 0);
    producer.flush();
    let partition = topic.partition(0).unwrap();
    let all = batches(&partition);
    assert!(all.len() > 1);
    assert_eq!(all.iter().map(|b| b.record_count()).sum::<i32>(), 100);
    for b in &all {
        assert!(b.size() <= 1024, "batch of {} bytes", b.size());
    }
    for b in &all[..all.len() - 1] {
        assert!(b.size() + 110 > 1024, "a batch was sent before it was full");
    }
}

#[test]
fn sticky_partitioner_moves_on_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 3, TopicConfig::default()).unwrap();
    let config = ProducerConfig::default().linger_ms(60_000).batch_size(1024);
    let producer = Producer::new(&store, config).unwrap();
    for i in 0..60u8 {
        producer
            .send(ProducerRecord::new("t", vec![i; 100]))
            .unwrap();
    }
    producer.flush();
    let counts: Vec<Vec<i32>> = topic.partitions().iter().map(batch_counts).collect();
    for c in &counts {
        assert!(
            !c.is_empty(),
            "every partition gets whole batches: {counts:?}"
        );
    }
    assert_eq!(counts.iter().flatten().sum::<i32>(), 60);
    // Whole batches of ~9 records moved from partition to partition.
    assert!(
        counts.iter().flatten().filter(|&&n| n > 1).count() >= 5,
        "{counts:?}"
    );

    // Round-robin: one keyless record per partition in turn.
    let rr = ProducerConfig::default().partitioner(KeylessStrategy::RoundRobin);
    let producer = Producer::new(&store, rr).unwrap();
    let partitions: Vec<u32> = (0..6)
        .map(|_| {
            producer
                .send(ProducerRecord::new("t", "x"))
                .unwrap()
                .partition()
        })
        .collect();
    assert_eq!(partitions, vec![0, 1, 2, 0, 1, 2]);
}

#[test]
fn a_full_buffer_blocks_up_to_max_block_ms() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let config = ProducerConfig::default()
        .buffer_memory(4096)
        .linger_ms(60_000)
        .max_block_ms(0);
    let producer = Producer::new(&store, config.clone()).unwrap();
    let value = vec![7u8; 1000];
    for _ in 0..3 {
        producer
            .send(ProducerRecord::new("t", value.clone()))
            .unwrap();
    }
    assert!(producer.buffer_available_bytes() < 1010);
    // Nothing is ready (linger of a minute), the buffer is full, and
    // max.block.ms=0 does not wait.
    match producer.send(ProducerRecord::new("t", value.clone())) {
        Err(Error::BufferFull {
            buffer_memory,
            available,
            size,
            ..
        }) => {
            assert_eq!(buffer_memory, 4096);
            assert!(size > available);
        }
        other => panic!("expected BufferFull, got {other:?}"),
    }
    producer.flush();
    assert_eq!(producer.buffer_available_bytes(), 4096);

    // With time to wait, a blocked send makes the buffered batches go (as
    // Kafka's accumulator does when memory is exhausted) and then succeeds.
    let producer = Producer::new(&store, config.max_block_ms(10_000)).unwrap();
    for _ in 0..3 {
        producer
            .send(ProducerRecord::new("t", value.clone()))
            .unwrap();
    }
    let start = Instant::now();
    let fourth = producer
        .send(ProducerRecord::new("t", value.clone()))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(9));
    producer.flush();
    assert_eq!(fourth.wait().unwrap().offset, 6);
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .create_topic("small", 1, TopicConfig::default().max_message_bytes(500))
        .unwrap();
    let producer = Producer::new(&store, ProducerConfig::default().max_request_size(1000)).unwrap();
    match producer.send(ProducerRecord::new("small", vec![0u8; 2000])) {
        Err(Error::RecordTooLarge { size, max }) => {
            assert_eq!(max, 1000);
            assert!(size > 2000);
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    let tiny_buffer = ProducerConfig::default().buffer_memory(300);
    let producer2 = Producer::new(&store, tiny_buffer).unwrap();
    assert!(matches!(
        producer2.send(ProducerRecord::new("small", vec![0u8; 400])),
        Err(Error::RecordTooLarge { max: 300, .. })
    ));
    // Within max.request.size but over the topic's max.message.bytes: the
    // log refuses the batch and the future says why.
    let future = producer
        .send(ProducerRecord::new("small", vec![0u8; 800]))
        .unwrap();
    match future.wait() {
        Err(Error::ProduceFailed {
            topic,
            partition,
            source,
        }) => {
            assert_eq!((topic.as_str(), partition), ("small", 0));
            assert!(matches!(*source, Error::RecordTooLarge { max: 500, .. }));
        }
        other => panic!("expected ProduceFailed, got {other:?}"),
    }
    // The failed batch did not break the sequence: the next one appends.
    let ok = producer
        .send_sync(ProducerRecord::new("small", "fits"))
        .unwrap();
    assert_eq!(ok.offset, 0);
}

#[test]
fn send_errors_unknown_topics_partitions_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store.create_topic("t", 2, TopicConfig::default()).unwrap();
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    assert!(matches!(
        producer.send(ProducerRecord::new("nope", "v")),
        Err(Error::UnknownTopic(_))
    ));
    assert!(matches!(
        producer.send(ProducerRecord::new("t", "v").with_partition(2)),
        Err(Error::UnknownPartition { count: 2, .. })
    ));
    let pending = producer
        .send(ProducerRecord::new("t", "last").with_partition(1))
        .unwrap();
    producer.close();
    assert_eq!(
        pending.wait().unwrap().offset,
        0,
        "close delivers what was buffered"
    );
    assert!(matches!(
        producer.send(ProducerRecord::new("t", "v")),
        Err(Error::ProducerClosed)
    ));
    drop(producer);

    // A store that creates topics on first use.
    let dir = tempfile::tempdir().unwrap();
    let auto = Store::open(
        dir.path(),
        StoreConfig::default().allow_auto_create_topics(true),
    )
    .unwrap();
    let producer = Producer::new(&auto, ProducerConfig::default()).unwrap();
    producer
        .send_sync(ProducerRecord::new("fresh", "v"))
        .unwrap();
    assert_eq!(auto.topic_names(), vec!["fresh".to_string()]);
    // Dropping a producer delivers what it buffered.
    producer.send(ProducerRecord::new("fresh", "w")).unwrap();
    drop(producer);
    assert_eq!(
        auto.topic("fresh")
            .unwrap()
            .partition(0)
            .unwrap()
            .log_end_offset(),
        2
    );
}

#[test]
fn acks_levels() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let partition = topic.partition(0).unwrap();

    // acks=all: flushed to disk when the future resolves.
    let all = Producer::new(&store, ProducerConfig::default()).unwrap();
    for i in 0..5 {
        let future = all.send(ProducerRecord::new("t", format!("{i}"))).unwrap();
        let meta = future.wait().unwrap();
        assert!(partition.flushed_offset() > meta.offset);
    }

    // acks=1: appended (readable) when resolved; needs idempotence off.
    assert!(matches!(
        Producer::new(&store, ProducerConfig::default().acks(Acks::One)),
        Err(Error::InvalidConfig { .. })
    ));
    let one_config = ProducerConfig::default()
        .acks(Acks::One)
        .enable_idempotence(false);
    let one = Producer::new(&store, one_config.clone()).unwrap();
    assert_eq!(one.producer_id(), None);
    let meta = one.send_sync(ProducerRecord::new("t", "one")).unwrap();
    assert_eq!(meta.offset, 5);
    assert!(partition.log_end_offset() > meta.offset);

    // acks=0: fire and forget, offset -1; the record is still appended.
    let zero = Producer::new(&store, one_config.acks(Acks::Zero)).unwrap();
    let meta = zero.send_sync(ProducerRecord::new("t", "zero")).unwrap();
    assert_eq!(meta.offset, -1);
    zero.flush();
    assert_eq!(partition.log_end_offset(), 7);
    let last = batches(&partition).pop().unwrap();
    assert_eq!(last.producer_id(), -1, "not idempotent");
}

#[test]
fn idempotent_producer_numbers_its_batches_and_duplicates_are_impossible() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 2, TopicConfig::default()).unwrap();
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    let other = Producer::new(&store, ProducerConfig::default()).unwrap();
    let pid = producer.producer_id().unwrap();
    assert!(pid >= 0);
    assert_ne!(
        other.producer_id(),
        Some(pid),
        "ids come from the store's allocator"
    );
    assert_eq!(producer.producer_epoch(), Some(0));

    // Three rounds of 4, 3 and 5 records to partition 0, one batch each.
    for n in [4, 3, 5] {
        for i in 0..n {
            producer
                .send(ProducerRecord::new("t", format!("r{i}")).with_partition(0))
                .unwrap();
        }
        producer.flush();
    }
    let partition = topic.partition(0).unwrap();
    let on_disk = batches(&partition);
    let headers: Vec<(i64, i16, i32, i32)> = on_disk
        .iter()
        .map(|b| {
            (
                b.producer_id(),
                b.producer_epoch(),
                b.base_sequence(),
                b.record_count(),
            )
        })
        .collect();
    assert_eq!(
        headers,
        vec![(pid, 0, 0, 4), (pid, 0, 4, 3), (pid, 0, 7, 5)]
    );
    // Partition 1 has its own sequence, from 0.
    producer
        .send_sync(ProducerRecord::new("t", "p1").with_partition(1))
        .unwrap();
    assert_eq!(batches(&topic.partition(1).unwrap())[0].base_sequence(), 0);

    // A retry of an appended batch (same producer, epoch, sequences) returns
    // the original offsets and appends nothing.
    let end = partition.log_end_offset();
    let records: Vec<Record> = (0..5).map(|i| Record::new(T0, format!("r{i}"))).collect();
    let retry = RecordsOptions {
        producer: Some((pid, 0, 7)),
        ..RecordsOptions::default()
    };
    let info = partition.append_records(&records, retry).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (7, 11));
    assert_eq!(partition.log_end_offset(), end);
    // An older batch still in the window too.
    let retry_first = RecordsOptions {
        producer: Some((pid, 0, 0)),
        ..RecordsOptions::default()
    };
    let info = partition
        .append_records(&records[..4], retry_first)
        .unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 3));
    // A gap is refused.
    let gap = RecordsOptions {
        producer: Some((pid, 0, 20)),
        ..RecordsOptions::default()
    };
    assert!(matches!(
        partition.append_records(&records, gap),
        Err(Error::OutOfOrderSequence { expected: 12, .. })
    ));
    // The producer's sequence continues after all that.
    producer
        .send_sync(ProducerRecord::new("t", "more").with_partition(0))
        .unwrap();
    let last = batches(&partition).pop().unwrap();
    assert_eq!((last.base_sequence(), last.base_offset()), (12, 12));
}

#[test]
fn consumer_seek_position_and_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    for i in 0..10 {
        producer
            .send(ProducerRecord::new("t", format!("v{i}")).with_timestamp(T0 + 10 * i))
            .unwrap();
    }
    producer.flush();

    let mut consumer = Consumer::new(&store, earliest().max_poll_records(4)).unwrap();
    assert!(matches!(
        consumer.poll(Duration::ZERO),
        Err(Error::NotAllowed(_))
    ));
    consumer.assign(&[("t", 0)]).unwrap();
    assert_eq!(consumer.assignment(), vec![("t".to_string(), 0)]);
    assert_eq!(consumer.position("t", 0).unwrap(), 0);
    let sizes: Vec<usize> = (0..3)
        .map(|_| consumer.poll(Duration::from_secs(1)).unwrap().len())
        .collect();
    assert_eq!(sizes, vec![4, 4, 2], "max.poll.records");
    assert_eq!(consumer.position("t", 0).unwrap(), 10);

    consumer.seek("t", 0, 5).unwrap();
    let records = consumer.poll(Duration::from_secs(1)).unwrap();
    assert_eq!(records[0].offset, 5);
    assert_eq!(records[0].value.as_deref(), Some(&b"v5"[..]));

    let found = consumer
        .offsets_for_times(&[("t", 0, T0 + 25), ("t", 0, T0), ("t", 0, T0 + 1_000)])
        .unwrap();
    assert_eq!(found, vec![Some((3, T0 + 30)), Some((0, T0)), None]);
    assert_eq!(consumer.beginning_offsets(&[("t", 0)]).unwrap(), vec![0]);
    assert_eq!(consumer.end_offsets(&[("t", 0)]).unwrap(), vec![10]);

    consumer.seek_to_end(&[("t", 0)]).unwrap();
    assert_eq!(consumer.position("t", 0).unwrap(), 10);
    assert!(consumer.poll(Duration::from_millis(20)).unwrap().is_empty());
    consumer.seek_to_beginning::<&str>(&[]).unwrap();
    assert_eq!(consumer.position("t", 0).unwrap(), 0);
    let all: Vec<i64> = consumer
        .iter(Duration::from_millis(20))
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(all, (0..10).collect::<Vec<_>>());

    assert!(matches!(
        consumer.position("t", 1),
        Err(Error::NotAllowed(_))
    ));
    assert!(matches!(
        consumer.seek("t", 0, -1),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        consumer.assign(&[("t", 1)]),
        Err(Error::UnknownPartition { .. })
    ));

    // auto.offset.reset for a partition without a position.
    let mut latest = Consumer::new(&store, ConsumerConfig::default()).unwrap();
    latest.assign(&[("t", 0)]).unwrap();
    assert_eq!(latest.position("t", 0).unwrap(), 10);
    let none = ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::None);
    let mut strict = Consumer::new(&store, none).unwrap();
    strict.assign(&[("t", 0)]).unwrap();
    assert!(matches!(
        strict.poll(Duration::ZERO),
        Err(Error::NoOffsetForPartition { partition: 0, .. })
    ));
}

#[test]
fn polls_take_partitions_in_turn_and_honour_fetch_settings() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 2, TopicConfig::default()).unwrap();
    let unflushed = ProducerConfig::default()
        .acks(Acks::One)
        .enable_idempotence(false);
    let producer = Producer::new(&store, unflushed).unwrap();
    for i in 0..300 {
        for p in 0..2 {
            producer
                .send(ProducerRecord::new("t", format!("{p}-{i}")).with_partition(p))
                .unwrap();
        }
    }
    producer.flush();

    // max.poll.records 100: polls alternate between the two partitions.
    let mut consumer = Consumer::new(&store, earliest().max_poll_records(100)).unwrap();
    consumer.assign(&[("t", 0), ("t", 1)]).unwrap();
    let mut served = Vec::new();
    for _ in 0..6 {
        let records = consumer.poll(Duration::from_secs(1)).unwrap();
        assert_eq!(records.len(), 100);
        served.push(records[0].partition);
    }
    assert!(served.contains(&0) && served.contains(&1), "{served:?}");
    assert_eq!(
        consumer.position("t", 0).unwrap() + consumer.position("t", 1).unwrap(),
        600
    );

    // fetch.min.bytes that never arrives: poll returns what it has after
    // fetch.max.wait.ms, not after its own timeout.
    let patient = earliest().fetch_min_bytes(1 << 30).fetch_max_wait_ms(100);
    let mut consumer = Consumer::new(&store, patient).unwrap();
    consumer.assign(&[("t", 0)]).unwrap();
    let start = Instant::now();
    let records = consumer.poll(Duration::from_secs(20)).unwrap();
    assert_eq!(records.len(), 300);
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert!(start.elapsed() < Duration::from_secs(10));

    // durable isolation sees only what is flushed.
    let partition = topic.partition(1).unwrap();
    let flushed = partition.flushed_offset();
    let durable = earliest().isolation(seglog::partition::Isolation::Durable);
    let mut consumer = Consumer::new(&store, durable).unwrap();
    consumer.assign(&[("t", 1)]).unwrap();
    let seen: Vec<ConsumerRecord> = consumer
        .iter(Duration::from_millis(20))
        .map(|r| r.unwrap())
        .collect();
    let seen = seen.len() as i64;
    assert_eq!(seen, flushed);
    assert_eq!(consumer.end_offsets(&[("t", 1)]).unwrap(), vec![flushed]);
    if flushed < 300 {
        partition.flush().unwrap();
        let rest = consumer.poll(Duration::from_secs(1)).unwrap();
        assert_eq!(rest[0].offset, flushed);
    }
}

#[test]
fn a_position_below_the_log_start_resets() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    for i in 0..10 {
        producer
            .send(ProducerRecord::new("t", format!("v{i}")))
            .unwrap();
        if i == 4 {
            producer.flush();
            topic.partition(0).unwrap().roll_now().unwrap();
        }
    }
    producer.flush();
    assert_eq!(topic.partition(0).unwrap().delete_records(6).unwrap(), 6);

    let mut consumer = Consumer::new(&store, earliest()).unwrap();
    consumer.assign(&[("t", 0)]).unwrap();
    consumer.seek("t", 0, 2).unwrap();
    let records = consumer.poll(Duration::from_secs(1)).unwrap();
    assert_eq!(records[0].offset, 6, "reset to the log start");

    let latest = ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::Latest);
    let mut consumer = Consumer::new(&store, latest).unwrap();
    consumer.assign(&[("t", 0)]).unwrap();
    consumer.seek("t", 0, 2).unwrap();
    assert!(consumer.poll(Duration::from_millis(10)).unwrap().is_empty());
    assert_eq!(consumer.position("t", 0).unwrap(), 10);

    let none = ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::None);
    let mut consumer = Consumer::new(&store, none).unwrap();
    consumer.assign(&[("t", 0)]).unwrap();
    consumer.seek("t", 0, 2).unwrap();
    assert!(matches!(
        consumer.poll(Duration::from_millis(10)),
        Err(Error::OffsetOutOfRange {
            requested: 2,
            log_start: 6,
            ..
        })
    ));
}

#[test]
fn poll_waits_and_wakes_when_data_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store.create_topic("t", 2, TopicConfig::default()).unwrap();
    let mut consumer = Consumer::new(&store, ConsumerConfig::default()).unwrap();
    consumer.assign(&[("t", 0), ("t", 1)]).unwrap();

    let start = Instant::now();
    assert!(
        consumer
            .poll(Duration::from_millis(150))
            .unwrap()
            .is_empty()
    );
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "waited the timeout"
    );

    let writer = {
        let store = store.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
            producer
                .send_sync(ProducerRecord::new("t", "wake").with_partition(1))
                .unwrap();
        })
    };
    let start = Instant::now();
    let records = consumer.poll(Duration::from_secs(20)).unwrap();
    let waited = start.elapsed();
    writer.join().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].partition, records[0].offset), (1, 0));
    // Functional bound only: it returned on the append, not the timeout.
    assert!(
        waited < Duration::from_secs(10),
        "poll returned after {waited:?}"
    );
}

#[test]
fn control_batches_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let topic = store.create_topic("t", 1, TopicConfig::default()).unwrap();
    let partition = topic.partition(0).unwrap();
    // Batches [0, 1, 2], [3], [4, 5]; then the segment is rolled.
    for n in [3, 1, 2] {
        let records: Vec<Record> = (0..n).map(|i| Record::new(T0, format!("v{i}"))).collect();
        partition
            .append_records(&records, RecordsOptions::default())
            .unwrap();
    }
    partition.roll_now().unwrap();
    // Clients cannot append a control batch, so rewrite the sealed segment
    // through the cleaner's path with a commit marker in place of [3].
    let old = batches(&partition);
    let mut marker = BatchBuilder::new(3)
        .control(true)
        .transactional(true)
        .producer(99, 0, 0);
    marker
        .push_parts(0, T0, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 0]), &[])
        .unwrap();
    let marker = marker.build().unwrap();
    let mut cleaned = partition.create_cleaned_segment(0).unwrap();
    for bytes in [
        old[0].as_bytes().as_ref(),
        &marker,
        old[2].as_bytes().as_ref(),
    ] {
        cleaned.append(&BatchView::parse(bytes).unwrap()).unwrap();
    }
    cleaned.seal().unwrap();
    drop(cleaned);
    partition.replace_segments(&[0], &[0]).unwrap();
    assert!(batches(&partition)[1].is_control());

    let mut consumer = Consumer::new(&store, earliest()).unwrap();
    consumer.assign(&[("t", 0)]).unwrap();
    let offsets: Vec<i64> = consumer
        .iter(Duration::from_millis(20))
        .map(|r| r.unwrap().offset)
        .collect();
    assert_eq!(offsets, vec![0, 1, 2, 4, 5]);
    assert_eq!(consumer.position("t", 0).unwrap(), 6);
    // Seeking onto the marker lands on the next record.
    consumer.seek("t", 0, 3).unwrap();
    assert_eq!(consumer.poll(Duration::from_secs(1)).unwrap()[0].offset, 4);
}

/// Value of record `seq` of producer `p`: both numbers, for checking order.
fn stress_value(p: usize, seq: usize) -> String {
    format!("{p}:{seq}")
}

fn parse_stress_value(value: &[u8]) -> (usize, usize) {
    let text = std::str::from_utf8(value).unwrap();
    let (p, seq) = text.split_once(':').unwrap();
    (p.parse().unwrap(), seq.parse().unwrap())
}

#[test]
fn concurrent_producers_and_consumers_lose_nothing() {
    const PRODUCERS: usize = 3;
    const N: usize = 5_000;
    const PARTITIONS: u32 = 6;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .create_topic("stress", PARTITIONS, TopicConfig::default())
        .unwrap();
    let key = |p: usize, seq: usize| format!("key-{}", (p * 7919 + seq) % 1_000);
    let mut expected = [0usize; PARTITIONS as usize];
    for p in 0..PRODUCERS {
        for seq in 0..N {
            expected[partition_for_key(key(p, seq).as_bytes(), PARTITIONS) as usize] += 1;
        }
    }

    let consumers: Vec<_> = (0..3u32)
        .map(|c| {
            let store = store.clone();
            let mine = [c, c + 3];
            let want = expected[c as usize] + expected[c as usize + 3];
            thread::spawn(move || {
                let mut consumer = Consumer::new(&store, earliest()).unwrap();
                consumer
                    .assign(&[("stress", mine[0]), ("stress", mine[1])])
                    .unwrap();
                let records = consume_all(&mut consumer, want);
                assert!(consumer.poll(Duration::from_millis(50)).unwrap().is_empty());
                records
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let store = store.clone();
            thread::spawn(move || {
                let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
                let futures: Vec<_> = (0..N)
                    .map(|seq| {
                        producer
                            .send(ProducerRecord::keyed(
                                "stress",
                                key(p, seq),
                                stress_value(p, seq),
                            ))
                            .unwrap()
                    })
                    .collect();
                producer.close();
                for f in futures {
                    f.wait().unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }

    let mut seen = HashSet::new();
    for (c, handle) in consumers.into_iter().enumerate() {
        let records = handle.join().unwrap();
        let mut next_offset: HashMap<u32, i64> = HashMap::new();
        let mut last_seq: HashMap<(u32, usize), usize> = HashMap::new();
        for r in &records {
            assert!(r.partition as usize % 3 == c, "only assigned partitions");
            let offset = next_offset.entry(r.partition).or_insert(0);
            assert_eq!(r.offset, *offset, "offsets dense and in order");
            *offset += 1;
            let (p, seq) = parse_stress_value(r.value.as_deref().unwrap());
            assert_eq!(r.key.as_deref(), Some(key(p, seq).as_bytes()));
            assert_eq!(
                r.partition,
                partition_for_key(key(p, seq).as_bytes(), PARTITIONS)
            );
            if let Some(prev) = last_seq.insert((r.partition, p), seq) {
                assert!(
                    seq > prev,
                    "producer {p} out of order in partition {}",
                    r.partition
                );
            }
            assert!(seen.insert((p, seq)), "duplicate {p}:{seq}");
        }
    }
    assert_eq!(seen.len(), PRODUCERS * N, "no loss");
}

#[test]
fn restart_in_the_middle_keeps_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let values = |round: usize| (0..300).map(move |i| format!("{round}-{i}"));
    let first_pid;
    {
        let store = open_store(dir.path());
        store.create_topic("t", 3, TopicConfig::default()).unwrap();
        let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
        first_pid = producer.producer_id().unwrap();
        for v in values(0) {
            producer
                .send(ProducerRecord::keyed("t", v.clone(), v))
                .unwrap();
        }
        producer.close();
        drop(producer);
        store.close().unwrap();
    }
    let store = open_store(dir.path());
    let producer = Producer::new(&store, ProducerConfig::default()).unwrap();
    assert!(
        producer.producer_id().unwrap() > first_pid,
        "ids never reused"
    );
    for v in values(1) {
        producer
            .send(ProducerRecord::keyed("t", v.clone(), v))
            .unwrap();
    }
    producer.flush();

    let mut consumer = Consumer::new(&store, earliest()).unwrap();
    consumer.assign(&[("t", 0), ("t", 1), ("t", 2)]).unwrap();
    let records = consume_all(&mut consumer, 600);
    assert!(consumer.poll(Duration::from_millis(20)).unwrap().is_empty());
    let mut next = [0i64; 3];
    let mut seen = HashSet::new();
    for r in &records {
        assert_eq!(
            r.offset, next[r.partition as usize],
            "offsets dense across the restart"
        );
        next[r.partition as usize] += 1;
        assert!(seen.insert(r.value.clone().unwrap()), "duplicate");
    }
    let all: HashSet<Bytes> = values(0).chain(values(1)).map(Bytes::from).collect();
    assert_eq!(seen, all);
    drop(producer);
    store.close().unwrap();
}
