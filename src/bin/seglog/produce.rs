//! `seglog produce TOPIC`: appends one record per stdin line, kcat `-P`
//! style.
//!
//! Each line (without its `\n`; a last line without one counts too) is a
//! record: its value, or its key and value with `-K SEP`. Timestamps are the
//! system clock's time when the line is read. The partition is `-p N`, else
//! Kafka's murmur2 of the key, else round-robin over the partitions for
//! keyless lines.
//!
//! Records are appended per partition in batches: a batch is appended when
//! it holds [`MAX_BATCH_RECORDS`] records, when one more record could make it
//! exceed the topic's `max.message.bytes`, and whenever everything read from
//! stdin so far is used up (so lines typed by hand, or trickling in through
//! a pipe, are appended without waiting for more input), and at end of input.
//! Nothing is printed on stdout.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use bytes::Bytes;
use clap::Args;
use seglog::clock::{Clock, SystemClock};
use seglog::partition::{Partition, RecordsOptions};
use seglog::partitioner::Partitioner;
use seglog::record::{Header, Record};
use seglog::{Error, Store, Topic};

use crate::{Open, Status, report, store_error, with_store};

/// Most records appended as one batch.
pub const MAX_BATCH_RECORDS: usize = 1000;
/// Bytes of a batch besides its records (Kafka's v2 batch header).
const BATCH_OVERHEAD: usize = 61;
/// Most bytes of a record besides its key, value and header bytes: seven
/// varints of at most 5 (10 for the timestamp delta) bytes and the
/// attributes byte.
const RECORD_OVERHEAD: usize = 41;
/// Most bytes of a header besides its key and value (two varints).
const HEADER_OVERHEAD: usize = 10;
/// Stdin buffer size.
const READ_BUFFER: usize = 1 << 16;

/// Text shown after `seglog produce --help`.
const AFTER_HELP: &str = "\
Each stdin line is one record; the value is the line without its newline \
(an empty line is an empty value). With -K SEP a line is split at the first \
SEP into key and value; a line without SEP has a null key. Every record gets \
the -H headers and the system clock's time as its timestamp.

Partition: -p N if given; else murmur2 of the key, as Kafka's default \
partitioner (and librdkafka's murmur2_random) picks it; else round-robin over \
the partitions, one keyless record each in turn.

Records are appended in batches per partition: up to 1000 records within the \
topic's max.message.bytes, and a batch is appended as soon as the input read \
so far is used up, so lines typed by hand are appended at once. Nothing is \
printed on stdout; errors go to stderr.

Exit status: 0 when every line was appended, 1 when lines were refused (a \
record larger than max.message.bytes; the others are appended), 2 for usage, \
store or I/O errors (unknown topic or partition, locked store).";

/// Arguments of `seglog produce`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ProduceArgs {
    /// The topic (it must exist: see `seglog topics create`).
    pub topic: String,

    /// Split each line at the first SEP into key and value.
    #[arg(short = 'K', long = "key-delimiter", value_name = "SEP",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub key_delimiter: Option<String>,

    /// Append every record to partition N.
    #[arg(short, long, value_name = "N")]
    pub partition: Option<u32>,

    /// A header for every record, KEY=VALUE (KEY alone: a null value);
    /// repeatable, kept in order.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,
}

/// Runs `seglog produce`.
pub fn run(dir: &Path, args: &ProduceArgs) -> Status {
    with_store(dir, Open::Existing, |store| produce(store, args))
}

/// `KEY=VALUE` (split at the first `=`) or `KEY`.
fn parse_header(text: &str) -> Result<Header, String> {
    let (key, value) = match text.split_once('=') {
        Some((key, value)) => (key, Some(Bytes::copy_from_slice(value.as_bytes()))),
        None => (text, None),
    };
    if key.is_empty() {
        return Err(format!("expected KEY=VALUE, got {text:?}"));
    }
    Ok(Header {
        key: key.to_string(),
        value,
    })
}

fn produce(store: &Store, args: &ProduceArgs) -> Status {
    let mut producer = match Producer::new(store, args) {
        Ok(producer) => producer,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let mut input = BufReader::with_capacity(READ_BUFFER, io::stdin().lock());
    if let Err(e) = producer.read_all(&mut input) {
        producer
            .status
            .add(report(Status::Failed, format!("reading stdin: {e}")));
    }
    producer.flush_all();
    producer.status
}

/// Records waiting to be appended to one partition.
#[derive(Debug, Default)]
struct Pending {
    records: Vec<Record>,
    /// An upper bound of the encoded batch's size.
    bytes: usize,
    /// The input line (1-based) of the first record.
    first_line: u64,
}

/// The state of a `produce` run.
struct Producer<'a> {
    args: &'a ProduceArgs,
    topic: Topic,
    partitions: Vec<Partition>,
    pending: Vec<Pending>,
    partitioner: Partitioner,
    clock: SystemClock,
    line_number: u64,
    status: Status,
}

impl<'a> Producer<'a> {
    fn new(store: &Store, args: &'a ProduceArgs) -> seglog::Result<Self> {
        let topic = store.topic(&args.topic)?;
        if let Some(n) = args.partition {
            topic.partition(n)?;
        }
        let partitions = topic.partitions();
        let pending = partitions.iter().map(|_| Pending::default()).collect();
        Ok(Producer {
            args,
            topic,
            partitions,
            pending,
            partitioner: Partitioner::round_robin(),
            clock: SystemClock,
            line_number: 0,
            status: Status::Sound,
        })
    }

    /// Reads and queues every line, appending batches on the way; stops
    /// early when an append fails for a reason other than the record.
    fn read_all(&mut self, input: &mut BufReader<impl Read>) -> io::Result<()> {
        let mut line = Vec::new();
        while self.status != Status::Failed {
            line.clear();
            if input.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            self.line_number += 1;
            self.queue(self.record(&line));
            if input.buffer().is_empty() {
                // The next read may block: append what is queued first.
                self.flush_all();
            }
        }
        Ok(())
    }

    /// The record of one input line.
    fn record(&self, line: &[u8]) -> Record {
        let split = self
            .args
            .key_delimiter
            .as_deref()
            .and_then(|sep| split_once(line, sep.as_bytes()));
        let (key, value) = match split {
            Some((key, value)) => (Some(Bytes::copy_from_slice(key)), value),
            None => (None, line),
        };
        Record {
            timestamp: self.clock.now_ms(),
            key,
            value: Some(Bytes::copy_from_slice(value)),
            headers: self.args.headers.clone(),
        }
    }

    /// Adds a record to its partition's batch, appending the batch first
    /// when the record might not fit in it, and after when it is full.
    fn queue(&mut self, record: Record) {
        let count = self.partitions.len() as u32;
        let key = record.key.as_deref();
        let n = self
            .partitioner
            .partition(self.topic.name(), key, self.args.partition, count) as usize;
        let size = record_size(&record);
        let limit = self.partitions[n].config().max_message_bytes;
        if self.pending[n].bytes + size > limit {
            self.flush(n);
        }
        let pending = &mut self.pending[n];
        if pending.records.is_empty() {
            pending.bytes = BATCH_OVERHEAD;
            pending.first_line = self.line_number;
        }
        pending.bytes += size;
        pending.records.push(record);
        if pending.records.len() >= MAX_BATCH_RECORDS {
            self.flush(n);
        }
    }

    /// Appends every partition's queued records.
    fn flush_all(&mut self) {
        for n in 0..self.pending.len() {
            self.flush(n);
        }
    }

    /// Appends partition `n`'s queued records as one batch.
    fn flush(&mut self, n: usize) {
        let pending = std::mem::take(&mut self.pending[n]);
        if pending.records.is_empty() || self.status == Status::Failed {
            return;
        }
        let result = self.partitions[n].append_records(&pending.records, RecordsOptions::default());
        let Err(e) = result else { return };
        let last = pending.first_line + pending.records.len() as u64 - 1;
        let lines = if last == pending.first_line {
            format!("line {last}")
        } else {
            format!("lines {}-{last}", pending.first_line)
        };
        // A record too large or out of the timestamp range is refused on
        // its own; anything else (I/O, a closed log) stops the run.
        let status = match e {
            Error::RecordTooLarge { .. } | Error::InvalidTimestamp { .. } => Status::Damaged,
            _ => Status::Failed,
        };
        let message = format!(
            "{lines} not appended to {}-{n}: {}",
            self.topic.name(),
            store_error(&e)
        );
        self.status.add(report(status, message));
    }
}

/// The most bytes `record` can take in a batch.
fn record_size(record: &Record) -> usize {
    let len = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
    let headers: usize = record
        .headers
        .iter()
        .map(|h| HEADER_OVERHEAD + h.key.len() + len(&h.value))
        .sum();
    RECORD_OVERHEAD + len(&record.key) + len(&record.value) + headers
}

/// Splits `line` at the first `sep`.
fn split_once<'l>(line: &'l [u8], sep: &[u8]) -> Option<(&'l [u8], &'l [u8])> {
    if sep.is_empty() {
        return None;
    }
    line.windows(sep.len())
        .position(|w| w == sep)
        .map(|at| (&line[..at], &line[at + sep.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_separator() {
        assert_eq!(
            split_once(b"k::v::w", b"::"),
            Some((&b"k"[..], &b"v::w"[..]))
        );
        assert_eq!(split_once(b":v", b":"), Some((&b""[..], &b"v"[..])));
        assert_eq!(split_once(b"v", b":"), None);
        assert_eq!(split_once(b"v", b""), None);
    }

    #[test]
    fn headers_parse() {
        let h = parse_header("a=b=c").expect("parses");
        assert_eq!(
            (h.key.as_str(), h.value.as_deref()),
            ("a", Some(&b"b=c"[..]))
        );
        let h = parse_header("flag").expect("parses");
        assert_eq!((h.key.as_str(), h.value), ("flag", None));
        assert!(parse_header("=v").is_err());
    }

    #[test]
    fn size_bound_covers_the_encoding() {
        use seglog::record::BatchBuilder;
        let record = Record::keyed(i64::MAX / 2, vec![7u8; 300], vec![9u8; 70_000])
            .with_header(Header::new("h", vec![1u8; 200]));
        let mut b = BatchBuilder::new(0);
        b.push(&record).expect("push");
        let bytes = b.build().expect("build");
        assert!(bytes.len() <= BATCH_OVERHEAD + record_size(&record));
    }
}
