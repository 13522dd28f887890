//! Building the offset map over the dirty range (Kafka's `buildOffsetMap`):
//! every keyed record from the first dirty offset on, latest offset per
//! key, until the range ends or the map is full.
//!
//! Control batches and transactional batches are not mapped: seglog keeps
//! them as they are, so a transactional record (which may belong to an
//! aborted transaction) never makes an older record of its key obsolete.

use std::ops::ControlFlow;

use super::batches::{decode_error, for_each_batch};
use super::key_hash::{KeyHash, hash_key};
use super::offset_map::OffsetMap;
use crate::error::Result;
use crate::partition::Partition;
use crate::record::{BatchHeader, RecordBatch};

/// The part of the dirty range a round covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MappedRange {
    /// The first offset not in the map: the end of the dirty range, or the
    /// first keyed record that did not fit. The next round starts here.
    pub end: i64,
    /// Whether the map filled before the dirty range ended.
    pub full: bool,
    /// Bytes of the batches read.
    pub bytes: u64,
    /// Records read.
    pub records: u64,
}

/// Fills `map` with the keyed records in `[from, to)`.
pub(crate) fn build_offset_map(
    partition: &Partition,
    map: &mut OffsetMap,
    from: i64,
    to: i64,
    chunk: usize,
) -> Result<MappedRange> {
    let mut range = MappedRange {
        end: to,
        full: false,
        bytes: 0,
        records: 0,
    };
    let mut keys = Vec::new();
    for_each_batch(partition, from, to, chunk, |batch| {
        range.bytes += batch.size() as u64;
        if batch.is_control() || batch.is_transactional() {
            return Ok(ControlFlow::Continue(()));
        }
        match map_batch(partition, map, &batch, from, &mut keys)? {
            Some(stop) => {
                range.end = stop;
                range.full = true;
                Ok(ControlFlow::Break(()))
            }
            None => {
                range.records += batch.record_count().max(0) as u64;
                Ok(ControlFlow::Continue(()))
            }
        }
    })?;
    Ok(range)
}

/// Maps the keyed records of one batch at or after `from`; returns the
/// offset of the first record that did not fit. The keys are digested
/// first and put in one tight loop, so the CPU overlaps the map's cache
/// misses; `keys` is scratch space reused between batches.
fn map_batch(
    partition: &Partition,
    map: &mut OffsetMap,
    batch: &RecordBatch,
    from: i64,
    keys: &mut Vec<(KeyHash, i64)>,
) -> Result<Option<i64>> {
    keys.clear();
    let records = batch
        .records(&partition.config().decode)
        .map_err(|e| decode_error(partition, batch, e))?;
    for record in records.iter() {
        let record = record.map_err(|e| decode_error(partition, batch, e))?;
        if let Some(key) = record.key().filter(|_| record.offset() >= from) {
            keys.push((hash_key(key), record.offset()));
        }
    }
    Ok(keys
        .iter()
        .find(|&&(hash, offset)| !map.put_hash(hash, offset))
        .map(|&(_, offset)| offset))
}
