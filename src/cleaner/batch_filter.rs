//! Deciding what of one batch survives a cleaning, and re-encoding it
//! (Kafka's `Cleaner.shouldRetainRecord` and `MemoryRecords.filterTo`).
//!
//! A record survives when it lies past the round's mapped range, or when
//! it has a key, no later record of that key is in the map, and it is not
//! a tombstone past its batch's delete horizon. Records without a key are
//! dropped, as Kafka drops them. A batch whose records all survive is
//! copied byte for byte, unless it keeps a tombstone and has no delete
//! horizon yet: then it is rewritten with horizon `now + delete.retention.ms`
//! (attribute bit 6, baseTimestamp = horizon), which a later cleaning
//! compares with its clock. A rewritten batch keeps its codec, producer
//! fields, leader epoch, timestamp type and lastOffsetDelta; an emptied
//! batch disappears unless it is its producer's last, which is kept as
//! Kafka's empty header (no records, codec none, baseTimestamp -1, the
//! original maxTimestamp). Control and transactional batches are copied
//! as they are.

use super::batches::decode_error;
use super::key_hash::hash_key;
use super::offset_map::OffsetMap;
use super::producers::LastBatches;
use crate::error::Result;
use crate::partition::Partition;
use crate::record::{BatchBuilder, BatchHeader, RecordBatch, RecordRef, TimestampType};

/// What becomes of one batch.
#[derive(Debug)]
pub(crate) enum Filtered {
    /// Copy it unchanged.
    Keep,
    /// Write these bytes instead (one batch, same base offset).
    Rewrite(Vec<u8>),
    /// Leave it out.
    Drop,
}

/// Record counts of a cleaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FilterCounts {
    pub records_read: u64,
    pub records_kept: u64,
    pub tombstones_removed: u64,
    pub keyless_removed: u64,
    pub empty_batches_kept: u64,
}

/// The rules of one cleaning round.
#[derive(Debug)]
pub(crate) struct BatchFilter<'a> {
    pub partition: &'a Partition,
    pub map: &'a OffsetMap,
    /// Records at or past this offset were not mapped and are all kept.
    pub end: i64,
    pub now_ms: i64,
    pub producers: &'a LastBatches,
}

impl BatchFilter<'_> {
    /// Decides the fate of `batch`; `keep` is scratch space (one flag per
    /// record), reused between batches.
    pub(crate) fn filter(
        &self,
        batch: &RecordBatch,
        keep: &mut Vec<bool>,
        counts: &mut FilterCounts,
    ) -> Result<Filtered> {
        let n = batch.record_count().max(0) as u64;
        counts.records_read += n;
        if batch.is_control() || batch.is_transactional() {
            counts.records_kept += n;
            return Ok(Filtered::Keep);
        }
        let tombstone_kept = self.decide(batch, keep, counts)?;
        let kept = keep.iter().filter(|&&k| k).count();
        counts.records_kept += kept as u64;
        if kept == 0 {
            return self.emptied(batch, counts);
        }
        let stamp = tombstone_kept && batch.delete_horizon().is_none();
        if kept == keep.len() && !stamp {
            return Ok(Filtered::Keep);
        }
        let horizon = if stamp {
            Some(self.now_ms.saturating_add(self.delete_retention_ms()))
        } else {
            batch.delete_horizon()
        };
        self.rewrite(batch, keep, horizon).map(Filtered::Rewrite)
    }

    /// A batch left without records (or empty already): kept as an empty
    /// header only when it is its producer's last.
    fn emptied(&self, batch: &RecordBatch, counts: &mut FilterCounts) -> Result<Filtered> {
        if !self.producers.is_last(batch) {
            return Ok(Filtered::Drop);
        }
        counts.empty_batches_kept += 1;
        if batch.record_count() == 0 {
            return Ok(Filtered::Keep);
        }
        Ok(Filtered::Rewrite(empty_batch(batch)?))
    }

    fn delete_retention_ms(&self) -> i64 {
        self.partition.config().delete_retention_ms.max(0)
    }

    /// Fills `keep`; returns whether a kept record is a tombstone.
    fn decide(
        &self,
        batch: &RecordBatch,
        keep: &mut Vec<bool>,
        counts: &mut FilterCounts,
    ) -> Result<bool> {
        keep.clear();
        let mut tombstone_kept = false;
        let horizon = batch.delete_horizon();
        let records = batch
            .records(&self.partition.config().decode)
            .map_err(|e| decode_error(self.partition, batch, e))?;
        for record in records.iter() {
            let record = record.map_err(|e| decode_error(self.partition, batch, e))?;
            let retained = self.retain(&record, horizon);
            if record.value().is_none() {
                if retained {
                    tombstone_kept = true;
                } else if record.key().is_some() {
                    counts.tombstones_removed += 1;
                }
            }
            if record.key().is_none() && !retained {
                counts.keyless_removed += 1;
            }
            keep.push(retained);
        }
        Ok(tombstone_kept)
    }

    /// Kafka's `shouldRetainRecord`.
    fn retain(&self, record: &RecordRef<'_>, horizon: Option<i64>) -> bool {
        if record.offset() >= self.end {
            return true;
        }
        let Some(key) = record.key() else {
            return false;
        };
        let superseded = self
            .map
            .get_hash(hash_key(key))
            .is_some_and(|latest| record.offset() < latest);
        let expired_tombstone =
            record.value().is_none() && horizon.is_some_and(|h| self.now_ms >= h);
        !superseded && !expired_tombstone
    }

    /// Re-encodes the kept records of `batch` with its header fields.
    fn rewrite(&self, batch: &RecordBatch, keep: &[bool], horizon: Option<i64>) -> Result<Vec<u8>> {
        let mut builder = header_builder(batch).compression(batch.compression()?);
        if let Some(h) = horizon {
            builder = builder.delete_horizon(h);
        }
        let records = batch
            .records(&self.partition.config().decode)
            .map_err(|e| decode_error(self.partition, batch, e))?;
        let base = batch.base_offset();
        for (record, _) in records.iter().zip(keep).filter(|(_, k)| **k) {
            let r = record.map_err(|e| decode_error(self.partition, batch, e))?;
            // The stored timestamp (under LogAppendTime readers show the
            // batch's maxTimestamp instead, which stays the same).
            let timestamp = batch.base_timestamp().wrapping_add(r.timestamp_delta());
            let delta = (r.offset() - base) as i32;
            builder.push_borrowed(delta, timestamp, r.key(), r.value(), r.headers())?;
        }
        Ok(builder.build()?)
    }
}

/// A builder carrying `batch`'s base offset, producer fields, leader
/// epoch, timestamp type and lastOffsetDelta.
fn header_builder(batch: &RecordBatch) -> BatchBuilder {
    let builder = BatchBuilder::new(batch.base_offset())
        .partition_leader_epoch(batch.partition_leader_epoch())
        .producer(
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence(),
        )
        .last_offset_delta(batch.last_offset_delta());
    match batch.timestamp_type() {
        TimestampType::LogAppendTime => builder.log_append_time(batch.max_timestamp()),
        TimestampType::CreateTime => builder,
    }
}

/// Kafka's empty batch header for a producer's emptied last batch.
fn empty_batch(batch: &RecordBatch) -> Result<Vec<u8>> {
    Ok(header_builder(batch)
        .max_timestamp(batch.max_timestamp())
        .build()?)
}
