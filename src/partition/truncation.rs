//! Moving the ends of the log: `delete_records` (the start) and
//! `truncate_to` (the end).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::RwLock;

use super::epochs::truncate_epochs;
use super::log::{Partition, Writer, delete_segment_files};
use crate::error::{Error, Result};
use crate::segment::LogSegment;

impl Partition {
    /// Moves the log start offset up to `before` (Kafka's DeleteRecords) and
    /// deletes the segments wholly below it. When everything is deleted the
    /// active segment is first replaced by an empty one at the log end, so
    /// the log end never moves back. Returns the new log start offset.
    pub fn delete_records(&self, before: i64) -> Result<i64> {
        let mut writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        if before > end {
            return Err(Error::OffsetOutOfRange {
                requested: before,
                log_start: start,
                log_end: end,
            });
        }
        if before <= start {
            return Ok(start);
        }
        self.shared
            .offsets
            .log_start
            .store(before, Ordering::Release);
        if before == end {
            self.roll(&mut writer)?;
        }
        self.drop_segments_below(before)?;
        Ok(before)
    }

    /// Deletes the non-active segments whose every offset is below `offset`.
    fn drop_segments_below(&self, offset: i64) -> Result<()> {
        let map = self.segments();
        let active = map.keys().next_back().copied();
        let mut kept = (*map).clone();
        for (&base, segment) in map.iter() {
            if Some(base) == active || segment.read().next_offset() > offset {
                break;
            }
            kept.remove(&base);
            delete_segment_files(self.dir(), base)?;
        }
        let first = kept.keys().next().copied().unwrap_or(offset);
        self.publish_segments(kept);
        self.drop_snapshots_below(first)
    }

    /// Removes everything from `offset` on: afterwards the log ends at the
    /// batch boundary at or below `offset` (a batch holding `offset` goes
    /// whole). Below the log start, the log is emptied and restarts at
    /// `offset`. Returns the new log end offset.
    pub fn truncate_to(&self, offset: i64) -> Result<i64> {
        let mut writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        if offset >= self.log_end_offset() {
            return Ok(self.log_end_offset());
        }
        if offset < self.log_start_offset() {
            let restarted = self.restart_at(&mut writer, offset)?;
            self.shared
                .offsets
                .log_start
                .store(offset, Ordering::Release);
            return Ok(restarted);
        }
        let map = self.segments();
        let mut kept = (*map).clone();
        // The first segment stays (cut to empty if need be); the log never
        // loses its last segment.
        let first = *map.keys().next().ok_or_else(|| self.no_segment())?;
        let doomed: Vec<i64> = map
            .range(offset.max(first + 1)..)
            .map(|(&b, _)| b)
            .collect();
        for base in doomed {
            kept.remove(&base);
            delete_segment_files(self.dir(), base)?;
        }
        let last = kept
            .values()
            .next_back()
            .cloned()
            .ok_or_else(|| self.no_segment())?;
        let new_end = {
            let mut segment = last.write();
            segment.truncate_to(offset)?;
            segment.next_offset()
        };
        self.publish_segments(kept);
        if new_end < self.log_start_offset() {
            // The cut batch straddled the log start: nothing visible is
            // left, and the log end must not fall below the log start.
            return self.restart_at(&mut writer, self.log_start_offset());
        }
        self.set_end(new_end);
        truncate_epochs(self.dir(), new_end, writer.leader_epoch)?;
        self.reload_producers_after_truncation(&mut writer.producers)?;
        Ok(new_end)
    }

    /// Deletes every segment and starts an empty log at `offset`.
    fn restart_at(&self, writer: &mut Writer, offset: i64) -> Result<i64> {
        for &base in self.segments().keys() {
            delete_segment_files(self.dir(), base)?;
        }
        let segment = LogSegment::create(self.dir(), offset, self.config().segment_config())?;
        let mut map = std::collections::BTreeMap::new();
        map.insert(offset, Arc::new(RwLock::new(segment)));
        self.publish_segments(map);
        self.shared
            .offsets
            .log_start
            .store(offset, Ordering::Release);
        self.set_end(offset);
        truncate_epochs(self.dir(), offset, writer.leader_epoch)?;
        self.reload_producers_after_truncation(&mut writer.producers)?;
        Ok(offset)
    }

    fn set_end(&self, end: i64) {
        let offsets = &self.shared.offsets;
        offsets.log_end.store(end, Ordering::Release);
        offsets.flushed.fetch_min(end, Ordering::AcqRel);
        self.shared.watch.notify();
    }

    fn no_segment(&self) -> Error {
        Error::io(
            self.dir(),
            std::io::Error::other("partition has no segment"),
        )
    }
}
