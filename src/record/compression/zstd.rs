//! Placeholder, being written.
use crate::error::BatchError;

pub(super) fn compress(_input: &[u8], _out: &mut Vec<u8>) -> Result<(), BatchError> {
    Err(BatchError::Decompression {
        codec: "zstd",
        detail: "not written yet".into(),
    })
}

pub(super) fn decompress(_input: &[u8], _max: usize) -> Result<Vec<u8>, BatchError> {
    Err(BatchError::Decompression {
        codec: "zstd",
        detail: "not written yet".into(),
    })
}
