//! Consumer group offsets, kept as Kafka keeps them: in the compacted
//! internal topic `__consumer_offsets`, with Kafka's record schemas.
//!
//! * [`schema`]: the keys and values (offset commit key versions 0 and 1,
//!   group metadata key version 2, offset commit value versions 0 to 4);
//! * [`group_partition`]: which partition holds a group
//!   (`Utils.abs(group.hashCode()) % offsets.topic.num.partitions`);
//! * [`OffsetStore`]: commit, fetch, delete and expire offsets; the state
//!   is rebuilt by replaying the topic when the store opens.
//!
//! Because the records are Kafka's, a `__consumer_offsets` directory copied
//! from a broker replays in seglog, and one written by seglog loads in a
//! broker.

pub mod group;
pub mod group_partition;
mod offset_store;
pub mod schema;

pub use group_partition::partition_for_group;
pub use offset_store::{
    CommitEntry, CommittedOffset, OFFSETS_TOPIC, OffsetStore, OffsetStoreConfig,
};
