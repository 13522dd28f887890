//! The last data batch of each live idempotent producer, which compaction
//! keeps even when all its records go (Kafka's cleaner keeps the batch
//! holding a producer's last sequence, `BatchRetention.RETAIN_EMPTY`), so
//! producer state rebuilt from the log still knows the producer's last
//! sequence and a retried batch is still answered as a duplicate.
//!
//! Kafka asks its in-memory producer state; the cleaner sees the partition
//! only through its public API, so it reads every batch header of the log
//! once (headers only, zero-copy; memory is one entry per producer id).

use std::collections::HashMap;
use std::ops::ControlFlow;

use super::batches::for_each_batch;
use crate::error::Result;
use crate::partition::Partition;
use crate::record::{BatchHeader, RecordBatch};

/// Producer id -> last offset of its last data batch, for the producers
/// not yet expired.
#[derive(Debug, Default)]
pub(crate) struct LastBatches {
    last: HashMap<i64, i64>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    last_offset: Option<i64>,
    last_timestamp: i64,
}

impl LastBatches {
    /// Scans the whole log, the active segment included. A producer whose
    /// last write is `producer.id.expiration.ms` older than `now_ms` is
    /// expired, as producer state loading drops it, and keeps nothing.
    pub(crate) fn scan(partition: &Partition, now_ms: i64, chunk: usize) -> Result<Self> {
        let mut seen: HashMap<i64, Seen> = HashMap::new();
        let end = partition.log_end_offset();
        for_each_batch(partition, i64::MIN, end, chunk, |batch| {
            record(&mut seen, &batch);
            Ok(ControlFlow::Continue(()))
        })?;
        let expiration = partition.config().producer_id_expiration_ms;
        let last = seen
            .into_iter()
            .filter(|(_, s)| now_ms.saturating_sub(s.last_timestamp) < expiration)
            .filter_map(|(id, s)| s.last_offset.map(|o| (id, o)))
            .collect();
        Ok(LastBatches { last })
    }

    /// Whether `batch` is its producer's last data batch.
    pub(crate) fn is_last(&self, batch: &impl BatchHeader) -> bool {
        batch.producer_id() >= 0
            && self.last.get(&batch.producer_id()) == Some(&batch.last_offset())
    }
}

/// Data batches set the producer's last batch; transaction markers only
/// its last write time (as producer state replay does).
fn record(seen: &mut HashMap<i64, Seen>, batch: &RecordBatch) {
    if batch.producer_id() < 0 {
        return;
    }
    let entry = seen.entry(batch.producer_id()).or_insert(Seen {
        last_offset: None,
        last_timestamp: i64::MIN,
    });
    entry.last_timestamp = batch.max_timestamp();
    if !batch.is_control() {
        entry.last_offset = Some(batch.last_offset());
    }
}
