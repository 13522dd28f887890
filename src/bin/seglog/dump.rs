//! `seglog dump PATH [--json]`: prints what a segment file holds.
//!
//! A `.log` file or a partition directory (its `.log` files in base-offset
//! order) is printed batch by batch and record by record; an `.index` or
//! `.timeindex` file entry by entry. Problems are reported on stderr as
//! `FILE: byte POSITION: REASON`: a damaged batch is still printed as far as
//! it decodes and the dump goes on with the next batch; when the framing
//! fails nothing after it can be located, so the dump of that file stops.

use std::fmt::Display;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use seglog::record::{BatchHeader, BatchView, DecodeLimits};
use seglog::segment::{FileKind, OffsetIndex, SegmentConfig, TimeIndex, file_name};

use crate::Status;
use crate::log_reader::{LogReader, ReadError, describe_framing};
use crate::paths::{self, DumpTarget};
use crate::render;

/// Text shown after `seglog dump --help`.
const AFTER_HELP: &str = "\
Text output: per .log file a `Dumping FILE` line, then per batch one line \
(baseOffset lastOffset count position timestampType baseTimestamp \
maxTimestamp size compression producerId producerEpoch baseSequence \
partitionLeaderEpoch isTransactional isControl deleteHorizonMs crc isValid), \
followed by one `| offset: ...` line per record. Keys, values and header \
values are shown as quoted UTF-8 text when they are valid UTF-8 without \
control characters, as `base64:<standard base64>` otherwise, and as `null` \
when null. Index files print `offset: N position: P` (.index) or \
`timestamp: T offset: O` (.timeindex) per entry.

Problems go to stderr as `FILE: byte POSITION: REASON`. A damaged batch is \
printed as far as it decodes and the dump continues; a batch whose framing \
cannot be read ends the dump of that file.

Exit status: 0 when everything read is sound, 1 when damaged data was found, \
2 for usage or I/O errors.";

/// Arguments of `seglog dump`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DumpArgs {
    /// A .log, .index or .timeindex file, or a partition directory (all its
    /// .log segments in base-offset order).
    pub path: PathBuf,

    /// Print exactly one JSON object per record and line, and nothing else,
    /// on stdout:
    /// {"offset":N,"timestamp":N,"key":B64|null,"value":B64|null,"headers":[{"key":"k","value":B64|null}]}
    /// (standard base64 with padding; header keys as strings, invalid UTF-8
    /// replaced). Records of control batches (transaction markers, KRaft
    /// control records) are printed too: they are records in the file.
    /// Only for .log files and partition directories.
    #[arg(long)]
    pub json: bool,
}

/// Runs `seglog dump`.
pub fn run(args: &DumpArgs) -> Status {
    let target = match paths::dump_target(&args.path) {
        Ok(target) => target,
        Err(message) => return report(Status::Failed, message),
    };
    if args.json && !matches!(target, DumpTarget::Logs(_)) {
        let message = "--json prints records: give a .log file or a partition directory";
        return report(Status::Failed, message);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let result = match target {
        DumpTarget::Logs(files) => dump_logs(&files, args.json, &mut out),
        DumpTarget::OffsetIndex(path, base) => dump_offset_index(&path, base, &mut out),
        DumpTarget::TimeIndex(path, base) => dump_time_index(&path, base, &mut out),
    };
    match result.and_then(|status| out.flush().map(|()| status)) {
        Ok(status) => status,
        // The reader went away (`seglog dump ... | head`): stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Status::Sound,
        Err(e) => report(Status::Failed, format!("writing to stdout: {e}")),
    }
}

/// Prints a diagnostic on stderr and returns `status`.
fn report(status: Status, message: impl Display) -> Status {
    // Nothing sensible is left to do when stderr itself is gone.
    let _ = writeln!(io::stderr(), "seglog: {message}");
    status
}

/// Dumps `.log` files one after the other.
fn dump_logs(files: &[PathBuf], json: bool, out: &mut impl Write) -> io::Result<Status> {
    let mut dump = LogDump {
        out,
        json,
        limits: SegmentConfig::default().decode,
        line: String::new(),
        status: Status::Sound,
    };
    for file in files {
        dump.file(file)?;
    }
    Ok(dump.status)
}

/// State of a dump of `.log` files.
struct LogDump<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    limits: DecodeLimits,
    /// Reused buffer for JSON lines.
    line: String,
    status: Status,
}

impl<W: Write> LogDump<'_, W> {
    /// Dumps one `.log` file; errors are stdout write errors only.
    fn file(&mut self, path: &Path) -> io::Result<()> {
        let mut reader = match LogReader::open(path) {
            Ok(reader) => reader,
            Err(e) => return self.problem(Status::Failed, format!("{}: {e}", path.display())),
        };
        if !self.json {
            writeln!(self.out, "Dumping {}", path.display())?;
            if let Some((base, _)) = paths::file_kind(path) {
                writeln!(self.out, "Log starting offset: {base}")?;
            }
        }
        loop {
            match reader.next_batch() {
                Ok(Some((position, batch))) => self.batch(path, position, &batch)?,
                Ok(None) => return Ok(()),
                Err(e) => return self.read_error(&mut reader, e),
            }
        }
    }

    /// Reports why the rest of a file cannot be read.
    fn read_error(&mut self, reader: &mut LogReader, error: ReadError) -> io::Result<()> {
        let (path, position) = (reader.path().display().to_string(), reader.position());
        match error {
            ReadError::Io(e) => self.problem(
                Status::Failed,
                format!("{path}: byte {position}: read error: {e}"),
            ),
            ReadError::Framing(e) => {
                let reason = describe_framing(reader, &e);
                self.problem(
                    Status::Damaged,
                    format!("{path}: byte {position}: {reason}"),
                )
            }
        }
    }

    /// Prints one batch and its records, reporting what is damaged.
    fn batch(&mut self, path: &Path, position: u64, batch: &BatchView<'_>) -> io::Result<()> {
        if !self.json {
            writeln!(self.out, "{}", render::batch_line(position, batch))?;
        }
        let at = |reason: &dyn Display| format!("{}: byte {position}: {reason}", path.display());
        if let Err(e) = batch.verify_crc() {
            self.problem(Status::Damaged, at(&e))?;
        }
        let records = match batch.records(&self.limits) {
            Ok(records) => records,
            Err(e) => {
                let reason = format!("records cannot be decoded: {e}");
                return self.problem(Status::Damaged, at(&reason));
            }
        };
        for record in records.iter() {
            match record {
                Ok(record) if self.json => {
                    render::record_json(&record, &mut self.line);
                    writeln!(self.out, "{}", self.line)?;
                }
                Ok(record) => writeln!(
                    self.out,
                    "{}",
                    render::record_line(&record, batch.is_control())
                )?,
                Err(e) => self.problem(Status::Damaged, at(&e))?,
            }
        }
        Ok(())
    }

    /// Reports a problem on stderr, after what stdout holds so far.
    fn problem(&mut self, status: Status, message: String) -> io::Result<()> {
        self.out.flush()?;
        self.status.add(report(status, message));
        Ok(())
    }
}

/// Prints the entries of an `.index` file.
fn dump_offset_index(path: &Path, base: i64, out: &mut impl Write) -> io::Result<Status> {
    let max_bytes = SegmentConfig::default().segment_index_bytes;
    let index = match OffsetIndex::open(path, base, max_bytes, false) {
        Ok(index) => index,
        Err(e) => return Ok(report(Status::Failed, e)),
    };
    writeln!(out, "Dumping {}", path.display())?;
    for n in 0..index.len() {
        let (offset, position) = index.entry(n);
        writeln!(out, "offset: {offset} position: {position}")?;
    }
    out.flush()?;
    let log_size = log_size_beside(path, base);
    let checked = index.verify(log_size).map_err(index_fault);
    Ok(index_remarks(path, index.zero_tail_entries(), checked))
}

/// Prints the entries of a `.timeindex` file.
fn dump_time_index(path: &Path, base: i64, out: &mut impl Write) -> io::Result<Status> {
    let max_bytes = SegmentConfig::default().segment_index_bytes;
    let index = match TimeIndex::open(path, base, max_bytes, false) {
        Ok(index) => index,
        Err(e) => return Ok(report(Status::Failed, e)),
    };
    writeln!(out, "Dumping {}", path.display())?;
    for n in 0..index.len() {
        let (timestamp, offset) = index.entry(n);
        writeln!(out, "timestamp: {timestamp} offset: {offset}")?;
    }
    out.flush()?;
    let checked = index.verify().map_err(index_fault);
    Ok(index_remarks(path, index.zero_tail_entries(), checked))
}

/// The size of the `.log` next to an index, to check positions against;
/// unknown (no limit) when there is none.
fn log_size_beside(index: &Path, base: i64) -> u64 {
    let log = index
        .parent()
        .map(|dir| file_name::file_path(dir, base, FileKind::Log));
    log.and_then(|p| std::fs::metadata(p).ok())
        .map_or(u64::MAX, |m| m.len())
}

/// An index check's error as `FILE: REASON`.
fn index_fault(error: seglog::Error) -> String {
    match error {
        seglog::Error::CorruptIndex { path, reason } => format!("{}: {reason}", path.display()),
        other => other.to_string(),
    }
}

/// Reports an index's untrimmed tail (a remark) and its check (a fault).
fn index_remarks(path: &Path, zero_tail: usize, checked: Result<(), String>) -> Status {
    if zero_tail > 0 {
        let note = format!(
            "{}: note: {zero_tail} preallocated empty slots after the entries (not trimmed: \
             the segment was active)",
            path.display()
        );
        report(Status::Sound, note);
    }
    match checked {
        Ok(()) => Status::Sound,
        Err(reason) => report(Status::Damaged, reason),
    }
}
