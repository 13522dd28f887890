//! `seglog consume TOPIC`: prints records, kcat `-C` style.
//!
//! Every assigned partition (`-p N`, else all) gets a cursor at its start
//! offset (`-o`). Each poll round reads up to [`POLL_BYTES`] from every
//! partition in turn, so records of several partitions are interleaved in
//! poll order and each partition's records come in offset order. Records of
//! control batches (transaction markers) are skipped. With `-e` the run
//! ends once every cursor has reached its partition's log end; without it,
//! a caught-up run waits for new records with `Partition::wait_for`.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use clap::Args;
use seglog::partition::{Isolation, Partition};
use seglog::record::{BatchHeader, RecordBatch, RecordRef};
use seglog::{Error, Store, Topic};

use crate::format::{self, Format, Origin};
use crate::{Open, Status, render, report, store_error, with_store};

/// Most bytes read from one partition per poll round.
pub const POLL_BYTES: usize = 1 << 20;
/// How long a caught-up run waits on all partitions in one round, split
/// evenly between them (at least [`MIN_WAIT`] each).
const WAIT_ROUND: Duration = Duration::from_millis(500);
/// The shortest wait on one partition.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// Text shown after `seglog consume --help`.
const AFTER_HELP: &str = "\
Format placeholders (-f): %t topic, %p partition, %o offset, %k key, %s \
value, %K key length and %S value length (-1 when null), %T timestamp (ms), \
%h headers as k=v,k2=v2 (a null value prints k alone), %% a percent sign; \
escapes \\n \\t \\r \\\\. Keys and values are written as raw bytes, null as \
nothing. Default: '%s\\n'.

--json prints exactly one JSON object per record and line, nothing else:
{\"topic\":\"t\",\"partition\":N,\"offset\":N,\"timestamp\":N,\"key\":B64|null,\
\"value\":B64|null,\"headers\":[{\"key\":\"k\",\"value\":B64|null}]}
(keys in that order; bytes in standard base64 with padding; the shape of \
`seglog dump --json` with topic and partition first).

Records of several partitions are interleaved in poll order (round-robin, \
up to 1 MiB per partition per round), each partition in offset order. \
Records of control batches (transaction markers) are skipped. Without -e \
the command waits for new records once it has caught up, until killed; note \
that it holds the store's lock meanwhile.

Exit status: 0 when everything read is sound, 1 when a damaged batch was \
found (reported on stderr and skipped), 2 for usage, store or I/O errors.";

/// Arguments of `seglog consume`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ConsumeArgs {
    /// The topic.
    pub topic: String,

    /// Read only partition N [default: every partition].
    #[arg(short, long, value_name = "N")]
    pub partition: Option<u32>,

    /// Where each partition starts: beginning (its log start), end (its log
    /// end: only new records), N (absolute offset, clamped to the log), -N
    /// (N records before the log end), s@TIMESTAMP_MS (the first record
    /// whose timestamp is at or after it; the log end when none is).
    #[arg(short, long, value_name = "OFFSET", default_value = "beginning",
          allow_hyphen_values = true, value_parser = StartOffset::parse)]
    pub offset: StartOffset,

    /// Exit after COUNT records.
    #[arg(short, long, value_name = "COUNT")]
    pub count: Option<u64>,

    /// Exit when the end of every assigned partition is reached (otherwise
    /// wait for new records).
    #[arg(short = 'e', long = "exit-at-end")]
    pub exit_at_end: bool,

    /// Output format of each record (see below) [default: '%s\n'].
    #[arg(short, long, value_name = "FORMAT", value_parser = Format::parse,
          conflicts_with = "json")]
    pub format: Option<Format>,

    /// Print one JSON object per record and line (see below).
    #[arg(long)]
    pub json: bool,
}

/// Where a partition's cursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOffset {
    /// The log start offset.
    Beginning,
    /// The log end offset.
    End,
    /// An absolute offset.
    Absolute(i64),
    /// This many records before the log end.
    FromEnd(i64),
    /// The first record at or after this timestamp (ms).
    Timestamp(i64),
}

impl StartOffset {
    /// Parses `-o` (the `value_parser`).
    pub fn parse(text: &str) -> Result<StartOffset, String> {
        let number = |t: &str| {
            let digits = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            let parsed = t.parse::<i64>().ok().filter(|_| digits);
            parsed.ok_or_else(|| {
                format!("expected beginning, end, N, -N or s@TIMESTAMP_MS, got {text:?}")
            })
        };
        Ok(match text {
            "beginning" => StartOffset::Beginning,
            "end" => StartOffset::End,
            _ => match (text.strip_prefix("s@"), text.strip_prefix('-')) {
                (Some(ts), _) => StartOffset::Timestamp(number(ts)?),
                (None, Some(n)) => StartOffset::FromEnd(number(n)?),
                (None, None) => StartOffset::Absolute(number(text)?),
            },
        })
    }

    /// The offset this start names in `partition`.
    fn resolve(self, partition: &Partition) -> seglog::Result<i64> {
        let (start, end) = (partition.log_start_offset(), partition.log_end_offset());
        Ok(match self {
            StartOffset::Beginning => start,
            StartOffset::End => end,
            StartOffset::Absolute(n) => n.clamp(start, end),
            StartOffset::FromEnd(n) => end.saturating_sub(n).clamp(start, end),
            StartOffset::Timestamp(ts) => partition
                .offset_for_timestamp(ts)?
                .map_or(end, |(offset, _)| offset.clamp(start, end)),
        })
    }
}

/// Runs `seglog consume`.
pub fn run(dir: &Path, args: &ConsumeArgs) -> Status {
    with_store(dir, Open::Existing, |store| consume(store, args))
}

fn consume(store: &Store, args: &ConsumeArgs) -> Status {
    let (topic, mut cursors) = match assign(store, args) {
        Ok(assigned) => assigned,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let output = match (&args.format, args.json) {
        (_, true) => Output::Json,
        (Some(format), false) => Output::Format(format.clone()),
        (None, false) => match Format::parse(format::DEFAULT) {
            Ok(format) => Output::Format(format),
            Err(e) => return report(Status::Failed, e),
        },
    };
    let mut printer = Printer::new(topic.name(), output, args.count);
    let result = printer.run(&mut cursors, args.exit_at_end);
    match result.and_then(|()| printer.out.flush()) {
        Ok(()) => printer.status,
        // The reader went away (`seglog consume ... | head`): stop quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => printer.status,
        Err(e) => report(Status::Failed, format!("writing to stdout: {e}")),
    }
}

/// The topic and a cursor per assigned partition, at its start offset.
fn assign(store: &Store, args: &ConsumeArgs) -> seglog::Result<(Topic, Vec<Cursor>)> {
    let topic = store.topic(&args.topic)?;
    let partitions = match args.partition {
        Some(n) => vec![topic.partition(n)?],
        None => topic.partitions(),
    };
    let cursors = partitions
        .into_iter()
        .map(|partition| {
            let next = args.offset.resolve(&partition)?;
            Ok(Cursor {
                partition,
                next,
                at_end: false,
                stopped: false,
            })
        })
        .collect::<seglog::Result<Vec<_>>>()?;
    Ok((topic, cursors))
}

/// One partition's read position.
struct Cursor {
    partition: Partition,
    /// The next offset to print.
    next: i64,
    /// Whether the last poll found nothing past `next`.
    at_end: bool,
    /// Whether reading this partition failed for good.
    stopped: bool,
}

impl Cursor {
    fn name(&self) -> String {
        format!("{}-{}", self.partition.topic(), self.partition.partition())
    }
}

/// How records are printed.
enum Output {
    /// kcat's `-f` format.
    Format(Format),
    /// One JSON object per line.
    Json,
}

/// Prints records and keeps count.
struct Printer {
    out: BufWriter<io::StdoutLock<'static>>,
    output: Output,
    topic: String,
    /// The topic name as a JSON string literal.
    topic_json: String,
    /// Records still to print (`-c`), `None` without a limit.
    left: Option<u64>,
    status: Status,
    /// Reused buffers for JSON lines.
    record_json: String,
    line: String,
}

impl Printer {
    fn new(topic: &str, output: Output, count: Option<u64>) -> Self {
        Printer {
            out: BufWriter::new(io::stdout().lock()),
            output,
            topic: topic.to_string(),
            topic_json: serde_json::to_string(topic).unwrap_or_else(|_| "\"\"".to_string()),
            left: count,
            status: Status::Sound,
            record_json: String::new(),
            line: String::new(),
        }
    }

    /// Whether `-c` records have been printed.
    fn done(&self) -> bool {
        self.left == Some(0)
    }

    /// Polls every cursor in turn until done, at the end with `-e`, or
    /// every partition failed.
    fn run(&mut self, cursors: &mut [Cursor], exit_at_end: bool) -> io::Result<()> {
        loop {
            let mut caught_up = true;
            for cursor in cursors.iter_mut().filter(|c| !c.stopped) {
                self.poll(cursor)?;
                if self.done() {
                    return Ok(());
                }
                caught_up &= cursor.at_end || cursor.stopped;
            }
            if cursors.iter().all(|c| c.stopped) || (caught_up && exit_at_end) {
                return Ok(());
            }
            if caught_up {
                self.out.flush()?;
                wait(cursors);
            }
        }
    }

    /// Reads one slice from a cursor's partition and prints its records.
    fn poll(&mut self, cursor: &mut Cursor) -> io::Result<()> {
        let end = cursor.partition.log_end_offset();
        cursor.at_end = cursor.next >= end;
        if cursor.at_end {
            return Ok(());
        }
        let slice = match cursor.partition.read(cursor.next, POLL_BYTES) {
            Ok(slice) => slice,
            Err(Error::OffsetOutOfRange { log_start, .. }) if cursor.next < log_start => {
                // Retention removed what was next: go on from the log start.
                cursor.next = log_start;
                return Ok(());
            }
            Err(e) => return self.stop(cursor, &e),
        };
        if slice.is_empty() {
            let reason = format!(
                "no batch found at offset {} below the log end {end}",
                cursor.next
            );
            return self.stop(cursor, &reason);
        }
        let before = cursor.next;
        for batch in slice.iter() {
            self.batch(cursor, &batch)?;
            if self.done() {
                return Ok(());
            }
        }
        if cursor.next == before {
            // Only batches below the cursor: never spin on them.
            let reason = format!("the read returned no batch past offset {before}");
            return self.stop(cursor, &reason);
        }
        Ok(())
    }

    /// Gives up on a partition after an error.
    fn stop(&mut self, cursor: &mut Cursor, error: &dyn std::fmt::Display) -> io::Result<()> {
        cursor.stopped = true;
        self.out.flush()?;
        let message = format!("{}: reading offset {}: {error}", cursor.name(), cursor.next);
        self.status.add(report(Status::Failed, message));
        Ok(())
    }

    /// Prints the records of one batch from the cursor on; a damaged batch
    /// is reported and skipped.
    fn batch(&mut self, cursor: &mut Cursor, batch: &RecordBatch) -> io::Result<()> {
        let after = batch.next_offset();
        if batch.is_control() {
            cursor.next = cursor.next.max(after);
            return Ok(());
        }
        let limits = cursor.partition.config().decode;
        let checked = batch.verify_crc().and_then(|()| batch.records(&limits));
        let records = match checked {
            Ok(records) => records,
            Err(e) => return self.damaged(cursor, batch, &e, after),
        };
        for record in records.iter_from(cursor.next) {
            match record {
                Ok(record) => {
                    self.print(cursor.partition.partition(), &record)?;
                    cursor.next = record.offset() + 1;
                    if self.done() {
                        return Ok(());
                    }
                }
                Err(e) => return self.damaged(cursor, batch, &e, after),
            }
        }
        cursor.next = cursor.next.max(after);
        Ok(())
    }

    /// Reports a damaged batch and moves the cursor past it.
    fn damaged(
        &mut self,
        cursor: &mut Cursor,
        batch: &RecordBatch,
        error: &dyn std::fmt::Display,
        after: i64,
    ) -> io::Result<()> {
        self.out.flush()?;
        let message = format!(
            "{}: damaged batch at offset {} skipped: {error}",
            cursor.name(),
            batch.base_offset()
        );
        self.status.add(report(Status::Damaged, message));
        cursor.next = cursor.next.max(after);
        Ok(())
    }

    /// Prints one record.
    fn print(&mut self, partition: u32, record: &RecordRef<'_>) -> io::Result<()> {
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(1);
        }
        match &self.output {
            Output::Format(format) => {
                let origin = Origin {
                    topic: &self.topic,
                    partition,
                };
                format.write(origin, record, &mut self.out)
            }
            Output::Json => {
                render::record_json(record, &mut self.record_json);
                self.line.clear();
                let _ = write!(
                    self.line,
                    "{{\"topic\":{},\"partition\":{partition},",
                    self.topic_json
                );
                let fields = self.record_json.strip_prefix('{').unwrap_or_default();
                self.line.push_str(fields);
                self.line.push('\n');
                self.out.write_all(self.line.as_bytes())
            }
        }
    }
}

/// Blocks until some partition may have records past its cursor, or a
/// round of waits has passed; waits on each live partition in turn.
fn wait(cursors: &[Cursor]) {
    let live: Vec<&Cursor> = cursors.iter().filter(|c| !c.stopped).collect();
    let each = (WAIT_ROUND / live.len().max(1) as u32).max(MIN_WAIT);
    for cursor in live {
        if cursor
            .partition
            .wait_for(cursor.next, Isolation::Appended, each)
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets_parse() {
        assert_eq!(StartOffset::parse("beginning"), Ok(StartOffset::Beginning));
        assert_eq!(StartOffset::parse("end"), Ok(StartOffset::End));
        assert_eq!(StartOffset::parse("5"), Ok(StartOffset::Absolute(5)));
        assert_eq!(StartOffset::parse("-2"), Ok(StartOffset::FromEnd(2)));
        assert_eq!(
            StartOffset::parse("s@1700000000000"),
            Ok(StartOffset::Timestamp(1_700_000_000_000))
        );
        for bad in ["", "x", "s@", "s@x", "--2", "+2", "s@-1", "stored"] {
            assert!(StartOffset::parse(bad).is_err(), "{bad}");
        }
    }
}
