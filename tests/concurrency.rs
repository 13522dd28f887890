//! One writer and several readers on the same partition (DESIGN.md section
//! 4): readers see a growing, ordered prefix; `durable` readers never see
//! past the flushed offset; a read handle outlives the deletion of its
//! segment.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use seglog::Error;
use seglog::clock::ManualClock;
use seglog::config::TopicConfig;
use seglog::partition::{Isolation, OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchHeader, BatchSlice, Record};

const T0: i64 = 1_700_000_000_000;
/// Records the writer appends.
const K: i64 = 20_000;
/// How long a reader waits for progress before calling the writer stuck.
const STUCK: Duration = Duration::from_secs(30);

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 64 << 10,
        segment_index_bytes: 64 << 10,
        index_interval_bytes: 1024,
        preallocate_window_bytes: 64 << 10,
        ..TopicConfig::default()
    }
    .clock(Arc::new(ManualClock::new(T0)))
}

fn open(dir: &Path) -> Partition {
    let options = OpenOptions {
        clean_shutdown: true,
        ..OpenOptions::default()
    };
    Partition::open(dir, config(), options).unwrap().0
}

/// The value of the record at `offset`: it names its offset (~50 bytes).
fn value_for(offset: i64) -> String {
    format!("offset-{offset:012}-{}", "v".repeat(31))
}

/// A small deterministic generator (splitmix64), so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Appends `K` records in batches of 1..=8, flushing now and then (and at
/// the end, so durable readers can reach `K`).
fn write_all(p: &Partition, seed: u64) {
    let mut rng = Rng(seed);
    let mut next = 0;
    while next < K {
        let n = (rng.range(1, 8) as i64).min(K - next);
        let records: Vec<Record> = (next..next + n)
            .map(|o| Record::new(T0, value_for(o)))
            .collect();
        let info = p
            .append_records(&records, RecordsOptions::default())
            .unwrap();
        assert_eq!((info.base_offset, info.last_offset), (next, next + n - 1));
        next += n;
        if rng.range(0, 199) == 0 {
            let flushed = p.flush().unwrap();
            assert!(flushed >= next, "flush returned {flushed}, appended {next}");
        }
    }
    assert_eq!(p.flush().unwrap(), K);
}

/// Checks the batches of one read starting at `next`: the first holds
/// `next`, every batch has a valid CRC, and the records from `next` on are
/// dense with the right values. Returns the offset after the last record.
fn check_slice(p: &Partition, slice: &BatchSlice, mut next: i64) -> i64 {
    for (i, batch) in slice.iter().enumerate() {
        if i == 0 {
            assert!(
                batch.base_offset() <= next && next <= batch.last_offset(),
                "a read at {next} returned a first batch holding {}..={}",
                batch.base_offset(),
                batch.last_offset()
            );
        } else {
            assert_eq!(batch.base_offset(), next, "batches are not contiguous");
        }
        batch.verify_crc().unwrap();
        for record in batch.records(&p.config().decode).unwrap().iter() {
            let record = record.unwrap();
            if record.offset() < next {
                continue;
            }
            assert_eq!(record.offset(), next, "offsets not dense");
            assert_eq!(record.value().unwrap(), value_for(next).as_bytes());
            next += 1;
        }
    }
    next
}

/// Reads from offset 0 until it has seen all `K` records, waiting for more
/// with `wait_for` instead of spinning. Returns how many reads it did.
fn read_all(p: &Partition, isolation: Isolation) -> u64 {
    let mut next = 0;
    let mut reads = 0;
    // Set when `wait_for` said a record at `next` is visible.
    let mut promised = false;
    while next < K {
        let slice = p.read_with(next, 8 << 10, isolation).unwrap();
        reads += 1;
        if isolation == Isolation::Durable
            && let Some(last) = slice.iter().last()
        {
            let flushed = p.flushed_offset();
            assert!(
                last.last_offset() < flushed,
                "a durable read returned offset {} but the flushed offset is {flushed}",
                last.last_offset()
            );
        }
        if slice.is_empty() {
            assert!(
                !promised,
                "wait_for({next}, {isolation:?}) returned true, then a read there was empty"
            );
            assert!(
                p.wait_for(next, isolation, STUCK),
                "no record past {next} within {STUCK:?} ({isolation:?})"
            );
            promised = true;
            continue;
        }
        promised = false;
        let after = check_slice(p, &slice, next);
        assert!(after > next, "a non-empty read at {next} made no progress");
        next = after;
    }
    assert_eq!(next, K);
    reads
}

#[test]
fn one_writer_three_readers_see_growing_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(&dir.path().join("conc-0"));
    let readers: Vec<_> = [Isolation::Appended, Isolation::Appended, Isolation::Durable]
        .into_iter()
        .map(|isolation| {
            let p = p.clone();
            thread::spawn(move || read_all(&p, isolation))
        })
        .collect();
    let writer = {
        let p = p.clone();
        thread::spawn(move || write_all(&p, 0x5eed))
    };
    writer.join().unwrap();
    for reader in readers {
        let reads = reader.join().unwrap();
        assert!(reads > 0);
    }
    assert_eq!(p.log_end_offset(), K);
    assert!(
        p.segment_base_offsets().len() > 5,
        "the log should have rolled: {:?}",
        p.segment_base_offsets()
    );
    p.close().unwrap();
}

#[test]
fn durable_reader_waits_for_flush() {
    let dir = tempfile::tempdir().unwrap();
    let p = open(&dir.path().join("dur-0"));
    for o in 0..10 {
        p.append_records(&[Record::new(T0, value_for(o))], RecordsOptions::default())
            .unwrap();
    }
    assert!(
        p.read_with(0, 1 << 20, Isolation::Durable)
            .unwrap()
            .is_empty()
    );
    let reader = {
        let p = p.clone();
        thread::spawn(move || {
            assert!(p.wait_for(0, Isolation::Durable, STUCK));
            let slice = p.read_with(0, 1 << 20, Isolation::Durable).unwrap();
            check_slice(&p, &slice, 0)
        })
    };
    // The reader cannot finish before this flush, whatever the scheduling.
    assert_eq!(p.flush().unwrap(), 10);
    assert_eq!(reader.join().unwrap(), 10);
}

/// A slice read before its segment was deleted stays readable and intact.
#[test]
fn held_slice_survives_delete_records() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("held-0");
    let p = open(&pdir);
    let mut next = 0;
    while p.segment_base_offsets().len() < 4 {
        p.append_records(
            &[Record::new(T0, value_for(next))],
            RecordsOptions::default(),
        )
        .unwrap();
        next += 1;
    }
    let first_log = pdir.join("00000000000000000000.log");
    assert!(first_log.exists());
    let held = p.read(0, 1 << 20).unwrap();
    let held_end = check_slice(&p, &held, 0);
    let second = p.segment_base_offsets()[1];
    assert_eq!(held_end, second, "one read should return all of segment 0");

    let third = p.segment_base_offsets()[2];
    assert_eq!(p.delete_records(third).unwrap(), third);
    assert!(!first_log.exists(), "segment 0 should be deleted");
    assert!(matches!(
        p.read(0, 100),
        Err(Error::OffsetOutOfRange { requested: 0, .. })
    ));
    // More appends reuse the page cache; the held slice must not change.
    for o in next..next + 2_000 {
        p.append_records(&[Record::new(T0, value_for(o))], RecordsOptions::default())
            .unwrap();
    }
    assert_eq!(check_slice(&p, &held, 0), held_end);
    p.close().unwrap();
    assert_eq!(check_slice(&p, &held, 0), held_end);
}

/// A writer appends, a deleter moves the log start up behind it, and a
/// reader holds every slice it read. Each read returns what it asked for
/// (or `OffsetOutOfRange` once the start passed it), and at the end every
/// held slice, most of whose segments are gone, is still intact.
#[test]
fn delete_records_concurrent_with_reader_holding_slices() {
    let dir = tempfile::tempdir().unwrap();
    let pdir = dir.path().join("del-0");
    let p = open(&pdir);
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let p = p.clone();
        thread::spawn(move || write_all(&p, 0xde1e7e))
    };
    let deleter = {
        let (p, done) = (p.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let mut deletions = 0;
            let mut start = 0;
            while !done.load(Ordering::Acquire) {
                // Keep about 1,000 records behind the log end.
                let target = p.log_end_offset() - 1_000;
                if target > start {
                    let new_start = p.delete_records(target).unwrap();
                    assert_eq!(new_start, target);
                    start = new_start;
                    deletions += 1;
                }
                p.wait_for(
                    p.log_end_offset() + 200,
                    Isolation::Appended,
                    Duration::from_millis(50),
                );
            }
            deletions
        })
    };
    let reader = {
        let (p, done) = (p.clone(), Arc::clone(&done));
        thread::spawn(move || {
            let mut held: Vec<(i64, BatchSlice)> = Vec::new();
            let mut next = 0;
            let mut skipped = 0;
            let deadline = Instant::now() + STUCK;
            while next < K {
                assert!(Instant::now() < deadline, "reader stuck at {next}");
                match p.read(next, 4 << 10) {
                    Ok(slice) if slice.is_empty() => {
                        p.wait_for(next, Isolation::Appended, STUCK);
                    }
                    Ok(slice) => {
                        let after = check_slice(&p, &slice, next);
                        held.push((next, slice));
                        next = after;
                    }
                    Err(Error::OffsetOutOfRange { log_start, .. }) => {
                        assert!(
                            log_start > next,
                            "out of range at {next}, start {log_start}"
                        );
                        skipped += log_start - next;
                        next = log_start;
                    }
                    Err(e) => panic!("read at {next}: {e}"),
                }
                // Read slowly enough that the start overtakes the reader
                // now and then (a pause, not synchronisation).
                if held.len().is_multiple_of(8) {
                    thread::sleep(Duration::from_millis(2));
                }
            }
            done.store(true, Ordering::Release);
            (held, skipped)
        })
    };
    writer.join().unwrap();
    let (held, skipped) = reader.join().unwrap();
    done.store(true, Ordering::Release);
    let deletions = deleter.join().unwrap();
    assert!(deletions > 0, "the deleter never ran");
    assert!(p.log_start_offset() > 0);
    let first_live = p.segment_base_offsets()[0];
    let mut from_deleted = 0;
    for (from, slice) in &held {
        let after = check_slice(&p, slice, *from);
        assert!(after > *from);
        if after <= first_live {
            from_deleted += 1;
        }
    }
    assert!(
        from_deleted > 0,
        "no held slice came from a deleted segment"
    );
    eprintln!(
        "{} slices held ({from_deleted} from deleted segments), {skipped} records skipped, {deletions} deletions",
        held.len()
    );
    p.close().unwrap();
}

/// Readers read at the log start while the writer keeps moving it up by
/// one segment at a time: a read must return the batch holding the offset
/// asked for, or `OffsetOutOfRange` (Kafka's answer below the log start);
/// never a later batch, which would be a silent gap. The race window is
/// small, so this runs until a gap shows or `RACE_BUDGET` passes (on tmpfs
/// when there is one: rolls there cost no fsync, so more deletions fit).
#[test]
fn read_at_log_start_racing_delete_records() {
    const RACE_BUDGET: Duration = Duration::from_secs(3);
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let cfg = TopicConfig {
        segment_bytes: 2048,
        ..config()
    };
    let options = OpenOptions {
        clean_shutdown: true,
        ..OpenOptions::default()
    };
    let p = Partition::open(&dir.path().join("race-0"), cfg, options)
        .unwrap()
        .0;
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (p, done) = (p.clone(), Arc::clone(&done));
            thread::spawn(move || {
                let (mut reads, mut out_of_range) = (0u64, 0u64);
                while !done.load(Ordering::Acquire) {
                    let at = p.log_start_offset();
                    match p.read(at, 1) {
                        Ok(slice) => {
                            if let Some(first) = slice.iter().next()
                                && first.base_offset() > at
                            {
                                done.store(true, Ordering::Release);
                                return Err(format!(
                                    "a read at {at} (the log start when read) returned a first batch holding {}..={}: a silent gap; the log start is now {}",
                                    first.base_offset(),
                                    first.last_offset(),
                                    p.log_start_offset()
                                ));
                            }
                            check_slice(&p, &slice, at);
                            reads += 1;
                        }
                        Err(Error::OffsetOutOfRange { .. }) => out_of_range += 1,
                        Err(e) => panic!("read at {at}: {e}"),
                    }
                }
                Ok((reads, out_of_range))
            })
        })
        .collect();
    let deadline = Instant::now() + RACE_BUDGET;
    let (mut next, mut deletions) = (0, 0);
    while Instant::now() < deadline && !done.load(Ordering::Acquire) {
        let records: Vec<Record> = (next..next + 4)
            .map(|o| Record::new(T0, value_for(o)))
            .collect();
        p.append_records(&records, RecordsOptions::default())
            .unwrap();
        next += 4;
        let bases = p.segment_base_offsets();
        if bases.len() >= 3 {
            assert_eq!(p.delete_records(bases[1]).unwrap(), bases[1]);
            deletions += 1;
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        let (reads, oor) = r.join().unwrap().unwrap_or_else(|gap| panic!("{gap}"));
        eprintln!("{deletions} deletions, {reads} reads, {oor} out of range");
    }
}
