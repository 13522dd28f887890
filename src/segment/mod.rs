//! One segment of a partition log: a `.log` file of record batches with its
//! sparse `.index` (offset -> position) and `.timeindex` (timestamp ->
//! offset), named by the segment's base offset as Kafka names them.

mod index_file;
pub mod offset_index;
pub mod time_index;

pub use offset_index::OffsetIndex;
pub use time_index::TimeIndex;
