//! Walking the batches of a `.log` with the checks every reader of a segment
//! needs: framing, and offsets consistent with the segment and with the
//! previous batch (baseOffset is outside the CRC, so this is what catches a
//! damaged one).

use crate::error::BatchError;
use crate::record::{BatchHeader, BatchView};

/// How much to check of each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Framing and offsets only (lookups over already validated data).
    Framing,
    /// Framing, offsets and the CRC (recovery of a sealed segment, which
    /// compaction may have left with offset gaps).
    Crc,
    /// As `Crc`, and offsets dense from the segment's base offset with
    /// leader epochs never decreasing: the active segment, which nothing
    /// rewrites, so a damaged baseOffset or epoch (outside the CRC) in its
    /// unflushed tail is caught too.
    CrcDense,
}

/// Iterator over the batches of a segment's bytes from a position.
pub(crate) struct SegmentScan<'a> {
    data: &'a [u8],
    pos: usize,
    segment_base: i64,
    next_offset: Option<i64>,
    check: Check,
    /// The largest partition leader epoch seen so far.
    epoch: i32,
    /// The largest epoch the log has recorded (`CrcDense` only).
    max_epoch: i32,
    failed: bool,
}

impl<'a> SegmentScan<'a> {
    /// Scans `data` (a whole segment) from `pos`. `prev_next_offset` is the
    /// offset after the batch before `pos`, when known.
    pub fn new(
        data: &'a [u8],
        pos: usize,
        segment_base: i64,
        prev_next_offset: Option<i64>,
        check: Check,
    ) -> Self {
        SegmentScan {
            data,
            pos,
            segment_base,
            next_offset: prev_next_offset,
            check,
            epoch: i32::MIN,
            max_epoch: i32::MAX,
            failed: false,
        }
    }

    /// Refuses batches stamped with an epoch above `max_epoch` (the last
    /// one in `leader-epoch-checkpoint`), for `CrcDense` scans.
    pub fn with_max_epoch(mut self, max_epoch: i32) -> Self {
        self.max_epoch = max_epoch;
        self
    }

    /// The position of the next batch: after a failure, the position of the
    /// failed batch, i.e. the end of the valid prefix.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The offset after the last good batch.
    pub fn next_offset(&self) -> Option<i64> {
        self.next_offset
    }

    fn check_one(&self, view: &BatchView<'_>) -> Result<(), BatchError> {
        check_offsets(view, self.segment_base, self.next_offset)?;
        if self.check == Check::CrcDense {
            let expected = self.next_offset.unwrap_or(self.segment_base);
            if view.base_offset() != expected {
                return Err(BatchError::BadOffsets(format!(
                    "base offset {} where the active segment continues at {expected}",
                    view.base_offset()
                )));
            }
            let epoch = view.partition_leader_epoch();
            if epoch < self.epoch || epoch > self.max_epoch {
                return Err(BatchError::BadOffsets(format!(
                    "partition leader epoch {epoch} outside [{}, {}]",
                    self.epoch, self.max_epoch
                )));
            }
        }
        if self.check != Check::Framing {
            view.verify_crc()?;
        }
        Ok(())
    }
}

impl<'a> Iterator for SegmentScan<'a> {
    type Item = Result<(usize, BatchView<'a>), (usize, BatchError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.data.len() {
            return None;
        }
        let at = self.pos;
        let result = BatchView::parse(&self.data[at..]).and_then(|view| {
            self.check_one(&view)?;
            Ok(view)
        });
        match result {
            Ok(view) => {
                self.pos += view.size();
                self.next_offset = Some(view.next_offset());
                self.epoch = self.epoch.max(view.partition_leader_epoch());
                Some(Ok((at, view)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err((at, e)))
            }
        }
    }
}

/// Offsets a batch must have to sit in a segment after a given batch.
pub(crate) fn check_offsets(
    view: &BatchView<'_>,
    segment_base: i64,
    prev_next_offset: Option<i64>,
) -> Result<(), BatchError> {
    let (base, delta) = (view.base_offset(), view.last_offset_delta());
    if delta < 0 {
        return Err(BatchError::BadOffsets(format!(
            "negative lastOffsetDelta {delta}"
        )));
    }
    if base < segment_base {
        return Err(BatchError::BadOffsets(format!(
            "base offset {base} is below the segment's base offset {segment_base}"
        )));
    }
    if let Some(prev) = prev_next_offset
        && base < prev
    {
        return Err(BatchError::BadOffsets(format!(
            "base offset {base} overlaps the previous batch, which ends before {prev}"
        )));
    }
    let relative_last = base
        .saturating_sub(segment_base)
        .saturating_add(i64::from(delta));
    if relative_last > i64::from(i32::MAX) {
        return Err(BatchError::BadOffsets(format!(
            "last offset {} is too far above the segment's base offset {segment_base} for 32-bit relative offsets",
            view.last_offset()
        )));
    }
    Ok(())
}

/// True when the bytes at the start of `rest` look like the zero-filled
/// space the writer reserves ahead of itself, not like a damaged batch.
pub(crate) fn is_preallocated_tail(rest: &[u8]) -> bool {
    let head = &rest[..rest.len().min(crate::record::layout::HEADER_SIZE)];
    head.iter().all(|&b| b == 0)
}
