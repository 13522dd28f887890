//! Compaction of one partition (`cleanup.policy=compact`): one round of
//! Kafka's log cleaner (`Cleaner.doClean`).
//!
//! 1. Measure the dirty range `[first dirty, first uncleanable)`
//!    ([`cleanable`]).
//! 2. Map every key of the dirty range to its latest offset, within the
//!    map's memory budget; if the map fills first, the round ends at the
//!    first record that did not fit and the rest waits for a later round.
//! 3. Rewrite every non-active segment from the log start up to that end
//!    (the clean part too: Kafka recleans it, which drops records made
//!    obsolete by newer ones and expires tombstones), keeping the latest
//!    record per key with its offset unchanged; see `batch_filter` for the
//!    rules. Segments are grouped up to `segment.bytes`; each group becomes
//!    a `.cleaned` segment, sealed, then swapped in crash-safely by
//!    [`Partition::replace_segments`] (a group left with no batch at all is
//!    removed instead of leaving an empty segment).
//!
//! Reads go through [`Partition::read`] and the swap takes the partition's
//! writer lock only for its renames, so appends and reads go on meanwhile.
//! Memory: the offset map's budget plus one batch (and its decompressed
//! records). The caller persists [`CleanStats::first_dirty_after`] in
//! `cleaner-offset-checkpoint`; segment retention and truncation must not
//! run on the partition during a cleaning (the swap fails if they did).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use super::batch_filter::{BatchFilter, FilterCounts, Filtered, Scratch};
use super::batches::for_each_batch;
use super::cleaner_config::CleanerConfig;
use super::dedupe::{MappedRange, build_offset_map};
use super::dirty::{Cleanable, cleanable};
use super::grouping::group_segments;
use super::offset_map::OffsetMap;
use super::output::{CleanedOutput, remove_cleaned};
use super::producers::LastBatches;
use crate::error::{Error, Result};
use crate::partition::{Partition, SegmentInfo};
use crate::record::BatchView;

/// What one cleaning round did.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanStats {
    /// The first dirty offset the round started from (the checkpoint, or
    /// the log start when the checkpoint was out of range).
    pub first_dirty_before: i64,
    /// The new checkpoint: the first offset this round did not map (the
    /// end of the dirty range, unless the map filled). Persist it in
    /// `cleaner-offset-checkpoint`.
    pub first_dirty_after: i64,
    /// Segments below this offset were rewritten (equal to the log start
    /// when nothing was).
    pub cleaned_up_to: i64,
    /// Whether the offset map filled before the dirty range ended: more
    /// rounds are needed.
    pub map_full: bool,
    /// Keys in the offset map.
    pub map_keys: usize,
    /// Keys in the map / its slots (Kafka's buffer utilization).
    pub map_utilization: f64,
    /// Bytes of the dirty batches mapped.
    pub dirty_bytes: u64,
    /// Segments rewritten.
    pub segments_before: usize,
    /// Segments that replaced them.
    pub segments_after: usize,
    /// Bytes of the rewritten segments.
    pub bytes_before: u64,
    /// Bytes of the segments that replaced them.
    pub bytes_after: u64,
    /// Records in the rewritten segments.
    pub records_before: u64,
    /// Records kept.
    pub records_after: u64,
    /// Tombstones dropped: made obsolete by a newer record of their key, or
    /// past their delete horizon.
    pub tombstones_removed: u64,
    /// Records without a key dropped (Kafka drops them; a compacted topic
    /// refuses them at append).
    pub keyless_removed: u64,
    /// Producers' last batches kept without records.
    pub empty_batches_kept: u64,
    /// Dirty ratio before the round.
    pub dirty_ratio_before: f64,
    /// Dirty ratio after the round, from the new checkpoint.
    pub dirty_ratio_after: f64,
    /// How long the round took.
    pub elapsed: Duration,
}

impl CleanStats {
    fn start(before: &Cleanable) -> Self {
        CleanStats {
            first_dirty_before: before.first_dirty,
            first_dirty_after: before.first_dirty,
            cleaned_up_to: before.first_dirty,
            map_full: false,
            map_keys: 0,
            map_utilization: 0.0,
            dirty_bytes: 0,
            segments_before: 0,
            segments_after: 0,
            bytes_before: 0,
            bytes_after: 0,
            records_before: 0,
            records_after: 0,
            tombstones_removed: 0,
            keyless_removed: 0,
            empty_batches_kept: 0,
            dirty_ratio_before: before.ratio,
            dirty_ratio_after: before.ratio,
            elapsed: Duration::ZERO,
        }
    }

    /// Dirty bytes mapped per second of the round, in MB/s (10^6 bytes).
    pub fn throughput_mb_per_s(&self) -> f64 {
        self.dirty_bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs one cleaning round on `partition` from the checkpointed
/// `first_dirty` offset, at clock time `now_ms` (which decides
/// `min.compaction.lag.ms` and tombstone horizons). Cleans whenever there
/// is dirty data; whether it is due is [`cleanable`]'s `must_clean`.
///
/// ```
/// use seglog::cleaner::{CleanerConfig, clean_partition, cleanable};
/// use seglog::config::{CleanupPolicy, TopicConfig};
/// use seglog::partition::{OpenOptions, Partition, RecordsOptions};
/// use seglog::record::Record;
///
/// let dir = tempfile::tempdir()?;
/// let config = TopicConfig { cleanup_policy: CleanupPolicy::COMPACT, ..TopicConfig::default() };
/// let (p, _) = Partition::open(&dir.path().join("profiles-0"), config, OpenOptions::default())?;
/// let now = p.config().clock.now_ms();
/// for v in 0..10 {
///     p.append_records(&[Record::keyed(now, "user-1", format!("v{v}"))], RecordsOptions::default())?;
/// }
/// p.roll_now()?; // the active segment is never cleaned
/// let checkpoint = 0; // from cleaner-offset-checkpoint
/// assert!(cleanable(&p, checkpoint, now)?.must_clean);
/// let stats = clean_partition(&p, checkpoint, now, &CleanerConfig::default())?;
/// assert_eq!((stats.records_before, stats.records_after), (10, 1));
/// assert_eq!(stats.first_dirty_after, 10); // the new checkpoint
/// let batch = p.read(0, 1 << 20)?.iter().next().unwrap();
/// assert_eq!(batch.base_offset(), 9); // offsets never change
/// # use seglog::record::BatchHeader;
/// # use seglog::clock::Clock;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::NotAllowed`] when the topic's `cleanup.policy` lacks `compact`;
/// [`Error::InvalidConfig`] when the map budget holds no key;
/// [`Error::CodecUnavailable`] for a batch compressed with a codec this
/// build lacks; [`Error::CorruptFetch`] for a batch that does not decode;
/// I/O errors. On error nothing was swapped for the group at fault (groups
/// before it stay cleaned) and the checkpoint must not move.
pub fn clean_partition(
    partition: &Partition,
    first_dirty: i64,
    now_ms: i64,
    config: &CleanerConfig,
) -> Result<CleanStats> {
    let started = Instant::now();
    if !partition.config().cleanup_policy.compact {
        return Err(Error::NotAllowed(format!(
            "{}-{} is not compacted (cleanup.policy lacks compact)",
            partition.topic(),
            partition.partition()
        )));
    }
    let before = cleanable(partition, first_dirty, now_ms)?;
    let mut stats = CleanStats::start(&before);
    if before.first_dirty < before.first_uncleanable {
        run_round(partition, &before, now_ms, config, &mut stats)?;
    }
    stats.elapsed = started.elapsed();
    tracing::debug!(
        topic = partition.topic(),
        partition = partition.partition(),
        first_dirty_after = stats.first_dirty_after,
        bytes_before = stats.bytes_before,
        bytes_after = stats.bytes_after,
        map_full = stats.map_full,
        "cleaned"
    );
    Ok(stats)
}

fn run_round(
    partition: &Partition,
    before: &Cleanable,
    now_ms: i64,
    config: &CleanerConfig,
    stats: &mut CleanStats,
) -> Result<()> {
    let mut map = OffsetMap::new(config.dedupe_buffer_size, config.io_buffer_load_factor)?;
    let range = build_offset_map(
        partition,
        &mut map,
        before.first_dirty,
        before.first_uncleanable,
        config.io_buffer_size,
    )?;
    record_map(stats, &map, &range);
    let producers = LastBatches::scan(partition, now_ms, config.io_buffer_size)?;
    let filter = BatchFilter {
        partition,
        map: &map,
        end: range.end,
        now_ms,
        producers: &producers,
    };
    let infos = partition.segment_infos();
    let to_clean: Vec<SegmentInfo> = infos
        .iter()
        .copied()
        .take_while(|s| !s.active && s.base_offset < range.end)
        .collect();
    stats.cleaned_up_to = infos
        .get(to_clean.len())
        .map_or(range.end, |s| s.base_offset);
    let mut counts = FilterCounts::default();
    let max_bytes = partition.config().segment_bytes as u64;
    for group in group_segments(&to_clean, max_bytes) {
        clean_group(partition, &group, &filter, config, &mut counts, stats)?;
    }
    record_counts(stats, &counts);
    stats.dirty_ratio_after = cleanable(partition, range.end, now_ms)?.ratio;
    Ok(())
}

fn record_map(stats: &mut CleanStats, map: &OffsetMap, range: &MappedRange) {
    stats.first_dirty_after = range.end;
    stats.map_full = range.full;
    stats.map_keys = map.len();
    stats.map_utilization = map.utilization();
    stats.dirty_bytes = range.bytes;
}

fn record_counts(stats: &mut CleanStats, counts: &FilterCounts) {
    stats.records_before = counts.records_read;
    stats.records_after = counts.records_kept;
    stats.tombstones_removed = counts.tombstones_removed;
    stats.keyless_removed = counts.keyless_removed;
    stats.empty_batches_kept = counts.empty_batches_kept;
}

/// Rewrites one group of consecutive segments and swaps the copy in.
fn clean_group(
    partition: &Partition,
    group: &[SegmentInfo],
    filter: &BatchFilter<'_>,
    config: &CleanerConfig,
    counts: &mut FilterCounts,
    stats: &mut CleanStats,
) -> Result<()> {
    let (Some(first), Some(last)) = (group.first(), group.last()) else {
        return Ok(());
    };
    let to = last.next_offset.max(last.base_offset);
    let output = copy_group(partition, first.base_offset, to, filter, config, counts)?;
    let (mut new_bases, bytes_after) = output.finish()?;
    if bytes_after == 0 {
        // Nothing survived: the old segments just go, rather than leave an
        // empty segment behind (which would only be merged away later).
        // Should a crash interrupt their removal, the ones left hold only
        // obsolete records, which is still a correct log.
        remove_cleaned(partition.dir(), first.base_offset);
        new_bases.clear();
    }
    let old_bases: Vec<i64> = group.iter().map(|s| s.base_offset).collect();
    if let Err(e) = partition.replace_segments(&old_bases, &new_bases) {
        for &base in &new_bases {
            remove_cleaned(partition.dir(), base);
        }
        return Err(e);
    }
    stats.segments_before += group.len();
    stats.segments_after += new_bases.len();
    stats.bytes_before += group.iter().map(|s| s.size).sum::<u64>();
    stats.bytes_after += bytes_after;
    Ok(())
}

/// Writes the surviving batches of `[from, to)` into `.cleaned` segments
/// (removed again on error).
fn copy_group<'a>(
    partition: &'a Partition,
    from: i64,
    to: i64,
    filter: &BatchFilter<'_>,
    config: &CleanerConfig,
    counts: &mut FilterCounts,
) -> Result<CleanedOutput<'a>> {
    let mut output = CleanedOutput::new(partition, from)?;
    let mut scratch = Scratch::default();
    let copied = for_each_batch(partition, from, to, config.io_buffer_size, |batch| {
        match filter.filter(&batch, &mut scratch, counts)? {
            Filtered::Keep => output.append(&batch.view())?,
            Filtered::Rewritten => output.append(&BatchView::parse(&scratch.out)?)?,
            Filtered::Drop => {}
        }
        Ok(ControlFlow::Continue(()))
    });
    match copied {
        Ok(()) => Ok(output),
        Err(e) => {
            output.abandon();
            Err(e)
        }
    }
}
