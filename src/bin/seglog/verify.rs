//! `seglog verify PATH... [-v]`: checks every segment found, read-only.
//!
//! Each segment goes through [`verify_segment`]: framing, offsets, CRC-32C
//! and records of every batch, and every entry of both indexes. Each fault
//! is printed as `FILE: byte POSITION: REASON` (or `FILE: REASON` when it has
//! no position), then one summary line.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use seglog::segment::{Fault, SegmentConfig, VerifyReport, verify_segment};

use crate::Status;
use crate::paths::{self, SegmentRef};

/// Text shown after `seglog verify --help`.
const AFTER_HELP: &str = "\
Segments are found by Kafka's file names (20-digit base offset + .log); \
other files (.snapshot, .txnindex, checkpoints, meta.properties, *.deleted, \
*.cleaned, *.swap) are skipped. Nothing is written.

Output: one line per fault, `FILE: byte POSITION: REASON` or `FILE: REASON`, \
then `summary: S segments, B batches, R records, N bytes, E index entries, \
F faults`.

Exit status: 0 when no fault was found, 1 when any was, 2 for usage or I/O \
errors (a missing or unreadable path, a path without segments).";

/// Arguments of `seglog verify`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct VerifyArgs {
    /// Segment .log files, partition directories, or directories above them
    /// (a seglog store, a Kafka log.dirs entry), searched recursively.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Also print notes that are not faults (a missing or untrimmed index of
    /// an active segment, which Kafka rebuilds from the .log) and one line
    /// per sound segment.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Counts summed over every segment checked.
#[derive(Debug, Default)]
struct Totals {
    segments: u64,
    batches: u64,
    records: u64,
    bytes: u64,
    index_entries: u64,
    faults: u64,
}

impl Totals {
    fn add(&mut self, report: &VerifyReport) {
        self.segments += 1;
        self.batches += report.batches;
        self.records += report.records;
        self.bytes += report.bytes;
        self.index_entries += report.index_entries;
        self.faults += report.faults.len() as u64;
    }
}

/// Runs `seglog verify`.
pub fn run(args: &VerifyArgs) -> Status {
    let mut out = BufWriter::new(io::stdout().lock());
    let mut run = Verify {
        out: &mut out,
        verbose: args.verbose,
        config: SegmentConfig::default(),
        totals: Totals::default(),
        status: Status::Sound,
    };
    let result = args
        .paths
        .iter()
        .try_for_each(|path| run.path(path))
        .and_then(|()| run.summary());
    let status = run.status;
    match result.and_then(|()| out.flush()) {
        Ok(()) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => status,
        Err(e) => error(format!("writing to stdout: {e}")),
    }
}

/// Prints an error on stderr; returns [`Status::Failed`].
fn error(message: String) -> Status {
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = writeln!(io::stderr(), "seglog: {message}");
    Status::Failed
}

/// State of one `seglog verify` run.
struct Verify<'a, W: Write> {
    out: &'a mut W,
    verbose: bool,
    config: SegmentConfig,
    totals: Totals,
    status: Status,
}

impl<W: Write> Verify<'_, W> {
    /// Verifies every segment a PATH names; errors are stdout write errors.
    fn path(&mut self, path: &Path) -> io::Result<()> {
        let found = paths::segments_under(path);
        if found.segments.is_empty() && found.errors.is_empty() {
            self.fail(format!("{}: no segment .log file found", path.display()))?;
        }
        for message in found.errors {
            self.fail(message)?;
        }
        found.segments.iter().try_for_each(|s| self.segment(s))
    }

    /// Verifies one segment and prints its faults (and notes if verbose).
    fn segment(&mut self, segment: &SegmentRef) -> io::Result<()> {
        let report = match verify_segment(&segment.dir, segment.base_offset, &self.config) {
            Ok(report) => report,
            Err(e) => return self.fail(e.to_string()),
        };
        self.totals.add(&report);
        for fault in &report.faults {
            writeln!(self.out, "{}", fault_line(fault))?;
        }
        if !report.is_ok() {
            self.status.add(Status::Damaged);
        }
        if self.verbose {
            self.details(segment, &report)?;
        }
        Ok(())
    }

    /// The verbose lines of a segment: its notes, and `ok` when sound.
    fn details(&mut self, segment: &SegmentRef, report: &VerifyReport) -> io::Result<()> {
        for note in &report.notes {
            writeln!(self.out, "note: {note}")?;
        }
        if report.is_ok() {
            writeln!(
                self.out,
                "{}: ok, {} batches, {} records, {} bytes, {} index entries",
                segment.log_path().display(),
                report.batches,
                report.records,
                report.bytes,
                report.index_entries
            )?;
        }
        Ok(())
    }

    /// The closing summary line.
    fn summary(&mut self) -> io::Result<()> {
        let t = &self.totals;
        writeln!(
            self.out,
            "summary: {} segments, {} batches, {} records, {} bytes, {} index entries, {} faults",
            t.segments, t.batches, t.records, t.bytes, t.index_entries, t.faults
        )
    }

    /// Reports a usage or I/O error on stderr, after what stdout holds.
    fn fail(&mut self, message: String) -> io::Result<()> {
        self.out.flush()?;
        self.status.add(error(message));
        Ok(())
    }
}

/// `FILE: byte POSITION: REASON`, or `FILE: REASON` without a position.
fn fault_line(fault: &Fault) -> String {
    match fault.position {
        Some(position) => format!(
            "{}: byte {position}: {}",
            fault.file.display(),
            fault.reason
        ),
        None => format!("{}: {}", fault.file.display(), fault.reason),
    }
}
