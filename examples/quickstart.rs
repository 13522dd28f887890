//! Quickstart: Kafka's ordering lesson, with a real Kafka-format store.
//!
//! ```text
//! cargo run --release --example quickstart [DATA_DIR]
//! ```
//!
//! 1. The numbers 1..=8 sent to a topic with one partition come back in the
//!    order they were sent: a partition is an ordered log.
//! 2. The numbers 1..=24 sent round-robin to a topic with eight partitions
//!    come back by polling in another order: there is no order across
//!    partitions, yet each partition keeps its own.
//!
//! Without DATA_DIR a fresh directory is created and its path printed; the
//! files there are Kafka's (`orders-0/00000000000000000000.log`, ...) and
//! can be inspected with `cargo run --features cli -- dump DIR/numbers-3`.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::time::Duration;

use seglog::Store;
use seglog::client::{
    AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord,
};
use seglog::config::{StoreConfig, TopicConfig};
use seglog::partitioner::KeylessStrategy;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = data_dir()?;
    println!("store directory: {}", dir.display());
    let store = Store::open(&dir, StoreConfig::default())?;

    println!("\n1. One partition: a log keeps the order of its records.");
    let sent = send_numbers(&store, "ordered", 1, 8)?;
    let received = poll_all(&store, "ordered", 1, 8)?;
    print_values("   sent:     ", &sent);
    print_values(
        "   received: ",
        &received.iter().map(|r| r.2).collect::<Vec<_>>(),
    );

    println!("\n2. Eight partitions, records spread round-robin: no global order.");
    let sent = send_numbers(&store, "numbers", 8, 24)?;
    let received = poll_all(&store, "numbers", 8, 24)?;
    print_values("   sent:            ", &sent);
    print_values(
        "   received (poll): ",
        &received.iter().map(|r| r.2).collect::<Vec<_>>(),
    );
    println!("   per partition, each in its own order:");
    let mut by_partition: BTreeMap<u32, Vec<(i64, u64)>> = BTreeMap::new();
    for (partition, offset, value) in received {
        by_partition
            .entry(partition)
            .or_default()
            .push((offset, value));
    }
    for (partition, records) in by_partition {
        let shown: Vec<String> = records.iter().map(|(o, v)| format!("{v}@{o}")).collect();
        println!("     partition {partition}: {}", shown.join(" "));
    }
    store.close()?;
    println!("\nThe store was closed cleanly; run again with the same directory to append more.");
    Ok(())
}

/// Sends `1..=count` to a new topic with `partitions` partitions.
fn send_numbers(
    store: &Store,
    topic: &str,
    partitions: u32,
    count: u64,
) -> Result<Vec<u64>, Box<dyn Error>> {
    if store.topic(topic).is_err() {
        store.create_topic(topic, partitions, TopicConfig::default())?;
    }
    let producer = Producer::new(
        store,
        ProducerConfig::default().partitioner(KeylessStrategy::RoundRobin),
    )?;
    let numbers: Vec<u64> = (1..=count).collect();
    for n in &numbers {
        producer.send(ProducerRecord::new(topic, n.to_string()))?;
    }
    producer.flush();
    producer.close();
    Ok(numbers)
}

/// One polled record: (partition, offset, value).
type Polled = (u32, i64, u64);

/// Polls every partition of `topic` until `count` records arrived:
/// (partition, offset, value) in poll order.
fn poll_all(
    store: &Store,
    topic: &str,
    partitions: u32,
    count: usize,
) -> Result<Vec<Polled>, Box<dyn Error>> {
    let config = ConsumerConfig::default()
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(5);
    let mut consumer = Consumer::new(store, config)?;
    let assignment: Vec<(&str, u32)> = (0..partitions).map(|p| (topic, p)).collect();
    consumer.assign(&assignment)?;
    consumer.seek_to_end(&assignment)?;
    // Read only the records of this run: start `count` records back.
    let ends = consumer.end_offsets(&assignment)?;
    let per_partition = count as i64 / i64::from(partitions);
    for ((t, p), end) in assignment.iter().zip(ends) {
        consumer.seek(t, *p, (end - per_partition).max(0))?;
    }
    let mut out = Vec::new();
    while out.len() < count {
        let records = consumer.poll(Duration::from_secs(5))?;
        if records.is_empty() {
            return Err("timed out waiting for records".into());
        }
        for r in records {
            let value: u64 =
                std::str::from_utf8(r.value.as_deref().unwrap_or_default())?.parse()?;
            out.push((r.partition, r.offset, value));
        }
    }
    Ok(out)
}

fn print_values(label: &str, values: &[u64]) {
    let shown: Vec<String> = values.iter().map(u64::to_string).collect();
    println!("{label}{}", shown.join(" "));
}

/// The directory from the command line, or a fresh one under the system's
/// temporary directory (kept, so it can be inspected).
fn data_dir() -> Result<PathBuf, Box<dyn Error>> {
    if let Some(dir) = std::env::args_os().nth(1) {
        return Ok(PathBuf::from(dir));
    }
    Ok(tempfile::Builder::new()
        .prefix("seglog-quickstart-")
        .tempdir()?
        .keep())
}
