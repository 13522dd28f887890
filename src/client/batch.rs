//! The producer's batches: one being filled ([`OpenBatch`]), one handed to
//! the sender thread ([`ReadyBatch`]), and the exact encoded size of a
//! record, which decides when a batch is full and what `buffer.memory`
//! holds.

use std::sync::Arc;
use std::time::Instant;

use super::delivery::{BatchCell, DeliveryFuture, Outcome};
use crate::error::Error;
use crate::record::Record;
use crate::record::varint::{varint_len, varlong_len};

/// The smallest encoded record (seven one-byte fields).
pub(super) const MIN_RECORD_SIZE: usize = 7;

/// Completes its cell with [`Error::ProducerClosed`] when dropped unless an
/// outcome was set before: a batch can never be forgotten, even when the
/// sender thread dies.
#[derive(Debug)]
pub(super) struct CellGuard(pub Arc<BatchCell>);

impl Drop for CellGuard {
    fn drop(&mut self) {
        self.0
            .complete(Outcome::Failed(Arc::new(Error::ProducerClosed)));
    }
}

/// A batch still taking records.
#[derive(Debug)]
pub(super) struct OpenBatch {
    pub id: u64,
    pub topic: Arc<str>,
    pub partition: u32,
    /// The topic's partition count when the batch started.
    pub num_partitions: u32,
    pub records: Vec<Record>,
    /// Encoded size so far, batch header included.
    pub bytes: usize,
    /// The first record's timestamp (the batch's baseTimestamp).
    pub base_timestamp: i64,
    pub created: Instant,
    pub cell: CellGuard,
    /// Holds keyless records placed by the sticky partitioner.
    pub sticky: bool,
}

impl OpenBatch {
    /// Bytes `record` adds to this batch.
    pub fn size_of(&self, record: &Record) -> usize {
        let delta = i32::try_from(self.records.len()).unwrap_or(i32::MAX);
        record_size(
            record.timestamp.wrapping_sub(self.base_timestamp),
            delta,
            record,
        )
    }

    /// The future of the record about to be pushed.
    pub fn future(&self, timestamp: i64) -> DeliveryFuture {
        DeliveryFuture {
            cell: Arc::clone(&self.cell.0),
            topic: Arc::clone(&self.topic),
            partition: self.partition,
            index: u32::try_from(self.records.len()).unwrap_or(u32::MAX),
            timestamp,
        }
    }

    pub fn into_ready(self) -> ReadyBatch {
        ReadyBatch {
            id: self.id,
            topic: self.topic,
            partition: self.partition,
            records: self.records,
            bytes: self.bytes,
            cell: self.cell,
        }
    }
}

/// A batch handed to the sender thread.
#[derive(Debug)]
pub(super) struct ReadyBatch {
    pub id: u64,
    pub topic: Arc<str>,
    pub partition: u32,
    pub records: Vec<Record>,
    /// Bytes of `buffer.memory` it holds.
    pub bytes: usize,
    pub cell: CellGuard,
}

/// The encoded size of `record` in a batch: length varint and body, exactly
/// as [`BatchBuilder`](crate::record::BatchBuilder) writes it uncompressed.
pub(super) fn record_size(timestamp_delta: i64, offset_delta: i32, record: &Record) -> usize {
    let mut body = 1
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + nullable_len(record.key.as_deref())
        + nullable_len(record.value.as_deref())
        + varint_len(len_i32(record.headers.len()));
    for h in &record.headers {
        body += nullable_len(Some(h.key.as_bytes())) + nullable_len(h.value.as_deref());
    }
    varint_len(len_i32(body)) + body
}

fn nullable_len(bytes: Option<&[u8]>) -> usize {
    bytes.map_or(1, |b| varint_len(len_i32(b.len())) + b.len())
}

fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::layout::HEADER_SIZE;
    use crate::record::{BatchBuilder, Header};

    #[test]
    fn sizes_match_the_encoder() {
        let records = [
            Record::keyed(1_000, "key", "value"),
            Record::new(900, vec![7u8; 300]),
            Record::tombstone(5_000_000, "k").with_header(Header::new("h", "v")),
            Record {
                timestamp: 1_001,
                headers: vec![Header {
                    key: "none".into(),
                    value: None,
                }],
                ..Record::default()
            },
        ];
        let mut builder = BatchBuilder::new(0);
        let mut expected = HEADER_SIZE;
        for (i, r) in records.iter().enumerate() {
            builder.push(r).unwrap();
            expected += record_size(r.timestamp - 1_000, i as i32, r);
        }
        assert_eq!(builder.build().unwrap().len(), expected);
    }
}
