//! `seglog consume TOPIC`: prints records, kcat `-C` style.
//!
//! Every assigned partition (`-p N`, else all) gets a cursor at its start
//! offset (`-o`). Each poll round reads up to [`POLL_BYTES`] from every
//! partition in turn, so records of several partitions are interleaved in
//! poll order and each partition's records come in offset order. Records of
//! control batches (transaction markers) are skipped. With `-e` the run
//! ends once every cursor has reached its partition's log end; without it,
//! a caught-up run waits for new records with `Partition::wait_for`.
//!
//! With `-G GROUP` the command is instead a member of a consumer group (one
//! or more topics, the group's assignors decide the partitions): a
//! [`GroupConsumer`] polls, each partition starts at the group's committed
//! offset (else at `-o`), and the positions of what was printed are
//! committed after every poll that printed something and at exit, as kcat's
//! `-G` does. Its records are printed through the same [`Printer`], so the
//! lines are the same as without `-G`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use clap::Args;
use clap::builder::NonEmptyStringValueParser;
use seglog::client::{AutoOffsetReset, ConsumerRecord};
use seglog::offsets::group::{
    GroupConsumer, GroupConsumerConfig, RebalanceListener, TopicPartition,
};
use seglog::partition::{Isolation, Partition};
use seglog::record::{BatchBuilder, BatchHeader, BatchView, DecodeLimits, RecordBatch, RecordRef};
use seglog::{Error, Store, Topic};

use crate::format::{self, Format, Origin};
use crate::{Open, Status, groups, render, report, store_error, with_store};

/// Most bytes read from one partition per poll round.
pub const POLL_BYTES: usize = 1 << 20;
/// How long a caught-up run waits on all partitions in one round, split
/// evenly between them (at least [`MIN_WAIT`] each).
const WAIT_ROUND: Duration = Duration::from_millis(500);
/// The shortest wait on one partition.
const MIN_WAIT: Duration = Duration::from_millis(10);
/// How long one group poll waits for records with `-e` (the run ends once
/// every owned partition is at its end, so it only waits at the very end).
const GROUP_POLL_AT_END: Duration = Duration::from_millis(100);
/// How long one group poll waits for records without `-e`.
const GROUP_POLL: Duration = Duration::from_secs(1);
/// The `client.id` of a `consume -G` member (member ids start with it).
const GROUP_CLIENT_ID: &str = "seglog-consume";

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

Consumer groups (-G GROUP TOPIC...): the command joins GROUP as its only \
member (the store's lock keeps other processes out), subscribed to the \
topics with the default assignors (range, cooperative-sticky), so it owns \
every partition of them. Each partition starts at the group's committed \
offset, else at -o (default: beginning); a committed offset out of range \
(after retention) resets to the log start. After each poll whose records \
were printed, and at exit, the positions of what was printed are committed \
to the group (in __consumer_offsets), so the next `consume -G GROUP` goes on \
after the last record printed: with -c N exactly N records are consumed. A \
run killed mid-poll may print the records of that poll again next time \
(at-least-once). -e ends the run when every owned partition is at its end. \
-p cannot be combined with -G. Header keys that are not UTF-8 print with \
replacement characters in group mode. See `seglog groups` for the lag, \
resets and deletion.

Exit status: 0 when everything read is sound, 1 when a damaged batch was \
found (reported on stderr and skipped), 2 for usage, store or I/O errors.";

/// Arguments of `seglog consume`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ConsumeArgs {
    /// The topic (with -G, the first of the topics).
    pub topic: String,

    /// More topics to subscribe to (only with -G).
    #[arg(value_name = "TOPIC", requires = "group")]
    pub more_topics: Vec<String>,

    /// Consume as a member of consumer group GROUP: start at its committed
    /// offsets, commit what was printed (see below).
    #[arg(short = 'G', long, value_name = "GROUP", conflicts_with = "partition",
          value_parser = NonEmptyStringValueParser::new())]
    pub group: Option<String>,

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
    with_store(dir, Open::Existing, |store| match &args.group {
        Some(group) => consume_group(store, group, args),
        None => consume(store, args),
    })
}

fn consume(store: &Store, args: &ConsumeArgs) -> Status {
    let (topic, mut cursors) = match assign(store, args) {
        Ok(assigned) => assigned,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let output = match output(args) {
        Ok(output) => output,
        Err(e) => return report(Status::Failed, e),
    };
    let mut printer = Printer::new(topic.name(), output, args.count);
    let result = printer.run(&mut cursors, args.exit_at_end);
    finish(&mut printer, result)
}

/// How `-f` / `--json` say records are printed.
fn output(args: &ConsumeArgs) -> Result<Output, String> {
    Ok(match (&args.format, args.json) {
        (_, true) => Output::Json,
        (Some(format), false) => Output::Format(format.clone()),
        (None, false) => Output::Format(Format::parse(format::DEFAULT)?),
    })
}

/// Flushes what is left and turns the run's outcome into a status.
fn finish(printer: &mut Printer, result: io::Result<()>) -> Status {
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

    /// Makes `topic` the topic of the records printed next.
    fn set_topic(&mut self, topic: &str) {
        if self.topic != topic {
            self.topic = topic.to_string();
            self.topic_json = serde_json::to_string(topic).unwrap_or_else(|_| "\"\"".to_string());
        }
    }

    /// Reports an error that ends the run, after flushing what was printed.
    fn fail(&mut self, status: Status, message: impl std::fmt::Display) -> io::Result<()> {
        self.out.flush()?;
        self.status.add(report(status, message));
        Ok(())
    }

    /// Prints records a group member polled until `-c` is reached; returns
    /// how many were printed.
    fn print_polled(&mut self, records: &[ConsumerRecord]) -> io::Result<usize> {
        for (n, record) in records.iter().enumerate() {
            if self.done() {
                return Ok(n);
            }
            self.set_topic(&record.topic);
            match with_record_view(record, |view| self.print(record.partition, view)) {
                Ok(printed) => printed?,
                Err(e) => {
                    let message = format!(
                        "{}-{}: offset {}: cannot print the record: {e}",
                        record.topic, record.partition, record.offset
                    );
                    self.fail(Status::Failed, message)?;
                }
            }
        }
        Ok(records.len())
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

/// A `consume -G` member: the group consumer, and the store for the log
/// end offsets of `-e`.
struct GroupMember {
    store: Store,
    consumer: GroupConsumer,
    /// False once the positions may be past what was printed (a failed
    /// rewind) or a commit failed: nothing more is committed then.
    committable: bool,
}

/// Runs `seglog consume -G GROUP TOPIC...`.
fn consume_group(store: &Store, group: &str, args: &ConsumeArgs) -> Status {
    let output = match output(args) {
        Ok(output) => output,
        Err(e) => return report(Status::Failed, e),
    };
    let mut member = match GroupMember::join(store, group, args) {
        Ok(member) => member,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let mut printer = Printer::new(&args.topic, output, args.count);
    let written = member
        .run(&mut printer, args.exit_at_end)
        .and_then(|()| printer.out.flush());
    // Commit only once everything printed has reached stdout.
    if written.is_ok() {
        printer.status.add(member.commit());
    }
    printer.status.add(member.close());
    finish(&mut printer, written)
}

impl GroupMember {
    /// A member of `group` subscribed to the topics of `args` (which must
    /// exist), starting partitions without a committed offset at `-o`.
    fn join(store: &Store, group: &str, args: &ConsumeArgs) -> seglog::Result<GroupMember> {
        let topics: Vec<&str> = std::iter::once(&args.topic)
            .chain(&args.more_topics)
            .map(String::as_str)
            .collect();
        for topic in &topics {
            store.topic(topic)?;
        }
        let coordinator = groups::coordinator(store)?;
        let config = GroupConsumerConfig::new(group)
            .client_id(GROUP_CLIENT_ID)
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest);
        let mut consumer = GroupConsumer::new(&coordinator, config)?;
        let start = StartAt {
            store: store.clone(),
            start: args.offset,
        };
        consumer.subscribe(&topics, start)?;
        Ok(GroupMember {
            store: store.clone(),
            consumer,
            committable: true,
        })
    }

    /// Polls and prints until `-c` records were printed, every owned
    /// partition is at its end (`-e`), or an error ends the run (reported
    /// in the printer's status). Commits after each poll that printed
    /// records, once they are flushed, except the last one of `-c` (the
    /// commit at exit does that).
    fn run(&mut self, printer: &mut Printer, exit_at_end: bool) -> io::Result<()> {
        let timeout = if exit_at_end {
            GROUP_POLL_AT_END
        } else {
            GROUP_POLL
        };
        while !printer.done() {
            if exit_at_end && self.finished(printer)? {
                return Ok(());
            }
            let Some(records) = self.poll(printer, timeout)? else {
                return Ok(());
            };
            if !self.print_and_commit(printer, &records)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Whether `-e` ends the run: every owned partition is at its end, or
    /// finding out failed (reported).
    fn finished(&mut self, printer: &mut Printer) -> io::Result<bool> {
        match self.at_end() {
            Ok(at_end) => Ok(at_end),
            Err(e) => printer.fail(Status::Failed, store_error(&e)).map(|()| true),
        }
    }

    /// The next records; none after skipping a damaged batch (reported);
    /// `None` when an error ends the run (reported).
    fn poll(
        &mut self,
        printer: &mut Printer,
        timeout: Duration,
    ) -> io::Result<Option<Vec<ConsumerRecord>>> {
        match self.consumer.poll(timeout) {
            Ok(records) => Ok(Some(records)),
            Err(Error::CorruptFetch {
                topic,
                partition,
                offset,
                reason,
            }) => {
                let message = format!(
                    "{topic}-{partition}: damaged batch at offset {offset} skipped: {reason}"
                );
                printer.fail(Status::Damaged, message)?;
                match self.skip_batch(&topic, partition, offset) {
                    Ok(()) => Ok(Some(Vec::new())),
                    Err(e) => printer.fail(Status::Failed, e).map(|()| None),
                }
            }
            Err(e) => printer.fail(Status::Failed, store_error(&e)).map(|()| None),
        }
    }

    /// Prints `records` (up to `-c`), rewinds what was left unprinted, and
    /// commits once they are flushed, unless `-c` is reached (the commit at
    /// exit does it then). Returns whether the run goes on.
    fn print_and_commit(
        &mut self,
        printer: &mut Printer,
        records: &[ConsumerRecord],
    ) -> io::Result<bool> {
        let printed = printer.print_polled(records)?;
        if let Err(e) = self.rewind(records.get(printed..).unwrap_or_default()) {
            self.committable = false;
            return printer
                .fail(Status::Failed, store_error(&e))
                .map(|()| false);
        }
        if records.is_empty() || printer.done() {
            return Ok(true);
        }
        printer.out.flush()?;
        let status = self.commit();
        printer.status.add(status);
        Ok(status == Status::Sound)
    }

    /// Whether the member has joined and every partition it owns is at its
    /// log end.
    fn at_end(&mut self) -> seglog::Result<bool> {
        if self.consumer.generation() < 0 {
            return Ok(false);
        }
        for (topic, partition) in self.consumer.assignment() {
            let end = self
                .store
                .topic(&topic)?
                .partition(partition)?
                .log_end_offset();
            if self.consumer.position(&topic, partition)? < end {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Moves each partition's position back to its first record of
    /// `unprinted` (what `-c` left), so only what was printed is committed.
    fn rewind(&mut self, unprinted: &[ConsumerRecord]) -> seglog::Result<()> {
        let mut first: BTreeMap<(&str, u32), i64> = BTreeMap::new();
        for record in unprinted {
            first
                .entry((&record.topic, record.partition))
                .or_insert(record.offset);
        }
        for ((topic, partition), offset) in first {
            self.consumer.seek(topic, partition, offset)?;
        }
        Ok(())
    }

    /// Moves past the damaged batch at `offset` (its base offset), as the
    /// run without `-G` does.
    fn skip_batch(&mut self, topic: &str, partition: u32, offset: i64) -> Result<(), String> {
        let log = self
            .store
            .topic(topic)
            .and_then(|t| t.partition(partition))
            .map_err(|e| store_error(&e))?;
        let slice = log.read(offset, POLL_BYTES).map_err(|e| store_error(&e))?;
        let next = slice.iter().next().map(|batch| batch.next_offset());
        match next.filter(|&next| next > offset) {
            Some(next) => self
                .consumer
                .seek(topic, partition, next)
                .map_err(|e| store_error(&e)),
            None => Err(format!(
                "{topic}-{partition}: cannot find the end of the damaged batch at offset {offset}"
            )),
        }
    }

    /// Commits the positions of the owned partitions: the offsets after the
    /// last records printed (or where nothing was printed, where the
    /// partition started). After a failed commit nothing more is tried.
    fn commit(&mut self) -> Status {
        if !self.committable {
            return Status::Sound;
        }
        match self.consumer.commit_sync() {
            Ok(()) => Status::Sound,
            Err(e) => {
                self.committable = false;
                let message = format!("committing offsets: {}", store_error(&e));
                report(Status::Failed, message)
            }
        }
    }

    /// Leaves the group (nothing more is committed: auto-commit is off).
    fn close(self) -> Status {
        match self.consumer.close() {
            Ok(()) => Status::Sound,
            Err(e) => report(
                Status::Failed,
                format!("leaving the group: {}", store_error(&e)),
            ),
        }
    }
}

/// The rebalance listener of `consume -G`: a partition assigned without a
/// committed offset starts at `-o`.
struct StartAt {
    store: Store,
    start: StartOffset,
}

impl RebalanceListener for StartAt {
    fn on_partitions_assigned(
        &mut self,
        consumer: &mut GroupConsumer,
        partitions: &[TopicPartition],
    ) -> seglog::Result<()> {
        for (topic, partition) in partitions {
            if consumer.committed(topic, *partition).is_none() {
                let log = self.store.topic(topic)?.partition(*partition)?;
                consumer.seek(topic, *partition, self.start.resolve(&log)?)?;
            }
        }
        Ok(())
    }
}

/// Runs `f` on `record` as the log's record view, re-encoded into a batch
/// of its own: [`Format`] and [`render`] print from that view, so a group
/// member's records come out byte for byte as those read from the log.
fn with_record_view<T>(
    record: &ConsumerRecord,
    f: impl FnOnce(&RecordRef<'_>) -> T,
) -> Result<T, String> {
    let mut builder = BatchBuilder::new(record.offset);
    let key = record.key.as_deref();
    let value = record.value.as_deref();
    builder
        .push_parts(0, record.timestamp, key, value, &record.headers)
        .map_err(|e| e.to_string())?;
    let bytes = builder.build().map_err(|e| e.to_string())?;
    let view = BatchView::parse(&bytes).map_err(|e| e.to_string())?;
    let records = view
        .records(&DecodeLimits::default())
        .map_err(|e| e.to_string())?;
    match records.iter().next() {
        Some(Ok(decoded)) => Ok(f(&decoded)),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("the re-encoded batch is empty".to_string()),
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
