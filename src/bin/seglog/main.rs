//! `seglog`: inspect Kafka log directories, and work with a seglog store,
//! from the shell.
//!
//! Read-only inspection of any path (safe on a live broker's data or on
//! fixtures; nothing is ever written):
//!
//! * `seglog dump PATH`: prints the batches and records of a `.log` file or a
//!   partition directory (text like Kafka's `kafka-dump-log
//!   --print-data-log`, or one JSON object per record with `--json`), or the
//!   entries of an `.index` / `.timeindex` file.
//! * `seglog verify PATH...`: checks every segment found (framing, offsets,
//!   CRC-32C, records, both indexes) and exits 1 if anything is wrong.
//!
//! kcat-style commands over the store named by `--dir` (or `SEGLOG_DIR`,
//! else `./seglog-data`), opened with [`seglog::Store::open`], which takes
//! the store's lock for the duration of the command:
//!
//! * `seglog topics create|list|describe|alter|delete`: topic administration.
//! * `seglog produce TOPIC`: appends one record per stdin line.
//! * `seglog consume TOPIC`: prints records (kcat `-f` formats, or JSON);
//!   with `-G GROUP` as a member of a consumer group, committing what it
//!   printed.
//! * `seglog groups list|describe|delete|reset-offsets`: consumer group
//!   administration (committed offsets, lag), as `kafka-consumer-groups`.
//! * `seglog retention run`: applies delete retention to every configured
//!   topic now.
//! * `seglog compact TOPIC`: cleans a compacted topic's partitions now.
//!
//! The store is opened without its maintenance thread: these commands run
//! retention and cleaning passes only when asked to.
//!
//! Exit codes are shared by every subcommand: 0 all well, 1 damaged data
//! found (or, for `produce`, lines refused as too large), 2 usage, store or
//! I/O error (see [`Status`]).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod compact;
mod consume;
mod dump;
mod format;
mod groups;
mod log_reader;
mod paths;
mod produce;
mod render;
mod retention;
mod topics;
mod verify;

use std::fmt::Display;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seglog::Store;
use seglog::config::StoreConfig;

/// Exit-code policy text shared by every subcommand's `--help`.
const EXIT_CODES: &str = "\
The store commands (topics, produce, consume, groups, retention, compact) work on \
the store directory given by --dir, else by the SEGLOG_DIR environment \
variable, else ./seglog-data. They take the store's lock while they run: a \
second command on the same store (or a Kafka broker on it) fails with exit \
status 2. dump and verify take paths instead and ignore --dir.

Exit status: 0 when everything read is sound, 1 when damaged data was found \
(or, for produce, when lines were refused as too large), 2 for usage, store \
or I/O errors.";

/// The store directory when neither `--dir` nor `SEGLOG_DIR` names one.
const DEFAULT_DIR: &str = "./seglog-data";

/// Inspect Apache Kafka log directories (dump, verify: read-only), and
/// create topics, produce and consume records in a seglog store (topics,
/// produce, consume), manage its consumer groups (groups), and run its
/// retention and compaction (retention, compact).
#[derive(Debug, Parser)]
#[command(name = "seglog", version, after_help = EXIT_CODES)]
struct Cli {
    /// The store directory of topics/produce/consume/groups/retention/compact
    /// [default: $SEGLOG_DIR, else ./seglog-data]; accepted before or after
    /// the subcommand.
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The store directory: `--dir`, else `SEGLOG_DIR`, else the default.
    fn store_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| {
                std::env::var_os("SEGLOG_DIR")
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }
}

/// The subcommands, one module each.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print the batches and records of a .log file or partition directory,
    /// or the entries of an .index / .timeindex file.
    Dump(dump::DumpArgs),
    /// Check segments (framing, offsets, CRC-32C, records, indexes) and
    /// report every fault.
    Verify(verify::VerifyArgs),
    /// Create, list, describe, alter and delete the topics of the store.
    Topics(topics::TopicsArgs),
    /// Append one record per stdin line to a topic of the store.
    Produce(produce::ProduceArgs),
    /// Print the records of a topic of the store (kcat -C style), or of
    /// topics as a consumer group member (-G, committing what it printed).
    Consume(consume::ConsumeArgs),
    /// List, describe (offsets and lag), delete consumer groups and reset
    /// their offsets (kafka-consumer-groups style).
    Groups(groups::GroupsArgs),
    /// Apply delete retention (retention.ms, retention.bytes) to the store's
    /// topics now.
    Retention(retention::RetentionArgs),
    /// Clean (compact) a compacted topic's partitions now, whatever their
    /// dirty ratio.
    Compact(compact::CompactArgs),
}

/// How a run went; the worst outcome decides the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Everything read was sound (exit 0).
    #[default]
    Sound,
    /// Damaged data was found (exit 1).
    Damaged,
    /// A usage or I/O error stopped part of the work (exit 2).
    Failed,
}

impl Status {
    /// Keeps the worse of two outcomes.
    pub fn add(&mut self, other: Status) {
        *self = (*self).max(other);
    }

    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Sound => ExitCode::SUCCESS,
            Status::Damaged => ExitCode::from(1),
            Status::Failed => ExitCode::from(2),
        }
    }
}

/// Prints `seglog: MESSAGE` on stderr and returns `status`.
pub fn report(status: Status, message: impl Display) -> Status {
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = writeln!(std::io::stderr(), "seglog: {message}");
    status
}

/// Whether a store command may create the store directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Create the directory when missing (`topics create`).
    OrCreate,
    /// The directory must exist, so a mistyped `--dir` is an error rather
    /// than a new empty store.
    Existing,
}

/// Opens the store at `dir`, runs `command` on it and closes it cleanly
/// (flushes, checkpoints, clean shutdown marker), whatever `command` did.
pub fn with_store(dir: &Path, open: Open, command: impl FnOnce(&Store) -> Status) -> Status {
    if open == Open::Existing && !dir.is_dir() {
        let message = format!(
            "no store at {} (create one with `seglog --dir {0} topics create NAME`, or give \
             --dir or SEGLOG_DIR)",
            dir.display()
        );
        return report(Status::Failed, message);
    }
    // No maintenance thread: a command runs the passes it was asked for.
    let config = StoreConfig::default().maintenance_thread(false);
    let store = match Store::open(dir, config) {
        Ok(store) => store,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let mut status = command(&store);
    if let Err(e) = store.close() {
        status.add(report(Status::Failed, format!("closing the store: {e}")));
    }
    status
}

/// A library error as a message, with a hint where one helps.
pub fn store_error(error: &seglog::Error) -> String {
    match error {
        seglog::Error::StoreLocked { .. } => format!(
            "{error}: another seglog command or a Kafka broker is using it; retry when it is done"
        ),
        other => other.to_string(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = cli.store_dir();
    let status = match &cli.command {
        Command::Dump(args) => dump::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Topics(args) => topics::run(&dir, args),
        Command::Produce(args) => produce::run(&dir, args),
        Command::Consume(args) => consume::run(&dir, args),
        Command::Groups(args) => groups::run(&dir, args),
        Command::Retention(args) => retention::run(&dir, args),
        Command::Compact(args) => compact::run(&dir, args),
    };
    status.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn worst_status_wins() {
        let mut s = Status::Sound;
        s.add(Status::Damaged);
        s.add(Status::Sound);
        assert_eq!(s, Status::Damaged);
        s.add(Status::Failed);
        assert_eq!(s, Status::Failed);
    }
}
