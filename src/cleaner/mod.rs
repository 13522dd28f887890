//! Retention and compaction.

pub mod retention;

// Compaction (cleanup.policy=compact): Kafka's log cleaner.
mod batch_filter;
mod batches;
mod cleaner_config;
pub mod compaction;
mod dedupe;
pub mod dirty;
mod grouping;
mod key_hash;
pub mod offset_map;
mod output;
mod producers;
mod splice;

pub use cleaner_config::{CLEANER_KEYS, CleanerConfig};
pub use compaction::{CleanStats, clean_partition};
pub use dirty::{Cleanable, cleanable};
pub use offset_map::OffsetMap;
