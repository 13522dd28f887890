//! Reads and lookups. Readers never block the writer for longer than a
//! snapshot of the segment list plus one zero-copy slice of one segment.

use std::time::Duration;

use super::log::Partition;
use crate::error::{Error, Result};
use crate::record::{BatchHeader, BatchSlice};

/// What a read may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Everything appended (a single node has no replicas: Kafka's high
    /// watermark is the log end).
    #[default]
    Appended,
    /// Only what was flushed to disk, so nothing read can vanish in a crash.
    Durable,
}

impl Partition {
    /// Whole batches from the one holding `offset`, up to `max_bytes` but
    /// at least one batch when one exists (the caller skips records below
    /// `offset`). Empty at the log end.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] below the log start or past the log end.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<BatchSlice> {
        self.read_with(offset, max_bytes, Isolation::Appended)
    }

    /// [`Partition::read`] with an isolation level.
    pub fn read_with(
        &self,
        offset: i64,
        max_bytes: usize,
        isolation: Isolation,
    ) -> Result<BatchSlice> {
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        if offset < start || offset > end {
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: start,
                log_end: end,
            });
        }
        let visible_end = match isolation {
            Isolation::Appended => end,
            Isolation::Durable => self.flushed_offset(),
        };
        if offset >= visible_end {
            return Ok(BatchSlice::default());
        }
        let segments = self.segments();
        // `delete_records` moves the start before it drops segments: a
        // start that moved past `offset` meanwhile is seen now.
        let start = self.log_start_offset();
        if offset < start {
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: start,
                log_end: self.log_end_offset(),
            });
        }
        let first = segments
            .range(..=offset)
            .next_back()
            .map_or(i64::MIN, |(&b, _)| b);
        for segment in segments.range(first..).map(|(_, s)| s) {
            let segment = segment.read();
            let Some(location) = segment.translate_offset(offset)? else {
                continue; // offset lies past this segment's last batch
            };
            if location.base_offset >= visible_end {
                break;
            }
            let slice = segment.read(location.position, max_bytes)?;
            drop(segment);
            return Ok(trim_to(slice, visible_end));
        }
        Ok(BatchSlice::default())
    }

    /// Waits until the log end (or, with `Durable`, the flushed offset) is
    /// past `offset`, or `timeout` passes; returns whether it is.
    pub fn wait_for(&self, offset: i64, isolation: Isolation, timeout: Duration) -> bool {
        self.shared.watch.wait_until(timeout, || match isolation {
            Isolation::Appended => self.log_end_offset() > offset,
            Isolation::Durable => self.flushed_offset() > offset,
        })
    }

    /// The first offset whose record timestamp is `>= timestamp`, with that
    /// timestamp; `None` when every record is older (Kafka's ListOffsets).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let start = self.log_start_offset();
        for segment in self.segments().values() {
            let segment = segment.read();
            if segment.max_timestamp() < timestamp {
                continue;
            }
            if let Some(found) = segment.find_offset_by_timestamp(timestamp, start)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The largest timestamp in the log and the last offset of the batch
    /// carrying it; `None` when the log is empty.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.segments()
            .values()
            .map(|s| {
                let s = s.read();
                (s.max_timestamp(), s.offset_of_max_timestamp())
            })
            .filter(|&(ts, _)| ts >= 0)
            .fold(None, |best: Option<(i64, i64)>, cur| match best {
                Some(b) if b.0 >= cur.0 => Some(b),
                _ => Some(cur),
            })
    }
}

/// Drops batches at or past `end` (for `durable` reads; `end` is always a
/// batch boundary since flushes happen between appends).
fn trim_to(slice: BatchSlice, end: i64) -> BatchSlice {
    let mut keep = 0;
    for batch in slice.iter() {
        if batch.base_offset() >= end {
            break;
        }
        keep += batch.size();
    }
    if keep == slice.size() {
        return slice;
    }
    BatchSlice::from_framed(slice.as_bytes().slice(..keep))
}
