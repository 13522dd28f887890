//! `seglog compact TOPIC [-p N]`: cleans a compacted topic's partitions now
//! ([`Store::compact`], one partition per call), whatever their dirty
//! ratio, as Kafka's log cleaner would once `min.cleanable.dirty.ratio` is
//! reached.
//!
//! Prints one line of statistics per partition and a summary on stdout; a
//! progress bar over the partitions runs on stderr meanwhile (only when
//! stderr is a terminal).

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use seglog::Store;
use seglog::cleaner::CleanStats;
use seglog::store::PartitionCleaning;

use crate::{Open, Status, report, store_error, with_store};

/// Text shown after `seglog compact --help`.
const AFTER_HELP: &str = "\
Cleans the dirty part of each partition (from its cleaner checkpoint up to \
the active segment, which is never cleaned): keeps the latest record of \
each key, drops tombstones past delete.retention.ms, and moves the cleaner \
checkpoint (cleaner-offset-checkpoint). The topic needs a seglog \
configuration whose cleanup.policy contains compact.

Output, one line per partition:
TOPIC-N: records R1 -> R2, bytes B1 -> B2, tombstones removed T, dirty ratio \
D1 -> D2, segments S1 -> S2, X ms
then: summary: P partitions, records R1 -> R2, bytes B1 -> B2, T tombstones \
removed in X ms

Exit status: 0 when every partition was cleaned, 2 for usage, store or I/O \
errors (unknown topic or partition, a topic that is not compacted, a locked \
store).";

/// Arguments of `seglog compact`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompactArgs {
    /// The topic (its cleanup.policy must contain compact).
    topic: String,

    /// Clean only partition N (default: every partition).
    #[arg(short, long, value_name = "N")]
    partition: Option<u32>,
}

/// Runs `seglog compact`.
pub fn run(dir: &Path, args: &CompactArgs) -> Status {
    with_store(dir, Open::Existing, |store| compact(store, args))
}

/// Cleans the chosen partitions one by one, printing each one's line.
fn compact(store: &Store, args: &CompactArgs) -> Status {
    let partitions = match targets(store, args) {
        Ok(partitions) => partitions,
        Err(message) => return report(Status::Failed, message),
    };
    let started = Instant::now();
    let bar = progress_bar(partitions.len() as u64);
    let mut status = Status::Sound;
    let mut totals = Totals::default();
    for n in partitions {
        bar.set_message(format!("{}-{n}", args.topic));
        match store.compact(&args.topic, Some(n)) {
            Ok(done) => {
                for cleaning in &done {
                    totals.add(&cleaning.stats);
                    status.add(bar.suspend(|| print(&partition_line(cleaning))));
                }
            }
            Err(e) => {
                let message = format!("cleaning {}-{n}: {}", args.topic, store_error(&e));
                status.add(bar.suspend(|| report(Status::Failed, message)));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    status.add(print(&totals.summary(started.elapsed())));
    status
}

/// The partitions to clean, or why the topic cannot be cleaned.
fn targets(store: &Store, args: &CompactArgs) -> Result<Vec<u32>, String> {
    let name = &args.topic;
    let topic = store.topic(name).map_err(|e| store_error(&e))?;
    let hint = format!("`seglog topics alter {name} --config cleanup.policy=compact`");
    if !topic.is_configured() {
        return Err(format!(
            "topic {name} has no seglog configuration (found as Kafka partition directories \
             only), and such data is never cleaned; give it one first with {hint}"
        ));
    }
    if !topic.config().cleanup_policy.compact {
        return Err(format!(
            "topic {name} is not compacted (its cleanup.policy lacks compact), so there is \
             nothing to clean; set cleanup.policy=compact (or compact,delete) first with {hint}"
        ));
    }
    match args.partition {
        Some(n) => topic
            .partition(n)
            .map(|_| vec![n])
            .map_err(|e| store_error(&e)),
        None => Ok((0..topic.partition_count()).collect()),
    }
}

/// A progress bar over `len` partitions on stderr, drawn only when stderr
/// is a terminal.
fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{spinner} compacting {msg} [{bar:30}] {pos}/{len} partitions {elapsed}",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `TOPIC-N: records R1 -> R2, bytes B1 -> B2, tombstones removed T, dirty
/// ratio D1 -> D2, segments S1 -> S2, X ms`.
fn partition_line(cleaning: &PartitionCleaning) -> String {
    let s = &cleaning.stats;
    let note = if s.map_full {
        " (offset map full: run again to clean the rest)"
    } else {
        ""
    };
    format!(
        "{}-{}: records {} -> {}, bytes {} -> {}, tombstones removed {}, dirty ratio {:.3} -> \
         {:.3}, segments {} -> {}, {}{note}\n",
        cleaning.topic,
        cleaning.partition,
        s.records_before,
        s.records_after,
        s.bytes_before,
        s.bytes_after,
        s.tombstones_removed,
        s.dirty_ratio_before,
        s.dirty_ratio_after,
        s.segments_before,
        s.segments_after,
        millis(s.elapsed)
    )
}

/// What the whole run did.
#[derive(Debug, Default)]
struct Totals {
    partitions: usize,
    records_before: u64,
    records_after: u64,
    bytes_before: u64,
    bytes_after: u64,
    tombstones_removed: u64,
}

impl Totals {
    /// Adds one partition's statistics.
    fn add(&mut self, s: &CleanStats) {
        self.partitions += 1;
        self.records_before += s.records_before;
        self.records_after += s.records_after;
        self.bytes_before += s.bytes_before;
        self.bytes_after += s.bytes_after;
        self.tombstones_removed += s.tombstones_removed;
    }

    /// `summary: P partitions, records R1 -> R2, bytes B1 -> B2, T
    /// tombstones removed in X ms`, `elapsed` being the whole run's time.
    fn summary(&self, elapsed: Duration) -> String {
        format!(
            "summary: {} partitions, records {} -> {}, bytes {} -> {}, {} tombstones removed \
             in {}\n",
            self.partitions,
            self.records_before,
            self.records_after,
            self.bytes_before,
            self.bytes_after,
            self.tombstones_removed,
            millis(elapsed)
        )
    }
}

/// A duration as milliseconds with one decimal: `12.3 ms`.
pub fn millis(elapsed: Duration) -> String {
    format!("{:.1} ms", elapsed.as_secs_f64() * 1e3)
}

/// Writes `text` to stdout; a closed stdout (`| head`) is not an error.
pub fn print(text: &str) -> Status {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Status::Sound,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Status::Sound,
        Err(e) => report(Status::Failed, format!("writing to stdout: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_keeps_one_decimal() {
        assert_eq!(millis(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(millis(Duration::ZERO), "0.0 ms");
    }

    #[test]
    fn summary_adds_partitions_up() {
        let totals = Totals {
            partitions: 2,
            records_before: 10,
            records_after: 4,
            ..Totals::default()
        };
        assert_eq!(
            totals.summary(Duration::ZERO),
            "summary: 2 partitions, records 10 -> 4, bytes 0 -> 0, 0 tombstones removed in 0.0 \
             ms\n"
        );
    }
}
