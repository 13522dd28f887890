//! The partition log: an ordered list of segments in a `<topic>-<partition>`
//! directory, with offsets assigned on append, reads and lookups by offset
//! and time, rolling, flushing, and recovery that never returns corrupt data.

mod append;
pub mod checkpoint;
mod dir_name;
mod durability;
mod epochs;
mod log;
mod open;
pub mod producer_snapshot;
pub mod producer_state;
mod producers;
mod read;
mod replace;
mod retention;
mod truncation;
mod watch;

pub use append::{AppendInfo, RecordsOptions};
pub use dir_name::{parse_partition_dir, partition_dir_name};
pub use log::Partition;
pub use open::{OpenOptions, OpenReport};
pub use read::Isolation;
pub use replace::SegmentInfo;
pub use retention::{DeletedSegment, PendingDeletion, RetentionOutcome, RetentionRule};
