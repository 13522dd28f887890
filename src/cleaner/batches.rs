//! Walking a partition's batches between two offsets, through
//! [`Partition::read`] only (zero-copy handles of the segments' mappings),
//! so the cleaner never holds a lock that blocks appends or readers.

use std::ops::ControlFlow;

use crate::error::{BatchError, Error, Result};
use crate::partition::Partition;
use crate::record::{BatchHeader, RecordBatch};

/// Calls `f` on every batch that ends at or after `from` and starts before
/// `to`, in offset order, reading `chunk` bytes at a time, until `f`
/// breaks. Offsets below the log start are skipped (no longer in the log).
pub(crate) fn for_each_batch(
    partition: &Partition,
    from: i64,
    to: i64,
    chunk: usize,
    mut f: impl FnMut(RecordBatch) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let mut at = from.max(partition.log_start_offset());
    while at < to {
        let slice = partition.read(at, chunk)?;
        if slice.is_empty() {
            return Ok(());
        }
        for batch in slice.iter() {
            if batch.base_offset() >= to {
                return Ok(());
            }
            at = batch.next_offset();
            if f(batch)?.is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The error for a batch whose records the cleaner cannot decode. A codec
/// compiled out of this build keeps its own variant: cleaning such a
/// partition needs the codec, since skipping the batch could resurrect
/// records its tombstones deleted.
pub(crate) fn decode_error(
    partition: &Partition,
    batch: &RecordBatch,
    reason: BatchError,
) -> Error {
    match reason {
        BatchError::CodecUnavailable { .. } => Error::from(reason),
        reason => Error::CorruptFetch {
            topic: partition.topic().to_string(),
            partition: partition.partition(),
            offset: batch.base_offset(),
            reason,
        },
    }
}
