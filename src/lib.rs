//! seglog: Apache Kafka's storage engine, in-process.
//!
//! Durable, ordered, replayable, partitioned logs whose files are Kafka's
//! own: RecordBatch v2 batches with CRC-32C in `.log` segments, Kafka's
//! sparse `.index` and `.timeindex`, 20-digit segment names, `topic-N`
//! directories, Kafka's checkpoint files and `.lock`. A directory seglog
//! writes is what a broker writes; a log directory copied from a broker
//! opens in seglog.
//!
//! What it is: a library for programs that want Kafka's log semantics
//! without running Kafka. What it is not: a broker, a network protocol, or a
//! replicated system. Ordering is per partition, never across partitions.
//!
//! The layers, top to bottom (data flows one way):
//!
//! * [`Store`]: a directory of topics, its lock and store-wide checkpoints;
//! * [`Topic`]: a name, a [`config::TopicConfig`] and N partitions, with
//!   [`partitioner`] choosing one per record as Kafka's Java client does;
//! * [`partition::Partition`]: the log of one partition: append, read,
//!   lookups by offset and time, roll, flush, recovery, idempotent producers;
//! * [`segment`]: one `.log` with its indexes; [`record`]: the batch codec.
//!
//! [`client::Producer`] and [`client::Consumer`] are thin helpers shaped like
//! Kafka's clients.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use seglog::Store;
//! use seglog::client::{AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
//! use seglog::config::{StoreConfig, TopicConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreConfig::default())?;
//! store.create_topic("orders", 3, TopicConfig::default())?;
//!
//! let producer = Producer::new(&store, ProducerConfig::default())?;
//! for n in 1..=3 {
//!     producer.send(ProducerRecord::keyed("orders", "customer-7", format!("order {n}")))?;
//! }
//! producer.flush();
//!
//! // The same key always lands in the same partition, so its records keep
//! // their order.
//! let partition = seglog::partitioner::partition_for_key(b"customer-7", 3);
//! let mut consumer = Consumer::new(&store, ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::Earliest))?;
//! consumer.assign(&[("orders", partition)])?;
//! let records = consumer.poll(Duration::from_secs(1))?;
//! let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
//! assert_eq!(values, ["order 1", "order 2", "order 3"]);
//! store.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod cleaner;
pub mod client;
pub mod clock;
pub mod config;
mod durable_fs;
pub mod error;
pub mod offsets;
pub mod partition;
pub mod partitioner;
pub mod producer_id;
pub mod record;
pub mod segment;
pub mod store;
pub mod topic;

pub use client::{Consumer, ConsumerRecord, Producer, ProducerRecord};
pub use error::{BatchError, Error, Result};
pub use store::Store;
pub use topic::Topic;
