//! [`Indexes`]: a segment's two indexes plus the state Kafka's sparse index
//! rule needs, applied the same way on append and on rebuild.

use super::{OffsetIndex, TimeIndex};
use crate::error::Result;
use crate::record::BatchHeader;
use crate::record::layout::NO_TIMESTAMP;

/// The indexes of one segment and the running state of the index rule.
#[derive(Debug)]
pub(super) struct Indexes {
    /// `None` when a read-only segment has no usable `.index`: lookups scan.
    pub offset: Option<OffsetIndex>,
    /// `None` when a read-only segment has no usable `.timeindex`.
    pub time: Option<TimeIndex>,
    /// Largest batch maxTimestamp so far (-1 when none).
    pub max_timestamp: i64,
    /// Last offset of the batch carrying `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    bytes_since_last_entry: usize,
    interval: usize,
}

impl Indexes {
    pub fn new(
        offset: Option<OffsetIndex>,
        time: Option<TimeIndex>,
        base_offset: i64,
        interval: usize,
    ) -> Self {
        Indexes {
            offset,
            time,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: base_offset,
            bytes_since_last_entry: 0,
            interval,
        }
    }

    /// Kafka's rule for one batch starting at `position`: when more than
    /// `index.interval.bytes` went in since the last entry, the batch's last
    /// offset gets an `.index` entry and the largest timestamp so far a
    /// `.timeindex` entry (if it grew).
    pub fn add(&mut self, batch: &impl BatchHeader, position: u64) -> Result<()> {
        if batch.max_timestamp() > self.max_timestamp {
            self.max_timestamp = batch.max_timestamp();
            self.offset_of_max_timestamp = batch.last_offset();
        }
        // Appends roll before an index fills; a rebuild of a segment that
        // needs more entries than fit (a smaller segment.index.bytes than it
        // was written with) keeps the entries it has: sparser, still valid.
        if self.bytes_since_last_entry > self.interval && !self.is_full() {
            if let Some(index) = &mut self.offset {
                index.append(batch.last_offset(), position as u32)?;
            }
            if let Some(index) = &mut self.time {
                index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp, false)?;
            }
            self.bytes_since_last_entry = 0;
        }
        self.bytes_since_last_entry += batch.size();
        Ok(())
    }

    /// Restarts the byte count of the index rule (after a truncation).
    pub fn reset_interval(&mut self) {
        self.bytes_since_last_entry = 0;
    }

    /// Whether an index has no slot left.
    pub fn is_full(&self) -> bool {
        self.offset.as_ref().is_some_and(|i| i.is_full())
            || self.time.as_ref().is_some_and(|i| i.is_full())
    }

    /// Position to start a scan for `offset` from.
    pub fn position_for(&self, offset: i64) -> usize {
        self.offset
            .as_ref()
            .map_or(0, |i| i.lookup(offset).1 as usize)
    }

    /// Adds the final time index entry and trims both files.
    pub fn seal(&mut self) -> Result<()> {
        if let Some(index) = &mut self.time
            && self.max_timestamp != NO_TIMESTAMP
        {
            index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp, true)?;
        }
        if let Some(i) = &mut self.offset {
            i.seal()?;
        }
        if let Some(i) = &mut self.time {
            i.seal()?;
        }
        Ok(())
    }

    /// Syncs both files.
    pub fn flush(&self) -> Result<()> {
        if let Some(i) = &self.offset {
            i.flush()?;
        }
        if let Some(i) = &self.time {
            i.flush()?;
        }
        Ok(())
    }
}
