//! Delivery reports: [`DeliveryFuture`] and [`RecordMetadata`].
//!
//! All records of one batch share one [`BatchCell`], a `Mutex` + `Condvar`
//! cell that the producer's sender thread fills once; each future knows its
//! record's index in the batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

/// Where a record ended up, as Kafka's `RecordMetadata` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: u32,
    /// The record's offset; `-1` with `acks=0`, as in Kafka.
    pub offset: i64,
    /// The record's timestamp: the log append time when the topic uses
    /// LogAppendTime, else the record's create time.
    pub timestamp: i64,
}

/// What happened to a batch.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Appended (and flushed for `acks=all`).
    Appended {
        base_offset: i64,
        log_append_time: Option<i64>,
    },
    /// Handed to the log with `acks=0`: no offset is reported.
    Unacknowledged,
    /// Not appended.
    Failed(Arc<Error>),
}

/// The one-shot cell a batch's futures wait on.
#[derive(Debug, Default)]
pub(crate) struct BatchCell {
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
}

impl BatchCell {
    /// Sets the outcome (the first one wins) and wakes every waiter.
    pub fn complete(&self, outcome: Outcome) {
        let mut slot = self.outcome.lock();
        if slot.is_none() {
            *slot = Some(outcome);
        }
        drop(slot);
        self.done.notify_all();
    }
}

/// The pending result of one [`Producer::send`](super::Producer::send): a
/// small handle to wait on (no async runtime needed). Dropping it does not
/// cancel the send.
#[derive(Debug, Clone)]
pub struct DeliveryFuture {
    pub(crate) cell: Arc<BatchCell>,
    pub(crate) topic: Arc<str>,
    pub(crate) partition: u32,
    /// The record's index in its batch.
    pub(crate) index: u32,
    /// The record's create time.
    pub(crate) timestamp: i64,
}

impl DeliveryFuture {
    /// The partition the record was assigned to.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the result is known (`wait` would not block).
    pub fn is_done(&self) -> bool {
        self.cell.outcome.lock().is_some()
    }

    /// Blocks until the record is delivered (see [`Acks`](super::Acks) for
    /// what that means) and returns where it went.
    ///
    /// # Errors
    /// [`Error::ProduceFailed`] with the cause when the batch could not be
    /// appended; [`Error::ProducerClosed`] when the producer stopped without
    /// handing the batch to the log.
    pub fn wait(&self) -> Result<RecordMetadata> {
        let mut slot = self.cell.outcome.lock();
        loop {
            if let Some(outcome) = slot.as_ref() {
                return self.report(outcome);
            }
            self.cell.done.wait(&mut slot);
        }
    }

    /// [`DeliveryFuture::wait`] for at most `timeout`; `None` when the result
    /// is still unknown then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<RecordMetadata>> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.cell.outcome.lock();
        loop {
            if let Some(outcome) = slot.as_ref() {
                return Some(self.report(outcome));
            }
            if self.cell.done.wait_until(&mut slot, deadline).timed_out() {
                return slot.as_ref().map(|o| self.report(o));
            }
        }
    }

    fn report(&self, outcome: &Outcome) -> Result<RecordMetadata> {
        let metadata = |offset, timestamp| RecordMetadata {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
            offset,
            timestamp,
        };
        match outcome {
            Outcome::Appended {
                base_offset,
                log_append_time,
            } => Ok(metadata(
                base_offset + i64::from(self.index),
                log_append_time.unwrap_or(self.timestamp),
            )),
            Outcome::Unacknowledged => Ok(metadata(-1, self.timestamp)),
            Outcome::Failed(cause) if matches!(**cause, Error::ProducerClosed) => {
                Err(Error::ProducerClosed)
            }
            Outcome::Failed(cause) => Err(Error::ProduceFailed {
                topic: self.topic.to_string(),
                partition: self.partition,
                source: Arc::clone(cause),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future(cell: &Arc<BatchCell>, index: u32) -> DeliveryFuture {
        DeliveryFuture {
            cell: Arc::clone(cell),
            topic: Arc::from("t"),
            partition: 2,
            index,
            timestamp: 42,
        }
    }

    #[test]
    fn reports_offsets_by_index_and_first_outcome_wins() {
        let cell = Arc::new(BatchCell::default());
        let (a, b) = (future(&cell, 0), future(&cell, 3));
        assert!(a.wait_timeout(Duration::from_millis(1)).is_none());
        let waiter = std::thread::spawn(move || b.wait().unwrap());
        cell.complete(Outcome::Appended {
            base_offset: 10,
            log_append_time: None,
        });
        cell.complete(Outcome::Unacknowledged);
        assert_eq!(waiter.join().unwrap().offset, 13);
        let m = a.wait().unwrap();
        assert_eq!((m.offset, m.timestamp, m.partition), (10, 42, 2));
        assert!(a.is_done());
    }

    #[test]
    fn failures_name_the_partition() {
        let cell = Arc::new(BatchCell::default());
        cell.complete(Outcome::Failed(Arc::new(Error::UnknownTopic("x".into()))));
        match future(&cell, 0).wait() {
            Err(Error::ProduceFailed {
                partition, source, ..
            }) => {
                assert_eq!(partition, 2);
                assert!(matches!(*source, Error::UnknownTopic(_)));
            }
            other => panic!("unexpected {other:?}"),
        }
        let closed = Arc::new(BatchCell::default());
        closed.complete(Outcome::Failed(Arc::new(Error::ProducerClosed)));
        assert!(matches!(
            future(&closed, 0).wait(),
            Err(Error::ProducerClosed)
        ));
    }
}
