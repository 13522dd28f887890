//! Key partitioning: records with the same key always land in the same
//! partition, the one Kafka's Java client would choose (murmur2 of the key
//! bytes, `& 0x7fffffff`, modulo the partition count), so per-key order is
//! kept.
//!
//! ```text
//! cargo run --example key_partitioning
//! ```

use std::collections::BTreeMap;
use std::error::Error;

use seglog::Store;
use seglog::client::{Producer, ProducerConfig, ProducerRecord};
use seglog::config::{StoreConfig, TopicConfig};
use seglog::partitioner::{murmur2, partition_for_key};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreConfig::default())?;
    store.create_topic("accounts", 6, TopicConfig::default())?;
    let producer = Producer::new(&store, ProducerConfig::default())?;

    let mut seen: BTreeMap<String, Vec<(u32, i64)>> = BTreeMap::new();
    for round in 0..3 {
        for user in ["alice", "bob", "carol", "dave", "erin"] {
            let value = format!("{user} event {round}");
            let sent = producer.send_sync(ProducerRecord::keyed("accounts", user, value))?;
            seen.entry(user.to_string())
                .or_default()
                .push((sent.partition, sent.offset));
        }
    }
    println!("key    murmur2      partition (Kafka's Java client)   offsets written");
    for (user, placements) in &seen {
        let hash = murmur2(user.as_bytes());
        let expected = partition_for_key(user.as_bytes(), 6);
        assert!(placements.iter().all(|(p, _)| *p == expected));
        let offsets: Vec<String> = placements.iter().map(|(_, o)| o.to_string()).collect();
        println!(
            "{user:<6} {hash:>11}  {expected:<33} {}",
            offsets.join(", ")
        );
    }
    producer.close();
    store.close()?;
    Ok(())
}
