//! Idempotent producer state inside the partition (DESIGN.md section 7
//! item 8): loaded at open from the newest `.snapshot` plus a replay of the
//! log after it, consulted before every append, snapshotted at every roll
//! and at close, rebuilt after a truncation.

use super::log::Partition;
use super::producer_snapshot::{delete_snapshots_above, delete_snapshots_below};
use super::producer_state::ProducerStateManager;
use crate::error::Result;
use crate::record::BatchHeader;

impl Partition {
    /// Rebuilds producer state for the log as it is now: the newest usable
    /// snapshot at or below the log end, then the batches after it.
    pub(super) fn load_producer_state(&self) -> Result<ProducerStateManager> {
        let (start, end) = (self.log_start_offset(), self.log_end_offset());
        delete_snapshots_above(self.dir(), end)?;
        let loaded = ProducerStateManager::load(self.dir(), start, end)?;
        for skipped in &loaded.skipped {
            tracing::warn!(error = %skipped, "skipped an unreadable producer snapshot");
        }
        let mut state = loaded.state;
        state.remove_expired(
            self.config().clock.now_ms(),
            self.config().producer_id_expiration_ms,
        );
        self.replay_into(&mut state, loaded.replay_from)?;
        Ok(state)
    }

    fn replay_into(&self, state: &mut ProducerStateManager, from: i64) -> Result<()> {
        for segment in self.segments().values() {
            let segment = segment.read();
            if segment.next_offset() <= from {
                continue;
            }
            let slice = segment.read(0, usize::MAX)?;
            for batch in slice.iter().filter(|b| b.last_offset() >= from) {
                state.replay(&batch);
            }
        }
        Ok(())
    }

    /// Writes the producer snapshot for `offset` (at roll and close).
    pub(super) fn snapshot_producers(
        &self,
        state: &ProducerStateManager,
        offset: i64,
    ) -> Result<()> {
        state.write_snapshot(self.dir(), offset).map(|_| ())
    }

    /// After a truncation: state that refers to removed batches is rebuilt.
    pub(super) fn reload_producers_after_truncation(
        &self,
        state: &mut ProducerStateManager,
    ) -> Result<()> {
        let end = self.log_end_offset();
        // Snapshots past the new end describe batches that are gone.
        delete_snapshots_above(self.dir(), end)?;
        if !state.truncate_to(end) {
            *state = self.load_producer_state()?;
        }
        Ok(())
    }

    /// Deletes snapshots of segments that retention removed.
    pub(super) fn drop_snapshots_below(&self, offset: i64) -> Result<()> {
        delete_snapshots_below(self.dir(), offset).map(|_| ())
    }

    /// The largest producer id seen in this partition's state, for the
    /// store's producer id allocator.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.shared.writer.lock().producers.max_producer_id()
    }
}
