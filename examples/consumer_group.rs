//! Consumer groups in one process: three consumers share a topic, one
//! leaves half-way, the others take over its partitions from its committed
//! offsets, and every record is consumed.
//!
//! ```text
//! cargo run --example consumer_group
//! ```
//!
//! 1. 360 records are written to the six partitions of `events` (60 each).
//! 2. Three threads each run a [`GroupConsumer`] of the group `billing`
//!    (`cooperative-sticky` assignor, `auto.offset.reset=earliest`): every
//!    rebalance is printed by the [`RebalanceListener`], every poll by the
//!    thread (`[c2] events-4 @12..21` is offsets 12 to 21 of partition 4),
//!    and each commits after processing what it polled.
//! 3. Once half of the records are consumed, `c3` closes: it commits its
//!    positions and leaves, and the group rebalances at once. `c1` and `c2`
//!    are assigned its partitions (keeping their own: the cooperative
//!    protocol only moves what must move) and go on from its committed
//!    offsets.
//! 4. At the end, every partition's offsets were consumed without a gap
//!    (the program fails otherwise), the group's lag is 0 everywhere, and
//!    the counts per partition and consumer are printed.
//!
//! Bounded: polls wait at most 100 ms, and the consumers stop after
//! [`DEADLINE`] whatever happened, so the example ends in a few seconds.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use seglog::Store;
use seglog::client::{AutoOffsetReset, ConsumerRecord, Producer, ProducerConfig, ProducerRecord};
use seglog::config::{StoreConfig, TopicConfig};
use seglog::offsets::group::{
    Assignor, GroupConsumer, GroupConsumerConfig, GroupCoordinator, RebalanceListener,
    TopicPartition,
};
use seglog::offsets::{OffsetStore, OffsetStoreConfig};

/// The topic the group consumes.
const TOPIC: &str = "events";
/// Its partition count.
const PARTITIONS: u32 = 6;
/// Records written to each partition.
const PER_PARTITION: i64 = 60;
/// Records written in all.
const TOTAL: usize = (PARTITIONS as usize) * (PER_PARTITION as usize);
/// The group id.
const GROUP: &str = "billing";
/// The consumers, by `client.id`; the last one leaves half-way.
const MEMBERS: [&str; 3] = ["c1", "c2", "c3"];
/// `max.poll.records`: small, so the work is spread over many polls.
const MAX_POLL_RECORDS: usize = 10;
/// The simulated processing time of one poll's records.
const PROCESSING: Duration = Duration::from_millis(20);
/// How long one poll waits for records.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// When the consumers give up, whatever happened.
const DEADLINE: Duration = Duration::from_secs(20);

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreConfig::default())?;
    store.create_topic(TOPIC, PARTITIONS, TopicConfig::default())?;
    produce(&store)?;
    println!("wrote {TOTAL} records to the {PARTITIONS} partitions of {TOPIC}\n");

    let offsets = OffsetStore::open(&store, OffsetStoreConfig::default())?;
    let coordinator = GroupCoordinator::new(&store, offsets);
    let ledger = Arc::new(Ledger::default());
    consume(&coordinator, &ledger)?;

    println!();
    let complete = report(&store, &ledger)?;
    print_lag(&coordinator);
    drop(coordinator);
    store.close()?;
    if !complete {
        return Err("some records were not consumed".into());
    }
    println!("\nevery record was consumed, without gaps");
    Ok(())
}

/// Writes [`PER_PARTITION`] records to each partition.
fn produce(store: &Store) -> Result<(), Box<dyn Error>> {
    let producer = Producer::new(store, ProducerConfig::default())?;
    for partition in 0..PARTITIONS {
        for n in 0..PER_PARTITION {
            let value = format!("event {partition}-{n}");
            producer.send(ProducerRecord::new(TOPIC, value).with_partition(partition))?;
        }
    }
    producer.flush();
    producer.close();
    Ok(())
}

/// Runs the members, one thread each, until every record was consumed
/// (or the deadline).
fn consume(coordinator: &GroupCoordinator, ledger: &Arc<Ledger>) -> Result<(), Box<dyn Error>> {
    let start = Arc::new(Barrier::new(MEMBERS.len()));
    let threads: Vec<_> = MEMBERS
        .iter()
        .map(|&name| {
            let (coordinator, ledger, start) = (coordinator.clone(), ledger.clone(), start.clone());
            let leaves = name == MEMBERS[MEMBERS.len() - 1];
            thread::spawn(move || member(&coordinator, name, leaves, &ledger, &start))
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "a consumer thread panicked")??;
    }
    Ok(())
}

/// One member's life: subscribe, poll / process / commit until everything
/// was consumed (or half of it, when it `leaves`), then close.
fn member(
    coordinator: &GroupCoordinator,
    name: &'static str,
    leaves: bool,
    ledger: &Ledger,
    start: &Barrier,
) -> Result<(), seglog::Error> {
    let mut config = GroupConsumerConfig::new(GROUP)
        .client_id(name)
        .assignors(&[Assignor::CooperativeSticky])
        .heartbeat_interval_ms(50)
        .auto_offset_reset(AutoOffsetReset::Earliest);
    config.consumer.max_poll_records = MAX_POLL_RECORDS;
    let mut consumer = GroupConsumer::new(coordinator, config)?;
    consumer.subscribe(&[TOPIC], Announce { name })?;
    start.wait();
    let deadline = Instant::now() + DEADLINE;
    while ledger.distinct() < TOTAL && Instant::now() < deadline {
        if leaves && ledger.distinct() >= TOTAL / 2 {
            println!("[{name}] half of the records are consumed: closing");
            break;
        }
        let records = consumer.poll(POLL_TIMEOUT)?;
        if records.is_empty() {
            continue;
        }
        println!("[{name}] {}", ledger.add(name, &records));
        thread::sleep(PROCESSING);
        commit(&mut consumer, name)?;
    }
    consumer.close()
}

/// Commits the positions of what was processed. A commit refused because
/// a rebalance completed since the last poll is left to the next one (the
/// positions only grow, and a partition that moves is committed before it
/// is revoked).
fn commit(consumer: &mut GroupConsumer, name: &str) -> Result<(), seglog::Error> {
    match consumer.commit_sync() {
        Err(seglog::Error::RebalanceInProgress { .. }) => {
            println!("[{name}] commit deferred: the group rebalanced, poll first");
            Ok(())
        }
        other => other,
    }
}

/// Prints the rebalances a member goes through.
struct Announce {
    name: &'static str,
}

impl RebalanceListener for Announce {
    fn on_partitions_revoked(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> seglog::Result<()> {
        if !partitions.is_empty() {
            let (name, generation) = (self.name, consumer.generation());
            println!(
                "[{name}] generation {generation}: revoked {}",
                names(partitions)
            );
        }
        Ok(())
    }

    fn on_partitions_assigned(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> seglog::Result<()> {
        let (name, generation) = (self.name, consumer.generation());
        let owns = names(&consumer.assignment());
        if partitions.is_empty() {
            println!("[{name}] generation {generation}: nothing new, owns {owns}");
            return Ok(());
        }
        let mut starts = Vec::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            // Set already: the committed offset, else auto.offset.reset.
            let position = consumer.position(topic, *partition)?;
            starts.push(format!("{topic}-{partition}@{position}"));
        }
        println!(
            "[{name}] generation {generation}: assigned {}, owns {owns}",
            starts.join(" ")
        );
        Ok(())
    }
}

/// `[events-0 events-3]`.
fn names(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(|(t, p)| format!("{t}-{p}")).collect();
    format!("[{}]", names.join(" "))
}

/// What was consumed, by whom.
#[derive(Debug, Default)]
struct Ledger {
    inner: Mutex<LedgerInner>,
}

#[derive(Debug, Default)]
struct LedgerInner {
    /// How often each (partition, offset) was delivered.
    seen: BTreeMap<(u32, i64), usize>,
    /// Records per (partition, consumer).
    by_member: BTreeMap<(u32, &'static str), usize>,
}

impl Ledger {
    /// Records `records` as consumed by `name`; returns a line saying which
    /// offsets of which partitions they were.
    fn add(&self, name: &'static str, records: &[ConsumerRecord]) -> String {
        let mut ranges: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
        let mut inner = self.lock();
        for r in records {
            *inner.seen.entry((r.partition, r.offset)).or_default() += 1;
            *inner.by_member.entry((r.partition, name)).or_default() += 1;
            let range = ranges.entry(r.partition).or_insert((r.offset, r.offset));
            range.1 = r.offset;
        }
        let shown: Vec<String> = ranges
            .iter()
            .map(|(p, (first, last))| format!("{TOPIC}-{p} @{first}..{last}"))
            .collect();
        shown.join(", ")
    }

    /// How many distinct records were consumed.
    fn distinct(&self) -> usize {
        self.lock().seen.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerInner> {
        // A panicking consumer thread fails the example at `join` anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Prints per partition how many records each consumer took and whether
/// any offset is missing; returns whether none is.
fn report(store: &Store, ledger: &Ledger) -> Result<bool, Box<dyn Error>> {
    let inner = ledger.lock();
    let topic = store.topic(TOPIC)?;
    let mut complete = true;
    println!("partition  records  missing  twice  by consumer");
    for partition in 0..PARTITIONS {
        let end = topic.partition(partition)?.log_end_offset();
        let seen = |o: i64| inner.seen.get(&(partition, o)).copied().unwrap_or(0);
        let missing = (0..end).filter(|&o| seen(o) == 0).count();
        let twice = (0..end).filter(|&o| seen(o) > 1).count();
        let by: Vec<String> = MEMBERS
            .iter()
            .filter_map(|m| {
                inner
                    .by_member
                    .get(&(partition, *m))
                    .map(|n| format!("{m}:{n}"))
            })
            .collect();
        println!(
            "{partition:>9}  {:>7}  {missing:>7}  {twice:>5}  {}",
            end as usize - missing,
            by.join(" ")
        );
        complete &= missing == 0;
    }
    let twice: usize = inner.seen.values().filter(|&&n| n > 1).count();
    if twice > 0 {
        println!("{twice} records were delivered twice (at-least-once: Kafka allows it)");
    }
    Ok(complete)
}

/// Prints the group's committed offsets and lag, as
/// `kafka-consumer-groups --describe` would.
fn print_lag(coordinator: &GroupCoordinator) {
    let d = coordinator.describe(GROUP);
    println!(
        "\ngroup {GROUP}: state {}, generation {}, {} members",
        d.state,
        d.generation,
        d.members.len()
    );
    for p in &d.offsets {
        let show = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        println!(
            "  {}-{}: committed {}, log end {}, lag {}",
            p.topic,
            p.partition,
            show(p.committed),
            show(p.log_end_offset),
            show(p.lag)
        );
    }
}
