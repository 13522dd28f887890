//! seglog: Apache Kafka's storage engine, in-process.
//!
//! Durable, ordered, replayable logs whose files are Kafka's own: RecordBatch
//! v2 batches with CRC-32C in `.log` segments, Kafka's sparse `.index` and
//! `.timeindex`, 20-digit segment names. A segment seglog writes is what a
//! broker writes; a segment a broker wrote opens in seglog.
//!
//! What it is: a library for programs that want Kafka's log semantics without
//! running Kafka. What it is not: a broker, a network protocol, or a
//! replicated system.
//!
//! This release holds the bottom of the stack:
//!
//! * [`record`]: records, the RecordBatch v2 codec (zero-copy views, lazy
//!   record iteration, an encoder byte-identical to Kafka's client) and the
//!   compression codecs;
//! * [`segment`]: one segment (`.log` + `.index` + `.timeindex`): append,
//!   read, offset and timestamp lookups, seal, crash recovery and verify.
//!
//! # Example
//!
//! ```
//! use seglog::record::{BatchBuilder, BatchView, Record};
//! use seglog::segment::{LogSegment, SegmentConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let config = SegmentConfig::default();
//! let mut segment = LogSegment::create(dir.path(), 0, config)?;
//!
//! let mut batch = BatchBuilder::new(segment.next_offset());
//! for n in 1..=3 {
//!     batch.push(&Record::keyed(1_700_000_000_000 + n, "key", n.to_string()))?;
//! }
//! let bytes = batch.build()?;
//! segment.append(&BatchView::parse(&bytes)?)?;
//!
//! let mut values = Vec::new();
//! for batch in segment.read(0, 1 << 20)?.iter() {
//!     for record in batch.records(&config.decode)?.iter() {
//!         let record = record?;
//!         values.push((record.offset(), record.value().map(<[u8]>::to_vec)));
//!     }
//! }
//! assert_eq!(values[2], (2, Some(b"3".to_vec())));
//! assert_eq!(segment.find_offset_by_timestamp(1_700_000_000_002, 0)?, Some((1, 1_700_000_000_002)));
//! segment.seal()?; // trims the files; 00000000000000000000.log is now a sealed Kafka segment
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod client;
pub mod clock;
pub mod config;
mod durable_fs;
pub mod error;
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
