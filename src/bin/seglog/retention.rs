//! `seglog retention run`: applies delete retention to every configured
//! topic of the store now ([`Store::run_retention`]), as Kafka's log
//! manager does every `log.retention.check.interval.ms`.
//!
//! Prints one line per partition that lost segments, then a summary line;
//! a spinner runs on stderr meanwhile (only when stderr is a terminal).

use std::path::Path;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use seglog::Store;
use seglog::store::PartitionRetention;

use crate::compact::{millis, print};
use crate::{Open, Status, report, store_error, with_store};

/// Text shown after `seglog retention run --help`.
const AFTER_HELP: &str = "\
Applies the delete rules of every topic with a seglog configuration: \
retention.ms and retention.bytes when cleanup.policy contains delete, and \
always the log start offset. Topics found only as Kafka partition \
directories (no seglog configuration) are left alone. Deleted segments are \
renamed to .deleted first; the command removes them before it exits (a \
long-running store waits file.delete.delay.ms). When every segment is due, \
an empty segment is rolled at the log end first, so the log end never \
moves back.

Output, one line per partition that lost segments:
TOPIC-N: S segments deleted, bytes B1 -> B2, log start O1 -> O2
then: summary: P partitions, S segments deleted, B bytes freed in T ms

Exit status: 0 when the pass ran, 2 for usage, store or I/O errors.";

/// Arguments of `seglog retention`.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// What to do.
    #[command(subcommand)]
    command: RetentionCommand,
}

/// The `retention` subcommands.
#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Apply delete retention (retention.ms, retention.bytes, log start
    /// offset) to every configured topic now, and print what was deleted.
    #[command(after_help = AFTER_HELP)]
    Run,
}

/// Runs `seglog retention`.
pub fn run(dir: &Path, args: &RetentionArgs) -> Status {
    match args.command {
        RetentionCommand::Run => with_store(dir, Open::Existing, run_pass),
    }
}

/// One retention pass over the store, reported on stdout.
fn run_pass(store: &Store) -> Status {
    let spinner = spinner();
    let started = Instant::now();
    let result = store.run_retention();
    let elapsed = started.elapsed();
    spinner.finish_and_clear();
    match result {
        Ok(done) => print(&report_text(&done, elapsed)),
        Err(e) => report(Status::Failed, store_error(&e)),
    }
}

/// A spinner on stderr, drawn only when stderr is a terminal.
fn spinner() -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message("applying retention");
    let style = ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    spinner.set_style(style);
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// The per-partition lines and the summary.
fn report_text(done: &[PartitionRetention], elapsed: Duration) -> String {
    let mut text: String = done.iter().map(partition_line).collect();
    let segments: usize = done.iter().map(|p| p.stats.segments_deleted).sum();
    let freed: u64 = done
        .iter()
        .map(|p| p.stats.bytes_before.saturating_sub(p.stats.bytes_after))
        .sum();
    text.push_str(&format!(
        "summary: {} partitions, {segments} segments deleted, {freed} bytes freed in {}\n",
        done.len(),
        millis(elapsed)
    ));
    text
}

/// `TOPIC-N: S segments deleted, bytes B1 -> B2, log start O1 -> O2`.
fn partition_line(p: &PartitionRetention) -> String {
    let s = &p.stats;
    format!(
        "{}-{}: {} segments deleted, bytes {} -> {}, log start {} -> {}\n",
        p.topic,
        p.partition,
        s.segments_deleted,
        s.bytes_before,
        s.bytes_after,
        s.log_start_before,
        s.log_start_after
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use seglog::cleaner::retention::RetentionStats;

    #[test]
    fn lines_and_summary() {
        let stats = RetentionStats {
            segments_deleted: 3,
            bytes_before: 5000,
            bytes_after: 1000,
            log_start_before: 0,
            log_start_after: 90,
            elapsed: Duration::ZERO,
            deleted: Vec::new(),
            rolled: false,
            pending: None,
        };
        let done = [PartitionRetention {
            topic: "t".into(),
            partition: 1,
            stats,
        }];
        assert_eq!(
            report_text(&done, Duration::from_millis(2)),
            "t-1: 3 segments deleted, bytes 5000 -> 1000, log start 0 -> 90\n\
             summary: 1 partitions, 3 segments deleted, 4000 bytes freed in 2.0 ms\n"
        );
        assert_eq!(
            report_text(&[], Duration::ZERO),
            "summary: 0 partitions, 0 segments deleted, 0 bytes freed in 0.0 ms\n"
        );
    }
}
