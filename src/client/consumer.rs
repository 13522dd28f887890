//! [`Consumer`]: reads assigned partitions of a [`Store`] in offset order,
//! as Kafka's `KafkaConsumer` with `assign` (no consumer group).

use std::time::{Duration, Instant};

use super::consumer_config::ConsumerConfig;
use super::fetch::{Assigned, ConsumerRecord};
use super::poll::{ConsumerIter, visible_end};
use crate::Store;
use crate::error::{Error, Result};
use crate::partition::Partition;

/// Kafka's consumer over a [`Store`], without consumer groups: assign
/// partitions, then `poll` returns their records in offset order per
/// partition, up to `max.poll.records` a call, taking partitions in turn
/// (each `poll` starts after the partition the previous one ended on).
///
/// Every batch handed out is CRC-checked (`check.crcs`); control batches
/// (transaction markers) are skipped; a position below the log start (after
/// retention) or past the log end resets per `auto.offset.reset`.
///
/// A consumer is used from one thread (`&mut self`), as Kafka's. It holds a
/// handle of the store (the directory stays locked until it is dropped).
///
/// ```
/// use std::time::Duration;
/// use seglog::client::{AutoOffsetReset, Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
/// use seglog::config::{StoreConfig, TopicConfig};
/// use seglog::Store;
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreConfig::default())?;
/// store.create_topic("events", 1, TopicConfig::default())?;
/// let producer = Producer::new(&store, ProducerConfig::default())?;
/// for n in 0..3 {
///     producer.send(ProducerRecord::new("events", format!("event {n}")))?;
/// }
/// producer.flush();
///
/// let config = ConsumerConfig::default().auto_offset_reset(AutoOffsetReset::Earliest);
/// let mut consumer = Consumer::new(&store, config)?;
/// consumer.assign(&[("events", 0)])?;
/// let records = consumer.poll(Duration::from_secs(1))?;
/// assert_eq!(records.len(), 3);
/// assert_eq!(records[2].value.as_deref(), Some(&b"event 2"[..]));
/// assert_eq!(consumer.position("events", 0)?, 3);
///
/// // The iterator form ends at the first poll that finds nothing.
/// consumer.seek("events", 0, 1)?;
/// let offsets: Vec<i64> = consumer
///     .iter(Duration::from_millis(10))
///     .map(|r| r.map(|r| r.offset))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(offsets, vec![1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Consumer {
    pub(super) store: Store,
    pub(super) config: ConsumerConfig,
    pub(super) assigned: Vec<Assigned>,
    /// The assigned partition the next poll starts with.
    pub(super) next: usize,
    /// An error met after records were collected; the next poll reports it.
    pub(super) deferred: Option<Error>,
}

impl Consumer {
    /// A consumer over `store` with nothing assigned.
    pub fn new(store: &Store, config: ConsumerConfig) -> Result<Consumer> {
        if config.max_poll_records == 0 {
            return Err(Error::InvalidConfig {
                key: "max.poll.records".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Consumer {
            store: store.clone(),
            config,
            assigned: Vec::new(),
            next: 0,
            deferred: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Replaces the assignment with `partitions` (topic, partition). A
    /// partition assigned before keeps its position; a new one starts per
    /// `auto.offset.reset` at the first `poll` or `position`.
    ///
    /// # Errors
    /// [`Error::UnknownTopic`] / [`Error::UnknownPartition`].
    pub fn assign<T: AsRef<str>>(&mut self, partitions: &[(T, u32)]) -> Result<()> {
        for (topic, partition) in partitions {
            self.handle(topic.as_ref(), *partition)?;
        }
        let mut assigned = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            let topic = topic.as_ref();
            if assigned
                .iter()
                .any(|a: &Assigned| &*a.topic == topic && a.partition == *partition)
            {
                continue;
            }
            let kept = self
                .assigned
                .iter()
                .position(|a| &*a.topic == topic && a.partition == *partition);
            assigned.push(match kept {
                Some(i) => self.assigned.swap_remove(i),
                None => Assigned::new(topic, *partition),
            });
        }
        self.assigned = assigned;
        self.next = 0;
        self.deferred = None;
        Ok(())
    }

    /// The assigned partitions, in assignment order.
    pub fn assignment(&self) -> Vec<(String, u32)> {
        self.assigned
            .iter()
            .map(|a| (a.topic.to_string(), a.partition))
            .collect()
    }

    /// Returns the next records of the assigned partitions: at most
    /// `max.poll.records`, in offset order per partition. Waits up to
    /// `timeout` while there is nothing; once something is there, up to
    /// `fetch.max.wait.ms` more for `fetch.min.bytes`. Waiting blocks on the
    /// partitions' append notifications (no busy loop); with several
    /// partitions assigned it waits on each in turn for at most 10 ms, so
    /// data on any of them is seen within about 10 ms.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] with nothing assigned;
    /// [`Error::CorruptFetch`] for a batch that fails its check (records
    /// collected before it are returned first, the error by the next poll;
    /// the position stays before the bad batch);
    /// [`Error::OffsetOutOfRange`] / [`Error::NoOffsetForPartition`] with
    /// `auto.offset.reset=none`.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if self.assigned.is_empty() {
            return Err(Error::NotAllowed(
                "poll needs assigned partitions (call assign first)".into(),
            ));
        }
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let max_wait = start
            .checked_add(Duration::from_millis(self.config.fetch_max_wait_ms))
            .or(deadline);
        let mut out = Vec::new();
        let mut bytes = 0;
        loop {
            match self.fetch_round(&mut out, &mut bytes) {
                Ok(()) => {}
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    self.deferred = Some(e);
                    return Ok(out);
                }
            }
            let enough = !out.is_empty() && bytes >= self.config.fetch_min_bytes;
            if out.len() >= self.config.max_poll_records || enough {
                return Ok(out);
            }
            let until = match (out.is_empty(), deadline, max_wait) {
                (true, d, _) => d,
                (false, Some(d), Some(m)) => Some(d.min(m)),
                (false, d, m) => d.or(m),
            };
            if until.is_some_and(|u| Instant::now() >= u) {
                return Ok(out);
            }
            self.wait_for_data(until)?;
        }
    }

    /// Records one at a time: polls with `timeout` whenever the records of
    /// the previous poll are used up, and ends at the first poll that
    /// returns nothing (or after yielding an error). For an endless stream,
    /// call [`Consumer::poll`] in a loop.
    pub fn iter(&mut self, timeout: Duration) -> ConsumerIter<'_> {
        ConsumerIter::new(self, timeout)
    }

    /// Sets the position of an assigned partition: the next poll returns
    /// records from `offset` on. Not checked against the log until then
    /// (an offset out of range is reset per `auto.offset.reset`).
    pub fn seek(&mut self, topic: &str, partition: u32, offset: i64) -> Result<()> {
        if offset < 0 {
            let p = self.handle(topic, partition)?;
            return Err(Error::OffsetOutOfRange {
                requested: offset,
                log_start: p.log_start_offset(),
                log_end: p.log_end_offset(),
            });
        }
        let i = self.index(topic, partition)?;
        self.assigned[i].seek(offset);
        Ok(())
    }

    /// Moves the given assigned partitions (all when empty) to their log
    /// start offset, now (Kafka evaluates it lazily at the next poll; in
    /// process there is no difference worth the surprise).
    pub fn seek_to_beginning<T: AsRef<str>>(&mut self, partitions: &[(T, u32)]) -> Result<()> {
        self.seek_with(partitions, |p| p.log_start_offset())
    }

    /// Moves the given assigned partitions (all when empty) to their log end
    /// offset, now: the next poll returns only records appended after this
    /// call.
    pub fn seek_to_end<T: AsRef<str>>(&mut self, partitions: &[(T, u32)]) -> Result<()> {
        let isolation = self.config.isolation;
        self.seek_with(partitions, |p| visible_end(p, isolation))
    }

    /// The offset of the next record `poll` returns for an assigned
    /// partition (resolving `auto.offset.reset` when it has none yet).
    pub fn position(&mut self, topic: &str, partition: u32) -> Result<i64> {
        let i = self.index(topic, partition)?;
        self.resolve(i)
    }

    /// For each (topic, partition, timestamp): the first offset whose
    /// record timestamp is `>= timestamp`, with that timestamp; `None` when
    /// every record is older (Kafka's `offsetsForTimes`). The partitions
    /// need not be assigned.
    pub fn offsets_for_times<T: AsRef<str>>(
        &self,
        query: &[(T, u32, i64)],
    ) -> Result<Vec<Option<(i64, i64)>>> {
        query
            .iter()
            .map(|(topic, partition, ts)| {
                self.handle(topic.as_ref(), *partition)?
                    .offset_for_timestamp(*ts)
            })
            .collect()
    }

    /// The log start offset of each partition (Kafka's `beginningOffsets`).
    pub fn beginning_offsets<T: AsRef<str>>(&self, partitions: &[(T, u32)]) -> Result<Vec<i64>> {
        partitions
            .iter()
            .map(|(t, p)| Ok(self.handle(t.as_ref(), *p)?.log_start_offset()))
            .collect()
    }

    /// The end offset each partition has for this consumer's isolation: the
    /// log end, or the flushed offset with `durable` (Kafka's `endOffsets`).
    pub fn end_offsets<T: AsRef<str>>(&self, partitions: &[(T, u32)]) -> Result<Vec<i64>> {
        partitions
            .iter()
            .map(|(t, p)| {
                Ok(visible_end(
                    &self.handle(t.as_ref(), *p)?,
                    self.config.isolation,
                ))
            })
            .collect()
    }

    fn seek_with<T: AsRef<str>>(
        &mut self,
        partitions: &[(T, u32)],
        offset_of: impl Fn(&Partition) -> i64,
    ) -> Result<()> {
        let targets: Vec<usize> = if partitions.is_empty() {
            (0..self.assigned.len()).collect()
        } else {
            partitions
                .iter()
                .map(|(t, p)| self.index(t.as_ref(), *p))
                .collect::<Result<_>>()?
        };
        for i in targets {
            let offset = offset_of(&self.handle_of(i)?);
            self.assigned[i].seek(offset);
        }
        Ok(())
    }

    /// The position of assigned partition `i`, resetting it when unset.
    fn resolve(&mut self, i: usize) -> Result<i64> {
        let partition = self.handle_of(i)?;
        self.resolve_with(i, &partition)
    }

    fn index(&self, topic: &str, partition: u32) -> Result<usize> {
        self.assigned
            .iter()
            .position(|a| &*a.topic == topic && a.partition == partition)
            .ok_or_else(|| {
                Error::NotAllowed(format!(
                    "partition {topic}-{partition} is not assigned to this consumer"
                ))
            })
    }

    pub(super) fn handle(&self, topic: &str, partition: u32) -> Result<Partition> {
        self.store.topic(topic)?.partition(partition)
    }

    /// The current handle of assigned partition `i` (looked up each time:
    /// altering a topic's configuration replaces its partition handles).
    pub(super) fn handle_of(&self, i: usize) -> Result<Partition> {
        let a = &self.assigned[i];
        self.handle(&a.topic, a.partition)
    }
}
