//! Recovery of a segment after an unclean stop, and index rebuilds: scan the
//! `.log` from the start, keep the valid prefix, rebuild both indexes by
//! Kafka's rule.

use std::path::PathBuf;

use super::file_name::{FileKind, file_path};
use super::indexer::Indexes;
use super::log_segment::LogSegment;
use super::scan::{Check, SegmentScan, is_preallocated_tail};
use super::{OffsetIndex, TimeIndex};
use crate::error::{BatchError, Error, Result};

/// What recovery found and did to one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The segment's `.log`.
    pub segment: PathBuf,
    /// Valid batches kept.
    pub batches: u64,
    /// Bytes of valid batches kept.
    pub valid_bytes: u64,
    /// Bytes removed from the end of the `.log`.
    pub truncated_bytes: u64,
    /// Why the tail was cut, when it was.
    pub cause: Option<TruncationCause>,
}

/// Why recovery cut a segment's tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TruncationCause {
    /// Zero-filled space reserved ahead of the writer (a normal unclean stop).
    PreallocatedTail,
    /// A torn or damaged batch at `position`.
    Corrupt {
        /// Byte position of the first bad batch.
        position: u64,
        /// What was wrong with it.
        reason: BatchError,
    },
}

struct Scanned {
    batches: u64,
    valid_end: u64,
    failure: Option<(u64, BatchError)>,
}

impl LogSegment {
    /// Scans the whole `.log` checking framing, offsets and CRCs, cuts it
    /// after the last valid batch, and rebuilds both indexes. Nothing that
    /// fails a check is kept.
    pub fn recover(&mut self) -> Result<RecoveryReport> {
        self.recover_with(Check::Crc, i32::MAX)
    }

    /// [`LogSegment::recover`] for the active segment of a log: nothing
    /// rewrites it, so its batches must also continue each other's offsets
    /// exactly from the base offset, with leader epochs never decreasing.
    /// This catches damage to the header fields the CRC does not cover
    /// (baseOffset, partitionLeaderEpoch) in an unflushed tail. `max_epoch`
    /// is the last epoch the log recorded (`i32::MAX` when unknown).
    pub fn recover_active(&mut self, max_epoch: i32) -> Result<RecoveryReport> {
        self.recover_with(Check::CrcDense, max_epoch)
    }

    fn recover_with(&mut self, check: Check, max_epoch: i32) -> Result<RecoveryReport> {
        let before = self.log.size();
        let scanned = self.reindex(check, max_epoch)?;
        let cause = scanned.failure.map(|(position, reason)| {
            let rest = &self.log.bytes()[position as usize..];
            if is_preallocated_tail(rest) {
                TruncationCause::PreallocatedTail
            } else {
                TruncationCause::Corrupt { position, reason }
            }
        });
        self.log.truncate_to(scanned.valid_end)?;
        Ok(RecoveryReport {
            segment: self.log.path().to_path_buf(),
            batches: scanned.batches,
            valid_bytes: scanned.valid_end,
            truncated_bytes: before - scanned.valid_end,
            cause,
        })
    }

    /// Rebuilds missing or bad index files from a `.log` trusted to be
    /// valid; a framing error is reported, not truncated.
    pub(super) fn rebuild_indexes(&mut self) -> Result<()> {
        let scanned = self.reindex(Check::Framing, i32::MAX)?;
        match scanned.failure {
            Some((pos, e)) => Err(Error::in_segment(self.log.path(), pos, e)),
            None => Ok(()),
        }
    }

    /// Recreates both index files and replays Kafka's index rule over every
    /// batch that passes `check`.
    fn reindex(&mut self, check: Check, max_epoch: i32) -> Result<Scanned> {
        let dir = self.dir().to_path_buf();
        let (base, config) = (self.base_offset(), *self.config());
        // Drop the old files' mappings before recreating them.
        self.indexes = Indexes::new(None, None, base, config.index_interval_bytes);
        let offset = OffsetIndex::create(
            &file_path(&dir, base, FileKind::OffsetIndex),
            base,
            config.segment_index_bytes,
        )?;
        let time = TimeIndex::create(
            &file_path(&dir, base, FileKind::TimeIndex),
            base,
            config.segment_index_bytes,
        )?;
        self.indexes = Indexes::new(Some(offset), Some(time), base, config.index_interval_bytes);
        self.next_offset = base;
        let mut scan =
            SegmentScan::new(self.log.bytes(), 0, base, None, check).with_max_epoch(max_epoch);
        let (mut batches, mut failure) = (0, None);
        for item in scan.by_ref() {
            match item {
                Ok((at, view)) => {
                    self.indexes.add(&view, at as u64)?;
                    batches += 1;
                }
                Err((at, e)) => failure = Some((at as u64, e)),
            }
        }
        if let Some(next) = scan.next_offset() {
            self.next_offset = next;
        }
        Ok(Scanned {
            batches,
            valid_end: scan.position() as u64,
            failure,
        })
    }
}
