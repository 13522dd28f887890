//! Client helpers over a [`Store`](crate::Store), shaped like Kafka's Java
//! clients: a [`Producer`] that batches records per partition and appends
//! them from a background thread, and a [`Consumer`] that polls assigned
//! partitions (consumer groups, with `subscribe`, rebalances and committed
//! offsets, are in [`crate::offsets::group`]).
//!
//! Configuration uses Kafka's key names and defaults ([`ProducerConfig`],
//! [`ConsumerConfig`], both with `from_properties`). Record timestamps come
//! from the store's injected clock; `linger.ms`, `max.block.ms`, `poll`
//! timeouts and `fetch.max.wait.ms` are waits and use `Instant`.
//!
//! ```
//! use std::time::Duration;
//! use seglog::client::{AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
//! use seglog::config::{StoreConfig, TopicConfig};
//! use seglog::Store;
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreConfig::default())?;
//! store.create_topic("clicks", 2, TopicConfig::default())?;
//!
//! let producer = Producer::new(&store, ProducerConfig::default())?;
//! let sent = producer.send_sync(ProducerRecord::keyed("clicks", "user-1", "home"))?;
//!
//! let mut consumer = Consumer::new(&store, ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::Earliest))?;
//! consumer.assign(&[("clicks", 0), ("clicks", 1)])?;
//! let records = consumer.poll(Duration::from_secs(1))?;
//! assert_eq!((records[0].partition, records[0].offset), (sent.partition, sent.offset));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accumulator;
mod batch;
mod consumer;
mod consumer_config;
mod delivery;
mod fetch;
mod poll;
mod producer;
mod producer_config;
mod sender;

pub use consumer::Consumer;
pub use consumer_config::{AutoOffsetReset, CONSUMER_KEYS, ConsumerConfig};
pub use delivery::{DeliveryFuture, RecordMetadata};
pub use fetch::ConsumerRecord;
pub use poll::ConsumerIter;
pub use producer::{Producer, ProducerRecord};
pub use producer_config::{Acks, PRODUCER_KEYS, ProducerConfig};

use crate::error::{Error, Result};

/// Parses a number value of `key`.
fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::InvalidConfig {
        key: key.into(),
        value: value.into(),
        reason: "expected a non-negative integer".into(),
    })
}

/// Parses a boolean value of `key` (`true` / `false`, as Kafka).
fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::InvalidConfig {
            key: key.into(),
            value: value.into(),
            reason: "expected true or false".into(),
        }),
    }
}

fn unknown_key(key: &str, value: &str, client: &str) -> Error {
    Error::InvalidConfig {
        key: key.into(),
        value: value.into(),
        reason: format!("unknown {client} configuration key"),
    }
}
