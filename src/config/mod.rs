//! Configuration with Kafka's key names and defaults.
//!
//! [`TopicConfig`] holds the per-topic keys (`segment.bytes`,
//! `retention.ms`, ...), [`StoreConfig`] the store-wide ones; both read and
//! write Kafka's `key=value` properties text. Everything that depends on
//! time reads the injected [`Clock`](crate::clock::Clock).

mod properties;
mod store;
mod topic;

pub use properties::parse_properties;
pub use store::StoreConfig;
pub use topic::{CleanupPolicy, TOPIC_KEYS, TopicConfig};
