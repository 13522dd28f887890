//! [`Partition`]: the log of one partition, an ordered list of segments in a
//! `<topic>-<partition>` directory.
//!
//! Locking: one writer at a time (`writer` mutex), which alone changes the
//! segment list. Readers take a snapshot of the list (a read lock held for a
//! clone of one `Arc`), then the segment they need for the duration of one
//! zero-copy slice. Lock order: writer, segment list, segment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::checkpoint::TopicId;
use super::producer_state::ProducerStateManager;
use super::watch::Watch;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::segment::{FileKind, LogSegment, file_name};

/// A segment shared between the writer and readers.
pub(crate) type SegmentRef = Arc<RwLock<LogSegment>>;

/// The ordered segments, by base offset.
pub(crate) type SegmentMap = BTreeMap<i64, SegmentRef>;

/// State only the writer touches.
#[derive(Debug)]
pub(super) struct Writer {
    /// Records appended since the last flush (`flush.messages`).
    pub unflushed_records: i64,
    /// Clock time of the last flush (`flush.ms`).
    pub last_flush_ms: i64,
    /// The partition leader epoch stamped into batches.
    pub leader_epoch: i32,
    /// `segment.jitter.ms` drawn for the active segment.
    pub roll_jitter_ms: i64,
    /// Set by `close`; appends are refused afterwards.
    pub closed: bool,
    /// Idempotent producer state.
    pub producers: ProducerStateManager,
    /// A segment was created since the last flush: the directory entry
    /// must be synced too, or a power loss could lose the whole file.
    pub dir_dirty: bool,
    /// fsyncs of segments sealed by a roll, run at the next flush so the
    /// append that rolled does not wait for the disk.
    pub pending_syncs: Vec<crate::segment::FlushJob>,
    /// An fsync failed: what reached the disk is unknown, so the partition
    /// refuses writes and flushes until it is reopened (and recovered).
    pub poisoned: bool,
}

/// Offsets published to readers.
#[derive(Debug, Default)]
pub(super) struct Offsets {
    pub log_start: AtomicI64,
    pub log_end: AtomicI64,
    /// Everything below is on disk (Kafka's recovery point).
    pub flushed: AtomicI64,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub dir: PathBuf,
    pub topic: String,
    pub partition: u32,
    pub topic_id: Option<TopicId>,
    pub config: TopicConfig,
    pub segments: RwLock<Arc<SegmentMap>>,
    pub writer: Mutex<Writer>,
    pub offsets: Offsets,
    pub watch: Watch,
}

/// The log of one partition: append, read, look up, roll, flush, recover.
///
/// Cheap to clone (`Arc`), `Send + Sync`; clones share the same log.
#[derive(Debug, Clone)]
pub struct Partition {
    pub(super) shared: Arc<Shared>,
}

impl Partition {
    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The topic name (from the directory name).
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// The partition number (from the directory name).
    pub fn partition(&self) -> u32 {
        self.shared.partition
    }

    /// The topic id from `partition.metadata`, when there is one.
    pub fn topic_id(&self) -> Option<TopicId> {
        self.shared.topic_id
    }

    /// The configuration the partition was opened with.
    pub fn config(&self) -> &TopicConfig {
        &self.shared.config
    }

    /// The first offset still held (Kafka's log start offset).
    pub fn log_start_offset(&self) -> i64 {
        self.shared.offsets.log_start.load(Ordering::Acquire)
    }

    /// The offset the next appended record gets (Kafka's log end offset).
    pub fn log_end_offset(&self) -> i64 {
        self.shared.offsets.log_end.load(Ordering::Acquire)
    }

    /// Everything below this offset is on disk (Kafka's recovery point);
    /// the end of what `durable` readers see.
    pub fn flushed_offset(&self) -> i64 {
        self.shared.offsets.flushed.load(Ordering::Acquire)
    }

    /// A snapshot of the segment list.
    pub(crate) fn segments(&self) -> Arc<SegmentMap> {
        Arc::clone(&self.shared.segments.read())
    }

    /// Base offsets of the segments, ascending.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().keys().copied().collect()
    }

    /// Bytes of all segments' `.log` files.
    pub fn size_bytes(&self) -> u64 {
        self.segments().values().map(|s| s.read().size()).sum()
    }

    /// The current partition leader epoch stamped into appended batches.
    pub fn leader_epoch(&self) -> i32 {
        self.shared.writer.lock().leader_epoch
    }

    /// Replaces the segment list (writer lock held by the caller).
    pub(super) fn publish_segments(&self, map: SegmentMap) {
        *self.shared.segments.write() = Arc::new(map);
    }

    /// The active (last) segment.
    pub(super) fn active_segment(&self) -> Result<SegmentRef> {
        self.segments()
            .values()
            .next_back()
            .cloned()
            .ok_or_else(|| {
                Error::io(
                    &self.shared.dir,
                    std::io::Error::other("partition has no segment"),
                )
            })
    }

    pub(super) fn check_open(&self, writer: &Writer) -> Result<()> {
        if writer.poisoned {
            return Err(Error::Poisoned {
                path: self.shared.dir.clone(),
            });
        }
        if writer.closed {
            return Err(Error::Closed {
                path: self.shared.dir.clone(),
            });
        }
        Ok(())
    }
}

/// Deletes a segment's files (the mapping of whoever holds it lives on).
pub(super) fn delete_segment_files(dir: &Path, base_offset: i64) -> Result<()> {
    for kind in FileKind::ALL {
        let path = file_name::file_path(dir, base_offset, kind);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Ok(())
}
