//! The record accumulator: per (topic, partition) batches being filled,
//! the queue of batches ready to append, and the `buffer.memory` budget.
//!
//! One mutex guards it all; three condition variables signal the sender
//! thread (`work`: a batch is ready or a linger deadline changed), blocked
//! senders (`space`: memory was returned) and `flush` (`done`: batches
//! completed). A batch is ready when it is full, when its `linger.ms`
//! expired, or at once while someone waits for memory, flushes or closes
//! (Kafka's `RecordAccumulator.ready` rules).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::batch::{CellGuard, MIN_RECORD_SIZE, OpenBatch, ReadyBatch, record_size};
use super::delivery::{BatchCell, DeliveryFuture};
use crate::error::{Error, Result};
use crate::partitioner::{KeylessStrategy, Partitioner};
use crate::record::Record;
use crate::record::layout::HEADER_SIZE;

/// The accumulator's limits, from the producer's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A batch is full at this many bytes (`min(batch.size, max.request.size)`).
    pub batch_limit: usize,
    /// `buffer.memory`.
    pub buffer_memory: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `max.block.ms`.
    pub max_block: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// Open batches by topic, then partition.
    open: HashMap<String, HashMap<u32, OpenBatch>>,
    /// Closed batches, oldest first (per partition in send order).
    ready: VecDeque<ReadyBatch>,
    /// Ids of batches not yet completed (open, ready or being appended).
    incomplete: BTreeSet<u64>,
    next_id: u64,
    /// Bytes of `buffer.memory` in use.
    used: usize,
    /// Senders blocked waiting for memory.
    waiters: usize,
    /// `flush` calls in progress.
    flushing: usize,
    /// No more records are accepted; the sender drains and stops.
    closed: bool,
    /// The sender thread is gone.
    stopped: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Accumulator {
    limits: Limits,
    partitioner: Partitioner,
    state: Mutex<State>,
    work: Condvar,
    space: Condvar,
    done: Condvar,
}

impl Accumulator {
    pub fn new(limits: Limits, strategy: KeylessStrategy) -> Self {
        Accumulator {
            limits,
            partitioner: Partitioner::with_strategy(strategy),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            done: Condvar::new(),
        }
    }

    /// Adds `record` to its partition's batch, blocking up to `max.block.ms`
    /// for memory. `explicit` was checked against `num_partitions`.
    pub fn append(
        &self,
        topic: &str,
        num_partitions: u32,
        explicit: Option<u32>,
        record: Record,
    ) -> Result<DeliveryFuture> {
        let start = Instant::now();
        let deadline = start.checked_add(self.limits.max_block);
        let sticky = explicit.is_none()
            && record.key.is_none()
            && self.partitioner.strategy() == KeylessStrategy::Sticky;
        let mut partition =
            self.partitioner
                .partition(topic, record.key.as_deref(), explicit, num_partitions);
        let mut st = self.state.lock();
        loop {
            if st.closed {
                return Err(Error::ProducerClosed);
            }
            if sticky {
                partition = self
                    .partitioner
                    .partition(topic, None, None, num_partitions);
            }
            let need = match st.open.get(topic).and_then(|m| m.get(&partition)) {
                Some(batch) => {
                    let size = batch.size_of(&record);
                    if batch.bytes + size > self.limits.batch_limit {
                        // Full for this record: send it, start a new one.
                        if let Some(batch) =
                            st.open.get_mut(topic).and_then(|m| m.remove(&partition))
                        {
                            self.close_batch(&mut st, batch);
                        }
                        continue;
                    }
                    size
                }
                None => HEADER_SIZE + record_size(0, 0, &record),
            };
            if st.used + need <= self.limits.buffer_memory {
                st.used += need;
                return Ok(self.push(
                    &mut st,
                    topic,
                    partition,
                    num_partitions,
                    record,
                    need,
                    sticky,
                ));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::BufferFull {
                    size: need,
                    available: self.limits.buffer_memory.saturating_sub(st.used),
                    buffer_memory: self.limits.buffer_memory,
                    waited_ms: now.duration_since(start).as_millis() as u64,
                });
            }
            // Everything becomes ready while someone waits, so memory frees up.
            st.waiters += 1;
            self.work.notify_one();
            match deadline {
                Some(d) => {
                    self.space.wait_until(&mut st, d);
                }
                None => self.space.wait(&mut st),
            }
            st.waiters -= 1;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        st: &mut State,
        topic: &str,
        partition: u32,
        num_partitions: u32,
        record: Record,
        size: usize,
        sticky: bool,
    ) -> DeliveryFuture {
        let timestamp = record.timestamp;
        if let Some(batch) = st.open.get_mut(topic).and_then(|m| m.get_mut(&partition)) {
            let future = batch.future(timestamp);
            batch.records.push(record);
            batch.bytes += size;
            batch.sticky |= sticky;
            if batch.bytes + MIN_RECORD_SIZE > self.limits.batch_limit
                && let Some(batch) = st.open.get_mut(topic).and_then(|m| m.remove(&partition))
            {
                self.close_batch(st, batch);
            }
            return future;
        }
        let id = st.next_id;
        st.next_id += 1;
        st.incomplete.insert(id);
        let mut batch = OpenBatch {
            id,
            topic: Arc::from(topic),
            partition,
            num_partitions,
            base_timestamp: timestamp,
            records: Vec::new(),
            bytes: size,
            created: Instant::now(),
            cell: CellGuard(Arc::new(BatchCell::default())),
            sticky,
        };
        let future = batch.future(timestamp);
        batch.records.push(record);
        if batch.bytes + MIN_RECORD_SIZE > self.limits.batch_limit {
            self.close_batch(st, batch);
        } else {
            st.open
                .entry(topic.to_owned())
                .or_default()
                .insert(partition, batch);
            // A new linger deadline for the sender to sleep on.
            self.work.notify_one();
        }
        future
    }

    /// Moves a batch to the ready queue; a sticky batch moves the topic's
    /// sticky partition on (Kafka's `onNewBatch`).
    fn close_batch(&self, st: &mut State, batch: OpenBatch) {
        let topic = &batch.topic;
        if batch.sticky
            && self
                .partitioner
                .partition(topic, None, None, batch.num_partitions)
                == batch.partition
        {
            self.partitioner.on_new_batch(topic, batch.num_partitions);
        }
        st.ready.push_back(batch.into_ready());
        self.work.notify_one();
    }

    /// Sends the batch holding `future` now, without waiting for its linger.
    pub fn send_now(&self, future: &DeliveryFuture) {
        let mut st = self.state.lock();
        let topic: &str = &future.topic;
        let same = st
            .open
            .get(topic)
            .and_then(|m| m.get(&future.partition))
            .is_some_and(|b| Arc::ptr_eq(&b.cell.0, &future.cell));
        if same
            && let Some(batch) = st
                .open
                .get_mut(topic)
                .and_then(|m| m.remove(&future.partition))
        {
            self.close_batch(&mut st, batch);
        }
    }

    /// The sender's side: blocks until batches are ready and takes them all,
    /// in order. `None` once closed and drained.
    pub fn next_ready(&self) -> Option<Vec<ReadyBatch>> {
        let mut st = self.state.lock();
        loop {
            let force = st.closed || st.waiters > 0 || st.flushing > 0;
            self.collect(&mut st, Instant::now(), force);
            if !st.ready.is_empty() {
                return Some(st.ready.drain(..).collect());
            }
            if st.closed {
                return None;
            }
            let first = st
                .open
                .values()
                .flat_map(|m| m.values())
                .map(|b| b.created)
                .min();
            match first.and_then(|t| t.checked_add(self.limits.linger)) {
                Some(deadline) => {
                    self.work.wait_until(&mut st, deadline);
                }
                None => self.work.wait(&mut st),
            }
        }
    }

    /// Closes every open batch whose linger expired (all of them if `force`).
    fn collect(&self, st: &mut State, now: Instant, force: bool) {
        let mut due = Vec::new();
        for batches in st.open.values_mut() {
            due.extend(
                batches
                    .extract_if(|_, b| {
                        force
                            || b.created
                                .checked_add(self.limits.linger)
                                .is_some_and(|d| d <= now)
                    })
                    .map(|(_, b)| b),
            );
        }
        due.sort_by_key(|b| b.id);
        for batch in due {
            self.close_batch(st, batch);
        }
    }

    /// Returns the memory of completed batches and wakes blocked senders and
    /// flushes.
    pub fn release(&self, completed: &[(u64, usize)]) {
        let mut st = self.state.lock();
        for &(id, bytes) in completed {
            st.used = st.used.saturating_sub(bytes);
            st.incomplete.remove(&id);
        }
        drop(st);
        self.space.notify_all();
        self.done.notify_all();
    }

    /// Makes every batch ready now and waits until all batches that existed
    /// when it was called are completed.
    pub fn flush(&self) {
        let mut st = self.state.lock();
        let target = st.next_id;
        st.flushing += 1;
        self.work.notify_one();
        while !st.stopped && st.incomplete.first().is_some_and(|&id| id < target) {
            self.done.wait(&mut st);
        }
        st.flushing -= 1;
    }

    /// Refuses further records; the sender drains what is there and stops.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.work.notify_all();
        self.space.notify_all();
    }

    /// Called when the sender thread ends (normally or not): every batch
    /// left fails with [`Error::ProducerClosed`], waiters are released.
    pub fn stop(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        st.stopped = true;
        st.open.clear();
        st.ready.clear();
        st.incomplete.clear();
        st.used = 0;
        drop(st);
        self.work.notify_all();
        self.space.notify_all();
        self.done.notify_all();
    }

    /// Bytes of `buffer.memory` not in use.
    pub fn available_memory(&self) -> usize {
        self.limits
            .buffer_memory
            .saturating_sub(self.state.lock().used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(buffer_memory: usize, max_block_ms: u64) -> Limits {
        Limits {
            batch_limit: 1 << 20,
            buffer_memory,
            linger: Duration::from_secs(3600),
            max_block: Duration::from_millis(max_block_ms),
        }
    }

    #[test]
    fn a_full_buffer_blocks_for_max_block_then_fails() {
        // No sender thread drains this accumulator: the memory never frees.
        let acc = Accumulator::new(limits(400, 60), KeylessStrategy::Sticky);
        acc.append("t", 1, Some(0), Record::new(1, vec![0u8; 200]))
            .unwrap();
        let start = Instant::now();
        let err = acc
            .append("t", 1, Some(0), Record::new(1, vec![0u8; 200]))
            .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(60));
        match err {
            Error::BufferFull {
                waited_ms,
                buffer_memory,
                ..
            } => {
                assert!(waited_ms >= 60);
                assert_eq!(buffer_memory, 400);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Closing makes the batch ready; taking and releasing it frees the
        // memory.
        acc.close();
        let ready = acc.next_ready().unwrap();
        assert_eq!(ready.len(), 1);
        acc.release(&[(ready[0].id, ready[0].bytes)]);
        assert_eq!(acc.available_memory(), 400);
    }

    #[test]
    fn dropped_batches_fail_their_futures() {
        let acc = Accumulator::new(limits(1 << 20, 0), KeylessStrategy::Sticky);
        let future = acc.append("t", 3, None, Record::new(1, "v")).unwrap();
        assert_eq!(future.partition(), 0);
        acc.stop();
        assert!(matches!(future.wait(), Err(Error::ProducerClosed)));
        assert!(matches!(
            acc.append("t", 3, None, Record::new(1, "v")),
            Err(Error::ProducerClosed)
        ));
    }
}
