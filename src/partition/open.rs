//! Opening a partition directory: leftovers of interrupted operations,
//! segment loading, and recovery after an unclean stop.
//!
//! The store-wide checkpoint values (recovery point, log start offset) and
//! whether the last shutdown was clean are the caller's to pass in (DESIGN.md
//! section 7 item 3): the Store reads them from its checkpoint files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use parking_lot::{Mutex, RwLock};

use super::append::draw_jitter;
use super::checkpoint::{LEADER_EPOCH_CHECKPOINT, TopicId, read_leader_epochs};
use super::dir_name::parse_partition_dir;
use super::epochs::{load_leader_epoch, load_topic_id};
use super::log::{Offsets, Partition, SegmentMap, Shared, Writer, delete_segment_files};
use super::producer_state::ProducerStateManager;
use super::replace::complete_interrupted_swaps;
use super::watch::Watch;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::segment::{FileKind, LogSegment, RecoveryReport, TruncationCause, file_name};

/// What the caller knows about the partition from the store's checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOptions {
    /// From `recovery-point-offset-checkpoint`: everything below was on disk.
    pub recovery_point: i64,
    /// From `log-start-offset-checkpoint`.
    pub log_start_offset: Option<i64>,
    /// Whether the store was shut down cleanly; otherwise every segment
    /// from the one holding the recovery point on is scanned.
    pub clean_shutdown: bool,
    /// The topic id to record in `partition.metadata` when the directory
    /// has none yet (an existing file wins).
    pub topic_id: Option<TopicId>,
    /// Recover the active segment with the checks that hold for every log
    /// seglog appends to itself only (dense offsets, epochs within the
    /// recorded ones). Set it for data written elsewhere or compacted: a
    /// Kafka follower writes compacted batches (with offset gaps) into its
    /// active segment, and a broker may record epochs late.
    pub lenient_recovery: bool,
}

/// What opening found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments loaded.
    pub segments: usize,
    /// One report per segment that was scanned by recovery.
    pub recovered: Vec<RecoveryReport>,
    /// Segments deleted because they followed a damaged one.
    pub deleted_after_damage: Vec<i64>,
    /// Leftover files of interrupted operations removed or completed.
    pub leftovers: Vec<PathBuf>,
}

impl Partition {
    /// Opens (creating if needed) the partition directory `dir`, named
    /// `<topic>-<partition>`.
    pub fn open(
        dir: &Path,
        config: TopicConfig,
        options: OpenOptions,
    ) -> Result<(Partition, OpenReport)> {
        let (topic, partition) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_partition_dir)
            .ok_or_else(|| Error::InvalidPartitionDir {
                path: dir.to_path_buf(),
            })?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut leftovers = complete_interrupted_swaps(dir)?;
        leftovers.extend(clean_leftovers(dir)?);
        let mut report = OpenReport {
            leftovers,
            ..OpenReport::default()
        };
        let segments = load_segments(dir, &config, options, &mut report)?;
        report.segments = segments.len();
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let end = match segments.values().next_back() {
            Some(s) => s.read().next_offset(),
            None => 0,
        };
        let start = options
            .log_start_offset
            .unwrap_or(first_base)
            .max(first_base)
            .min(end);
        let leader_epoch = load_leader_epoch(dir, start)?;
        let topic_id = load_topic_id(dir, options.topic_id)?;
        let flushed = if options.clean_shutdown || !report.recovered.is_empty() {
            end
        } else {
            options.recovery_point.min(end)
        };
        let shared = Shared {
            dir: dir.to_path_buf(),
            topic: topic.to_string(),
            partition,
            topic_id,
            writer: Mutex::new(Writer {
                unflushed_records: 0,
                last_flush_ms: config.clock.now_ms(),
                leader_epoch,
                roll_jitter_ms: draw_jitter(config.segment_jitter_ms, config.segment_ms, end),
                closed: false,
                producers: ProducerStateManager::new(),
                dir_dirty: false,
                pending_syncs: Vec::new(),
                poisoned: false,
            }),
            config,
            segments: RwLock::new(Arc::new(segments)),
            offsets: Offsets {
                log_start: AtomicI64::new(start),
                log_end: AtomicI64::new(end),
                flushed: AtomicI64::new(flushed),
            },
            watch: Watch::default(),
        };
        let partition = Partition {
            shared: Arc::new(shared),
        };
        let producers = partition.load_producer_state()?;
        partition.shared.writer.lock().producers = producers;
        Ok((partition, report))
    }
}

/// Removes what interrupted operations left: `.deleted` files (deletion was
/// decided) and `.log.truncating` files (a truncation that never renamed).
/// Interrupted swaps (`.cleaned`, `.swap`) were settled before.
fn clean_leftovers(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".deleted") || name.ends_with(".cleaned") || name.ends_with(".truncating")
        {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Loads every segment: trusted ones read-only, the ones an unclean stop
/// may have damaged through recovery, the last one writable.
fn load_segments(
    dir: &Path,
    config: &TopicConfig,
    options: OpenOptions,
    report: &mut OpenReport,
) -> Result<SegmentMap> {
    let bases = segment_bases(dir)?;
    let segment_config = config.segment_config();
    // Batches cannot carry an epoch above the last one recorded.
    let max_epoch = recorded_max_epoch(dir)?;
    // Recovery starts at the segment holding the recovery point.
    let recover_from = bases
        .iter()
        .copied()
        .rfind(|&b| b <= options.recovery_point)
        .unwrap_or(i64::MIN);
    let mut map = BTreeMap::new();
    let mut damaged = false;
    for (i, &base) in bases.iter().enumerate() {
        if damaged {
            delete_segment_files(dir, base)?;
            report.deleted_after_damage.push(base);
            continue;
        }
        let last = i + 1 == bases.len();
        let segment = if !options.clean_shutdown && base >= recover_from {
            let mut segment = LogSegment::open_for_recovery(dir, base, segment_config)?;
            let recovery = if last && !options.lenient_recovery {
                segment.recover_active(max_epoch)?
            } else {
                segment.recover()?
            };
            segment.flush()?;
            log_recovery(&recovery);
            damaged = !last && recovery.truncated_bytes > 0;
            report.recovered.push(recovery);
            if !last && !damaged {
                segment.seal()?;
            }
            segment
        } else {
            LogSegment::open(dir, base, segment_config, last)?
        };
        map.insert(base, Arc::new(RwLock::new(segment)));
    }
    if map.is_empty() {
        let base = options.log_start_offset.unwrap_or(0).max(0);
        map.insert(
            base,
            Arc::new(RwLock::new(LogSegment::create(dir, base, segment_config)?)),
        );
    }
    Ok(map)
}

/// Base offsets of the `.log` files in `dir`, ascending.
fn segment_bases(dir: &Path) -> Result<Vec<i64>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some((base, FileKind::Log)) = entry.file_name().to_str().and_then(file_name::parse) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// A `tracing` event for what recovery cut: a warning for damage, info for
/// the routine removal of preallocated space after an unclean stop.
fn log_recovery(recovery: &RecoveryReport) {
    let segment = recovery.segment.display();
    match &recovery.cause {
        Some(TruncationCause::Corrupt { position, reason }) => tracing::warn!(
            %segment,
            position,
            %reason,
            truncated = recovery.truncated_bytes,
            "recovery cut a damaged segment tail"
        ),
        Some(TruncationCause::PreallocatedTail) => tracing::info!(
            %segment,
            truncated = recovery.truncated_bytes,
            "recovery removed preallocated space"
        ),
        None => {}
    }
}

/// The last epoch in `leader-epoch-checkpoint`; `i32::MAX` (no bound) when
/// the file is missing or empty.
fn recorded_max_epoch(dir: &Path) -> Result<i32> {
    let entries = read_leader_epochs(dir.join(LEADER_EPOCH_CHECKPOINT))?;
    Ok(entries.last().map_or(i32::MAX, |e| e.epoch))
}
