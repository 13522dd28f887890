//! Byte layout of a RecordBatch v2 header (all fields big-endian).
//!
//! ```text
//! 0   baseOffset            i64
//! 8   batchLength           i32   bytes after this field
//! 12  partitionLeaderEpoch  i32
//! 16  magic                 i8    = 2
//! 17  crc                   u32   CRC-32C of bytes 21..end
//! 21  attributes            i16
//! 23  lastOffsetDelta       i32
//! 27  baseTimestamp         i64
//! 35  maxTimestamp          i64
//! 43  producerId            i64
//! 51  producerEpoch         i16
//! 53  baseSequence          i32
//! 57  recordCount           i32
//! 61  records...
//! ```

/// Position of baseOffset.
pub const BASE_OFFSET: usize = 0;
/// Position of batchLength.
pub const LENGTH: usize = 8;
/// Bytes before the part that batchLength counts (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// Position of partitionLeaderEpoch.
pub const PARTITION_LEADER_EPOCH: usize = 12;
/// Position of the magic byte.
pub const MAGIC: usize = 16;
/// Position of the CRC.
pub const CRC: usize = 17;
/// Position of the attributes; the CRC covers from here to the end.
pub const ATTRIBUTES: usize = 21;
/// Position of lastOffsetDelta.
pub const LAST_OFFSET_DELTA: usize = 23;
/// Position of baseTimestamp.
pub const BASE_TIMESTAMP: usize = 27;
/// Position of maxTimestamp.
pub const MAX_TIMESTAMP: usize = 35;
/// Position of producerId.
pub const PRODUCER_ID: usize = 43;
/// Position of producerEpoch.
pub const PRODUCER_EPOCH: usize = 51;
/// Position of baseSequence.
pub const BASE_SEQUENCE: usize = 53;
/// Position of recordCount.
pub const RECORD_COUNT: usize = 57;
/// Size of the header; the records start here.
pub const HEADER_SIZE: usize = 61;

/// The only supported magic value.
pub const MAGIC_V2: i8 = 2;

/// Attribute bits 0-2: the compression codec id.
pub const CODEC_MASK: u16 = 0x07;
/// Attribute bit 3: LogAppendTime (set) or CreateTime (clear).
pub const LOG_APPEND_TIME_FLAG: u16 = 0x08;
/// Attribute bit 4: part of a transaction.
pub const TRANSACTIONAL_FLAG: u16 = 0x10;
/// Attribute bit 5: a control batch (transaction markers, KRaft control records).
pub const CONTROL_FLAG: u16 = 0x20;
/// Attribute bit 6: baseTimestamp holds the compaction delete horizon.
pub const DELETE_HORIZON_FLAG: u16 = 0x40;

/// "No producer id" (non-idempotent producers).
pub const NO_PRODUCER_ID: i64 = -1;
/// "No producer epoch".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// "No sequence".
pub const NO_SEQUENCE: i32 = -1;
/// "No partition leader epoch", as clients write it before a leader stamps one.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// "No timestamp".
pub const NO_TIMESTAMP: i64 = -1;

#[inline]
pub(crate) fn i16_at(buf: &[u8], pos: usize) -> i16 {
    i16::from_be_bytes([buf[pos], buf[pos + 1]])
}

#[inline]
pub(crate) fn i32_at(buf: &[u8], pos: usize) -> i32 {
    i32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]])
}

#[inline]
pub(crate) fn u32_at(buf: &[u8], pos: usize) -> u32 {
    i32_at(buf, pos) as u32
}

#[inline]
pub(crate) fn i64_at(buf: &[u8], pos: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[pos..pos + 8]);
    i64::from_be_bytes(b)
}
