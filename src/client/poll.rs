//! The inside of [`Consumer::poll`]: one fetch round over the assigned
//! partitions, reads with `auto.offset.reset`, and waiting for data on the
//! partitions' append notifications. Also the iterator form.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::consumer::Consumer;
use super::consumer_config::AutoOffsetReset;
use super::fetch::ConsumerRecord;
use crate::error::{Error, Result};
use crate::partition::{Isolation, Partition};

/// How long `poll` waits on one partition before it looks at the others,
/// when several are assigned and none has data.
const WAIT_SLICE: Duration = Duration::from_millis(10);

impl Consumer {
    /// One pass over the assigned partitions, starting with `self.next`.
    pub(super) fn fetch_round(
        &mut self,
        out: &mut Vec<ConsumerRecord>,
        bytes: &mut usize,
    ) -> Result<()> {
        let n = self.assigned.len();
        let limit = self.config.max_poll_records;
        let mut budget = self.config.fetch_max_bytes;
        let mut read_any = false;
        let first = self.next % n;
        // Next time start one further; or right after the partition that
        // filled this poll, so every partition gets its turn.
        self.next = (first + 1) % n;
        for step in 0..n {
            let i = (first + step) % n;
            let partition = self.handle_of(i)?;
            let decode = partition.config().decode;
            self.resolve_with(i, &partition)?;
            *bytes += self.assigned[i].drain(out, limit, &decode)?;
            let fetch = self.assigned[i].pending.is_empty() && (budget > 0 || !read_any);
            if out.len() < limit && fetch {
                let read = self.read(i, &partition, budget)?;
                read_any |= read > 0;
                budget = budget.saturating_sub(read);
                *bytes += self.assigned[i].drain(out, limit, &decode)?;
            }
            if out.len() >= limit {
                self.next = (i + 1) % n;
                break;
            }
        }
        Ok(())
    }

    /// Reads batches from the position into the partition's pending queue;
    /// resets an out-of-range position per `auto.offset.reset`.
    fn read(&mut self, i: usize, partition: &Partition, budget: usize) -> Result<usize> {
        let max_bytes = self.config.max_partition_fetch_bytes.min(budget);
        let position = self.resolve_with(i, partition)?;
        let slice = match partition.read_with(position, max_bytes, self.config.isolation) {
            Err(Error::OffsetOutOfRange { .. }) if self.reset_target().is_some() => {
                let offset = self.reset_offset(i, partition)?;
                tracing::debug!(topic = %self.assigned[i].topic, partition = partition.partition(),
                    from = position, to = offset, "position out of range: reset per auto.offset.reset");
                partition.read_with(offset, max_bytes, self.config.isolation)?
            }
            other => other?,
        };
        self.assigned[i].accept(&slice, self.config.check_crcs)?;
        Ok(slice.size())
    }

    /// Blocks until an assigned partition has data past its position, or
    /// `until` passes.
    pub(super) fn wait_for_data(&mut self, until: Option<Instant>) -> Result<()> {
        let isolation = self.config.isolation;
        let mut waiting = Vec::with_capacity(self.assigned.len());
        for i in 0..self.assigned.len() {
            let partition = self.handle_of(i)?;
            let position = self.resolve_with(i, &partition)?;
            if !self.assigned[i].pending.is_empty() {
                return Ok(());
            }
            waiting.push((partition, position));
        }
        let ready = |w: &[(Partition, i64)]| {
            w.iter().any(|(p, pos)| {
                visible_end(p, isolation) > *pos
                    || *pos < p.log_start_offset()
                    || *pos > p.log_end_offset()
            })
        };
        let mut turn = 0;
        while !ready(&waiting) {
            let now = Instant::now();
            let left = match until {
                Some(u) if now >= u => return Ok(()),
                Some(u) => u - now,
                None => Duration::from_secs(3600),
            };
            let (partition, position) = &waiting[turn % waiting.len()];
            let slice = if waiting.len() == 1 {
                left
            } else {
                left.min(WAIT_SLICE)
            };
            partition.wait_for(*position, isolation, slice);
            turn += 1;
        }
        Ok(())
    }

    pub(super) fn resolve_with(&mut self, i: usize, partition: &Partition) -> Result<i64> {
        match self.assigned[i].position {
            Some(position) => Ok(position),
            None => self.reset_offset(i, partition),
        }
    }

    fn reset_target(&self) -> Option<AutoOffsetReset> {
        match self.config.auto_offset_reset {
            AutoOffsetReset::None => None,
            reset => Some(reset),
        }
    }

    /// Applies `auto.offset.reset` to partition `i`.
    fn reset_offset(&mut self, i: usize, partition: &Partition) -> Result<i64> {
        let offset = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => partition.log_start_offset(),
            AutoOffsetReset::Latest => visible_end(partition, self.config.isolation),
            AutoOffsetReset::None => {
                return Err(Error::NoOffsetForPartition {
                    topic: self.assigned[i].topic.to_string(),
                    partition: self.assigned[i].partition,
                });
            }
        };
        self.assigned[i].seek(offset);
        Ok(offset)
    }
}

/// The end of what a reader with `isolation` sees.
pub(super) fn visible_end(partition: &Partition, isolation: Isolation) -> i64 {
    match isolation {
        Isolation::Appended => partition.log_end_offset(),
        Isolation::Durable => partition.flushed_offset(),
    }
}

/// The iterator of [`Consumer::iter`].
#[derive(Debug)]
pub struct ConsumerIter<'a> {
    consumer: &'a mut Consumer,
    timeout: Duration,
    buffer: VecDeque<ConsumerRecord>,
    done: bool,
}

impl<'a> ConsumerIter<'a> {
    pub(super) fn new(consumer: &'a mut Consumer, timeout: Duration) -> Self {
        ConsumerIter {
            consumer,
            timeout,
            buffer: VecDeque::new(),
            done: false,
        }
    }
}

impl Iterator for ConsumerIter<'_> {
    type Item = Result<ConsumerRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(record) = self.buffer.pop_front() {
            return Some(Ok(record));
        }
        if self.done {
            return None;
        }
        match self.consumer.poll(self.timeout) {
            Ok(records) if records.is_empty() => {
                self.done = true;
                None
            }
            Ok(records) => {
                self.buffer.extend(records);
                self.buffer.pop_front().map(Ok)
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
