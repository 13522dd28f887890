//! Cutting a segment back to an offset (the partition's `truncate_to`).

use super::log_segment::LogSegment;
use crate::error::Result;

impl LogSegment {
    /// Removes every batch whose last offset is `>= offset`, so the segment
    /// then ends at a batch boundary at or below `offset`; returns the bytes
    /// removed. A sealed segment becomes writable again (it is the new end
    /// of the log). Readers holding slices of the removed bytes keep them.
    pub fn truncate_to(&mut self, offset: i64) -> Result<u64> {
        let Some(cut) = self.translate_offset(offset)? else {
            return Ok(0);
        };
        let capacity = self.config().log_capacity();
        self.log.make_writable(capacity)?;
        if let Some(index) = &mut self.indexes.offset {
            index.make_writable()?;
            index.truncate_to_position(cut.position as u32)?;
        }
        if let Some(index) = &mut self.indexes.time {
            index.make_writable()?;
            index.truncate_to(cut.base_offset)?;
        }
        let before = self.log.size();
        self.log.truncate_to(cut.position)?;
        self.next_offset = self.base_offset();
        self.reload_tail()?;
        Ok(before - cut.position)
    }
}
