//! Replacing segments crash-safely (DESIGN.md section 7 item 4), Kafka's
//! protocol: the cleaner writes new segments under `.cleaned` names; then
//!
//! 1. every `.cleaned` file is renamed `.swap` (directory synced);
//! 2. the old segments not overwritten by a new one of the same base offset
//!    are renamed `.deleted`;
//! 3. every `.swap` file is renamed to its live name;
//! 4. the segment list is switched and the `.deleted` files removed.
//!
//! Opening a directory finishes or undoes what a crash interrupted: while
//! any `.cleaned` file remains, step 2 never started and the old segments
//! are intact, so every `.cleaned` and `.swap` file is removed (roll back);
//! otherwise each `.swap` segment is renamed live and the live segments
//! inside its offset range are deleted (roll forward).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::log::{Partition, delete_segment_files};
use crate::durable_fs::sync_dir;
use crate::error::{Error, Result};
use crate::record::BatchHeader;
use crate::segment::file_name::{
    CLEANED_SUFFIX, DELETED_SUFFIX, SWAP_SUFFIX, file_path, parse, parse_suffixed, suffixed_path,
};
use crate::segment::{FileKind, LogSegment};

/// What a caller needs to plan a rewrite of non-active segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's base offset.
    pub base_offset: i64,
    /// The offset after its last batch.
    pub next_offset: i64,
    /// Bytes of its `.log`.
    pub size: u64,
    /// Its largest batch timestamp (-1 when empty).
    pub max_timestamp: i64,
    /// Whether it is the active (last) segment, which is never replaced.
    pub active: bool,
}

impl Partition {
    /// A snapshot of the segments, oldest first.
    pub fn segment_infos(&self) -> Vec<SegmentInfo> {
        let map = self.segments();
        let last = map.keys().next_back().copied();
        map.iter()
            .map(|(&base, s)| {
                let s = s.read();
                SegmentInfo {
                    base_offset: base,
                    next_offset: s.next_offset(),
                    size: s.size(),
                    max_timestamp: s.max_timestamp(),
                    active: Some(base) == last,
                }
            })
            .collect()
    }

    /// Creates a segment at `base_offset` under `.cleaned` names, for a
    /// rewrite to be swapped in by [`Partition::replace_segments`].
    pub fn create_cleaned_segment(&self, base_offset: i64) -> Result<LogSegment> {
        LogSegment::create_with_suffix(
            self.dir(),
            base_offset,
            self.config().segment_config(),
            CLEANED_SUFFIX,
        )
    }

    /// Swaps sealed `.cleaned` segments (`new`, by base offset) in for the
    /// non-active segments `old`, crash-safely. Every new segment must lie
    /// within the offsets of the old ones; offsets never change.
    pub fn replace_segments(&self, old: &[i64], new: &[i64]) -> Result<()> {
        let writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        let map = self.segments();
        let active = map.keys().next_back().copied();
        let (Some(&lo), Some(&hi)) = (old.iter().min(), old.iter().max()) else {
            return Ok(());
        };
        let old_end = map
            .get(&hi)
            .map(|s| s.read().next_offset())
            .ok_or_else(|| self.not_a_segment(hi))?;
        for &base in old {
            if !map.contains_key(&base) || Some(base) == active {
                return Err(self.not_a_segment(base));
            }
        }
        // The old segments must be consecutive in the log, and the first new
        // one must take the first old base offset: recovery relies on it to
        // know which live segments a `.swap` replaces.
        // One new segment per swap: recovery rolls a `.swap` forward by
        // deleting the live segments inside its range, which is exact for
        // one segment starting at the first old base.
        let consecutive = map.range(lo..=hi).count() == old.len();
        if !consecutive || new.len() > 1 || (!new.is_empty() && !new.contains(&lo)) {
            return Err(Error::OffsetNotInSegment {
                offset: lo,
                base_offset: lo,
                reason: "replaced segments must be consecutive, the first replacement starting at the first of them",
            });
        }
        if new.iter().any(|&b| b < lo || b >= old_end) {
            return Err(Error::OffsetNotInSegment {
                offset: new
                    .iter()
                    .copied()
                    .find(|&b| b < lo || b >= old_end)
                    .unwrap_or(lo),
                base_offset: lo,
                reason: "a replacement segment starts outside the segments it replaces",
            });
        }
        let dir = self.dir();
        rename_all(dir, new, CLEANED_SUFFIX, SWAP_SUFFIX)?;
        sync_dir(dir)?;
        let overwritten: BTreeSet<i64> = new.iter().copied().collect();
        let doomed: Vec<i64> = old
            .iter()
            .copied()
            .filter(|b| !overwritten.contains(b))
            .collect();
        rename_all(dir, &doomed, "", DELETED_SUFFIX)?;
        sync_dir(dir)?;
        rename_all(dir, new, SWAP_SUFFIX, "")?;
        sync_dir(dir)?;
        let mut kept = (*map).clone();
        for base in old {
            kept.remove(base);
        }
        for &base in new {
            let segment = LogSegment::open(dir, base, self.config().segment_config(), false)?;
            kept.insert(base, Arc::new(RwLock::new(segment)));
        }
        self.publish_segments(kept);
        remove_suffixed(dir, &doomed, DELETED_SUFFIX)
    }

    fn not_a_segment(&self, base: i64) -> Error {
        Error::OffsetNotInSegment {
            offset: base,
            base_offset: base,
            reason: "not a sealed segment of this partition",
        }
    }
}

/// Finishes or undoes an interrupted swap found when opening `dir`;
/// returns the files it removed or renamed.
pub(super) fn complete_interrupted_swaps(dir: &Path) -> Result<Vec<PathBuf>> {
    let cleaned = bases_with_suffix(dir, CLEANED_SUFFIX)?;
    let swaps = bases_with_suffix(dir, SWAP_SUFFIX)?;
    let mut touched = Vec::new();
    if !cleaned.is_empty() {
        // Roll back: step 2 never started, the old segments are whole.
        touched.extend(remove_suffixed_listed(dir, &cleaned, CLEANED_SUFFIX)?);
        touched.extend(remove_suffixed_listed(dir, &swaps, SWAP_SUFFIX)?);
        return Ok(touched);
    }
    for &base in &swaps {
        let next = swap_next_offset(dir, base)?;
        for live in live_bases(dir)?
            .into_iter()
            .filter(|&b| b > base && b < next)
        {
            delete_segment_files(dir, live)?;
            touched.push(file_path(dir, live, FileKind::Log));
        }
        rename_all(dir, &[base], SWAP_SUFFIX, "")?;
        touched.push(file_path(dir, base, FileKind::Log));
    }
    if !swaps.is_empty() {
        sync_dir(dir)?;
    }
    Ok(touched)
}

/// The offset after the last batch of a `.swap` segment.
fn swap_next_offset(dir: &Path, base: i64) -> Result<i64> {
    // Step 3 may have renamed the .log already and not its indexes.
    let swap = suffixed_path(dir, base, FileKind::Log, SWAP_SUFFIX);
    let path = if swap.exists() {
        swap
    } else {
        file_path(dir, base, FileKind::Log)
    };
    let data = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let last = crate::record::batches(&data).map_while(|r| r.ok()).last();
    Ok(last.map_or(base, |(_, b)| b.next_offset()))
}

const SEGMENT_KINDS: [FileKind; 4] = [
    FileKind::Log,
    FileKind::OffsetIndex,
    FileKind::TimeIndex,
    FileKind::TxnIndex,
];

fn rename_all(dir: &Path, bases: &[i64], from: &str, to: &str) -> Result<()> {
    for &base in bases {
        for kind in SEGMENT_KINDS {
            let src = suffixed_path(dir, base, kind, from);
            if src.exists() {
                let dst = suffixed_path(dir, base, kind, to);
                std::fs::rename(&src, &dst).map_err(|e| Error::io(&src, e))?;
            }
        }
    }
    Ok(())
}

fn remove_suffixed(dir: &Path, bases: &[i64], suffix: &str) -> Result<()> {
    remove_suffixed_listed(dir, bases, suffix).map(|_| ())
}

fn remove_suffixed_listed(dir: &Path, bases: &[i64], suffix: &str) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for &base in bases {
        for kind in SEGMENT_KINDS {
            let path = suffixed_path(dir, base, kind, suffix);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
    Ok(removed)
}

/// Base offsets of segments having any file with `suffix`.
fn bases_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<i64>> {
    let mut bases = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some((base, _)) = entry
            .file_name()
            .to_str()
            .and_then(|n| parse_suffixed(n, suffix))
        {
            bases.insert(base);
        }
    }
    Ok(bases.into_iter().collect())
}

fn live_bases(dir: &Path) -> Result<Vec<i64>> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if let Some((base, FileKind::Log)) = entry.file_name().to_str().and_then(parse) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}
