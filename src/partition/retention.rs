//! Delete retention (`cleanup.policy=delete`), Kafka's
//! `UnifiedLog.deleteOldSegments`: whole segments go, oldest first, by three
//! rules applied in Kafka's order, each on the log the previous one left:
//!
//! 1. **log start**: a segment whose successor starts at or below the log
//!    start offset (raised by `delete_records` or a checkpoint);
//! 2. **size**: with `diff = size - retention.bytes` (only when the log is
//!    at least `retention.bytes`), a segment goes while `diff - its size >=
//!    0`, so the log never drops below `retention.bytes`;
//! 3. **time**: a segment whose largest timestamp is more than
//!    `retention.ms` before `now`.
//!
//! Each rule stops at the first segment it keeps. An empty last segment is
//! never deleted; when every segment is due, an empty one is rolled at the
//! log end first, so the log end never moves back. Kafka applies rules 2
//! and 3 only when the policy contains `delete`; rule 1 always (it deletes
//! only what readers can no longer see).
//!
//! Deleting, under the writer lock: the log start moves up to the base
//! offset of the first kept segment and is published (reads below it are
//! `OffsetOutOfRange` from then on), the segment list without the deleted
//! segments is published, their files are renamed `<name>.deleted` (indexes
//! first, the `.log` last, so a crash between renames leaves the `.log`
//! and the segment whole), the directory is synced, producer snapshots
//! below the new log start are deleted, and the `.deleted` files are
//! removed at once when `file.delete.delay.ms` is 0, otherwise handed back
//! as a [`PendingDeletion`] for the caller to remove when it is due.
//! Readers holding a slice of a deleted segment keep reading it: the mapping
//! lives on after the rename and the unlink. Opening a partition removes
//! any `.deleted` file left by a crash.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::log::{Partition, Writer};
use crate::durable_fs::sync_dir;
use crate::error::{Error, Result};
use crate::segment::FileKind;
use crate::segment::file_name::{DELETED_SUFFIX, file_path, suffixed_path};

/// The retention rule that deleted a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionRule {
    /// Every offset of the segment is below the log start offset.
    LogStart,
    /// The partition is over `retention.bytes`.
    Size,
    /// The segment's largest timestamp is older than `retention.ms`.
    Time,
}

/// A segment deleted by retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedSegment {
    /// Its base offset.
    pub base_offset: i64,
    /// The offset after its last batch.
    pub next_offset: i64,
    /// Bytes of its `.log`.
    pub size: u64,
    /// The rule that deleted it.
    pub rule: RetentionRule,
}

/// Segment files renamed `.deleted`, to be removed once `due_ms` is reached
/// (`file.delete.delay.ms` after the deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeletion {
    /// Clock time (ms) from which the files may be removed.
    pub due_ms: i64,
    /// The `.deleted` files.
    pub files: Vec<PathBuf>,
}

impl PendingDeletion {
    /// Whether the files may be removed at `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        now_ms >= self.due_ms
    }

    /// Removes the files (already missing ones are fine: opening the
    /// partition removes `.deleted` files too). Returns how many it removed.
    pub fn remove_files(&self) -> Result<usize> {
        let mut removed = 0;
        for path in &self.files {
            match std::fs::remove_file(path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        Ok(removed)
    }
}

/// What one retention pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// The deleted segments, oldest first.
    pub deleted: Vec<DeletedSegment>,
    /// Bytes of the deleted segments' `.log` files.
    pub bytes_freed: u64,
    /// The log start offset before the pass.
    pub log_start_before: i64,
    /// The log start offset after the pass.
    pub log_start: i64,
    /// Whether an empty segment was rolled at the log end because the
    /// active segment itself was due.
    pub rolled: bool,
    /// The `.deleted` files still to remove (`None` when
    /// `file.delete.delay.ms` is 0 and they are gone already, or when
    /// nothing was deleted).
    pub pending: Option<PendingDeletion>,
}

impl RetentionOutcome {
    fn new(log_start: i64) -> Self {
        RetentionOutcome {
            deleted: Vec::new(),
            bytes_freed: 0,
            log_start_before: log_start,
            log_start,
            rolled: false,
            pending: None,
        }
    }
}

/// What a rule needs to know about a segment.
struct Candidate {
    base: i64,
    next_offset: i64,
    size: u64,
    max_timestamp: i64,
}

/// The segment files renamed `.deleted`, the `.log` last.
const DELETE_ORDER: [FileKind; 4] = [
    FileKind::TimeIndex,
    FileKind::OffsetIndex,
    FileKind::TxnIndex,
    FileKind::Log,
];

impl Partition {
    /// Applies delete retention at clock time `now_ms` as Kafka's
    /// `deleteOldSegments` does: the log start rule always, the size and
    /// time rules when `cleanup.policy` contains `delete`.
    pub fn delete_old_segments(&self, now_ms: i64) -> Result<RetentionOutcome> {
        let rules: &[RetentionRule] = if self.config().cleanup_policy.delete {
            &[
                RetentionRule::LogStart,
                RetentionRule::Size,
                RetentionRule::Time,
            ]
        } else {
            &[RetentionRule::LogStart]
        };
        self.delete_segments_by(rules, now_ms)
    }

    /// Applies the given retention rules, in the order given, at clock time
    /// `now_ms`, whatever the cleanup policy. A rule whose setting is -1
    /// (`retention.ms`, `retention.bytes`) deletes nothing.
    pub fn delete_segments_by(
        &self,
        rules: &[RetentionRule],
        now_ms: i64,
    ) -> Result<RetentionOutcome> {
        let mut writer = self.shared.writer.lock();
        self.check_open(&writer)?;
        let mut outcome = RetentionOutcome::new(self.log_start_offset());
        for &rule in rules {
            let candidates = self.candidates();
            let count = self.deletable_count(rule, &candidates, now_ms);
            if count > 0 {
                self.delete_oldest(
                    &mut writer,
                    &candidates[..count],
                    rule,
                    now_ms,
                    &mut outcome,
                )?;
            }
        }
        outcome.log_start = self.log_start_offset();
        Ok(outcome)
    }

    /// The segments, oldest first.
    fn candidates(&self) -> Vec<Candidate> {
        self.segments()
            .iter()
            .map(|(&base, s)| {
                let s = s.read();
                Candidate {
                    base,
                    next_offset: s.next_offset(),
                    size: s.size(),
                    max_timestamp: s.max_timestamp(),
                }
            })
            .collect()
    }

    /// How many of the oldest segments `rule` deletes.
    fn deletable_count(&self, rule: RetentionRule, candidates: &[Candidate], now_ms: i64) -> usize {
        let config = self.config();
        match rule {
            RetentionRule::LogStart => {
                let start = self.log_start_offset();
                deletable_prefix(candidates, |_, next| next.is_some_and(|n| n.base <= start))
            }
            RetentionRule::Size => size_breach(candidates, config.retention_bytes),
            RetentionRule::Time if config.retention_ms < 0 => 0,
            RetentionRule::Time => deletable_prefix(candidates, |c, _| {
                largest_timestamp(self.dir(), c)
                    .is_some_and(|ts| now_ms.saturating_sub(ts) > config.retention_ms)
            }),
        }
    }

    /// Deletes `doomed`, the oldest segments, as the module docs describe.
    fn delete_oldest(
        &self,
        writer: &mut Writer,
        doomed: &[Candidate],
        rule: RetentionRule,
        now_ms: i64,
        outcome: &mut RetentionOutcome,
    ) -> Result<()> {
        if doomed.len() == self.segments().len() {
            self.roll(writer)?;
            outcome.rolled = true;
        }
        let mut kept = (*self.segments()).clone();
        for c in doomed {
            kept.remove(&c.base);
        }
        let first_kept = *kept.keys().next().ok_or_else(|| self.no_segment_left())?;
        self.shared
            .offsets
            .log_start
            .fetch_max(first_kept, Ordering::AcqRel);
        self.publish_segments(kept);
        let files = rename_deleted(self.dir(), doomed)?;
        sync_dir(self.dir())?;
        self.drop_snapshots_below(first_kept)?;
        for c in doomed {
            outcome.bytes_freed += c.size;
            outcome.deleted.push(DeletedSegment {
                base_offset: c.base,
                next_offset: c.next_offset,
                size: c.size,
                rule,
            });
        }
        self.schedule_removal(files, now_ms, outcome)
    }

    /// Removes the `.deleted` files now, or adds them to the pending ones.
    fn schedule_removal(
        &self,
        files: Vec<PathBuf>,
        now_ms: i64,
        outcome: &mut RetentionOutcome,
    ) -> Result<()> {
        let delay = self.config().file_delete_delay_ms;
        if delay <= 0 {
            return PendingDeletion {
                due_ms: now_ms,
                files,
            }
            .remove_files()
            .map(|_| ());
        }
        let due_ms = now_ms.saturating_add(delay);
        match &mut outcome.pending {
            Some(pending) => pending.files.extend(files),
            None => outcome.pending = Some(PendingDeletion { due_ms, files }),
        }
        Ok(())
    }

    fn no_segment_left(&self) -> Error {
        Error::io(
            self.dir(),
            std::io::Error::other("retention would leave no segment"),
        )
    }
}

/// Kafka's `deletableSegments`: the oldest segments while `deletable`
/// holds, never an empty last segment.
fn deletable_prefix(
    candidates: &[Candidate],
    mut deletable: impl FnMut(&Candidate, Option<&Candidate>) -> bool,
) -> usize {
    let mut count = 0;
    for (i, c) in candidates.iter().enumerate() {
        let next = candidates.get(i + 1);
        let last_and_empty = next.is_none() && c.size == 0;
        if last_and_empty || !deletable(c, next) {
            break;
        }
        count += 1;
    }
    count
}

/// Kafka's size rule: nothing below `retention.bytes`; otherwise segments
/// go while what they free fits in `size - retention.bytes`.
fn size_breach(candidates: &[Candidate], retention_bytes: i64) -> usize {
    let size: u64 = candidates.iter().map(|c| c.size).sum();
    let Ok(retention) = u64::try_from(retention_bytes) else {
        return 0; // -1: no size limit
    };
    let Some(mut diff) = size.checked_sub(retention) else {
        return 0;
    };
    deletable_prefix(candidates, |c, _| match diff.checked_sub(c.size) {
        Some(rest) => {
            diff = rest;
            true
        }
        None => false,
    })
}

/// A segment's largest timestamp; as in Kafka, the `.log` file's
/// modification time when no batch carries a timestamp.
fn largest_timestamp(dir: &Path, c: &Candidate) -> Option<i64> {
    if c.max_timestamp >= 0 {
        return Some(c.max_timestamp);
    }
    let modified = std::fs::metadata(file_path(dir, c.base, FileKind::Log))
        .and_then(|m| m.modified())
        .ok()?;
    let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

/// Renames every file of the `doomed` segments to `<name>.deleted`;
/// returns the new names.
fn rename_deleted(dir: &Path, doomed: &[Candidate]) -> Result<Vec<PathBuf>> {
    let mut renamed = Vec::new();
    for c in doomed {
        for kind in DELETE_ORDER {
            let from = file_path(dir, c.base, kind);
            let to = suffixed_path(dir, c.base, kind, DELETED_SUFFIX);
            match std::fs::rename(&from, &to) {
                Ok(()) => renamed.push(to),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&from, e)),
            }
        }
    }
    Ok(renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(sizes: &[u64]) -> Vec<Candidate> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Candidate {
                base: i as i64 * 10,
                next_offset: i as i64 * 10 + 10,
                size,
                max_timestamp: 0,
            })
            .collect()
    }

    #[test]
    fn size_rule_is_kafkas() {
        // size 400, retention 250: diff 150 frees the first (100) only.
        assert_eq!(size_breach(&segs(&[100, 100, 100, 100]), 250), 1);
        // Exactly at the limit: diff 0 frees nothing.
        assert_eq!(size_breach(&segs(&[100, 100]), 200), 0);
        // Below the limit or no limit.
        assert_eq!(size_breach(&segs(&[100]), 200), 0);
        assert_eq!(size_breach(&segs(&[100, 100]), -1), 0);
        // retention.bytes = 0: everything, the active segment too.
        assert_eq!(size_breach(&segs(&[100, 100, 5]), 0), 3);
        // ... but never an empty last segment.
        assert_eq!(size_breach(&segs(&[100, 100, 0]), 0), 2);
        // Stops at the first segment that does not fit.
        assert_eq!(size_breach(&segs(&[50, 300, 10, 10]), 60), 1);
    }

    #[test]
    fn prefix_stops_at_first_kept() {
        let c = segs(&[1, 1, 1, 1]);
        assert_eq!(deletable_prefix(&c, |c, _| c.base != 10), 1);
        assert_eq!(deletable_prefix(&c, |_, next| next.is_some()), 3);
    }
}
