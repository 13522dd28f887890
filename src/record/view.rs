//! Reading batches: the [`BatchHeader`] accessors, a borrowed [`BatchView`]
//! over a byte slice and the owned, cheaply cloneable [`RecordBatch`].

use bytes::Bytes;

use super::compression::Compression;
use super::layout::{self as l, i16_at, i32_at, i64_at, u32_at};
use super::model::TimestampType;
use super::records::{DecodeLimits, RecordSet};
use crate::error::BatchError;

/// Header fields of a v2 batch, read straight from its bytes.
///
/// Implemented by [`BatchView`] and [`RecordBatch`]; every accessor is a
/// fixed-position big-endian read, so calling them costs nothing.
pub trait BatchHeader {
    /// The whole batch, header included (exactly `size()` bytes).
    fn batch_bytes(&self) -> &[u8];

    /// Offset of the first record (`baseOffset`).
    fn base_offset(&self) -> i64 {
        i64_at(self.batch_bytes(), l::BASE_OFFSET)
    }
    /// The `batchLength` field: bytes after it.
    fn batch_length(&self) -> i32 {
        i32_at(self.batch_bytes(), l::LENGTH)
    }
    /// Total size of the batch in bytes (`batchLength + 12`).
    fn size(&self) -> usize {
        self.batch_bytes().len()
    }
    /// The leader epoch stamped at append.
    fn partition_leader_epoch(&self) -> i32 {
        i32_at(self.batch_bytes(), l::PARTITION_LEADER_EPOCH)
    }
    /// The magic byte (always 2 for a parsed batch).
    fn magic(&self) -> i8 {
        self.batch_bytes()[l::MAGIC] as i8
    }
    /// The stored CRC-32C.
    fn crc(&self) -> u32 {
        u32_at(self.batch_bytes(), l::CRC)
    }
    /// The raw attributes.
    fn attributes(&self) -> u16 {
        i16_at(self.batch_bytes(), l::ATTRIBUTES) as u16
    }
    /// The codec id of attribute bits 0-2, decoded.
    fn compression(&self) -> Result<Compression, BatchError> {
        Compression::from_id((self.attributes() & l::CODEC_MASK) as u8)
    }
    /// CreateTime or LogAppendTime (attribute bit 3).
    fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & l::LOG_APPEND_TIME_FLAG != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    /// Attribute bit 4.
    fn is_transactional(&self) -> bool {
        self.attributes() & l::TRANSACTIONAL_FLAG != 0
    }
    /// Attribute bit 5.
    fn is_control(&self) -> bool {
        self.attributes() & l::CONTROL_FLAG != 0
    }
    /// The delete horizon (attribute bit 6 set: baseTimestamp holds it).
    fn delete_horizon(&self) -> Option<i64> {
        (self.attributes() & l::DELETE_HORIZON_FLAG != 0).then(|| self.base_timestamp())
    }
    /// `lastOffsetDelta`.
    fn last_offset_delta(&self) -> i32 {
        i32_at(self.batch_bytes(), l::LAST_OFFSET_DELTA)
    }
    /// Offset of the last record the batch was written with
    /// (compaction may have removed it, the offset stays taken).
    fn last_offset(&self) -> i64 {
        self.base_offset()
            .wrapping_add(i64::from(self.last_offset_delta()))
    }
    /// The offset after this batch.
    fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }
    /// `baseTimestamp`.
    fn base_timestamp(&self) -> i64 {
        i64_at(self.batch_bytes(), l::BASE_TIMESTAMP)
    }
    /// `maxTimestamp`.
    fn max_timestamp(&self) -> i64 {
        i64_at(self.batch_bytes(), l::MAX_TIMESTAMP)
    }
    /// `producerId` (-1 for none).
    fn producer_id(&self) -> i64 {
        i64_at(self.batch_bytes(), l::PRODUCER_ID)
    }
    /// `producerEpoch` (-1 for none).
    fn producer_epoch(&self) -> i16 {
        i16_at(self.batch_bytes(), l::PRODUCER_EPOCH)
    }
    /// `baseSequence` (-1 for none).
    fn base_sequence(&self) -> i32 {
        i32_at(self.batch_bytes(), l::BASE_SEQUENCE)
    }
    /// `recordCount`.
    fn record_count(&self) -> i32 {
        i32_at(self.batch_bytes(), l::RECORD_COUNT)
    }
    /// The records section as stored (compressed when the codec is not none).
    fn records_bytes(&self) -> &[u8] {
        &self.batch_bytes()[l::HEADER_SIZE..]
    }
    /// CRC-32C over attributes..end, as computed now.
    fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.batch_bytes()[l::ATTRIBUTES..])
    }
    /// Checks the stored CRC against the bytes.
    fn verify_crc(&self) -> Result<(), BatchError> {
        let (stored, computed) = (self.crc(), self.compute_crc());
        if stored == computed {
            Ok(())
        } else {
            Err(BatchError::CrcMismatch { stored, computed })
        }
    }
}

/// Reads the framing of the batch at the start of `buf` and returns its total
/// size. Checks only what is needed to know where it ends: the length field
/// and the magic byte. The CRC is checked by [`BatchHeader::verify_crc`].
pub fn frame_size(buf: &[u8]) -> Result<usize, BatchError> {
    if buf.len() < l::LOG_OVERHEAD {
        return Err(BatchError::Truncated {
            needed: l::LOG_OVERHEAD as u64,
            available: buf.len() as u64,
        });
    }
    let length = i32_at(buf, l::LENGTH);
    if length < (l::HEADER_SIZE - l::LOG_OVERHEAD) as i32 {
        return Err(BatchError::BadLength(length));
    }
    let total = l::LOG_OVERHEAD + length as usize;
    if buf.len() > l::MAGIC {
        let magic = buf[l::MAGIC] as i8;
        if magic != l::MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(magic));
        }
    }
    if buf.len() < total {
        return Err(BatchError::Truncated {
            needed: total as u64,
            available: buf.len() as u64,
        });
    }
    Ok(total)
}

/// A borrowed view of one batch inside a byte slice. Zero-copy: header
/// fields are read in place and records decoded lazily.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Frames the batch at the start of `buf` (see [`frame_size`]); bytes
    /// after it are ignored. Does not check the CRC.
    pub fn parse(buf: &'a [u8]) -> Result<Self, BatchError> {
        let size = frame_size(buf)?;
        Ok(BatchView {
            bytes: &buf[..size],
        })
    }

    /// The batch's bytes, with the slice's lifetime.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records, decompressed if needed (at most
    /// `limits.max_decompressed_bytes`), ready to iterate.
    pub fn records(&self, limits: &DecodeLimits) -> Result<RecordSet<'a>, BatchError> {
        RecordSet::new(*self, limits)
    }

    /// Full check: CRC, and every record decodes with consistent offsets.
    pub fn validate(&self, limits: &DecodeLimits) -> Result<(), BatchError> {
        self.verify_crc()?;
        self.records(limits)?.validate()
    }
}

impl BatchHeader for BatchView<'_> {
    #[inline]
    fn batch_bytes(&self) -> &[u8] {
        self.bytes
    }
}

/// An owned batch: cheap to clone, `Send + 'static`, usually a zero-copy
/// slice of a segment's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
}

impl RecordBatch {
    /// Wraps bytes holding exactly one batch (framing checked, CRC not).
    pub fn from_bytes(bytes: Bytes) -> Result<Self, BatchError> {
        let size = frame_size(&bytes)?;
        if size != bytes.len() {
            return Err(BatchError::BadLength(i32_at(&bytes, l::LENGTH)));
        }
        Ok(RecordBatch { bytes })
    }

    /// Wraps bytes already framed as one batch by the caller.
    pub(crate) fn from_framed(bytes: Bytes) -> Self {
        debug_assert_eq!(frame_size(&bytes).ok(), Some(bytes.len()));
        RecordBatch { bytes }
    }

    /// A borrowed view of the same bytes.
    pub fn view(&self) -> BatchView<'_> {
        BatchView { bytes: &self.bytes }
    }

    /// The batch's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batch's bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The records, decompressed if needed; see [`BatchView::records`].
    pub fn records(&self, limits: &DecodeLimits) -> Result<RecordSet<'_>, BatchError> {
        self.view().records(limits)
    }

    /// Full check; see [`BatchView::validate`].
    pub fn validate(&self, limits: &DecodeLimits) -> Result<(), BatchError> {
        self.view().validate(limits)
    }
}

impl BatchHeader for RecordBatch {
    #[inline]
    fn batch_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Iterates over the batches laid end to end in `buf` (a segment's bytes, a
/// fetch response). Yields `(position, view)`; stops at the end of `buf`, and
/// yields one error at the first batch that does not frame (a partial batch at
/// the end included), then stops.
pub fn batches(buf: &[u8]) -> Batches<'_> {
    Batches {
        buf,
        pos: 0,
        failed: false,
    }
}

/// Iterator returned by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl Batches<'_> {
    /// Byte position of the next batch.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(usize, BatchView<'a>), (usize, BatchError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        match BatchView::parse(&self.buf[start..]) {
            Ok(view) => {
                self.pos += view.size();
                Some(Ok((start, view)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err((start, e)))
            }
        }
    }
}
