//! Encoding: [`BatchBuilder`] writes records into a RecordBatch v2 exactly
//! as Kafka's Java client does for the same inputs (uncompressed batches are
//! byte-identical; compressed ones decode identically).

use super::compression::{self, Compression};
use super::layout as l;
use super::model::{Header, Record, TimestampType};
use super::records::HeaderRef;
use super::varint::{put_varint, put_varlong, varint_len, varlong_len};
use crate::error::BatchError;

/// Builds one record batch.
///
/// ```
/// use seglog::record::{BatchBuilder, BatchHeader, BatchView, Compression, DecodeLimits, Record};
///
/// let mut builder = BatchBuilder::new(0).compression(Compression::None);
/// builder.push(&Record::keyed(1_700_000_000_000, "k", "v"))?;
/// let bytes = builder.build()?;
/// let batch = BatchView::parse(&bytes)?;
/// batch.validate(&DecodeLimits::default())?;
/// assert_eq!(batch.record_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    /// Header placeholder followed by the uncompressed records.
    buf: Vec<u8>,
    base_offset: i64,
    compression: Compression,
    partition_leader_epoch: i32,
    timestamp_type: TimestampType,
    log_append_time: Option<i64>,
    transactional: bool,
    control: bool,
    delete_horizon: Option<i64>,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
    last_offset_delta: i32,
    /// An explicit lastOffsetDelta (compaction keeps the original one).
    kept_last_offset_delta: Option<i32>,
}

impl BatchBuilder {
    /// A builder for a batch whose first record gets `base_offset`. Defaults
    /// are those of a Kafka client: no compression, CreateTime, no producer
    /// id/epoch/sequence (-1), partition leader epoch -1.
    pub fn new(base_offset: i64) -> Self {
        let mut buf = Vec::with_capacity(1024);
        buf.resize(l::HEADER_SIZE, 0);
        BatchBuilder {
            buf,
            base_offset,
            compression: Compression::None,
            partition_leader_epoch: l::NO_PARTITION_LEADER_EPOCH,
            timestamp_type: TimestampType::CreateTime,
            log_append_time: None,
            transactional: false,
            control: false,
            delete_horizon: None,
            producer_id: l::NO_PRODUCER_ID,
            producer_epoch: l::NO_PRODUCER_EPOCH,
            base_sequence: l::NO_SEQUENCE,
            base_timestamp: None,
            max_timestamp: l::NO_TIMESTAMP,
            count: 0,
            last_offset_delta: -1,
            kept_last_offset_delta: None,
        }
    }

    /// Sets the codec.
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets the partition leader epoch.
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets producer id, epoch and the sequence of the first record.
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch LogAppendTime with the given append time, which
    /// becomes its maxTimestamp (records keep their own deltas, ignored by
    /// readers).
    pub fn log_append_time(mut self, append_time: i64) -> Self {
        self.timestamp_type = TimestampType::LogAppendTime;
        self.log_append_time = Some(append_time);
        self
    }

    /// Sets the transactional bit.
    pub fn transactional(mut self, yes: bool) -> Self {
        self.transactional = yes;
        self
    }

    /// Sets the control bit.
    pub fn control(mut self, yes: bool) -> Self {
        self.control = yes;
        self
    }

    /// Sets the delete horizon (attribute bit 6): baseTimestamp becomes the
    /// horizon and record timestamps are encoded against it.
    pub fn delete_horizon(mut self, horizon_ms: i64) -> Self {
        self.delete_horizon = Some(horizon_ms);
        self
    }

    /// Sets baseTimestamp explicitly (before the first push); record
    /// timestamps are then encoded against it. By default it is the first
    /// record's timestamp, as Kafka's client writes it; a rewrite that must
    /// keep an existing batch's bytes (compaction, tests) sets it.
    pub fn base_timestamp(mut self, timestamp: i64) -> Self {
        self.base_timestamp = Some(timestamp);
        self
    }

    /// Sets lastOffsetDelta explicitly: the batch keeps the offsets up to
    /// `base_offset + delta` even when its last records were removed, as
    /// Kafka's cleaner writes a rewritten or emptied batch, so a producer's
    /// last sequence (`baseSequence + lastOffsetDelta`) survives. Records
    /// pushed must stay within it ([`BatchBuilder::build`] checks).
    pub fn last_offset_delta(mut self, delta: i32) -> Self {
        self.kept_last_offset_delta = Some(delta);
        self
    }

    /// Raises maxTimestamp to at least `timestamp` (records pushed raise it
    /// further). Compaction uses it to keep an emptied batch's original
    /// maxTimestamp, as Kafka's empty batch header does.
    pub fn max_timestamp(mut self, timestamp: i64) -> Self {
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self
    }

    /// Number of records pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch if built now without compression.
    pub fn uncompressed_size(&self) -> usize {
        self.buf.len()
    }

    /// Appends a record with the next offset delta.
    pub fn push(&mut self, record: &Record) -> Result<(), BatchError> {
        let delta = self.last_offset_delta.checked_add(1).ok_or_else(too_many)?;
        self.push_parts(
            delta,
            record.timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        )
    }

    /// Appends a record with an explicit offset delta, which must be larger
    /// than the previous one (gaps are allowed: compaction writes them).
    pub fn push_parts(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<(), BatchError> {
        let headers = headers.iter().map(|h| HeaderRef {
            key: h.key.as_bytes(),
            value: h.value.as_deref(),
        });
        self.push_borrowed(offset_delta, timestamp, key, value, headers)
    }

    /// [`BatchBuilder::push_parts`] with borrowed headers, such as a decoded
    /// record's ([`RecordRef::headers`](super::RecordRef::headers)): copies
    /// a record from one batch into another without allocating. Header keys
    /// are written as they are (not checked for UTF-8).
    pub fn push_borrowed<'h>(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl Iterator<Item = HeaderRef<'h>> + Clone,
    ) -> Result<(), BatchError> {
        if offset_delta <= self.last_offset_delta {
            return Err(BatchError::BadOffsets(format!(
                "offset delta {offset_delta} after {}",
                self.last_offset_delta
            )));
        }
        let base_ts = *self
            .base_timestamp
            .get_or_insert(self.delete_horizon.unwrap_or(timestamp));
        let ts_delta = timestamp.wrapping_sub(base_ts);
        let (body, header_count) =
            record_body_size(ts_delta, offset_delta, key, value, headers.clone())?;
        let body_len = i32::try_from(body).map_err(|_| too_large())?;
        self.buf.reserve(body + varint_len(body_len));
        put_varint(&mut self.buf, body_len);
        self.buf.push(0); // record attributes: unused
        put_varlong(&mut self.buf, ts_delta);
        put_varint(&mut self.buf, offset_delta);
        put_nullable(&mut self.buf, key);
        put_nullable(&mut self.buf, value);
        put_varint(&mut self.buf, header_count);
        for h in headers {
            put_nullable(&mut self.buf, Some(h.key));
            put_nullable(&mut self.buf, h.value);
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.count += 1;
        self.last_offset_delta = offset_delta;
        Ok(())
    }

    /// Finishes the batch: compresses the records if asked, fills the
    /// header and the CRC.
    pub fn build(self) -> Result<Vec<u8>, BatchError> {
        let last_offset_delta = match self.kept_last_offset_delta {
            Some(kept) if kept < self.last_offset_delta => {
                return Err(BatchError::BadOffsets(format!(
                    "lastOffsetDelta {kept} is below the record at delta {}",
                    self.last_offset_delta
                )));
            }
            Some(kept) => kept,
            None => self.last_offset_delta.max(0),
        };
        let mut out = match self.compression {
            // Kafka never compresses an empty records section.
            _ if self.count == 0 => self.buf,
            Compression::None => self.buf,
            codec => {
                let mut out = Vec::with_capacity(l::HEADER_SIZE + self.buf.len() / 2);
                out.resize(l::HEADER_SIZE, 0);
                compression::compress(codec, &self.buf[l::HEADER_SIZE..], &mut out)?;
                out
            }
        };
        let length = i32::try_from(out.len() - l::LOG_OVERHEAD).map_err(|_| too_large())?;
        let max_timestamp = self.log_append_time.unwrap_or(self.max_timestamp);
        let base_timestamp = self
            .base_timestamp
            .or(self.delete_horizon)
            .unwrap_or(l::NO_TIMESTAMP);
        let attributes = u16::from(self.compression.id())
            | flag(
                self.timestamp_type == TimestampType::LogAppendTime,
                l::LOG_APPEND_TIME_FLAG,
            )
            | flag(self.transactional, l::TRANSACTIONAL_FLAG)
            | flag(self.control, l::CONTROL_FLAG)
            | flag(self.delete_horizon.is_some(), l::DELETE_HORIZON_FLAG);
        let h = &mut out[..l::HEADER_SIZE];
        h[l::BASE_OFFSET..l::LENGTH].copy_from_slice(&self.base_offset.to_be_bytes());
        h[l::LENGTH..l::PARTITION_LEADER_EPOCH].copy_from_slice(&length.to_be_bytes());
        h[l::PARTITION_LEADER_EPOCH..l::MAGIC]
            .copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[l::MAGIC] = l::MAGIC_V2 as u8;
        h[l::ATTRIBUTES..l::LAST_OFFSET_DELTA].copy_from_slice(&attributes.to_be_bytes());
        h[l::LAST_OFFSET_DELTA..l::BASE_TIMESTAMP]
            .copy_from_slice(&last_offset_delta.to_be_bytes());
        h[l::BASE_TIMESTAMP..l::MAX_TIMESTAMP].copy_from_slice(&base_timestamp.to_be_bytes());
        h[l::MAX_TIMESTAMP..l::PRODUCER_ID].copy_from_slice(&max_timestamp.to_be_bytes());
        h[l::PRODUCER_ID..l::PRODUCER_EPOCH].copy_from_slice(&self.producer_id.to_be_bytes());
        h[l::PRODUCER_EPOCH..l::BASE_SEQUENCE].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[l::BASE_SEQUENCE..l::RECORD_COUNT].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[l::RECORD_COUNT..l::HEADER_SIZE].copy_from_slice(&self.count.to_be_bytes());
        set_crc(&mut out);
        Ok(out)
    }
}

/// Recomputes and stores the CRC of a framed batch (after an in-place edit
/// of a CRC-covered field).
pub(crate) fn set_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[l::ATTRIBUTES..]);
    batch[l::CRC..l::ATTRIBUTES].copy_from_slice(&crc.to_be_bytes());
}

fn flag(on: bool, bit: u16) -> u16 {
    if on { bit } else { 0 }
}

fn too_many() -> BatchError {
    BatchError::BadOffsets("more records than an i32 offset delta can number".into())
}

fn too_large() -> BatchError {
    BatchError::BadLength(i32::MAX)
}

fn nullable_len(bytes: Option<&[u8]>) -> Result<usize, BatchError> {
    match bytes {
        None => Ok(1),
        Some(b) => {
            let n = i32::try_from(b.len()).map_err(|_| too_large())?;
            Ok(varint_len(n) + b.len())
        }
    }
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// The size of a record after its length varint, and its header count.
fn record_body_size<'h>(
    ts_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: impl Iterator<Item = HeaderRef<'h>>,
) -> Result<(usize, i32), BatchError> {
    let mut size = 1 + varlong_len(ts_delta) + varint_len(offset_delta);
    size += nullable_len(key)? + nullable_len(value)?;
    let mut count: i32 = 0;
    for h in headers {
        count = count.checked_add(1).ok_or_else(too_large)?;
        size += nullable_len(Some(h.key))? + nullable_len(h.value)?;
    }
    size += varint_len(count);
    Ok((size, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchHeader, BatchView, DecodeLimits};
    use bytes::Bytes;

    /// A batch written out by hand from Kafka's specification of RecordBatch
    /// v2 (the "Message Format" page), not by our encoder. The CRC was
    /// computed with an independent bitwise CRC-32C (polynomial 0x82F63B78).
    #[rustfmt::skip]
    const GOLDEN: [u8; 88] = [
        0, 0, 0, 0, 0, 0, 0, 0,             // baseOffset 0
        0, 0, 0, 0x4c,                      // batchLength 76 = 88 - 12
        0, 0, 0, 0,                         // partitionLeaderEpoch 0
        2,                                  // magic 2
        0x32, 0xde, 0xae, 0x19,             // crc: CRC-32C of bytes 21..88
        0, 0,                               // attributes: no codec, CreateTime
        0, 0, 0, 1,                         // lastOffsetDelta 1
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // baseTimestamp 1700000000000
        0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, // maxTimestamp 1700000000005
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
        0xff, 0xff,                         // producerEpoch -1
        0xff, 0xff, 0xff, 0xff,             // baseSequence -1
        0, 0, 0, 2,                         // recordCount 2
        // record 0: length 10 (zigzag 0x14), attributes 0, timestampDelta 0,
        // offsetDelta 0, key length 2 (0x04) "k1", value length 2 "v1", 0 headers
        0x14, 0, 0, 0, 0x04, b'k', b'1', 0x04, b'v', b'1', 0,
        // record 1: length 15 (0x1e), attributes 0, timestampDelta 5 (0x0a),
        // offsetDelta 1 (0x02), null key (-1 = 0x01), value length 5 (0x0a)
        // "hello", 1 header (0x02): key length 1 (0x02) "h", value length 1 "x"
        0x1e, 0, 0x0a, 0x02, 0x01, 0x0a, b'h', b'e', b'l', b'l', b'o',
        0x02, 0x02, b'h', 0x02, b'x',
    ];

    fn golden_records() -> [Record; 2] {
        [
            Record::keyed(1_700_000_000_000, "k1", "v1"),
            Record::new(1_700_000_000_005, "hello").with_header(Header::new("h", "x")),
        ]
    }

    #[test]
    fn encodes_the_hand_built_golden_batch() {
        let mut b = BatchBuilder::new(0).partition_leader_epoch(0);
        for r in golden_records() {
            b.push(&r).unwrap();
        }
        assert_eq!(b.build().unwrap(), GOLDEN);
    }

    #[test]
    fn decodes_the_hand_built_golden_batch() {
        let view = BatchView::parse(&GOLDEN).unwrap();
        view.validate(&DecodeLimits::default()).unwrap();
        assert_eq!(view.size(), 88);
        assert_eq!(view.last_offset(), 1);
        assert_eq!(view.max_timestamp(), 1_700_000_000_005);
        let set = view.records(&DecodeLimits::default()).unwrap();
        let got: Vec<_> = set.to_records().unwrap();
        assert_eq!(
            got,
            vec![
                (0, golden_records()[0].clone()),
                (1, golden_records()[1].clone())
            ]
        );
    }

    #[test]
    fn flags_and_producer_fields_roundtrip() {
        let mut b = BatchBuilder::new(100)
            .producer(7, 3, 42)
            .partition_leader_epoch(9)
            .transactional(true)
            .log_append_time(5_000);
        b.push(&Record::tombstone(1_000, "k")).unwrap();
        b.push(&Record::new(2_000, Bytes::new())).unwrap();
        let bytes = b.build().unwrap();
        let v = BatchView::parse(&bytes).unwrap();
        v.validate(&DecodeLimits::default()).unwrap();
        assert_eq!(
            (v.producer_id(), v.producer_epoch(), v.base_sequence()),
            (7, 3, 42)
        );
        assert_eq!(v.partition_leader_epoch(), 9);
        assert!(v.is_transactional() && !v.is_control());
        assert_eq!(v.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(v.max_timestamp(), 5_000);
        let recs = v
            .records(&DecodeLimits::default())
            .unwrap()
            .to_records()
            .unwrap();
        // LogAppendTime: every record reads back with the batch's maxTimestamp.
        assert!(recs.iter().all(|(_, r)| r.timestamp == 5_000));
        assert_eq!(recs[0].1.value, None);
        assert_eq!(recs[1].1.value.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn delete_horizon_and_offset_gaps() {
        let mut b = BatchBuilder::new(10).delete_horizon(9_999).control(true);
        b.push_parts(0, 10_000, Some(b"a"), None, &[]).unwrap();
        b.push_parts(5, 10_001, Some(b"b"), Some(b"x"), &[])
            .unwrap();
        assert!(b.push_parts(5, 0, None, None, &[]).is_err());
        let bytes = b.build().unwrap();
        let v = BatchView::parse(&bytes).unwrap();
        v.validate(&DecodeLimits::default()).unwrap();
        assert_eq!(v.delete_horizon(), Some(9_999));
        assert_eq!(v.last_offset(), 15);
        let offsets: Vec<_> = v
            .records(&DecodeLimits::default())
            .unwrap()
            .iter()
            .map(|r| r.unwrap().offset())
            .collect();
        assert_eq!(offsets, [10, 15]);
    }

    #[test]
    fn an_emptied_batch_keeps_its_offsets_and_producer_fields() {
        // What Kafka's cleaner writes for a producer's last batch whose
        // records were all removed: no records, codec none, baseTimestamp
        // -1, the original maxTimestamp and lastOffsetDelta.
        let bytes = BatchBuilder::new(40)
            .producer(7, 2, 100)
            .partition_leader_epoch(3)
            .last_offset_delta(4)
            .max_timestamp(9_000)
            .build()
            .unwrap();
        let v = BatchView::parse(&bytes).unwrap();
        v.validate(&DecodeLimits::default()).unwrap();
        assert_eq!((v.record_count(), v.size()), (0, 61));
        assert_eq!((v.base_offset(), v.last_offset()), (40, 44));
        assert_eq!((v.base_timestamp(), v.max_timestamp()), (-1, 9_000));
        assert_eq!(
            (v.producer_id(), v.producer_epoch(), v.base_sequence()),
            (7, 2, 100)
        );
        assert_eq!(v.partition_leader_epoch(), 3);
        assert!(v.records(&DecodeLimits::default()).unwrap().is_empty());
    }

    #[test]
    fn a_kept_last_offset_delta_must_cover_the_records() {
        let mut b = BatchBuilder::new(0).last_offset_delta(2);
        b.push_parts(1, 5, Some(b"k"), Some(b"v"), &[]).unwrap();
        let bytes = b.build().unwrap();
        assert_eq!(BatchView::parse(&bytes).unwrap().last_offset_delta(), 2);
        let mut b = BatchBuilder::new(0).last_offset_delta(2);
        b.push_parts(3, 5, Some(b"k"), Some(b"v"), &[]).unwrap();
        assert!(matches!(b.build(), Err(BatchError::BadOffsets(_))));
    }

    #[test]
    fn push_borrowed_copies_a_decoded_record() {
        let view = BatchView::parse(&GOLDEN).unwrap();
        let set = view.records(&DecodeLimits::default()).unwrap();
        let mut b = BatchBuilder::new(0).partition_leader_epoch(0);
        for r in set.iter() {
            let r = r.unwrap();
            let delta = (r.offset() - view.base_offset()) as i32;
            b.push_borrowed(delta, r.timestamp(), r.key(), r.value(), r.headers())
                .unwrap();
        }
        assert_eq!(b.build().unwrap(), GOLDEN);
    }

    #[test]
    fn every_crc_covered_bit_flip_is_caught() {
        for byte in crate::record::layout::ATTRIBUTES..GOLDEN.len() {
            for bit in 0..8 {
                let mut b = GOLDEN;
                b[byte] ^= 1 << bit;
                let err = BatchView::parse(&b).unwrap().verify_crc().unwrap_err();
                assert!(
                    matches!(err, BatchError::CrcMismatch { .. }),
                    "{byte}:{bit}"
                );
            }
        }
    }

    #[test]
    fn truncation_is_reported() {
        for len in 0..GOLDEN.len() {
            let err = BatchView::parse(&GOLDEN[..len]).unwrap_err();
            assert!(matches!(err, BatchError::Truncated { .. }), "{len}: {err}");
        }
    }

    #[test]
    fn malformed_records_with_a_valid_crc_are_rejected() {
        // Claim three records while two are present, and fix the CRC so only
        // the record walk can notice.
        let mut b = GOLDEN;
        b[60] = 3;
        set_crc(&mut b);
        let v = BatchView::parse(&b).unwrap();
        v.verify_crc().unwrap();
        assert!(matches!(
            v.validate(&DecodeLimits::default()),
            Err(BatchError::BadRecord { index: 2, .. })
        ));
        // A record length running past the end.
        let mut b = GOLDEN;
        b[61] = 0x7e;
        set_crc(&mut b);
        let err = BatchView::parse(&b)
            .unwrap()
            .validate(&DecodeLimits::default());
        assert!(
            matches!(err, Err(BatchError::BadRecord { index: 0, .. })),
            "{err:?}"
        );
    }
}
