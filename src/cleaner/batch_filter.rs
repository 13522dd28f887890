//! Deciding what of one batch survives a cleaning, and rewriting it
//! (Kafka's `Cleaner.shouldRetainRecord` and `MemoryRecords.filterTo`).
//!
//! A record survives when it lies past the round's mapped range, or when
//! it has a key, no later record of that key is in the map, and it is not
//! a tombstone past its batch's delete horizon. Records without a key are
//! dropped, as Kafka drops them. A batch whose records all survive is
//! copied byte for byte, unless it keeps a tombstone and has no delete
//! horizon yet: then it is re-encoded with horizon `now +
//! delete.retention.ms` (attribute bit 6, baseTimestamp = horizon), which a
//! later cleaning compares with its clock. Otherwise a batch that lost
//! records keeps the others' bytes (see `splice`). A rewritten batch keeps
//! its codec, producer fields, leader epoch, timestamp type and
//! lastOffsetDelta; an emptied batch disappears unless it is its
//! producer's last, which is kept as Kafka's empty header (no records,
//! codec none, baseTimestamp -1, the original maxTimestamp). Control and
//! transactional batches are copied as they are.

use super::batches::decode_error;
use super::key_hash::{KeyHash, hash_key};
use super::offset_map::OffsetMap;
use super::producers::LastBatches;
use super::splice::splice;
use crate::error::Result;
use crate::partition::Partition;
use crate::record::{BatchBuilder, BatchHeader, RecordBatch, RecordSet, TimestampType};

/// What becomes of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filtered {
    /// Copy it unchanged.
    Keep,
    /// Write [`Scratch::out`] instead (one batch, same base offset).
    Rewritten,
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

/// One record of the batch being filtered.
#[derive(Debug, Clone, Copy)]
struct Item {
    offset: i64,
    timestamp: i64,
    hash: Option<KeyHash>,
    tombstone: bool,
    keep: bool,
}

/// Space reused from batch to batch: one item per record of a batch, and
/// the rewritten batch.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    items: Vec<Item>,
    section: Vec<u8>,
    /// The rewritten batch after [`Filtered::Rewritten`].
    pub out: Vec<u8>,
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
    /// Decides the fate of `batch`.
    pub(crate) fn filter(
        &self,
        batch: &RecordBatch,
        scratch: &mut Scratch,
        counts: &mut FilterCounts,
    ) -> Result<Filtered> {
        let n = batch.record_count().max(0) as u64;
        counts.records_read += n;
        if batch.is_control() || batch.is_transactional() {
            counts.records_kept += n;
            return Ok(Filtered::Keep);
        }
        let records = batch
            .records(&self.partition.config().decode)
            .map_err(|e| decode_error(self.partition, batch, e))?;
        self.read_items(batch, &records, scratch)?;
        let tombstone_kept = self.decide(batch.delete_horizon(), scratch, counts);
        let kept = scratch.items.iter().filter(|i| i.keep).count();
        counts.records_kept += kept as u64;
        if kept == 0 {
            return self.emptied(batch, scratch, counts);
        }
        let stamp = tombstone_kept && batch.delete_horizon().is_none();
        if stamp {
            let horizon = self.now_ms.saturating_add(self.delete_retention_ms());
            scratch.out = self.reencode(batch, &records, &scratch.items, horizon)?;
            return Ok(Filtered::Rewritten);
        }
        if kept == scratch.items.len() {
            return Ok(Filtered::Keep);
        }
        self.splice_kept(batch, &records, scratch)
    }

    /// Writes the batch with its kept records only, copying their bytes.
    fn splice_kept(
        &self,
        batch: &RecordBatch,
        records: &RecordSet<'_>,
        scratch: &mut Scratch,
    ) -> Result<Filtered> {
        let Scratch {
            items,
            section,
            out,
        } = scratch;
        let max_timestamp = items
            .iter()
            .filter(|i| i.keep)
            .map(|i| i.timestamp)
            .max()
            .unwrap_or(batch.max_timestamp());
        let keep = items.iter().map(|i| i.keep);
        splice(batch, records.data(), keep, max_timestamp, section, out)
            .map_err(|e| decode_error(self.partition, batch, e))?;
        Ok(Filtered::Rewritten)
    }

    /// A batch left without records (or empty already): kept as an empty
    /// header only when it is its producer's last.
    fn emptied(
        &self,
        batch: &RecordBatch,
        scratch: &mut Scratch,
        counts: &mut FilterCounts,
    ) -> Result<Filtered> {
        if !self.producers.is_last(batch) {
            return Ok(Filtered::Drop);
        }
        counts.empty_batches_kept += 1;
        if batch.record_count() == 0 {
            return Ok(Filtered::Keep);
        }
        scratch.out = header_builder(batch)
            .max_timestamp(batch.max_timestamp())
            .build()?;
        Ok(Filtered::Rewritten)
    }

    fn delete_retention_ms(&self) -> i64 {
        self.partition.config().delete_retention_ms.max(0)
    }

    /// Decodes the batch's records into `scratch`, digesting their keys.
    fn read_items(
        &self,
        batch: &RecordBatch,
        records: &RecordSet<'_>,
        scratch: &mut Scratch,
    ) -> Result<()> {
        scratch.items.clear();
        for record in records.iter() {
            let record = record.map_err(|e| decode_error(self.partition, batch, e))?;
            scratch.items.push(Item {
                offset: record.offset(),
                timestamp: record.timestamp(),
                hash: record.key().map(hash_key),
                tombstone: record.value().is_none(),
                keep: true,
            });
        }
        Ok(())
    }

    /// Kafka's `shouldRetainRecord` for each item (the map lookups run in
    /// one tight loop, so the CPU overlaps their cache misses); returns
    /// whether a kept record is a tombstone.
    fn decide(
        &self,
        horizon: Option<i64>,
        scratch: &mut Scratch,
        counts: &mut FilterCounts,
    ) -> bool {
        let expired = horizon.is_some_and(|h| self.now_ms >= h);
        let mut tombstone_kept = false;
        for item in &mut scratch.items {
            if item.offset >= self.end {
                tombstone_kept |= item.tombstone;
                continue;
            }
            let Some(hash) = item.hash else {
                item.keep = false;
                counts.keyless_removed += 1;
                continue;
            };
            let superseded = self
                .map
                .get_hash(hash)
                .is_some_and(|latest| item.offset < latest);
            let expired_tombstone = item.tombstone && expired;
            item.keep = !superseded && !expired_tombstone;
            if item.tombstone {
                tombstone_kept |= item.keep;
                counts.tombstones_removed += u64::from(!item.keep);
            }
        }
        tombstone_kept
    }

    /// Re-encodes the kept records of `batch` under a new delete horizon
    /// (every timestamp delta changes with baseTimestamp).
    fn reencode(
        &self,
        batch: &RecordBatch,
        records: &RecordSet<'_>,
        items: &[Item],
        horizon: i64,
    ) -> Result<Vec<u8>> {
        let mut builder = header_builder(batch)
            .compression(batch.compression()?)
            .delete_horizon(horizon);
        let base = batch.base_offset();
        for (record, _) in records.iter().zip(items).filter(|(_, i)| i.keep) {
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
