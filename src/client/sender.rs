//! The producer's sender thread: takes ready batches from the accumulator,
//! appends them with [`Partition::append_records`] (producer id, epoch and
//! per-partition sequence numbers when idempotent), flushes the touched
//! partitions once per round for `acks=all`, and completes the futures.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::batch::ReadyBatch;
use super::delivery::Outcome;
use super::producer::Shared;
use super::producer_config::Acks;
use crate::error::{Error, Result};
use crate::partition::producer_state::increment_sequence;
use crate::partition::{AppendInfo, Partition, RecordsOptions};

/// Starts the sender thread of a producer.
pub(crate) fn spawn(shared: Arc<Shared>) -> Result<JoinHandle<()>> {
    let dir = shared.store.dir().to_path_buf();
    thread::Builder::new()
        .name("seglog-producer".into())
        .spawn(move || run(&shared))
        .map_err(|e| Error::io(dir, e))
}

/// Stops the accumulator when the thread ends, even by a panic, so no one
/// waits forever on a batch that will never be appended.
struct StopGuard<'a>(&'a Shared);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.accumulator.stop();
    }
}

fn run(shared: &Shared) {
    let _stop = StopGuard(shared);
    let mut sequences = Sequences::default();
    while let Some(batches) = shared.accumulator.next_ready() {
        let completed: Vec<(u64, usize)> = batches.iter().map(|b| (b.id, b.bytes)).collect();
        deliver(shared, batches, &mut sequences);
        shared.accumulator.release(&completed);
    }
}

/// The next base sequence per (topic, partition). Sequences start at 0 for
/// a new producer id and advance by the record count of each appended
/// batch, wrapping after `i32::MAX` as in Kafka. A failed append does not
/// advance them, so the next batch takes its place without a gap.
#[derive(Debug, Default)]
struct Sequences(HashMap<Arc<str>, HashMap<u32, i32>>);

impl Sequences {
    fn next(&self, topic: &str, partition: u32) -> i32 {
        self.0
            .get(topic)
            .and_then(|m| m.get(&partition))
            .copied()
            .unwrap_or(0)
    }

    fn advance(&mut self, topic: &Arc<str>, partition: u32, base: i32, count: usize) {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        self.0
            .entry(Arc::clone(topic))
            .or_default()
            .insert(partition, increment_sequence(base, count));
    }
}

type Appended = Result<(Partition, AppendInfo), Arc<Error>>;

fn deliver(shared: &Shared, batches: Vec<ReadyBatch>, sequences: &mut Sequences) {
    let appended: Vec<Appended> = batches
        .iter()
        .map(|b| append(shared, b, sequences).map_err(Arc::new))
        .collect();
    let acks = shared.config.acks;
    // acks=all: one flush per touched partition for the whole round.
    let mut flushes: Vec<(Arc<str>, u32, Option<Arc<Error>>)> = Vec::new();
    if acks == Acks::All {
        for (batch, result) in batches.iter().zip(&appended) {
            let Ok((partition, _)) = result else { continue };
            let seen = flushes
                .iter()
                .any(|(t, p, _)| **t == *batch.topic && *p == batch.partition);
            if !seen {
                let error = partition.flush().err().map(Arc::new);
                flushes.push((Arc::clone(&batch.topic), batch.partition, error));
            }
        }
    }
    for (batch, result) in batches.into_iter().zip(appended) {
        let outcome = match (acks, result) {
            (Acks::Zero, Ok(_)) => Outcome::Unacknowledged,
            (Acks::Zero, Err(e)) => {
                tracing::warn!(topic = %batch.topic, partition = batch.partition, error = %e,
                    "acks=0 batch was not appended");
                Outcome::Unacknowledged
            }
            (_, Err(e)) => Outcome::Failed(e),
            (_, Ok((_, info))) => {
                let flush_error = flushes
                    .iter()
                    .find(|(t, p, _)| **t == *batch.topic && *p == batch.partition)
                    .and_then(|(_, _, e)| e.clone());
                match flush_error {
                    Some(e) => Outcome::Failed(e),
                    None => Outcome::Appended {
                        base_offset: info.base_offset,
                        log_append_time: info.log_append_time,
                    },
                }
            }
        };
        batch.cell.0.complete(outcome);
    }
}

fn append(
    shared: &Shared,
    batch: &ReadyBatch,
    sequences: &mut Sequences,
) -> Result<(Partition, AppendInfo)> {
    let partition = shared
        .store
        .topic(&batch.topic)?
        .partition(batch.partition)?;
    let producer = shared
        .producer
        .map(|(id, epoch)| (id, epoch, sequences.next(&batch.topic, batch.partition)));
    let options = RecordsOptions {
        compression: shared.config.compression,
        producer,
    };
    let info = partition.append_records(&batch.records, options)?;
    if let Some((_, _, base)) = producer {
        sequences.advance(&batch.topic, batch.partition, base, batch.records.len());
    }
    Ok((partition, info))
}
