//! Dirty accounting: how much of a partition compaction would rewrite, and
//! whether it must run now (Kafka's `LogCleanerManager.cleanableOffsets`,
//! `calculateCleanableBytes` and `maxCompactionDelay`).
//!
//! The log splits at the first dirty offset (the cleaner checkpoint, kept
//! by the store in `cleaner-offset-checkpoint`): below it the clean part,
//! from it the dirty part, which ends at the first uncleanable offset: the
//! active segment's base, or earlier the base of the first dirty segment
//! whose newest record is younger than `min.compaction.lag.ms`.

use crate::error::Result;
use crate::partition::{Partition, SegmentInfo};
use crate::record::BatchHeader;

/// What [`cleanable`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cleanable {
    /// The first dirty offset actually used: the checkpoint, or the log
    /// start when the checkpoint is below it or past the log end (Kafka
    /// resets it the same way).
    pub first_dirty: i64,
    /// Where the dirty part ends: a segment base offset, at most the
    /// active segment's (Kafka's first uncleanable offset).
    pub first_uncleanable: i64,
    /// Bytes of the segments wholly below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of the segments from the one holding the first dirty offset up
    /// to the first uncleanable offset.
    pub dirty_bytes: u64,
    /// `dirty / (clean + dirty)`, 0 for an empty log.
    pub ratio: f64,
    /// How long ago the oldest dirty batch passed `max.compaction.lag.ms`
    /// (Kafka's max compaction delay); 0 when none has.
    pub compaction_delay_ms: i64,
    /// Whether to clean now: the topic is compacted and either the ratio
    /// is above `min.cleanable.dirty.ratio`, or some dirty data is past
    /// `max.compaction.lag.ms` (Kafka's `grabFilthiestCompactedLog` rule).
    pub must_clean: bool,
}

/// Measures the dirty part of `partition` at clock time `now_ms`, from the
/// checkpointed `first_dirty` offset.
///
/// # Errors
/// Only when a segment's first batch cannot be read (for the
/// `max.compaction.lag.ms` rule).
pub fn cleanable(partition: &Partition, first_dirty: i64, now_ms: i64) -> Result<Cleanable> {
    let infos = partition.segment_infos();
    let config = partition.config();
    let (start, end) = (partition.log_start_offset(), partition.log_end_offset());
    let first_dirty = if first_dirty < start || first_dirty > end {
        start
    } else {
        first_dirty
    };
    let dirty_from = floor_index(&infos, first_dirty);
    let until = uncleanable_index(&infos, dirty_from, now_ms, config.min_compaction_lag_ms);
    let first_uncleanable = infos.get(until).map_or(end, |s| s.base_offset);
    let clean_bytes = infos[..dirty_from].iter().map(|s| s.size).sum();
    let dirty_bytes = infos
        .get(dirty_from..until)
        .map_or(0, |d| d.iter().map(|s| s.size).sum());
    let total = clean_bytes + dirty_bytes;
    let ratio = if total == 0 {
        0.0
    } else {
        dirty_bytes as f64 / total as f64
    };
    let compaction_delay_ms = compaction_delay(partition, &infos[dirty_from..], now_ms)?;
    let must_clean = config.cleanup_policy.compact
        && ((compaction_delay_ms > 0 && dirty_bytes > 0)
            || ratio > config.min_cleanable_dirty_ratio);
    Ok(Cleanable {
        first_dirty,
        first_uncleanable,
        clean_bytes,
        dirty_bytes,
        ratio,
        compaction_delay_ms,
        must_clean,
    })
}

/// Index of the segment holding `offset`: the last whose base is at or
/// below it (0 when every base is above).
pub(crate) fn floor_index(infos: &[SegmentInfo], offset: i64) -> usize {
    infos
        .iter()
        .rposition(|s| s.base_offset <= offset)
        .unwrap_or(0)
}

/// Index of the first segment that cannot be cleaned: the active one, or
/// an earlier dirty one whose largest timestamp is within
/// `min.compaction.lag.ms` of `now_ms`.
fn uncleanable_index(infos: &[SegmentInfo], dirty_from: usize, now_ms: i64, min_lag: i64) -> usize {
    let active = infos.iter().position(|s| s.active).unwrap_or(infos.len());
    if min_lag <= 0 {
        return active;
    }
    let horizon = now_ms.saturating_sub(min_lag);
    (dirty_from..active)
        .find(|&i| infos[i].max_timestamp > horizon)
        .unwrap_or(active)
}

/// Kafka's `maxCompactionDelay`: how far the oldest first-batch timestamp
/// of the dirty non-active segments lies before `now - max.compaction.lag.ms`.
fn compaction_delay(partition: &Partition, dirty: &[SegmentInfo], now_ms: i64) -> Result<i64> {
    let max_lag = partition.config().max_compaction_lag_ms.max(0);
    if max_lag == i64::MAX {
        return Ok(0); // nothing can be older than now - forever
    }
    let clean_until = now_ms.saturating_sub(max_lag);
    let mut earliest = i64::MAX;
    for segment in dirty.iter().filter(|s| !s.active) {
        if let Some(ts) = first_batch_timestamp(partition, segment)?
            && ts > 0
        {
            earliest = earliest.min(ts);
        }
    }
    Ok(if earliest < clean_until {
        clean_until - earliest
    } else {
        0
    })
}

/// The maxTimestamp of a segment's first batch (what Kafka's
/// `segment.ms` and `max.compaction.lag.ms` measure from).
fn first_batch_timestamp(partition: &Partition, segment: &SegmentInfo) -> Result<Option<i64>> {
    let from = segment.base_offset.max(partition.log_start_offset());
    if from >= segment.next_offset {
        return Ok(None);
    }
    let slice = partition.read(from, 0)?;
    Ok(slice
        .iter()
        .next()
        .filter(|b| b.base_offset() < segment.next_offset)
        .map(|b| b.max_timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(base: i64, next: i64, max_timestamp: i64, active: bool) -> SegmentInfo {
        SegmentInfo {
            base_offset: base,
            next_offset: next,
            size: 100,
            max_timestamp,
            active,
        }
    }

    #[test]
    fn floor_and_uncleanable_follow_kafka() {
        let infos = [
            info(0, 10, 100, false),
            info(10, 20, 200, false),
            info(20, 30, 300, false),
            info(30, 35, 400, true),
        ];
        assert_eq!(floor_index(&infos, 0), 0);
        assert_eq!(floor_index(&infos, 15), 1);
        assert_eq!(floor_index(&infos, 20), 2);
        assert_eq!(floor_index(&infos, 99), 3);
        assert_eq!(uncleanable_index(&infos, 0, 1_000, 0), 3);
        // now - lag = 250: the segment with max 300 is too young.
        assert_eq!(uncleanable_index(&infos, 0, 1_000, 750), 2);
        // A segment exactly at now - lag is old enough (only a larger
        // timestamp is too young, as Kafka's `>`).
        assert_eq!(uncleanable_index(&infos, 0, 1_000, 800), 2);
        assert_eq!(uncleanable_index(&infos, 0, 1_000, 850), 1);
        assert_eq!(uncleanable_index(&infos, 0, 1_000, 10_000), 0);
        assert_eq!(uncleanable_index(&infos, 2, 1_000, 10_000), 2);
    }
}
