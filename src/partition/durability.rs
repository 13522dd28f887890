//! Durability: `flush()`, Kafka's `flush.messages` / `flush.ms` policies,
//! the recovery point they advance, and `close()`.
//!
//! By default nothing is fsynced on append: the data is in the page cache
//! and survives a process crash, as with Kafka. `flush()` makes everything
//! appended so far durable and moves the flushed offset (the recovery
//! point), which `durable` readers wait for. A failed fsync poisons the
//! segment: it refuses further writes.

use std::sync::atomic::Ordering;

use super::log::{Partition, Writer};
use crate::durable_fs::sync_dir;
use crate::error::Result;

impl Partition {
    /// Makes every appended record durable; returns the flushed offset.
    pub fn flush(&self) -> Result<i64> {
        let mut writer = self.shared.writer.lock();
        self.flush_locked(&mut writer)
    }

    pub(super) fn flush_locked(&self, writer: &mut Writer) -> Result<i64> {
        if writer.poisoned {
            return Err(crate::Error::Poisoned {
                path: self.dir().to_path_buf(),
            });
        }
        let result = self.sync_everything(writer);
        if result.is_err() {
            writer.poisoned = true;
        }
        result
    }

    fn sync_everything(&self, writer: &mut Writer) -> Result<i64> {
        let end = self.log_end_offset();
        if self.flushed_offset() < end {
            // Segments sealed by rolls since the last flush first; then the
            // active one. No fsync runs under a segment lock, so readers are
            // not held up.
            for job in std::mem::take(&mut writer.pending_syncs) {
                job.run()?;
            }
            let active = self.active_segment()?;
            let job = active.read().flush_job()?;
            if let Some(job) = job {
                let result = job.run();
                active.write().finish_flush(&job, result.is_ok());
                result?;
            }
            if writer.dir_dirty {
                sync_dir(self.dir())?;
                writer.dir_dirty = false;
            }
            self.shared.offsets.flushed.store(end, Ordering::Release);
            self.shared.watch.notify();
        }
        writer.unflushed_records = 0;
        writer.last_flush_ms = self.config().clock.now_ms();
        Ok(end)
    }

    /// Kafka's flush policies, checked after each append.
    pub(super) fn apply_flush_policy(&self, writer: &mut Writer, now: i64) -> Result<()> {
        let config = self.config();
        let by_count = writer.unflushed_records >= config.flush_messages;
        let by_time = now.saturating_sub(writer.last_flush_ms) >= config.flush_ms;
        if by_count || by_time {
            self.flush_locked(writer)?;
        }
        Ok(())
    }

    /// Flushes, seals the active segment (trims its preallocated space) and
    /// refuses further writes. Reads keep working. Idempotent.
    pub fn close(&self) -> Result<()> {
        let mut writer = self.shared.writer.lock();
        if writer.closed {
            return Ok(());
        }
        self.flush_locked(&mut writer)?;
        self.active_segment()?.write().seal()?;
        self.snapshot_producers(&writer.producers, self.log_end_offset())?;
        writer.closed = true;
        Ok(())
    }
}
