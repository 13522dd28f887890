//! The consumer's per-partition fetch state and the decoding of fetched
//! batches into [`ConsumerRecord`]s.
//!
//! A fetch reads whole batches (zero-copy handles over the segment) from the
//! partition's position; each is CRC-checked once when read (`check.crcs`)
//! and kept until every record in it was returned, so `max.poll.records`
//! never makes a batch be read or checked twice. Records below the position
//! inside the first batch are skipped with [`RecordSet::iter_from`]; control
//! batches and empty batches are skipped whole. Keys, values and header
//! values of uncompressed batches are zero-copy slices of the batch.
//!
//! [`RecordSet::iter_from`]: crate::record::RecordSet::iter_from

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{BatchError, Error, Result};
use crate::record::{
    BatchHeader, BatchSlice, DecodeLimits, Header, RecordBatch, RecordRef, TimestampType,
};

/// A record as a consumer gets it: Kafka's `ConsumerRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic (shared by the records of a partition).
    pub topic: Arc<str>,
    /// The partition.
    pub partition: u32,
    /// The record's offset.
    pub offset: i64,
    /// The record's timestamp (the batch's append time for LogAppendTime).
    pub timestamp: i64,
    /// Whether `timestamp` is the create time or the log append time.
    pub timestamp_type: TimestampType,
    /// The key; `None` is Kafka's null key.
    pub key: Option<Bytes>,
    /// The value; `None` is Kafka's null value (a tombstone).
    pub value: Option<Bytes>,
    /// The headers, in order (keys converted lossily to UTF-8).
    pub headers: Vec<Header>,
}

/// One assigned partition: where the consumer is, and what it has read but
/// not yet returned.
#[derive(Debug)]
pub(crate) struct Assigned {
    pub topic: Arc<str>,
    pub partition: u32,
    /// The offset of the next record to return; `None` until reset by
    /// `auto.offset.reset`.
    pub position: Option<i64>,
    /// Fetched (and checked) batches, not yet fully returned.
    pub pending: VecDeque<RecordBatch>,
}

impl Assigned {
    pub fn new(topic: &str, partition: u32) -> Self {
        Assigned {
            topic: Arc::from(topic),
            partition,
            position: None,
            pending: VecDeque::new(),
        }
    }

    /// Moves the position, forgetting what was fetched.
    pub fn seek(&mut self, offset: i64) {
        self.position = Some(offset);
        self.pending.clear();
    }

    /// Keeps the batches of a read, checking each CRC when asked. Batches
    /// before a bad one are kept; the bad one is the error.
    pub fn accept(&mut self, slice: &BatchSlice, check_crcs: bool) -> Result<()> {
        for batch in slice.iter() {
            if check_crcs && let Err(reason) = batch.verify_crc() {
                return Err(self.corrupt(batch.base_offset(), reason));
            }
            self.pending.push_back(batch);
        }
        Ok(())
    }

    /// Returns records from the fetched batches into `out`, up to `limit`
    /// in all, advancing the position. Returns the bytes of the batches
    /// consumed from.
    pub fn drain(
        &mut self,
        out: &mut Vec<ConsumerRecord>,
        limit: usize,
        decode: &DecodeLimits,
    ) -> Result<usize> {
        let Some(mut position) = self.position else {
            return Ok(0);
        };
        let mut bytes = 0;
        let result = loop {
            if out.len() >= limit {
                break Ok(());
            }
            let Some(batch) = self.pending.front() else {
                break Ok(());
            };
            if batch.next_offset() <= position || batch.is_control() || batch.record_count() == 0 {
                position = position.max(batch.next_offset());
                self.pending.pop_front();
                continue;
            }
            bytes += batch.size();
            match self.decode(batch, &mut position, out, limit, decode) {
                Ok(true) => {
                    position = position.max(batch.next_offset());
                    self.pending.pop_front();
                }
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.position = Some(position);
        result.map(|()| bytes)
    }

    /// Decodes `batch` from `position`; `Ok(true)` when it was returned to
    /// its end.
    fn decode(
        &self,
        batch: &RecordBatch,
        position: &mut i64,
        out: &mut Vec<ConsumerRecord>,
        limit: usize,
        decode: &DecodeLimits,
    ) -> Result<bool> {
        let corrupt = |reason| self.corrupt(batch.base_offset(), reason);
        let records = batch.records(decode).map_err(corrupt)?;
        let timestamp_type = batch.timestamp_type();
        let owner = batch.as_bytes();
        for record in records.iter_from(*position) {
            if out.len() >= limit {
                return Ok(false);
            }
            let record = record.map_err(corrupt)?;
            out.push(self.to_consumer_record(&record, timestamp_type, owner));
            *position = record.offset() + 1;
        }
        Ok(true)
    }

    fn to_consumer_record(
        &self,
        record: &RecordRef<'_>,
        timestamp_type: TimestampType,
        owner: &Bytes,
    ) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
            offset: record.offset(),
            timestamp: record.timestamp(),
            timestamp_type,
            key: record.key().map(|k| share(owner, k)),
            value: record.value().map(|v| share(owner, v)),
            headers: record
                .headers()
                .map(|h| Header {
                    key: String::from_utf8_lossy(h.key).into_owned(),
                    value: h.value.map(|v| share(owner, v)),
                })
                .collect(),
        }
    }

    fn corrupt(&self, offset: i64, reason: BatchError) -> Error {
        match reason {
            BatchError::CodecUnavailable { codec, feature } => {
                Error::CodecUnavailable { codec, feature }
            }
            reason => Error::CorruptFetch {
                topic: self.topic.to_string(),
                partition: self.partition,
                offset,
                reason,
            },
        }
    }
}

/// `part` as a zero-copy slice of `owner` when it lies inside it (an
/// uncompressed batch), else a copy (a decompressed one).
fn share(owner: &Bytes, part: &[u8]) -> Bytes {
    let (start, end) = (
        owner.as_ptr() as usize,
        owner.as_ptr() as usize + owner.len(),
    );
    let at = part.as_ptr() as usize;
    if !part.is_empty() && at >= start && at + part.len() <= end {
        owner.slice_ref(part)
    } else {
        Bytes::copy_from_slice(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchBuilder, Compression, Record};

    fn slice(batches: &[Vec<u8>]) -> BatchSlice {
        BatchSlice::new(Bytes::from(batches.concat())).unwrap()
    }

    fn batch(base: i64, n: i64, codec: Compression, control: bool) -> Vec<u8> {
        let mut b = BatchBuilder::new(base).compression(codec).control(control);
        for i in 0..n {
            b.push(&Record::keyed(
                1_000 + i,
                format!("k{i}"),
                format!("v{}", base + i),
            ))
            .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn skips_below_position_and_control_batches_and_respects_the_limit() {
        let mut a = Assigned::new("t", 0);
        a.seek(2);
        let s = slice(&[
            batch(0, 4, Compression::None, false),
            batch(4, 1, Compression::None, true),
            // lz4 when compiled in (the no-codec build runs this too).
            batch(
                5,
                3,
                if cfg!(feature = "lz4") {
                    Compression::Lz4
                } else {
                    Compression::None
                },
                false,
            ),
        ]);
        a.accept(&s, true).unwrap();
        let mut out = Vec::new();
        let limits = DecodeLimits::default();
        a.drain(&mut out, 3, &limits).unwrap();
        let offsets: Vec<i64> = out.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![2, 3, 5]);
        assert_eq!(a.position, Some(6));
        a.drain(&mut out, 10, &limits).unwrap();
        assert_eq!(out.len(), 5);
        assert_eq!(out[4].value.as_deref(), Some(&b"v7"[..]));
        assert_eq!(a.position, Some(8));
        assert!(a.pending.is_empty());
    }

    #[test]
    fn crc_mismatch_is_reported_with_partition_and_offset() {
        let mut a = Assigned::new("t", 3);
        a.seek(0);
        let good = batch(0, 2, Compression::None, false);
        let mut bad = batch(2, 2, Compression::None, false);
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let err = a.accept(&slice(&[good, bad]), true).unwrap_err();
        match err {
            Error::CorruptFetch {
                partition, offset, ..
            } => assert_eq!((partition, offset), (3, 2)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(a.pending.len(), 1, "the good batch before it is kept");
    }

    #[test]
    fn uncompressed_values_share_the_batch() {
        let owner = Bytes::from_static(b"hello world");
        let shared = share(&owner, &owner[6..]);
        assert_eq!(shared, "world");
        assert_eq!(shared.as_ptr(), owner[6..].as_ptr());
        let copied = share(&owner, b"other");
        assert_eq!(copied, "other");
    }
}
