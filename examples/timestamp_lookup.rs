//! Timestamp lookup: find the first offset at or after a point in time,
//! through the segments' `.timeindex`, as Kafka's `offsetsForTimes`.
//!
//! ```text
//! cargo run --example timestamp_lookup
//! ```

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use seglog::Store;
use seglog::client::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use seglog::clock::ManualClock;
use seglog::config::{StoreConfig, TopicConfig};

const T0: i64 = 1_700_000_000_000;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    // A manual clock: one reading a minute, for an hour.
    let clock = ManualClock::new(T0);
    let store = Store::open(
        dir.path(),
        StoreConfig::default().clock(Arc::new(clock.clone())),
    )?;
    let config = TopicConfig::default().segment_bytes(4096); // several segments
    store.create_topic("readings", 1, config)?;
    let producer = Producer::new(&store, ProducerConfig::default())?;
    for minute in 0..60 {
        clock.set(T0 + minute * 60_000);
        let record =
            ProducerRecord::new("readings", format!("minute {minute}: {}", 20 + minute % 7))
                .with_timestamp(T0 + minute * 60_000);
        producer.send_sync(record)?;
    }
    producer.close();
    let segments = store
        .topic("readings")?
        .partition(0)?
        .segment_base_offsets();
    println!(
        "60 readings in {} segments (bases {segments:?})",
        segments.len()
    );

    let mut consumer = Consumer::new(&store, ConsumerConfig::default())?;
    consumer.assign(&[("readings", 0)])?;
    for minutes in [0, 17, 42, 59, 90] {
        let at = T0 + minutes * 60_000 - 30_000; // half a minute before
        let found = consumer.offsets_for_times(&[("readings", 0, at)])?;
        match found[0] {
            Some((offset, ts)) => {
                consumer.seek("readings", 0, offset)?;
                let record = consumer
                    .poll(Duration::from_secs(1))?
                    .into_iter()
                    .next()
                    .ok_or("no record")?;
                let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                    .into_owned();
                println!(
                    "first record at or after t0+{:>4}s: offset {offset:>2}, t0+{:>4}s, {value}",
                    (at - T0) / 1000,
                    (ts - T0) / 1000
                );
            }
            None => println!(
                "first record at or after t0+{:>4}s: none (every record is older)",
                (at - T0) / 1000
            ),
        }
    }
    store.close()?;
    Ok(())
}
