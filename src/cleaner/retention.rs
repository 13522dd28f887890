//! Delete retention for one partition (`cleanup.policy=delete`), on top of
//! [`Partition::delete_old_segments`], plus the queue of `.deleted` files
//! waiting for `file.delete.delay.ms`.
//!
//! The store calls [`apply_retention`] for each partition of a configured
//! topic (a topic without a persisted seglog config, such as imported Kafka
//! data, is never passed in: DESIGN.md section 7 item 9), hands each
//! [`RetentionStats::pending`] to a [`DeletionQueue`], and calls
//! [`DeletionQueue::delete_expired_files`] from its maintenance loop.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::Result;
use crate::partition::{DeletedSegment, Partition, PendingDeletion, RetentionOutcome};

/// What one retention pass over a partition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionStats {
    /// Segments deleted.
    pub segments_deleted: usize,
    /// Bytes of the partition's `.log` files before the pass.
    pub bytes_before: u64,
    /// Bytes of the partition's `.log` files after the pass.
    pub bytes_after: u64,
    /// The log start offset before the pass.
    pub log_start_before: i64,
    /// The log start offset after the pass (persist it in
    /// `log-start-offset-checkpoint`).
    pub log_start_after: i64,
    /// How long the pass took.
    pub elapsed: Duration,
    /// The deleted segments, oldest first, with the rule that deleted each.
    pub deleted: Vec<DeletedSegment>,
    /// Whether the active segment was due and an empty one was rolled.
    pub rolled: bool,
    /// `.deleted` files to remove once due (give them to a
    /// [`DeletionQueue`]); `None` when there are none.
    pub pending: Option<PendingDeletion>,
}

/// Applies delete retention to `partition` at clock time `now_ms`, as
/// Kafka's log manager does for each log: the size and time rules when its
/// `cleanup.policy` contains `delete` (so `compact,delete` topics get both
/// retention and compaction), and always the log start rule, which only
/// deletes segments wholly below the log start offset, invisible to
/// readers. A compact-only topic therefore keeps everything readers can
/// see.
pub fn apply_retention(partition: &Partition, now_ms: i64) -> Result<RetentionStats> {
    let started = Instant::now();
    let bytes_before = partition.size_bytes();
    let outcome = partition.delete_old_segments(now_ms)?;
    Ok(stats(
        outcome,
        bytes_before,
        partition.size_bytes(),
        started,
    ))
}

fn stats(
    outcome: RetentionOutcome,
    bytes_before: u64,
    bytes_after: u64,
    started: Instant,
) -> RetentionStats {
    RetentionStats {
        segments_deleted: outcome.deleted.len(),
        bytes_before,
        bytes_after,
        log_start_before: outcome.log_start_before,
        log_start_after: outcome.log_start,
        elapsed: started.elapsed(),
        deleted: outcome.deleted,
        rolled: outcome.rolled,
        pending: outcome.pending,
    }
}

/// `.deleted` files waiting for `file.delete.delay.ms`, from any number of
/// partitions. `Send + Sync`; one per store is enough.
///
/// Files still queued when the process stops stay as `.deleted` on disk and
/// are removed when their partition is next opened.
#[derive(Debug, Default)]
pub struct DeletionQueue {
    pending: Mutex<Vec<PendingDeletion>>,
}

impl DeletionQueue {
    /// An empty queue.
    pub fn new() -> Self {
        DeletionQueue::default()
    }

    /// Queues files to remove once `pending.due_ms` is reached.
    pub fn push(&self, pending: PendingDeletion) {
        self.pending.lock().push(pending);
    }

    /// How many deletions are queued.
    pub fn len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.pending.lock().is_empty()
    }

    /// The earliest due time queued, to know when to call again.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.pending.lock().iter().map(|p| p.due_ms).min()
    }

    /// Removes the files of every deletion due at `now_ms`; returns how
    /// many files it removed. A deletion whose removal fails stays queued
    /// and the first error is returned after the others were tried.
    pub fn delete_expired_files(&self, now_ms: i64) -> Result<usize> {
        let due: Vec<PendingDeletion> = {
            let mut pending = self.pending.lock();
            let (due, waiting) = std::mem::take(&mut *pending)
                .into_iter()
                .partition(|p| p.is_due(now_ms));
            *pending = waiting;
            due
        };
        self.remove(due)
    }

    /// Removes every queued file now, due or not (for shutdown).
    pub fn delete_all_files(&self) -> Result<usize> {
        let all = std::mem::take(&mut *self.pending.lock());
        self.remove(all)
    }

    fn remove(&self, deletions: Vec<PendingDeletion>) -> Result<usize> {
        let mut removed = 0;
        let mut first_error = None;
        for deletion in deletions {
            match deletion.remove_files() {
                Ok(n) => removed += n,
                Err(e) => {
                    first_error.get_or_insert(e);
                    self.push(deletion);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }
}
