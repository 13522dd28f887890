//! [`LogSegment`]: one `.log` with its `.index` and `.timeindex`.

use std::path::{Path, PathBuf};

use super::config::SegmentConfig;
use super::file_name::{FileKind, file_path, suffixed_path};
use super::indexer::Indexes;
use super::log_file::{LogFile, SyncJob};
use super::scan::{Check, SegmentScan, check_offsets, is_preallocated_tail};
use super::{OffsetIndex, TimeIndex};
use crate::error::{Error, Result};
use crate::record::{BatchHeader, BatchSlice, BatchView};

/// An fsync of a segment's appended data, run outside the segment's lock.
#[derive(Debug)]
pub struct FlushJob(SyncJob);

impl FlushJob {
    /// Runs the fsync.
    pub fn run(&self) -> Result<()> {
        self.0.run()
    }
}

/// Where a batch sits in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLocation {
    /// Byte position of the batch in the `.log`.
    pub position: u64,
    /// The batch's base offset.
    pub base_offset: i64,
    /// The batch's last offset.
    pub last_offset: i64,
    /// The batch's size in bytes.
    pub size: usize,
}

/// One segment of a partition log.
///
/// Appends go to the `.log` (through a mapping, see the `log_file` module)
/// and add sparse index entries by Kafka's rule: when more than
/// `index.interval.bytes` were appended since the last entry, the incoming
/// batch gets an `.index` entry (its last offset -> its start position) and
/// the `.timeindex` an entry for the largest timestamp so far, if it grew.
#[derive(Debug)]
pub struct LogSegment {
    dir: PathBuf,
    base_offset: i64,
    config: SegmentConfig,
    pub(super) log: LogFile,
    pub(super) indexes: Indexes,
    pub(super) next_offset: i64,
}

impl LogSegment {
    /// Creates a new, empty, writable segment in `dir`.
    pub fn create(dir: &Path, base_offset: i64, config: SegmentConfig) -> Result<Self> {
        Self::create_with_suffix(dir, base_offset, config, "")
    }

    /// Creates a new segment whose files carry `suffix` after Kafka's name
    /// (`.cleaned` for a segment the cleaner is writing; see
    /// `Partition::replace_segments`).
    pub fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        suffix: &str,
    ) -> Result<Self> {
        let path = |kind| suffixed_path(dir, base_offset, kind, suffix);
        let log = LogFile::create(
            &path(FileKind::Log),
            config.log_capacity(),
            config.preallocate_window_bytes,
        )?;
        let offset_index = OffsetIndex::create(
            &path(FileKind::OffsetIndex),
            base_offset,
            config.segment_index_bytes,
        )?;
        let time_index = TimeIndex::create(
            &path(FileKind::TimeIndex),
            base_offset,
            config.segment_index_bytes,
        )?;
        Ok(LogSegment {
            dir: dir.to_path_buf(),
            base_offset,
            config,
            log,
            indexes: Indexes::new(
                Some(offset_index),
                Some(time_index),
                base_offset,
                config.index_interval_bytes,
            ),
            next_offset: base_offset,
        })
    }

    /// Opens an existing segment whose `.log` is trusted to hold whole,
    /// valid batches (it was closed cleanly or already recovered; use
    /// [`LogSegment::open_for_recovery`] otherwise).
    ///
    /// Missing or inconsistent index files are rebuilt from the `.log` when
    /// `writable`; read-only, the segment does without them (lookups scan
    /// the `.log`) and never writes a file.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        writable: bool,
    ) -> Result<Self> {
        let mut segment = Self::open_files(dir, base_offset, config, writable)?;
        if writable {
            segment.log.make_writable(config.log_capacity())?;
        }
        if writable && (segment.indexes.offset.is_none() || segment.indexes.time.is_none()) {
            segment.rebuild_indexes()?;
        } else {
            segment.load_tail()?;
        }
        Ok(segment)
    }

    /// Opens a segment that may end in a torn or corrupt tail; the caller
    /// must run [`LogSegment::recover`] before anything else.
    pub fn open_for_recovery(dir: &Path, base_offset: i64, config: SegmentConfig) -> Result<Self> {
        Self::open_files(dir, base_offset, config, true)
    }

    fn open_files(
        dir: &Path,
        base_offset: i64,
        config: SegmentConfig,
        writable: bool,
    ) -> Result<Self> {
        let log = LogFile::open(
            &file_path(dir, base_offset, FileKind::Log),
            writable,
            config.log_capacity(),
            config.preallocate_window_bytes,
        )?;
        let log_size = log.size();
        let index_bytes = config.segment_index_bytes;
        let offset_path = file_path(dir, base_offset, FileKind::OffsetIndex);
        let offset_index = OffsetIndex::open(&offset_path, base_offset, index_bytes, writable)
            .ok()
            .filter(|i| i.zero_tail_entries() == 0 && i.sanity_check(log_size).is_ok());
        let time_path = file_path(dir, base_offset, FileKind::TimeIndex);
        let time_index = TimeIndex::open(&time_path, base_offset, index_bytes, writable)
            .ok()
            .filter(|i| i.zero_tail_entries() == 0 && i.sanity_check().is_ok());
        Ok(LogSegment {
            dir: dir.to_path_buf(),
            base_offset,
            config,
            log,
            indexes: Indexes::new(
                offset_index,
                time_index,
                base_offset,
                config.index_interval_bytes,
            ),
            next_offset: base_offset,
        })
    }

    /// Finds the next offset and the largest timestamp by scanning from the
    /// last index entry to the end (framing and offsets checked).
    /// Recomputes the next offset and largest timestamp after the log was
    /// cut (the indexes were cut to match).
    pub(super) fn reload_tail(&mut self) -> Result<()> {
        self.indexes.max_timestamp = crate::record::layout::NO_TIMESTAMP;
        self.indexes.offset_of_max_timestamp = self.base_offset;
        self.indexes.reset_interval();
        self.next_offset = self.base_offset;
        self.load_tail()
    }

    fn load_tail(&mut self) -> Result<()> {
        let ix = &mut self.indexes;
        if let Some((ts, offset)) = ix.time.as_ref().and_then(|t| t.last_entry()) {
            ix.max_timestamp = ts;
            ix.offset_of_max_timestamp = offset;
        }
        let from = match (&ix.offset, &ix.time) {
            (Some(offsets), Some(_)) => offsets.last_entry().map_or(0, |(_, pos)| pos as usize),
            _ => 0,
        };
        let data = self.log.bytes();
        let mut zero_tail = None;
        for item in SegmentScan::new(data, from, self.base_offset, None, Check::Framing) {
            let view = match item {
                Ok((_, view)) => view,
                // A writable segment left unsealed by a crash ends in the
                // zeros reserved ahead of the writer: that is its end.
                Err((pos, _)) if self.log.is_writable() && is_preallocated_tail(&data[pos..]) => {
                    zero_tail = Some(pos as u64);
                    break;
                }
                Err((pos, e)) => return Err(Error::in_segment(self.log.path(), pos as u64, e)),
            };
            self.next_offset = view.next_offset();
            if view.max_timestamp() > ix.max_timestamp {
                ix.max_timestamp = view.max_timestamp();
                ix.offset_of_max_timestamp = view.last_offset();
            }
        }
        if let Some(pos) = zero_tail {
            self.log.truncate_to(pos)?;
        }
        Ok(())
    }

    /// The segment's base offset (its file names).
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The partition directory holding the segment.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `.log` file's path.
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// The settings the segment was opened with.
    pub fn config(&self) -> &SegmentConfig {
        &self.config
    }

    /// Bytes of batches in the `.log`.
    pub fn size(&self) -> u64 {
        self.log.size()
    }

    /// Whether the segment holds no batch.
    pub fn is_empty(&self) -> bool {
        self.log.size() == 0
    }

    /// Bytes of the `.log` known to be on disk.
    pub fn synced_size(&self) -> u64 {
        self.log.synced_size()
    }

    /// The offset after the last batch (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// The largest batch timestamp, or -1 when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.indexes.max_timestamp
    }

    /// The last offset of the batch carrying [`max_timestamp`](Self::max_timestamp).
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.indexes.offset_of_max_timestamp
    }

    /// Whether appends are accepted.
    pub fn is_writable(&self) -> bool {
        self.log.is_writable()
    }

    /// The offset index, when one is loaded.
    pub fn offset_index(&self) -> Option<&OffsetIndex> {
        self.indexes.offset.as_ref()
    }

    /// The time index, when one is loaded.
    pub fn time_index(&self) -> Option<&TimeIndex> {
        self.indexes.time.as_ref()
    }

    /// The maxTimestamp of the first batch, which Kafka's `segment.ms` roll
    /// is measured from; `None` when empty.
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        BatchView::parse(self.log.bytes())
            .ok()
            .map(|b| b.max_timestamp())
    }

    /// Whether an index has no room left, so the log must roll.
    pub fn indexes_full(&self) -> bool {
        self.indexes.is_full()
    }

    /// Appends one batch whose offsets are already assigned (at or after
    /// [`next_offset`](Self::next_offset)) and returns its position.
    ///
    /// # Errors
    /// [`Error::SegmentFull`] when the `.log` capacity or an index is
    /// exhausted (roll and retry), [`Error::OffsetNotInSegment`] when its
    /// offsets do not fit, [`Error::InvalidBatch`] for offsets going back.
    pub fn append(&mut self, batch: &BatchView<'_>) -> Result<u64> {
        let prev = (!self.is_empty()).then_some(self.next_offset);
        check_offsets(batch, self.base_offset, prev).map_err(|e| self.offset_error(batch, e))?;
        if self.indexes_full() {
            return Err(self.full("index is full"));
        }
        if self.size() + batch.size() as u64 > self.config.log_capacity() as u64 {
            return Err(self.full("segment.bytes reached"));
        }
        let position = self.log.append(batch.bytes())?;
        self.indexes.add(batch, position)?;
        self.next_offset = batch.next_offset();
        Ok(position)
    }

    fn offset_error(&self, batch: &BatchView<'_>, e: crate::error::BatchError) -> Error {
        if batch.base_offset() < self.base_offset {
            Error::OffsetNotInSegment {
                offset: batch.base_offset(),
                base_offset: self.base_offset,
                reason: "below the segment's base offset",
            }
        } else if batch.last_offset() - self.base_offset > i64::from(i32::MAX) {
            Error::OffsetNotInSegment {
                offset: batch.last_offset(),
                base_offset: self.base_offset,
                reason: "beyond Kafka's 32-bit relative offsets",
            }
        } else {
            Error::InvalidBatch(e)
        }
    }

    fn full(&self, reason: &'static str) -> Error {
        Error::SegmentFull {
            base_offset: self.base_offset,
            reason,
        }
    }

    /// Whole batches from `position`, up to `max_bytes` but always at least
    /// one batch when one starts there. Zero-copy.
    pub fn read(&self, position: u64, max_bytes: usize) -> Result<BatchSlice> {
        let data = self.log.bytes();
        let mut end = position as usize;
        for item in SegmentScan::new(
            data,
            position as usize,
            self.base_offset,
            None,
            Check::Framing,
        ) {
            let (at, view) =
                item.map_err(|(pos, e)| Error::in_segment(self.log.path(), pos as u64, e))?;
            if at > position as usize && at + view.size() - position as usize > max_bytes {
                break;
            }
            end = at + view.size();
        }
        let bytes = self.log.slice(position, end - position as usize)?;
        Ok(BatchSlice::from_framed(bytes))
    }

    /// The first batch whose last offset is >= `offset` (the batch holding
    /// it, or the next one when compaction removed it), searching from the
    /// index entry at or below `offset`.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<BatchLocation>> {
        let start = self.indexes.position_for(offset);
        self.find_batch(start, |view| view.last_offset() >= offset)
    }

    fn find_batch(
        &self,
        start: usize,
        wanted: impl Fn(&BatchView<'_>) -> bool,
    ) -> Result<Option<BatchLocation>> {
        let data = self.log.bytes();
        for item in SegmentScan::new(data, start, self.base_offset, None, Check::Framing) {
            let (at, view) =
                item.map_err(|(pos, e)| Error::in_segment(self.log.path(), pos as u64, e))?;
            if wanted(&view) {
                return Ok(Some(BatchLocation {
                    position: at as u64,
                    base_offset: view.base_offset(),
                    last_offset: view.last_offset(),
                    size: view.size(),
                }));
            }
        }
        Ok(None)
    }

    /// The first record with timestamp >= `timestamp` and offset >=
    /// `starting_offset`: `(offset, its timestamp)`, as Kafka's
    /// `findOffsetByTimestamp` (time index, then offset index, then a scan).
    pub fn find_offset_by_timestamp(
        &self,
        timestamp: i64,
        starting_offset: i64,
    ) -> Result<Option<(i64, i64)>> {
        let from_offset = self
            .indexes
            .time
            .as_ref()
            .map_or(self.base_offset, |t| t.lookup(timestamp).1)
            .max(starting_offset);
        let start = self.indexes.position_for(from_offset);
        let data = self.log.bytes();
        for item in SegmentScan::new(data, start, self.base_offset, None, Check::Framing) {
            let (at, view) =
                item.map_err(|(pos, e)| Error::in_segment(self.log.path(), pos as u64, e))?;
            if view.max_timestamp() < timestamp || view.last_offset() < starting_offset {
                continue;
            }
            let records = view
                .records(&self.config.decode)
                .map_err(|e| Error::in_segment(self.log.path(), at as u64, e))?;
            for record in records.iter_from_timestamp(timestamp) {
                let r = record.map_err(|e| Error::in_segment(self.log.path(), at as u64, e))?;
                if r.timestamp() >= timestamp && r.offset() >= starting_offset {
                    return Ok(Some((r.offset(), r.timestamp())));
                }
            }
        }
        Ok(None)
    }

    /// The fsync that would make the appended data durable, as a job that
    /// runs without the segment's lock (see [`LogSegment::finish_flush`]).
    /// Index files are not part of it: the segment holding the recovery
    /// point is always rebuilt by recovery, and sealing syncs them.
    pub fn flush_job(&self) -> Result<Option<FlushJob>> {
        Ok(self.log.sync_job()?.map(FlushJob))
    }

    /// Records the outcome of a [`FlushJob`] run.
    pub fn finish_flush(&mut self, job: &FlushJob, ok: bool) {
        self.log.finish_sync(&job.0, ok);
    }

    /// Makes the appended data and index entries durable.
    pub fn flush(&mut self) -> Result<()> {
        self.log.sync()?;
        self.indexes.flush()
    }

    /// Finishes the segment (on roll or close): adds Kafka's final time
    /// index entry, trims the `.log` and indexes to their contents, syncs,
    /// and becomes read-only.
    pub fn seal(&mut self) -> Result<()> {
        if let Some(job) = self.seal_deferred()? {
            job.run()?;
        }
        Ok(())
    }

    /// [`LogSegment::seal`] without waiting for the `.log`'s fsync, which
    /// the returned job does (a roll runs it at the next flush, outside the
    /// append path). Index files are trimmed and synced now (small).
    pub fn seal_deferred(&mut self) -> Result<Option<FlushJob>> {
        if !self.is_writable() {
            return Ok(None);
        }
        let job = self.log.seal_deferred()?;
        self.indexes.seal()?;
        Ok(job.map(FlushJob))
    }
}
