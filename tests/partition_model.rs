//! Model-based test of the partition log: random sequences of appends,
//! reads, lookups, rolls, flushes, `delete_records`, `truncate_to`, clean
//! reopens and crashes (with the unflushed tail cut or damaged) run against
//! an in-memory model of batches. Case count: `PROPTEST_CASES` (default 24).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use seglog::clock::ManualClock;
use seglog::config::TopicConfig;
use seglog::partition::{OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchHeader, Record, batches};
use seglog::segment::{FileKind, file_name};

const T0: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, value_len: usize },
    Read { at: f64, max_bytes: usize },
    Lookup { at: f64 },
    Roll,
    Flush,
    DeleteRecords { at: f64 },
    TruncateTo { at: f64 },
    Reopen,
    Crash { damage: Option<(f64, Damage)> },
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Cut,
    Flip(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1usize..6, 0usize..300).prop_map(|(records, value_len)| Op::Append { records, value_len }),
        3 => (0.0f64..1.0, 1usize..3000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => (0.0f64..1.0).prop_map(|at| Op::Lookup { at }),
        1 => Just(Op::Roll),
        1 => Just(Op::Flush),
        1 => (0.0f64..1.0).prop_map(|at| Op::DeleteRecords { at }),
        1 => (0.0f64..1.2).prop_map(|at| Op::TruncateTo { at }),
        1 => Just(Op::Reopen),
        1 => proptest::option::of((0.0f64..1.0, prop_oneof![Just(Damage::Cut), (0u8..8).prop_map(Damage::Flip)]))
            .prop_map(|damage| Op::Crash { damage }),
    ]
}

/// One appended batch: its base offset and values (timestamp = T0 + offset).
#[derive(Debug, Clone)]
struct Batch {
    base: i64,
    values: Vec<Vec<u8>>,
}

impl Batch {
    fn end(&self) -> i64 {
        self.base + self.values.len() as i64
    }
}

#[derive(Debug, Default)]
struct Model {
    batches: Vec<Batch>,
    start: i64,
    end: i64,
}

impl Model {
    fn value(&self, offset: i64) -> Option<&[u8]> {
        let b = self
            .batches
            .iter()
            .find(|b| b.base <= offset && offset < b.end())?;
        Some(&b.values[(offset - b.base) as usize])
    }

    fn pick(&self, at: f64) -> i64 {
        self.start + ((self.end - self.start) as f64 * at) as i64
    }

    fn truncate(&mut self, offset: i64) {
        if offset < self.start {
            self.batches.clear();
            self.start = offset;
            self.end = offset;
            return;
        }
        self.batches.retain(|b| b.end() <= offset);
        self.end = self
            .batches
            .last()
            .map_or(self.start, Batch::end)
            .max(self.start);
    }
}

fn config(clock: &ManualClock) -> TopicConfig {
    TopicConfig {
        segment_bytes: 2048,
        segment_index_bytes: 512,
        index_interval_bytes: 128,
        preallocate_window_bytes: 16 << 10,
        ..TopicConfig::default()
    }
    .clock(Arc::new(clock.clone()))
}

struct Harness {
    dir: PathBuf,
    clock: ManualClock,
    log: Partition,
    model: Model,
}

impl Harness {
    fn new(root: &Path) -> Self {
        let dir = root.join("model-0");
        let clock = ManualClock::new(T0);
        let (log, _) = Partition::open(
            &dir,
            config(&clock),
            OpenOptions {
                clean_shutdown: true,
                ..Default::default()
            },
        )
        .unwrap();
        Harness {
            dir,
            clock,
            log,
            model: Model::default(),
        }
    }

    fn reopen(&mut self, clean: bool, recovery_point: i64) {
        let options = OpenOptions {
            clean_shutdown: clean,
            recovery_point,
            log_start_offset: Some(self.model.start),
            ..OpenOptions::default()
        };
        self.log = Partition::open(&self.dir, config(&self.clock), options)
            .unwrap()
            .0;
    }

    fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Append { records, value_len } => self.append(records, value_len),
            Op::Read { at, max_bytes } => {
                let offset = self.model.pick(at);
                self.check_read(offset, max_bytes)?;
            }
            Op::Lookup { at } => {
                let offset = self.model.pick(at);
                let found = self.log.offset_for_timestamp(T0 + offset).unwrap();
                let want = (offset..self.model.end).find(|&o| self.model.value(o).is_some());
                prop_assert_eq!(found.map(|f| f.0), want);
            }
            Op::Roll => self.log.roll_now().unwrap(),
            Op::Flush => {
                prop_assert_eq!(self.log.flush().unwrap(), self.model.end);
            }
            Op::DeleteRecords { at } => {
                let before = self.model.pick(at);
                let start = self.log.delete_records(before).unwrap();
                self.model.start = self.model.start.max(before);
                prop_assert_eq!(start, self.model.start);
            }
            Op::TruncateTo { at } => {
                let offset = self.model.pick(at);
                let end = self.log.truncate_to(offset).unwrap();
                if offset < self.model.end {
                    self.model.truncate(offset);
                }
                prop_assert_eq!(end, self.model.end);
            }
            Op::Reopen => {
                self.log.close().unwrap();
                self.reopen(true, self.model.end);
            }
            Op::Crash { damage } => self.crash(damage)?,
        }
        prop_assert_eq!(self.log.log_end_offset(), self.model.end);
        prop_assert_eq!(self.log.log_start_offset(), self.model.start);
        Ok(())
    }

    fn append(&mut self, records: usize, value_len: usize) {
        let base = self.model.end;
        let values: Vec<Vec<u8>> = (0..records)
            .map(|i| format!("{}:{}", base + i as i64, "v".repeat(value_len)).into_bytes())
            .collect();
        let recs: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record::new(T0 + base + i as i64, v.clone()))
            .collect();
        self.clock.set(T0 + base + records as i64);
        let info = self
            .log
            .append_records(&recs, RecordsOptions::default())
            .unwrap();
        assert_eq!(info.base_offset, base);
        self.model.batches.push(Batch { base, values });
        self.model.end = base + records as i64;
    }

    fn check_read(&self, offset: i64, max_bytes: usize) -> Result<(), TestCaseError> {
        let slice = self.log.read(offset, max_bytes).unwrap();
        if offset == self.model.end {
            prop_assert!(slice.is_empty());
            return Ok(());
        }
        prop_assert!(!slice.is_empty(), "read at {} returned nothing", offset);
        let mut expected = offset;
        let mut first = true;
        for batch in slice.iter() {
            prop_assert!(batch.verify_crc().is_ok());
            if first {
                prop_assert!(batch.base_offset() <= offset && offset <= batch.last_offset());
                first = false;
            }
            for r in batch.records(&self.log.config().decode).unwrap().iter() {
                let r = r.unwrap();
                if r.offset() < offset {
                    continue;
                }
                prop_assert_eq!(r.offset(), expected);
                prop_assert_eq!(r.value(), self.model.value(expected));
                prop_assert_eq!(r.timestamp(), T0 + expected);
                expected += 1;
            }
        }
        Ok(())
    }

    /// A crash: no close; optionally the active segment's unflushed bytes
    /// are cut or damaged. Afterwards the log must be a prefix of the model
    /// holding at least everything flushed.
    fn crash(&mut self, damage: Option<(f64, Damage)>) -> Result<(), TestCaseError> {
        let flushed = self.log.flushed_offset();
        let active = *self.log.segment_base_offsets().last().unwrap();
        let placeholder = self.placeholder();
        let old = std::mem::replace(&mut self.log, placeholder);
        std::mem::forget(old);
        if let Some((at, kind)) = damage {
            damage_after(
                &file_name::file_path(&self.dir, active, FileKind::Log),
                flushed,
                at,
                kind,
            );
        }
        self.reopen(false, flushed);
        let end = self.log.log_end_offset();
        prop_assert!(
            end >= flushed && end <= self.model.end,
            "end {} flushed {} model {}",
            end,
            flushed,
            self.model.end
        );
        self.model.truncate(end);
        prop_assert_eq!(
            end,
            self.model.end,
            "recovered end is not a batch boundary of the model"
        );
        if self.model.end > self.model.start {
            self.check_read(self.model.start, usize::MAX)?;
        }
        Ok(())
    }

    /// A throwaway partition to move the real one out of `self`.
    fn placeholder(&self) -> Partition {
        let dir = self.dir.with_file_name("placeholder-0");
        Partition::open(&dir, TopicConfig::default(), OpenOptions::default())
            .unwrap()
            .0
    }
}

/// Cuts or flips a byte of `log` at a point past the first batch at or
/// after `flushed` (only unflushed bytes: flushed data is on disk).
fn damage_after(log: &Path, flushed: i64, at: f64, kind: Damage) {
    let mut data = std::fs::read(log).unwrap();
    let safe = batches(&data)
        .filter_map(Result::ok)
        .find(|(_, b)| b.base_offset() >= flushed)
        .map(|(pos, _)| pos);
    let Some(safe) = safe else { return };
    let valid_end = batches(&data)
        .filter_map(Result::ok)
        .last()
        .map_or(0, |(p, b)| p + b.size());
    if valid_end <= safe {
        return;
    }
    let point = safe + ((valid_end - safe) as f64 * at) as usize;
    match kind {
        Damage::Cut => data.truncate(point),
        Damage::Flip(bit) => {
            // baseOffset (the first 8 bytes of a batch) is outside the CRC:
            // a flip there that keeps offsets increasing cannot be told from
            // a compacted segment's gap (Kafka cannot either); the cases the
            // offset checks do catch are in tests/segment.rs. Flip the
            // batchLength byte instead.
            let starts: Vec<usize> = batches(&data)
                .filter_map(Result::ok)
                .map(|(p, _)| p)
                .collect();
            let mut at = point.min(valid_end - 1);
            if let Some(&s) = starts.iter().rev().find(|&&s| s <= at)
                && at < s + 8
            {
                at = s + 8;
            }
            data[at] ^= 1 << bit;
        }
    }
    std::fs::write(log, &data).unwrap();
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn partition_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let root = tempfile::tempdir().unwrap();
        let mut h = Harness::new(root.path());
        for op in &ops {
            h.run(op)?;
        }
        if h.model.end > h.model.start {
            h.check_read(h.model.start, usize::MAX)?;
        }
        h.log.close().unwrap();
        for base in h.log.segment_base_offsets() {
            let report = seglog::segment::verify_segment(&h.dir, base, &h.log.config().segment_config()).unwrap();
            prop_assert!(report.is_ok(), "{:?}", report.faults);
        }
    }
}
