//! One segment of a partition log: a `.log` file of record batches with its
//! sparse `.index` (offset -> position) and `.timeindex` (timestamp ->
//! offset), named by the segment's base offset as Kafka names them.

mod config;
pub mod file_name;
mod index_file;
mod indexer;
mod log_file;
mod log_segment;
pub mod offset_index;
mod recovery;
mod scan;
pub mod time_index;
mod truncate;
mod verify;

pub use config::SegmentConfig;
pub use file_name::FileKind;
pub use log_segment::{BatchLocation, FlushJob, LogSegment};
pub use offset_index::OffsetIndex;
pub use recovery::{RecoveryReport, TruncationCause};
pub use time_index::TimeIndex;
pub use verify::{Fault, VerifyReport, verify_segment};
