//! Records and Kafka's RecordBatch v2: the model, the codec, compression.
//!
//! * [`Record`] and [`Header`]: what producers send.
//! * [`BatchBuilder`]: encodes records into a batch.
//! * [`BatchView`] (borrowed) and [`RecordBatch`] (owned, `Bytes`): read a
//!   batch's header in place through [`BatchHeader`], and its records lazily
//!   through [`RecordSet`] / [`RecordRef`].

mod batch_slice;
mod builder;
pub mod compression;
pub mod layout;
mod model;
mod records;
pub mod varint;
mod view;

pub use batch_slice::BatchSlice;
pub use builder::BatchBuilder;
pub(crate) use builder::set_crc;
pub use compression::Compression;
pub use model::{Header, Record, TimestampType};
pub use records::{DecodeLimits, HeaderIter, HeaderRef, RecordIter, RecordRef, RecordSet};
pub use view::{BatchHeader, BatchView, Batches, RecordBatch, batches, frame_size};
