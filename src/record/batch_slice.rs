//! [`BatchSlice`]: whole batches laid end to end in one shared buffer, the
//! unit a read hands out.

use bytes::Bytes;

use super::view::{RecordBatch, frame_size};
use crate::error::BatchError;

/// Whole batches laid end to end in one `Bytes` buffer (usually a zero-copy
/// slice of a segment's mapping). Cheap to clone, `Send + 'static`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSlice {
    bytes: Bytes,
}

impl BatchSlice {
    /// Wraps bytes that hold only whole batches; checks the framing.
    pub fn new(bytes: Bytes) -> Result<Self, BatchError> {
        let mut pos = 0;
        while pos < bytes.len() {
            pos += frame_size(&bytes[pos..])?;
        }
        Ok(BatchSlice { bytes })
    }

    /// Wraps bytes whose framing the caller has checked.
    pub(crate) fn from_framed(bytes: Bytes) -> Self {
        BatchSlice { bytes }
    }

    /// The raw bytes (what Kafka's fetch would send).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Total size in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there is no batch.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The batches, each a zero-copy [`RecordBatch`].
    pub fn iter(&self) -> impl Iterator<Item = RecordBatch> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.bytes.len() {
                return None;
            }
            // Framing was checked when the slice was made.
            let size = frame_size(&self.bytes[pos..]).ok()?;
            let batch = RecordBatch::from_framed(self.bytes.slice(pos..pos + size));
            pos += size;
            Some(batch)
        })
    }
}
