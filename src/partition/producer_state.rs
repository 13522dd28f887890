//! Idempotent producer state: per producer id, its epoch and its last five
//! batches, so a retried batch is answered with its original offsets, a gap
//! or a zombie is refused, and the state survives restarts through Kafka's
//! `.snapshot` files ([`super::producer_snapshot`]).
//!
//! The rules are Kafka 3.x's (`ProducerStateManager`, `ProducerStateEntry`,
//! `ProducerAppendInfo`, `BatchMetadata`, `UnifiedLog`), checked for a batch
//! a client offers, in this order:
//!
//! 1. A batch without a producer id (`-1`) is not idempotent and not tracked.
//! 2. **Duplicate**: same epoch as the producer's current one and exactly the
//!    first and last sequence of one of the retained batches (at most
//!    [`NUM_BATCHES_TO_RETAIN`] = 5): nothing is appended and the original
//!    offsets are returned ([`Check::Duplicate`]).
//! 3. **Fenced**: an epoch older than the current one
//!    ([`Error::ProducerFenced`]).
//! 4. **Sequence**: a newer epoch must start at sequence 0; the current epoch
//!    must continue at last sequence + 1, wrapping from `i32::MAX` to 0
//!    ([`Error::OutOfOrderSequence`] otherwise, which is also what a retry
//!    older than the five-batch window gets). A producer id the partition
//!    does not know (new, expired, or whose records retention deleted) is
//!    accepted at any sequence, as Kafka 3.x does.
//!
//! Replaying the log ([`ProducerStateManager::replay`]) applies what is
//! written without any check, as Kafka does for replication and recovery.
//!
//! After a restart the state is loaded from the newest usable snapshot
//! ([`ProducerStateManager::load`]), which holds one entry per producer
//! (its last batch), and the five-batch windows are rebuilt by replaying the
//! log from the snapshot's offset (DESIGN.md section 7 item 8).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use super::producer_snapshot::{self, SnapshotEntry};
use crate::error::{BatchError, Error, Result};
use crate::record::{BatchHeader, BatchView, DecodeLimits};

/// Batches retained per producer for duplicate detection (Kafka's
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`, which is also the client's
/// `max.in.flight.requests.per.connection` limit for idempotence).
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// The producer id of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;

/// The epoch of a producer state that has none (Kafka's `NO_PRODUCER_EPOCH`).
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// The sequence of a batch or state that has none (Kafka's `NO_SEQUENCE`).
pub const NO_SEQUENCE: i32 = -1;

/// Default of `producer.id.expiration.ms`: one day.
pub const DEFAULT_PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;

/// `sequence + increment`, wrapping past `i32::MAX` to 0 as Kafka's
/// `DefaultRecordBatch.incrementSequence` (sequences live in `0..=i32::MAX`).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX.wrapping_sub(increment) {
        increment
            .wrapping_sub(i32::MAX.wrapping_sub(sequence))
            .wrapping_sub(1)
    } else {
        sequence.wrapping_add(increment)
    }
}

/// `sequence - decrement`, wrapping below 0 to `i32::MAX` as Kafka's
/// `DefaultRecordBatch.decrementSequence`.
pub fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    if sequence < decrement {
        i32::MAX
            .wrapping_sub(decrement.wrapping_sub(sequence))
            .wrapping_add(1)
    } else {
        sequence.wrapping_sub(decrement)
    }
}

/// The sequence expected after `last` (`0` after `i32::MAX`, and after
/// [`NO_SEQUENCE`]).
pub fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX || last < 0 {
        0
    } else {
        last + 1
    }
}

/// Whether `next` directly continues `last` (Kafka's `inSequence`).
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// One retained batch of a producer, stored as Kafka's `BatchMetadata`:
/// last sequence, last offset, their span and the batch's max timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchMetadata {
    /// Sequence of the batch's last record.
    pub last_seq: i32,
    /// Offset of the batch's last record.
    pub last_offset: i64,
    /// Last offset - first offset (also last sequence - first sequence).
    pub offset_delta: i32,
    /// The batch's max timestamp.
    pub timestamp: i64,
}

impl BatchMetadata {
    /// Sequence of the batch's first record (wrapping as Kafka does).
    pub fn first_seq(&self) -> i32 {
        decrement_sequence(self.last_seq, self.offset_delta)
    }

    /// Offset of the batch's first record.
    pub fn first_offset(&self) -> i64 {
        self.last_offset.wrapping_sub(i64::from(self.offset_delta))
    }
}

/// What the partition knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    producer_id: i64,
    epoch: i16,
    /// Oldest first; at most [`NUM_BATCHES_TO_RETAIN`].
    batches: VecDeque<BatchMetadata>,
    last_timestamp: i64,
    coordinator_epoch: i32,
    current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn empty(producer_id: i64) -> Self {
        ProducerEntry {
            producer_id,
            epoch: NO_PRODUCER_EPOCH,
            batches: VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN),
            last_timestamp: -1,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }

    /// The producer id.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// The producer's current epoch.
    pub fn epoch(&self) -> i16 {
        self.epoch
    }

    /// The retained batches of the current epoch, oldest first (at most
    /// [`NUM_BATCHES_TO_RETAIN`]).
    pub fn batches(&self) -> impl ExactSizeIterator<Item = &BatchMetadata> + '_ {
        self.batches.iter()
    }

    /// The producer's last batch, if any is retained.
    pub fn last_batch(&self) -> Option<&BatchMetadata> {
        self.batches.back()
    }

    /// Sequence of the last record written ([`NO_SEQUENCE`] if none is
    /// retained).
    pub fn last_sequence(&self) -> i32 {
        self.last_batch().map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    /// Timestamp of the producer's last write (batch max timestamp or
    /// transaction marker time); what expiry is measured from.
    pub fn last_timestamp(&self) -> i64 {
        self.last_timestamp
    }

    /// Epoch of the coordinator of the producer's last transaction marker.
    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    /// First offset of the producer's open transaction, if one is open.
    pub fn current_txn_first_offset(&self) -> Option<i64> {
        self.current_txn_first_offset
    }

    /// A new epoch forgets the old epoch's batches (Kafka's
    /// `maybeUpdateProducerEpoch`).
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
    }

    fn push_batch(&mut self, batch: BatchMetadata) {
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }

    fn to_snapshot(&self) -> SnapshotEntry {
        let last = self.last_batch();
        SnapshotEntry {
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            last_sequence: last.map_or(NO_SEQUENCE, |b| b.last_seq),
            last_offset: last.map_or(-1, |b| b.last_offset),
            offset_delta: last.map_or(0, |b| b.offset_delta),
            timestamp: self.last_timestamp,
            coordinator_epoch: self.coordinator_epoch,
            current_txn_first_offset: self.current_txn_first_offset,
        }
    }

    fn from_snapshot(e: &SnapshotEntry) -> Self {
        let mut entry = ProducerEntry::empty(e.producer_id);
        entry.epoch = e.producer_epoch;
        entry.last_timestamp = e.timestamp;
        entry.coordinator_epoch = e.coordinator_epoch;
        entry.current_txn_first_offset = e.current_txn_first_offset;
        if e.has_batch() {
            entry.batches.push_back(BatchMetadata {
                last_seq: e.last_sequence,
                last_offset: e.last_offset,
                offset_delta: e.offset_delta,
                timestamp: e.timestamp,
            });
        }
        entry
    }
}

/// The verdict on a batch about to be appended ([`ProducerStateManager::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Append it (then [`ProducerStateManager::record`] it). Also the answer
    /// for batches without a producer id.
    New,
    /// A retry of a batch already in the log: append nothing and answer with
    /// the original batch's offsets and timestamp.
    Duplicate {
        /// Offset of the original batch's first record.
        base_offset: i64,
        /// Offset of the original batch's last record.
        last_offset: i64,
        /// The original batch's max timestamp.
        timestamp: i64,
    },
}

/// A data batch as written to the log: what [`ProducerStateManager::record`]
/// needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedBatch {
    /// `producerId` ([`NO_PRODUCER_ID`]: not tracked).
    pub producer_id: i64,
    /// `producerEpoch`.
    pub producer_epoch: i16,
    /// `baseSequence`.
    pub base_sequence: i32,
    /// Offset assigned to the first record.
    pub base_offset: i64,
    /// Offset assigned to the last record.
    pub last_offset: i64,
    /// `maxTimestamp` as written (the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// Attribute bit 4.
    pub is_transactional: bool,
}

impl AppendedBatch {
    /// The fields of a batch read from its header.
    pub fn from_header(batch: &impl BatchHeader) -> Self {
        AppendedBatch {
            producer_id: batch.producer_id(),
            producer_epoch: batch.producer_epoch(),
            base_sequence: batch.base_sequence(),
            base_offset: batch.base_offset(),
            last_offset: batch.last_offset(),
            max_timestamp: batch.max_timestamp(),
            is_transactional: batch.is_transactional(),
        }
    }

    /// Last offset - base offset, as Kafka's `BatchMetadata.offsetDelta`
    /// (clamped into `0..=i32::MAX`; a v2 batch cannot span more).
    fn offset_delta(&self) -> i32 {
        let delta = self.last_offset.wrapping_sub(self.base_offset);
        i32::try_from(delta.max(0)).unwrap_or(i32::MAX)
    }
}

/// The producer state of one partition.
///
/// Not synchronized: the partition keeps it under its writer lock, calling
/// [`check`](Self::check) before an append and [`record`](Self::record)
/// after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerEntry>,
    /// The state reflects every tracked batch below this offset (Kafka's
    /// `lastMapOffset`): one past the last recorded batch, or the offset of
    /// the snapshot it was loaded from.
    map_end_offset: i64,
}

/// The state loaded from a partition directory's snapshots
/// ([`ProducerStateManager::load`]).
#[derive(Debug)]
pub struct LoadedState {
    /// The state as of [`replay_from`](Self::replay_from).
    pub state: ProducerStateManager,
    /// The offset of the snapshot used, if one was usable.
    pub snapshot_offset: Option<i64>,
    /// Replay every batch whose last offset is at or above this offset
    /// (the snapshot's offset, or the log start offset without a snapshot)
    /// through [`ProducerStateManager::replay`] to complete the state.
    pub replay_from: i64,
    /// Snapshots skipped as corrupt ([`Error::CorruptSnapshot`]), newest
    /// first; the caller may delete them, as Kafka does.
    pub skipped: Vec<Error>,
}

impl ProducerStateManager {
    /// An empty state (no producers, map end offset 0).
    pub fn new() -> Self {
        ProducerStateManager::default()
    }

    /// Decides what to do with a batch about to be appended: its producer
    /// id, epoch, base sequence and record count. See the module docs for the
    /// rules; nothing is changed.
    ///
    /// # Errors
    /// [`Error::ProducerFenced`] for an epoch older than the producer's
    /// current one; [`Error::OutOfOrderSequence`] for a gap, a new epoch not
    /// starting at 0, or a retry older than the retained window;
    /// [`Error::InvalidBatch`] for a batch with a producer id but no sequence
    /// (Kafka refuses those from clients as invalid records).
    pub fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        record_count: i32,
    ) -> Result<Check> {
        if producer_id < 0 {
            return Ok(Check::New);
        }
        if base_sequence < 0 {
            return Err(Error::InvalidBatch(BatchError::NotAccepted(
                "batch with a producer id but no base sequence",
            )));
        }
        let Some(entry) = self.producers.get(&producer_id) else {
            // Unknown producer id: Kafka 3.x accepts any sequence.
            return Ok(Check::New);
        };
        let last_seq = increment_sequence(base_sequence, record_count.saturating_sub(1).max(0));
        if epoch == entry.epoch
            && let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq() == base_sequence && b.last_seq == last_seq)
        {
            return Ok(Check::Duplicate {
                base_offset: dup.first_offset(),
                last_offset: dup.last_offset,
                timestamp: dup.timestamp,
            });
        }
        if epoch < entry.epoch {
            return Err(Error::ProducerFenced {
                producer_id,
                epoch,
                current_epoch: entry.epoch,
            });
        }
        if entry.epoch == NO_PRODUCER_EPOCH {
            // A state without an epoch (only from a snapshot): any sequence.
            return Ok(Check::New);
        }
        let expected = if epoch != entry.epoch {
            0
        } else {
            next_sequence(entry.last_sequence())
        };
        let ok = if epoch != entry.epoch {
            base_sequence == 0
        } else {
            in_sequence(entry.last_sequence(), base_sequence)
        };
        if ok {
            Ok(Check::New)
        } else {
            Err(Error::OutOfOrderSequence {
                producer_id,
                expected,
                got: base_sequence,
            })
        }
    }

    /// Records a data batch just appended (after [`check`](Self::check)
    /// answered [`Check::New`]). A new epoch resets the producer's window.
    /// Batches without a producer id are ignored.
    pub fn record(&mut self, batch: &AppendedBatch) {
        if batch.producer_id < 0 {
            return;
        }
        let offset_delta = batch.offset_delta();
        let last_seq = if batch.base_sequence < 0 {
            NO_SEQUENCE
        } else {
            increment_sequence(batch.base_sequence, offset_delta)
        };
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry::empty(batch.producer_id));
        entry.set_epoch(batch.producer_epoch);
        entry.push_batch(BatchMetadata {
            last_seq,
            last_offset: batch.last_offset,
            offset_delta,
            timestamp: batch.max_timestamp,
        });
        entry.last_timestamp = batch.max_timestamp;
        if batch.is_transactional && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(batch.base_offset);
        }
        self.advance_map_end_offset(batch.last_offset.saturating_add(1));
    }

    /// Applies a batch read from the log, without any check (recovery,
    /// rebuilding the window after loading a snapshot, imported data): data
    /// batches as [`record`](Self::record); a transaction marker (control
    /// batch with an ABORT or COMMIT record) sets the producer's epoch,
    /// coordinator epoch and last timestamp and closes its open transaction,
    /// as Kafka does. Other control batches and batches without a producer
    /// id leave the state unchanged.
    pub fn replay(&mut self, batch: &impl BatchHeader) {
        if batch.producer_id() < 0 {
            return;
        }
        if !batch.is_control() {
            self.record(&AppendedBatch::from_header(batch));
            return;
        }
        let Some(marker) = end_txn_marker(batch) else {
            // Empty (cleaned) or unreadable control batch: nothing to apply.
            return;
        };
        let producer_id = batch.producer_id();
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerEntry::empty(producer_id));
        entry.set_epoch(batch.producer_epoch());
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.last_timestamp = marker.timestamp;
        entry.current_txn_first_offset = None;
        self.advance_map_end_offset(batch.last_offset().saturating_add(1));
    }

    /// One snapshot entry per producer, its last batch (Kafka's snapshot
    /// content), ordered by producer id.
    pub fn to_snapshot(&self) -> Vec<SnapshotEntry> {
        self.producers
            .values()
            .map(ProducerEntry::to_snapshot)
            .collect()
    }

    /// The state a snapshot taken at `snapshot_offset` describes: each
    /// producer with its last batch only. Replay the log from
    /// `snapshot_offset` to rebuild the five-batch windows. Later entries for
    /// the same producer id replace earlier ones (as Kafka loads them).
    /// Expired producers are kept: call
    /// [`remove_expired`](Self::remove_expired) before replaying to drop them
    /// as Kafka does at load.
    pub fn from_snapshot(snapshot_offset: i64, entries: &[SnapshotEntry]) -> Self {
        let producers = entries
            .iter()
            .map(|e| (e.producer_id, ProducerEntry::from_snapshot(e)))
            .collect();
        ProducerStateManager {
            producers,
            map_end_offset: snapshot_offset,
        }
    }

    /// Writes [`to_snapshot`](Self::to_snapshot) to `<dir>/<offset>.snapshot`
    /// atomically and returns the path. `offset` is the log end offset the
    /// state reflects (Kafka takes one when a segment rolls, named by the new
    /// segment's base offset).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file or directory that failed.
    pub fn write_snapshot(&self, dir: impl AsRef<Path>, offset: i64) -> Result<PathBuf> {
        let path = producer_snapshot::snapshot_path(dir, offset);
        producer_snapshot::write_snapshot(&path, &self.to_snapshot())?;
        Ok(path)
    }

    /// Loads the state from the newest usable snapshot of a partition
    /// directory whose offset lies in `log_start_offset..=end_offset`;
    /// corrupt snapshots are skipped (reported in
    /// [`LoadedState::skipped`], not deleted: the caller decides). Without a
    /// usable snapshot the state is empty and replay starts at
    /// `log_start_offset`. Reads only; changes nothing on disk.
    ///
    /// After a truncation to `end_offset`, or at recovery, the partition
    /// calls this, deletes the snapshots above `end_offset`
    /// ([`producer_snapshot::delete_snapshots_above`]), then replays
    /// the batches from [`LoadedState::replay_from`] up to `end_offset`.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory or a snapshot cannot be read.
    pub fn load(
        dir: impl AsRef<Path>,
        log_start_offset: i64,
        end_offset: i64,
    ) -> Result<LoadedState> {
        let dir = dir.as_ref();
        let mut skipped = Vec::new();
        let offsets = producer_snapshot::snapshot_offsets(dir)?;
        for &offset in offsets.iter().rev() {
            if offset > end_offset || offset < log_start_offset {
                continue;
            }
            match producer_snapshot::read_snapshot(producer_snapshot::snapshot_path(dir, offset)) {
                Ok(entries) => {
                    return Ok(LoadedState {
                        state: ProducerStateManager::from_snapshot(offset, &entries),
                        snapshot_offset: Some(offset),
                        replay_from: offset,
                        skipped,
                    });
                }
                Err(e @ Error::CorruptSnapshot { .. }) => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        Ok(LoadedState {
            state: ProducerStateManager {
                producers: BTreeMap::new(),
                map_end_offset: log_start_offset,
            },
            snapshot_offset: None,
            replay_from: log_start_offset,
            skipped,
        })
    }

    /// Drops the producers whose last write is at least
    /// `producer_id_expiration_ms` older than `now_ms` (Kafka's
    /// `producer.id.expiration.ms`, default
    /// [`DEFAULT_PRODUCER_ID_EXPIRATION_MS`]), except those with an open
    /// transaction. Returns how many were dropped.
    pub fn remove_expired(&mut self, now_ms: i64, producer_id_expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < producer_id_expiration_ms
        });
        before - self.producers.len()
    }

    /// The highest producer id known, for the persisted producer id
    /// allocator (DESIGN.md section 7 item 7).
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.last_key_value().map(|(&id, _)| id)
    }

    /// Adapts the state to a log truncated to `end_offset` (every offset at
    /// or above it removed). Returns `true` when the state is unaffected
    /// (nothing tracked was at or above `end_offset`). Otherwise the state is
    /// cleared and `false` is returned: what the truncated batches replaced
    /// (older batches, an older epoch) is only known to the log, so the
    /// partition rebuilds with [`load`](Self::load) and
    /// [`replay`](Self::replay), as Kafka's `truncateAndReload` does.
    pub fn truncate_to(&mut self, end_offset: i64) -> bool {
        if end_offset >= self.map_end_offset {
            return true;
        }
        self.clear();
        self.map_end_offset = end_offset;
        false
    }

    /// Forgets every producer.
    pub fn clear(&mut self) {
        self.producers.clear();
    }

    /// The state reflects every tracked batch below this offset (Kafka's
    /// map end offset).
    pub fn map_end_offset(&self) -> i64 {
        self.map_end_offset
    }

    /// Moves the map end offset forward to `offset` (after replaying a range
    /// without tracked batches, or after appends the state ignores); never
    /// moves it back.
    pub fn advance_map_end_offset(&mut self, offset: i64) {
        self.map_end_offset = self.map_end_offset.max(offset);
    }

    /// The state of one producer id.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every producer, by ascending id.
    pub fn producers(&self) -> impl ExactSizeIterator<Item = &ProducerEntry> + '_ {
        self.producers.values()
    }

    /// Number of producers known.
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    /// Whether no producer is known.
    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

/// What a transaction marker record says.
struct EndTxnMarker {
    coordinator_epoch: i32,
    timestamp: i64,
}

/// Reads the ABORT/COMMIT marker of a control batch: key = version i16 and
/// type i16 (0 abort, 1 commit), value = version i16 and coordinator epoch
/// i32 (Kafka's `EndTransactionMarker`). `None` for an empty batch, another
/// control type, or bytes that do not decode.
fn end_txn_marker(batch: &impl BatchHeader) -> Option<EndTxnMarker> {
    let view = BatchView::parse(batch.batch_bytes()).ok()?;
    let records = view.records(&DecodeLimits::default()).ok()?;
    let record = records.iter().next()?.ok()?;
    let key = record.key()?;
    let control_type = i16::from_be_bytes([*key.get(2)?, *key.get(3)?]);
    if !(0..=1).contains(&control_type) {
        return None;
    }
    let value = record.value()?;
    let epoch = value.get(2..6)?;
    Some(EndTxnMarker {
        coordinator_epoch: i32::from_be_bytes([epoch[0], epoch[1], epoch[2], epoch[3]]),
        timestamp: record.timestamp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchBuilder, Record};
    use proptest::prelude::*;

    fn batch(pid: i64, epoch: i16, base_seq: i32, base_offset: i64, count: i32) -> AppendedBatch {
        AppendedBatch {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: base_seq,
            base_offset,
            last_offset: base_offset + i64::from(count) - 1,
            max_timestamp: 1_000 + base_offset,
            is_transactional: false,
        }
    }

    /// Checks then records; returns the check.
    fn append(
        s: &mut ProducerStateManager,
        pid: i64,
        epoch: i16,
        seq: i32,
        offset: i64,
        count: i32,
    ) -> Result<Check> {
        let check = s.check(pid, epoch, seq, count)?;
        if check == Check::New {
            s.record(&batch(pid, epoch, seq, offset, count));
        }
        Ok(check)
    }

    fn out_of_order(expected: i32, got: i32) -> impl Fn(&Error) -> bool {
        move |e| matches!(e, Error::OutOfOrderSequence { expected: x, got: g, .. } if *x == expected && *g == got)
    }

    #[test]
    fn each_of_the_last_five_batches_is_a_duplicate_not_the_sixth() {
        let mut s = ProducerStateManager::new();
        // Six batches of 2 records: sequences 0-1, 2-3, ..., 10-11, offsets 100.. with a
        // foreign batch between each.
        for i in 0..6 {
            let check = append(&mut s, 7, 0, i * 2, 100 + i64::from(i) * 3, 2).unwrap();
            assert_eq!(check, Check::New);
        }
        assert_eq!(s.entry(7).unwrap().batches().len(), NUM_BATCHES_TO_RETAIN);
        for i in 1..6 {
            let base_offset = 100 + i64::from(i) * 3;
            assert_eq!(
                s.check(7, 0, i * 2, 2).unwrap(),
                Check::Duplicate {
                    base_offset,
                    last_offset: base_offset + 1,
                    timestamp: 1_000 + base_offset,
                },
                "batch {i}"
            );
        }
        let err = s.check(7, 0, 0, 2).unwrap_err();
        assert!(out_of_order(12, 0)(&err), "{err:?}");
        // Same first sequence but a different length is no duplicate.
        let err = s.check(7, 0, 10, 1).unwrap_err();
        assert!(out_of_order(12, 10)(&err), "{err:?}");
        // The next batch continues.
        assert_eq!(s.check(7, 0, 12, 5).unwrap(), Check::New);
    }

    #[test]
    fn a_gap_is_out_of_order() {
        let mut s = ProducerStateManager::new();
        append(&mut s, 1, 0, 0, 0, 5).unwrap();
        let err = s.check(1, 0, 6, 1).unwrap_err();
        assert!(out_of_order(5, 6)(&err), "{err:?}");
        assert_eq!(
            err.to_string(),
            "out of order sequence for producer 1: expected 5, got 6"
        );
        // Nothing changed.
        assert_eq!(s.check(1, 0, 5, 1).unwrap(), Check::New);
    }

    #[test]
    fn an_old_epoch_is_fenced_even_for_a_retry() {
        let mut s = ProducerStateManager::new();
        append(&mut s, 3, 1, 0, 0, 2).unwrap();
        append(&mut s, 3, 2, 0, 2, 2).unwrap();
        let err = s.check(3, 1, 0, 2).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ProducerFenced {
                    producer_id: 3,
                    epoch: 1,
                    current_epoch: 2
                }
            ),
            "{err:?}"
        );
        let err = s.check(3, 1, 2, 1).unwrap_err();
        assert!(matches!(err, Error::ProducerFenced { .. }), "{err:?}");
    }

    #[test]
    fn a_new_epoch_must_restart_at_zero() {
        let mut s = ProducerStateManager::new();
        append(&mut s, 3, 0, 0, 0, 4).unwrap();
        let err = s.check(3, 1, 4, 1).unwrap_err();
        assert!(out_of_order(0, 4)(&err), "{err:?}");
        assert_eq!(append(&mut s, 3, 1, 0, 4, 1).unwrap(), Check::New);
        // The old epoch's window is gone; its retry is fenced now.
        assert_eq!(s.entry(3).unwrap().batches().len(), 1);
        assert!(matches!(
            s.check(3, 0, 0, 4).unwrap_err(),
            Error::ProducerFenced { .. }
        ));
        assert_eq!(s.check(3, 1, 1, 1).unwrap(), Check::New);
        assert_eq!(
            s.check(3, 1, 0, 1).unwrap(),
            Check::Duplicate {
                base_offset: 4,
                last_offset: 4,
                timestamp: 1_004,
            }
        );
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 4), 2);
        assert_eq!(decrement_sequence(2, 4), i32::MAX - 1);
        assert_eq!(decrement_sequence(0, 0), 0);
        assert_eq!(next_sequence(i32::MAX), 0);

        let mut s = ProducerStateManager::new();
        // An unknown producer may start anywhere: just below the wrap.
        append(&mut s, 9, 0, i32::MAX - 2, 0, 2).unwrap(); // MAX-2 ..= MAX-1
        // A batch spanning the wrap: MAX, 0, 1.
        assert_eq!(append(&mut s, 9, 0, i32::MAX, 2, 3).unwrap(), Check::New);
        let last = s.entry(9).unwrap().last_batch().copied().unwrap();
        assert_eq!((last.first_seq(), last.last_seq), (i32::MAX, 1));
        assert_eq!(
            s.check(9, 0, i32::MAX, 3).unwrap(),
            Check::Duplicate {
                base_offset: 2,
                last_offset: 4,
                timestamp: 1_002
            }
        );
        let err = s.check(9, 0, 3, 1).unwrap_err();
        assert!(out_of_order(2, 3)(&err), "{err:?}");
        assert_eq!(append(&mut s, 9, 0, 2, 5, 1).unwrap(), Check::New);

        // Exactly at the wrap: last = MAX, next = 0.
        let mut s = ProducerStateManager::new();
        append(&mut s, 1, 0, i32::MAX, 0, 1).unwrap();
        assert_eq!(s.check(1, 0, 0, 1).unwrap(), Check::New);
        let err = s.check(1, 0, 1, 1).unwrap_err();
        assert!(out_of_order(0, 1)(&err), "{err:?}");
    }

    #[test]
    fn unknown_and_untracked_producers() {
        let mut s = ProducerStateManager::new();
        // Kafka 3.x: a producer id without state may start at any sequence.
        assert_eq!(s.check(5, 0, 42, 3).unwrap(), Check::New);
        assert_eq!(s.check(5, 7, 0, 3).unwrap(), Check::New);
        // No producer id: not idempotent, not tracked.
        assert_eq!(s.check(NO_PRODUCER_ID, -1, -1, 3).unwrap(), Check::New);
        s.record(&batch(NO_PRODUCER_ID, -1, -1, 0, 3));
        assert!(s.is_empty());
        assert_eq!(s.map_end_offset(), 0);
        // A producer id without a sequence is an invalid batch.
        assert!(matches!(
            s.check(5, 0, -1, 1).unwrap_err(),
            Error::InvalidBatch(BatchError::NotAccepted(_))
        ));
    }

    #[test]
    fn snapshot_keeps_each_producers_last_batch() {
        let mut s = ProducerStateManager::new();
        for i in 0..3 {
            append(&mut s, 2, 4, i * 10, i64::from(i) * 10, 10).unwrap();
        }
        append(&mut s, 1, 0, 0, 30, 1).unwrap();
        let snap = s.to_snapshot();
        assert_eq!(
            snap,
            vec![
                SnapshotEntry {
                    producer_id: 1,
                    producer_epoch: 0,
                    last_sequence: 0,
                    last_offset: 30,
                    offset_delta: 0,
                    timestamp: 1_030,
                    coordinator_epoch: -1,
                    current_txn_first_offset: None,
                },
                SnapshotEntry {
                    producer_id: 2,
                    producer_epoch: 4,
                    last_sequence: 29,
                    last_offset: 29,
                    offset_delta: 9,
                    timestamp: 1_020,
                    coordinator_epoch: -1,
                    current_txn_first_offset: None,
                },
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let path = s.write_snapshot(dir.path(), 31).unwrap();
        let loaded = ProducerStateManager::from_snapshot(
            31,
            &producer_snapshot::read_snapshot(&path).unwrap(),
        );
        assert_eq!(loaded.to_snapshot(), snap);
        assert_eq!(loaded.map_end_offset(), 31);
        // Only the last batch is known until the log is replayed.
        assert_eq!(
            loaded.check(2, 4, 20, 10).unwrap(),
            Check::Duplicate {
                base_offset: 20,
                last_offset: 29,
                timestamp: 1_020
            }
        );
        assert!(loaded.check(2, 4, 10, 10).is_err());
        assert_eq!(loaded.check(2, 4, 30, 1).unwrap(), Check::New);
    }

    #[test]
    fn snapshot_entry_without_batch() {
        let entry = SnapshotEntry {
            producer_id: 4,
            producer_epoch: 2,
            last_sequence: -1,
            last_offset: -1,
            offset_delta: 0,
            timestamp: 5,
            coordinator_epoch: 3,
            current_txn_first_offset: None,
        };
        let s = ProducerStateManager::from_snapshot(10, &[entry]);
        assert_eq!(s.entry(4).unwrap().batches().len(), 0);
        assert_eq!(s.to_snapshot(), vec![entry]);
        // Same epoch with no batch: the sequence must start at 0.
        assert!(s.check(4, 2, 3, 1).is_err());
        assert_eq!(s.check(4, 2, 0, 1).unwrap(), Check::New);
    }

    #[test]
    fn expiry_follows_last_timestamp() {
        let mut s = ProducerStateManager::new();
        append(&mut s, 1, 0, 0, 0, 1).unwrap(); // ts 1000
        append(&mut s, 2, 0, 0, 500, 1).unwrap(); // ts 1500
        let mut txn = batch(3, 0, 0, 600, 1); // ts 1600, open transaction
        txn.is_transactional = true;
        s.record(&txn);
        assert_eq!(s.entry(3).unwrap().current_txn_first_offset(), Some(600));
        assert_eq!(s.remove_expired(1_999, 1_000), 0);
        assert_eq!(s.remove_expired(2_000, 1_000), 1); // >= : expired exactly at the limit
        assert!(s.entry(1).is_none() && s.entry(2).is_some());
        assert_eq!(
            s.remove_expired(i64::MAX, DEFAULT_PRODUCER_ID_EXPIRATION_MS),
            1
        );
        assert_eq!(s.len(), 1, "the open transaction keeps producer 3");
        assert_eq!(s.remove_expired(i64::MIN, 1), 0);
    }

    #[test]
    fn max_producer_id() {
        let mut s = ProducerStateManager::new();
        assert_eq!(s.max_producer_id(), None);
        for pid in [5, 900, 12] {
            append(&mut s, pid, 0, 0, pid, 1).unwrap();
        }
        assert_eq!(s.max_producer_id(), Some(900));
    }

    #[test]
    fn truncation() {
        let mut s = ProducerStateManager::new();
        append(&mut s, 1, 0, 0, 0, 5).unwrap();
        append(&mut s, 1, 0, 5, 10, 5).unwrap();
        assert_eq!(s.map_end_offset(), 15);
        assert!(s.truncate_to(15));
        assert!(s.truncate_to(20));
        assert_eq!(s.len(), 1);
        assert!(!s.truncate_to(14));
        assert!(s.is_empty());
        assert_eq!(s.map_end_offset(), 14);
    }

    fn built(
        base_offset: i64,
        pid: i64,
        epoch: i16,
        seq: i32,
        count: usize,
        txn: bool,
    ) -> crate::record::RecordBatch {
        let mut b = BatchBuilder::new(base_offset)
            .producer(pid, epoch, seq)
            .transactional(txn);
        for i in 0..count {
            b.push(&Record::new(2_000 + i as i64, "v")).unwrap();
        }
        crate::record::RecordBatch::from_bytes(b.build().unwrap().into()).unwrap()
    }

    fn marker(
        base_offset: i64,
        pid: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> crate::record::RecordBatch {
        let mut b = BatchBuilder::new(base_offset)
            .producer(pid, epoch, -1)
            .transactional(true)
            .control(true);
        let key = [0, 0, 0, u8::from(commit)];
        let mut value = vec![0, 0];
        value.extend_from_slice(&coordinator_epoch.to_be_bytes());
        b.push(&Record::keyed(9_000, key.to_vec(), value)).unwrap();
        crate::record::RecordBatch::from_bytes(b.build().unwrap().into()).unwrap()
    }

    #[test]
    fn replay_of_data_and_transaction_markers() {
        let mut s = ProducerStateManager::new();
        s.replay(&built(0, 8, 0, 0, 3, false));
        s.replay(&built(3, -1, -1, -1, 2, false));
        s.replay(&built(5, 8, 0, 3, 2, true));
        s.replay(&built(7, 8, 0, 5, 1, true));
        let e = s.entry(8).unwrap();
        assert_eq!(e.current_txn_first_offset(), Some(5));
        assert_eq!(e.last_sequence(), 5);
        assert_eq!(e.last_timestamp(), 2_000);
        assert_eq!(s.map_end_offset(), 8);

        s.replay(&marker(8, 8, 0, true, 17));
        let e = s.entry(8).unwrap();
        assert_eq!(e.current_txn_first_offset(), None);
        assert_eq!(e.coordinator_epoch(), 17);
        assert_eq!(e.last_timestamp(), 9_000);
        assert_eq!(
            e.batches().len(),
            3,
            "a marker of the same epoch keeps the window"
        );
        assert_eq!(s.map_end_offset(), 9);

        // An abort marker with a bumped epoch resets the window.
        s.replay(&marker(9, 8, 1, false, 18));
        let e = s.entry(8).unwrap();
        assert_eq!(
            (e.epoch(), e.batches().len(), e.coordinator_epoch()),
            (1, 0, 18)
        );
        assert_eq!(s.check(8, 1, 0, 1).unwrap(), Check::New);
        assert!(s.check(8, 1, 6, 1).is_err());

        // Replay accepts whatever the log holds, gaps and older epochs included.
        s.replay(&built(10, 8, 1, 100, 1, false));
        s.replay(&built(11, 8, 0, 7, 1, false));
        assert_eq!(s.entry(8).unwrap().epoch(), 0);
    }

    #[test]
    fn load_picks_the_newest_usable_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let loaded = ProducerStateManager::load(d, 5, 100).unwrap();
        assert_eq!((loaded.snapshot_offset, loaded.replay_from), (None, 5));
        assert!(loaded.state.is_empty() && loaded.skipped.is_empty());

        let mut s = ProducerStateManager::new();
        append(&mut s, 1, 0, 0, 0, 10).unwrap();
        s.write_snapshot(d, 10).unwrap();
        append(&mut s, 1, 0, 10, 10, 10).unwrap();
        s.write_snapshot(d, 20).unwrap();
        append(&mut s, 1, 0, 20, 20, 10).unwrap();
        s.write_snapshot(d, 30).unwrap();
        // Corrupt the snapshot at 20.
        let p20 = producer_snapshot::snapshot_path(d, 20);
        let mut bytes = std::fs::read(&p20).unwrap();
        bytes[20] ^= 0x40;
        std::fs::write(&p20, bytes).unwrap();

        let loaded = ProducerStateManager::load(d, 0, 30).unwrap();
        assert_eq!((loaded.snapshot_offset, loaded.replay_from), (Some(30), 30));
        assert_eq!(loaded.state.entry(1).unwrap().last_sequence(), 29);

        let loaded = ProducerStateManager::load(d, 0, 25).unwrap();
        assert_eq!((loaded.snapshot_offset, loaded.replay_from), (Some(10), 10));
        assert_eq!(loaded.skipped.len(), 1);
        assert!(matches!(&loaded.skipped[0], Error::CorruptSnapshot { path, .. } if *path == p20));
        assert_eq!(loaded.state.entry(1).unwrap().last_sequence(), 9);

        let loaded = ProducerStateManager::load(d, 11, 25).unwrap();
        assert_eq!((loaded.snapshot_offset, loaded.replay_from), (None, 11));
        assert_eq!(
            producer_snapshot::snapshot_offsets(d).unwrap(),
            vec![10, 20, 30]
        );
    }

    // ---- model-based test ----

    /// A deliberately simple model: every batch of the current epoch is
    /// kept, the window is "the last five of them".
    /// A batch as the model keeps it: first and last sequence, first and
    /// last offset, timestamp.
    type ModelBatch = (i32, i32, i64, i64, i64);

    #[derive(Default)]
    struct Model {
        producers: BTreeMap<i64, (i16, Vec<ModelBatch>)>,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Verdict {
        New,
        Duplicate(i64, i64, i64),
        Fenced(i16),
        OutOfOrder(i32),
    }

    impl Model {
        fn seq_add(seq: i32, n: i32) -> i32 {
            ((i64::from(seq) + i64::from(n)) % (1i64 << 31)) as i32
        }

        fn check(&self, pid: i64, epoch: i16, seq: i32, count: i32) -> Verdict {
            let Some((cur, batches)) = self.producers.get(&pid) else {
                return Verdict::New;
            };
            let last = Self::seq_add(seq, count - 1);
            if epoch == *cur {
                let window = &batches[batches.len().saturating_sub(5)..];
                if let Some(b) = window.iter().find(|b| b.0 == seq && b.1 == last) {
                    return Verdict::Duplicate(b.2, b.3, b.4);
                }
            }
            if epoch < *cur {
                return Verdict::Fenced(*cur);
            }
            let expected = if epoch > *cur {
                0
            } else {
                batches.last().map_or(0, |b| Self::seq_add(b.1, 1))
            };
            if seq == expected {
                Verdict::New
            } else {
                Verdict::OutOfOrder(expected)
            }
        }

        fn record(&mut self, pid: i64, epoch: i16, seq: i32, count: i32, offset: i64, ts: i64) {
            let p = self.producers.entry(pid).or_insert((epoch, Vec::new()));
            if p.0 != epoch {
                *p = (epoch, Vec::new());
            }
            let last_offset = offset + i64::from(count) - 1;
            p.1.push((seq, Self::seq_add(seq, count - 1), offset, last_offset, ts));
        }
    }

    #[derive(Debug, Clone)]
    enum Action {
        /// The next batch in sequence.
        Send { producer: usize, count: i32 },
        /// Resend the batch sent `back` sends ago (accepted or not).
        Retry { producer: usize, back: usize },
        /// Skip some sequences.
        Gap {
            producer: usize,
            skip: i32,
            count: i32,
        },
        /// Bump the epoch (the sequence restarts at 0), possibly wrongly not at 0.
        Bump { producer: usize, wrong_start: bool },
        /// A zombie with the previous epoch.
        Zombie { producer: usize },
    }

    fn action() -> impl Strategy<Value = Action> {
        let p = 0usize..3;
        prop_oneof![
            6 => (p.clone(), 1i32..5).prop_map(|(producer, count)| Action::Send { producer, count }),
            3 => (p.clone(), 0usize..8).prop_map(|(producer, back)| Action::Retry { producer, back }),
            1 => (p.clone(), 1i32..4, 1i32..3).prop_map(|(producer, skip, count)| Action::Gap { producer, skip, count }),
            1 => (p.clone(), any::<bool>()).prop_map(|(producer, wrong_start)| Action::Bump { producer, wrong_start }),
            1 => p.prop_map(|producer| Action::Zombie { producer }),
        ]
    }

    struct Client {
        pid: i64,
        epoch: i16,
        next_seq: i32,
        sent: Vec<(i16, i32, i32)>,
    }

    fn verdict(r: Result<Check>) -> Verdict {
        match r {
            Ok(Check::New) => Verdict::New,
            Ok(Check::Duplicate {
                base_offset,
                last_offset,
                timestamp,
            }) => Verdict::Duplicate(base_offset, last_offset, timestamp),
            Err(Error::ProducerFenced { current_epoch, .. }) => Verdict::Fenced(current_epoch),
            Err(Error::OutOfOrderSequence { expected, .. }) => Verdict::OutOfOrder(expected),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random traffic from 1-3 producers (in order, retries, gaps, epoch
        /// bumps, zombies, sequences near the wrap) gets the same verdict from
        /// the state as from the model, and the snapshot and the replayed log
        /// agree with the live state.
        #[test]
        fn state_machine_matches_model(
            starts in proptest::collection::vec(prop_oneof![Just(0i32), Just(i32::MAX - 6), 0..1000], 3),
            actions in proptest::collection::vec(action(), 1..80),
            snapshot_at in 0usize..80,
        ) {
            let mut clients: Vec<Client> = starts
                .iter()
                .enumerate()
                .map(|(i, &s)| Client { pid: 1000 + i as i64, epoch: 1, next_seq: s, sent: Vec::new() })
                .collect();
            let mut state = ProducerStateManager::new();
            let mut model = Model::default();
            let mut log: Vec<AppendedBatch> = Vec::new();
            let mut offset = 0i64;
            let mut snapshot: Option<(i64, Vec<SnapshotEntry>, usize)> = None;

            for (step, a) in actions.iter().enumerate() {
                if step == snapshot_at {
                    snapshot = Some((offset, state.to_snapshot(), log.len()));
                }
                let (producer, epoch, seq, count) = match *a {
                    Action::Send { producer, count } => {
                        let c = &clients[producer];
                        (producer, c.epoch, c.next_seq, count)
                    }
                    Action::Retry { producer, back } => {
                        let c = &clients[producer];
                        let Some(&(e, s, n)) = c.sent.iter().rev().nth(back) else { continue };
                        (producer, e, s, n)
                    }
                    Action::Gap { producer, skip, count } => {
                        let c = &clients[producer];
                        (producer, c.epoch, Model::seq_add(c.next_seq, skip), count)
                    }
                    Action::Bump { producer, wrong_start } => {
                        let c = &mut clients[producer];
                        c.epoch += 1;
                        c.next_seq = 0;
                        (producer, c.epoch, if wrong_start { 3 } else { 0 }, 1)
                    }
                    Action::Zombie { producer } => {
                        let c = &clients[producer];
                        (producer, c.epoch - 1, c.next_seq, 1)
                    }
                };
                let pid = clients[producer].pid;
                let expected = model.check(pid, epoch, seq, count);
                let got = verdict(state.check(pid, epoch, seq, count));
                prop_assert_eq!(&got, &expected, "step {} {:?}", step, a);
                clients[producer].sent.push((epoch, seq, count));
                if got == Verdict::New {
                    let ts = 10_000 + offset;
                    let b = AppendedBatch {
                        producer_id: pid,
                        producer_epoch: epoch,
                        base_sequence: seq,
                        base_offset: offset,
                        last_offset: offset + i64::from(count) - 1,
                        max_timestamp: ts,
                        is_transactional: false,
                    };
                    state.record(&b);
                    model.record(pid, epoch, seq, count, offset, ts);
                    log.push(b);
                    let c = &mut clients[producer];
                    c.epoch = epoch.max(c.epoch);
                    c.next_seq = Model::seq_add(seq, count);
                    offset += i64::from(count);
                }
                for e in state.producers() {
                    prop_assert!(e.batches().len() <= NUM_BATCHES_TO_RETAIN);
                }
            }

            // The snapshot file round-trips the state's last batches.
            let snap = state.to_snapshot();
            let bytes = producer_snapshot::encode_snapshot(&snap);
            prop_assert_eq!(&producer_snapshot::decode_snapshot(&bytes).unwrap(), &snap);

            // Replaying the whole log rebuilds the same state.
            let mut replayed = ProducerStateManager::new();
            for b in &log {
                replayed.record(b);
            }
            prop_assert_eq!(&replayed, &state);

            // A snapshot taken mid-way plus the log after it gives the same
            // last batches, and the same answers for every batch since the
            // snapshot.
            let (snap_offset, entries, from) = snapshot.unwrap_or((offset, state.to_snapshot(), log.len()));
            let mut reloaded = ProducerStateManager::from_snapshot(snap_offset, &entries);
            for b in &log[from..] {
                reloaded.record(b);
            }
            prop_assert_eq!(reloaded.to_snapshot(), state.to_snapshot());
            for b in &log[from..] {
                let count = (b.last_offset - b.base_offset + 1) as i32;
                prop_assert_eq!(
                    verdict(reloaded.check(b.producer_id, b.producer_epoch, b.base_sequence, count)),
                    verdict(state.check(b.producer_id, b.producer_epoch, b.base_sequence, count))
                );
            }
        }
    }

    // ---- real Kafka data ----

    /// Replaying the `.log` segments Kafka wrote reproduces the producer
    /// entries of Kafka's own snapshots, and loading an older snapshot and
    /// replaying from it reproduces a newer one.
    #[test]
    fn fixture_logs_replay_to_kafkas_snapshots() {
        use crate::segment::file_name::{self, FileKind};
        let Some(root) = producer_snapshot::tests::fixtures() else {
            return;
        };
        let files = producer_snapshot::tests::fixture_snapshots(&root);
        let mut dirs: Vec<PathBuf> = files
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.dedup();
        let (mut compared, mut matched_entries, mut chained, mut extra) = (0, 0, 0, 0);
        for dir in &dirs {
            let mut logs: Vec<i64> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| {
                    let name = e.ok()?.file_name();
                    match file_name::parse(name.to_str()?)? {
                        (base, FileKind::Log) => Some(base),
                        _ => None,
                    }
                })
                .collect();
            logs.sort_unstable();
            // Only partitions whose whole history is present.
            if logs.first() != Some(&0) {
                continue;
            }
            let mut bytes_of = Vec::new();
            for base in &logs {
                bytes_of
                    .push(std::fs::read(file_name::file_path(dir, *base, FileKind::Log)).unwrap());
            }
            let all_batches = || {
                bytes_of
                    .iter()
                    .flat_map(|b| crate::record::batches(b).map_while(|r| r.ok().map(|(_, v)| v)))
            };
            let offsets = producer_snapshot::snapshot_offsets(dir).unwrap();
            let mut previous: Option<(i64, Vec<SnapshotEntry>)> = None;
            for &snap_offset in &offsets {
                let kafka = producer_snapshot::read_snapshot(producer_snapshot::snapshot_path(
                    dir,
                    snap_offset,
                ))
                .unwrap();
                // From the start of the log.
                let mut state = ProducerStateManager::new();
                for b in all_batches().filter(|b| b.last_offset() < snap_offset) {
                    state.replay(&b);
                }
                let ours = state.to_snapshot();
                for k in &kafka {
                    let mine = ours.iter().find(|e| e.producer_id == k.producer_id);
                    assert_eq!(mine, Some(k), "{} at {snap_offset}", dir.display());
                    matched_entries += 1;
                }
                // Producers Kafka had expired before it wrote the snapshot.
                extra += ours.len() - kafka.len();
                compared += 1;
                // From the previous snapshot (the restart path).
                if let Some((prev_offset, prev)) = &previous {
                    let mut state = ProducerStateManager::from_snapshot(*prev_offset, prev);
                    for b in all_batches().filter(|b| {
                        b.last_offset() >= *prev_offset && b.last_offset() < snap_offset
                    }) {
                        state.replay(&b);
                    }
                    for k in &kafka {
                        assert_eq!(
                            state
                                .to_snapshot()
                                .iter()
                                .find(|e| e.producer_id == k.producer_id),
                            Some(k),
                            "{} from {prev_offset} to {snap_offset}",
                            dir.display()
                        );
                    }
                    chained += 1;
                }
                previous = Some((snap_offset, kafka));
            }
        }
        eprintln!(
            "{compared} Kafka snapshots reproduced by replaying their logs ({matched_entries} producer entries, \
             {extra} producers Kafka had expired), {chained} by loading the previous snapshot and replaying"
        );
        assert!(compared > 0);
    }
}
