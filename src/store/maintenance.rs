//! Retention and compaction for the whole store: explicit passes
//! ([`Store::run_retention`], [`Store::run_cleaner`], [`Store::compact`])
//! and the maintenance thread that runs them on Kafka's schedule
//! (`log.retention.check.interval.ms`, `log.cleaner.backoff.ms`).
//!
//! Only topics with a persisted seglog configuration are touched: a topic
//! found as partition directories of a Kafka broker is never cleaned or
//! deleted by retention until a configuration is set (DESIGN.md section 7
//! item 9).

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{Store, StoreInner};
use crate::cleaner::retention::{RetentionStats, apply_retention};
use crate::cleaner::{CleanStats, Cleanable, clean_partition, cleanable};
use crate::error::{Error, Result};
use crate::partition::Partition;
use crate::partition::checkpoint::{CLEANER_OFFSET_CHECKPOINT, OffsetEntry, write_offset_entries};

/// What a retention pass did to one partition.
#[derive(Debug, Clone)]
pub struct PartitionRetention {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// What was deleted.
    pub stats: RetentionStats,
}

/// What a cleaning did to one partition.
#[derive(Debug, Clone)]
pub struct PartitionCleaning {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// What the cleaner did.
    pub stats: CleanStats,
}

/// The maintenance thread's stop signal and handle.
#[derive(Debug, Default)]
pub(crate) struct Maintenance {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Maintenance {
    /// Stops the thread and waits for it (unless called from it).
    pub fn stop(&self) {
        let (flag, wake) = &*self.stop;
        *flag.lock() = true;
        wake.notify_all();
        let handle = self.thread.lock().take();
        if let Some(handle) = handle
            && handle.thread().id() != std::thread::current().id()
        {
            let _ = handle.join();
        }
    }
}

impl Store {
    /// Applies delete retention (`retention.ms`, `retention.bytes`, the log
    /// start offset) to every partition of every configured topic, writes
    /// the log start checkpoint, and removes `.deleted` files that are due.
    pub fn run_retention(&self) -> Result<Vec<PartitionRetention>> {
        let _one_at_a_time = self.inner.cleaning.lock();
        let now = self.inner.config.clock.now_ms();
        let mut done = Vec::new();
        let mut first_error = None;
        for (topic, partition) in self.maintained_partitions() {
            // One failing partition does not stop the pass for the others.
            let stats = match apply_retention(&partition, now) {
                Ok(stats) => stats,
                Err(e) => {
                    tracing::warn!(%topic, partition = partition.partition(), error = %e, "retention failed");
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            if let Some(pending) = stats.pending.clone() {
                self.inner.deletions.push(pending);
            }
            if stats.segments_deleted > 0 {
                done.push(PartitionRetention {
                    topic,
                    partition: partition.partition(),
                    stats,
                });
            }
        }
        // The checkpoints also move with flushes: write them every pass, as
        // Kafka's periodic offset checkpointing does.
        self.checkpoint()?;
        self.inner.deletions.delete_expired_files(now)?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Cleans the dirtiest compacted partition whose dirty ratio reached
    /// `min.cleanable.dirty.ratio` (or whose `max.compaction.lag.ms`
    /// passed), as Kafka's cleaner picks its next log; `None` when no
    /// partition needs it.
    pub fn run_cleaner(&self) -> Result<Option<PartitionCleaning>> {
        let _one_at_a_time = self.inner.cleaning.lock();
        let now = self.inner.config.clock.now_ms();
        let mut best: Option<(String, Partition, Cleanable)> = None;
        let uncleanable = self.inner.uncleanable.lock().clone();
        for (topic, partition) in self.compacted_partitions() {
            if uncleanable.contains(&(topic.clone(), partition.partition())) {
                continue;
            }
            let Ok(state) = cleanable(&partition, self.first_dirty(&topic, &partition), now) else {
                continue;
            };
            let better = best.as_ref().is_none_or(|(_, _, b)| state.ratio > b.ratio);
            if state.must_clean && better {
                best = Some((topic, partition, state));
            }
        }
        let Some((topic, partition, state)) = best else {
            return Ok(None);
        };
        let key = (topic.clone(), partition.partition());
        let result = self.clean_one(topic, &partition, state.first_dirty, now);
        if result.is_err() {
            // As Kafka marks a log uncleanable after an error, so that one
            // bad partition does not starve the others (until reopen).
            self.inner.uncleanable.lock().insert(key);
        }
        result.map(Some)
    }

    /// Cleans the given partitions of `topic` (all when `partition` is
    /// `None`) now, whatever their dirty ratio.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] for a topic without `compact` in its
    /// `cleanup.policy` or without a seglog configuration.
    pub fn compact(&self, topic: &str, partition: Option<u32>) -> Result<Vec<PartitionCleaning>> {
        let handle = self.topic(topic)?;
        if !handle.is_configured() {
            return Err(Error::NotAllowed(format!(
                "topic {topic} has no seglog configuration (imported data is never cleaned); set one with alter_topic_config first"
            )));
        }
        let partitions = match partition {
            Some(n) => vec![handle.partition(n)?],
            None => handle.partitions(),
        };
        let _one_at_a_time = self.inner.cleaning.lock();
        let now = self.inner.config.clock.now_ms();
        partitions
            .iter()
            .map(|p| self.clean_one(topic.to_string(), p, self.first_dirty(topic, p), now))
            .collect()
    }

    /// The dirty ratio and clean/dirty sizes of one partition, for
    /// `describe`.
    pub fn cleanable(&self, topic: &str, partition: u32) -> Result<Cleanable> {
        let p = self.topic(topic)?.partition(partition)?;
        cleanable(
            &p,
            self.first_dirty(topic, &p),
            self.inner.config.clock.now_ms(),
        )
    }

    /// The cleaner checkpoint of a partition (where its dirty part starts),
    /// when it was ever cleaned.
    pub fn cleaner_checkpoint(&self, topic: &str, partition: u32) -> Option<i64> {
        self.inner
            .cleaner_checkpoints
            .lock()
            .get(&(topic.to_string(), partition))
            .copied()
    }

    fn clean_one(
        &self,
        topic: String,
        partition: &Partition,
        first_dirty: i64,
        now: i64,
    ) -> Result<PartitionCleaning> {
        let stats = clean_partition(partition, first_dirty, now, &self.inner.config.cleaner)?;
        self.inner.cleaner_checkpoints.lock().insert(
            (topic.clone(), partition.partition()),
            stats.first_dirty_after,
        );
        self.write_cleaner_checkpoint()?;
        Ok(PartitionCleaning {
            topic,
            partition: partition.partition(),
            stats,
        })
    }

    fn first_dirty(&self, topic: &str, partition: &Partition) -> i64 {
        self.cleaner_checkpoint(topic, partition.partition())
            .unwrap_or(0)
            .max(partition.log_start_offset())
    }

    /// Writes `cleaner-offset-checkpoint` (Kafka's format).
    pub(crate) fn write_cleaner_checkpoint(&self) -> Result<()> {
        let entries: Vec<OffsetEntry> = self
            .inner
            .cleaner_checkpoints
            .lock()
            .iter()
            .map(|((topic, partition), &offset)| OffsetEntry {
                topic: topic.clone(),
                partition: *partition,
                offset,
            })
            .collect();
        write_offset_entries(self.dir().join(CLEANER_OFFSET_CHECKPOINT), &entries)
    }

    /// Partitions of configured topics (retention's scope).
    fn maintained_partitions(&self) -> Vec<(String, Partition)> {
        self.inner
            .topics
            .read()
            .values()
            .filter(|t| t.is_configured())
            .flat_map(|t| {
                t.partitions()
                    .into_iter()
                    .map(|p| (t.name().to_string(), p))
            })
            .collect()
    }

    fn compacted_partitions(&self) -> Vec<(String, Partition)> {
        self.maintained_partitions()
            .into_iter()
            .filter(|(_, p)| p.config().cleanup_policy.compact)
            .collect()
    }

    /// Starts the maintenance thread (if it is not running): retention every
    /// `log.retention.check.interval.ms`, the cleaner whenever a partition
    /// needs it, backing off `log.cleaner.backoff.ms` when none does.
    pub fn start_maintenance(&self) -> Result<()> {
        let mut thread = self.inner.maintenance.thread.lock();
        if thread.is_some() {
            return Ok(());
        }
        *self.inner.maintenance.stop.0.lock() = false;
        let weak = Arc::downgrade(&self.inner);
        let stop = Arc::clone(&self.inner.maintenance.stop);
        let handle = std::thread::Builder::new()
            .name("seglog-maintenance".into())
            .spawn(move || maintenance_loop(&weak, &stop))
            .map_err(|e| Error::io(self.dir(), e))?;
        *thread = Some(handle);
        Ok(())
    }

    /// Stops the maintenance thread and waits for its current pass.
    pub fn stop_maintenance(&self) {
        self.inner.maintenance.stop();
    }
}

fn maintenance_loop(store: &Weak<StoreInner>, stop: &Arc<(Mutex<bool>, Condvar)>) {
    let initial_delay = match store.upgrade() {
        Some(inner) => Duration::from_millis(inner.config.log_initial_task_delay_ms),
        None => return,
    };
    if wait_or_stop(stop, initial_delay) {
        return;
    }
    let mut next_retention = Instant::now();
    loop {
        let Some(inner) = store.upgrade() else { return };
        let config = inner.config.clone();
        let store = Store { inner };
        let now = Instant::now();
        if now >= next_retention {
            if let Err(e) = store.run_retention() {
                tracing::warn!(error = %e, "retention pass failed");
            }
            next_retention = now + Duration::from_millis(config.log_retention_check_interval_ms);
        }
        let cleaned = config.log_cleaner_enable
            && match store.run_cleaner() {
                Ok(done) => done.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, "cleaning failed");
                    false
                }
            };
        drop(store);
        let pause = if cleaned {
            Duration::ZERO
        } else {
            Duration::from_millis(config.log_cleaner_backoff_ms)
                .min(next_retention.saturating_duration_since(Instant::now()))
        };
        if wait_or_stop(stop, pause) {
            return;
        }
    }
}

/// Waits up to `pause` for the stop signal; returns whether it came.
fn wait_or_stop(stop: &(Mutex<bool>, Condvar), pause: Duration) -> bool {
    let (flag, wake) = stop;
    let mut stopped = flag.lock();
    if !*stopped && !pause.is_zero() {
        wake.wait_for(&mut stopped, pause);
    }
    *stopped
}

/// Reads `cleaner-offset-checkpoint` at open.
pub(crate) fn read_cleaner_checkpoints(
    dir: &std::path::Path,
) -> Result<BTreeMap<(String, u32), i64>> {
    crate::partition::checkpoint::read_offsets(dir.join(CLEANER_OFFSET_CHECKPOINT))
}
