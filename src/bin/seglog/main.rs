//! `seglog`: inspect Kafka log directories and seglog stores from the shell.
//!
//! Every subcommand only reads the paths it is given; nothing is ever
//! written, so it is safe on a live broker's data or on fixtures.
//!
//! * `seglog dump PATH`: prints the batches and records of a `.log` file or a
//!   partition directory (text like Kafka's `kafka-dump-log
//!   --print-data-log`, or one JSON object per record with `--json`), or the
//!   entries of an `.index` / `.timeindex` file.
//! * `seglog verify PATH...`: checks every segment found (framing, offsets,
//!   CRC-32C, records, both indexes) and exits 1 if anything is wrong.
//!
//! Exit codes are shared by every subcommand: 0 all well, 1 damaged data
//! found, 2 usage or I/O error (see [`Status`]).
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod dump;
mod log_reader;
mod paths;
mod render;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit-code policy text shared by every subcommand's `--help`.
const EXIT_CODES: &str = "Exit status: 0 when everything read is sound, 1 when damaged data \
                          was found, 2 for usage or I/O errors.";

/// Inspect Apache Kafka log directories and seglog stores (read-only).
#[derive(Debug, Parser)]
#[command(name = "seglog", version, after_help = EXIT_CODES)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match &cli.command {
        Command::Dump(args) => dump::run(args),
        Command::Verify(args) => verify::run(args),
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
