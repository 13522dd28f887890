//! `seglog groups list|describe|delete|reset-offsets`: consumer group
//! administration on the store, as Kafka's `kafka-consumer-groups` offers
//! it, over the group offsets kept in `__consumer_offsets`.
//!
//! A command's store, and so its [`GroupCoordinator`], lives only for the
//! command, and the store's lock keeps other processes out: a group has
//! members only inside a running `seglog consume -G`. These commands
//! therefore always see groups without active members, with their committed
//! offsets (and lag).
//!
//! `list` prints one group per line; `describe` prints Kafka's table (or
//! one JSON object with `--json`); `delete` prints nothing on success;
//! `reset-offsets` prints the new offset of each partition in Kafka's
//! table. `__consumer_offsets` is created (with Kafka's 50 partitions) only
//! by the commands that write offsets: `reset-offsets` and `consume -G`.

use std::io::{self, Write};
use std::path::Path;

use clap::{ArgGroup, Args, Subcommand};
use seglog::Store;
use seglog::offsets::group::{GroupCoordinator, GroupDescription, OffsetReset, PartitionLag};
use seglog::offsets::{OFFSETS_TOPIC, OffsetStore, OffsetStoreConfig};
use serde_json::{Value, json};

use crate::{Open, Status, report, store_error, with_store};

/// Text shown after `seglog groups --help`.
const AFTER_HELP: &str = "\
Committed offsets live in the store's __consumer_offsets topic, in Kafka's \
record format (created with Kafka's 50 partitions; a group's partition is \
abs(hashCode) % partitions, as Kafka computes it), so groups committed by \
seglog load in a Kafka broker and the reverse.

Each command opens the store for its own run only, and the store's lock \
keeps other processes out, so a group has members only while a `seglog \
consume -G` runs: here a group never has active members. describe shows \
its committed offsets and lag (CONSUMER-ID is -), and delete and \
reset-offsets, which Kafka allows on inactive groups only, always apply. \
reset-offsets executes at once (Kafka's tool needs --execute).

Offsets of empty groups are not expired by these commands (Kafka's \
offsets.retention.minutes applies through the library's \
GroupCoordinator::expire_offsets).";

/// Text shown after `seglog groups describe --help`.
const DESCRIBE_HELP: &str = "\
Columns, as kafka-consumer-groups --describe: GROUP, TOPIC, PARTITION, \
CURRENT-OFFSET (the committed offset: the next record the group reads), \
LOG-END-OFFSET, LAG (LOG-END-OFFSET - CURRENT-OFFSET) and CONSUMER-ID; a \
value that is not known prints as -. In a CLI run the group has no active \
members, so CONSUMER-ID is always -.

--json prints one object (keys sorted): {\"generation\":N,\"group\":S,\
\"leader\":S|null,\"members\":[{\"assignment\":[{\"partition\":N,\"topic\":S}],\
\"client_id\":S,\"member_id\":S,\"topics\":[S]}],\"offsets\":[{\
\"consumer_id\":S|null,\"current_offset\":N|null,\"lag\":N|null,\
\"log_end_offset\":N|null,\"partition\":N,\"topic\":S}],\"protocol\":S|null,\
\"state\":S}.

Exit status 2 when the group has no committed offsets (it does not exist).";

/// Text shown after `seglog groups reset-offsets --help`.
const RESET_HELP: &str = "\
Moves the group's committed offset of every partition of --topic, in one \
commit, and prints GROUP, TOPIC, PARTITION and NEW-OFFSET per partition, as \
kafka-consumer-groups --reset-offsets --execute does. The group need not \
exist yet. --to-offset is clamped into each partition's [log start, log \
end]. --to-datetime takes milliseconds since the Unix epoch, or an ISO-8601 \
time with a zone, YYYY-MM-DDTHH:MM:SS[.sss](Z|+HH:MM|-HH:MM), e.g. \
2024-05-01T12:00:00.000Z (Kafka's tool reads a time without a zone as local \
time; seglog refuses one); each partition moves to its first record at or \
after that time, or to its log end when every record is older.";

/// Arguments of `seglog groups`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GroupsArgs {
    /// What to do with consumer groups.
    #[command(subcommand)]
    command: GroupsCommand,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// Print the groups with committed offsets, one per line, sorted.
    List,
    /// Print a group's committed offsets, log end offsets and lag per
    /// partition (kafka-consumer-groups --describe).
    Describe(DescribeArgs),
    /// Delete a group and its committed offsets.
    Delete(DeleteArgs),
    /// Move a group's committed offsets on every partition of a topic.
    ResetOffsets(ResetArgs),
}

/// Arguments of `seglog groups describe`.
#[derive(Debug, Args)]
#[command(after_help = DESCRIBE_HELP)]
struct DescribeArgs {
    /// The group id.
    group: String,

    /// Print one JSON object instead of the table (see below).
    #[arg(long)]
    json: bool,
}

/// Arguments of `seglog groups delete`.
#[derive(Debug, Args)]
struct DeleteArgs {
    /// The group id.
    group: String,
}

/// Arguments of `seglog groups reset-offsets`.
#[derive(Debug, Args)]
#[command(after_help = RESET_HELP)]
#[command(group(ArgGroup::new("target").required(true)
    .args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
struct ResetArgs {
    /// The group id.
    group: String,

    /// The topic whose partitions are reset (all of them).
    #[arg(long, value_name = "TOPIC")]
    topic: String,

    /// Each partition's log start offset.
    #[arg(long)]
    to_earliest: bool,

    /// Each partition's log end offset.
    #[arg(long)]
    to_latest: bool,

    /// This offset, clamped into each partition's log.
    #[arg(long, value_name = "OFFSET", value_parser = clap::value_parser!(i64).range(0..))]
    to_offset: Option<i64>,

    /// The first record at or after this time: milliseconds since the Unix
    /// epoch, or YYYY-MM-DDTHH:MM:SS[.sss] with Z or +HH:MM.
    #[arg(long, value_name = "TIMESTAMP", value_parser = parse_datetime)]
    to_datetime: Option<i64>,
}

impl ResetArgs {
    /// The target the flags name (clap makes exactly one present).
    fn target(&self) -> OffsetReset {
        match (self.to_offset, self.to_datetime) {
            (Some(offset), _) => OffsetReset::Offset(offset),
            (None, Some(ts)) => OffsetReset::Timestamp(ts),
            (None, None) if self.to_latest => OffsetReset::Latest,
            (None, None) => OffsetReset::Earliest,
        }
    }
}

/// Runs `seglog groups`.
pub fn run(dir: &Path, args: &GroupsArgs) -> Status {
    with_store(dir, Open::Existing, |store| match &args.command {
        GroupsCommand::List => list(store),
        GroupsCommand::Describe(a) => describe(store, a),
        GroupsCommand::Delete(a) => delete(store, &a.group),
        GroupsCommand::ResetOffsets(a) => reset_offsets(store, a),
    })
}

/// The group coordinator of `store`, over its offset store with Kafka's
/// defaults (`__consumer_offsets` is created when missing).
///
/// # Errors
/// The errors of [`OffsetStore::open`].
pub fn coordinator(store: &Store) -> seglog::Result<GroupCoordinator> {
    let offsets = OffsetStore::open(store, OffsetStoreConfig::default())?;
    Ok(GroupCoordinator::new(store, offsets))
}

/// The group coordinator of `store` when `__consumer_offsets` exists: a
/// store without it has no groups, and reading must not create it.
fn existing_coordinator(store: &Store) -> seglog::Result<Option<GroupCoordinator>> {
    if store.topic_names().iter().any(|t| t == OFFSETS_TOPIC) {
        coordinator(store).map(Some)
    } else {
        Ok(None)
    }
}

/// The coordinator when `group` has committed offsets, else the error
/// `describe` and `delete` report.
fn coordinator_of(store: &Store, group: &str) -> Result<GroupCoordinator, Status> {
    let existing =
        existing_coordinator(store).map_err(|e| report(Status::Failed, store_error(&e)))?;
    match existing {
        Some(c) if c.list_groups().iter().any(|g| g.group == group) => Ok(c),
        _ => Err(report(
            Status::Failed,
            format!("consumer group '{group}' does not exist (it has no committed offsets)"),
        )),
    }
}

fn list(store: &Store) -> Status {
    let coordinator = match existing_coordinator(store) {
        Ok(Some(coordinator)) => coordinator,
        Ok(None) => return Status::Sound,
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    let mut text = String::new();
    for listing in coordinator.list_groups() {
        text.push_str(&listing.group);
        text.push('\n');
    }
    print(&text)
}

fn describe(store: &Store, args: &DescribeArgs) -> Status {
    let coordinator = match coordinator_of(store, &args.group) {
        Ok(coordinator) => coordinator,
        Err(status) => return status,
    };
    let description = coordinator.describe(&args.group);
    if args.json {
        print(&format!("{}\n", description_json(&description)))
    } else {
        print(&lag_table(&description))
    }
}

fn delete(store: &Store, group: &str) -> Status {
    let coordinator = match coordinator_of(store, group) {
        Ok(coordinator) => coordinator,
        Err(status) => return status,
    };
    match coordinator.delete_group(group) {
        Ok(_) => Status::Sound,
        Err(e) => report(Status::Failed, store_error(&e)),
    }
}

fn reset_offsets(store: &Store, args: &ResetArgs) -> Status {
    // Check the topic first: a typo must not create __consumer_offsets.
    if let Err(e) = store.topic(&args.topic) {
        return report(Status::Failed, store_error(&e));
    }
    let reset =
        coordinator(store).and_then(|c| c.reset_offsets(&args.group, &args.topic, args.target()));
    match reset {
        Ok(offsets) => print(&reset_table(&args.group, &args.topic, &offsets)),
        Err(e) => report(Status::Failed, store_error(&e)),
    }
}

/// Writes `text` to stdout; a closed stdout (`| head`) is not an error.
fn print(text: &str) -> Status {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Status::Sound,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Status::Sound,
        Err(e) => report(Status::Failed, format!("writing to stdout: {e}")),
    }
}

/// `kafka-consumer-groups --describe`'s table: one row per partition the
/// group owns or has an offset for.
fn lag_table(d: &GroupDescription) -> String {
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
    ];
    let rows: Vec<Vec<String>> = d.offsets.iter().map(|p| lag_row(&d.group, p)).collect();
    aligned(&header, &rows)
}

/// One row of [`lag_table`]; unknown values print as `-`.
fn lag_row(group: &str, p: &PartitionLag) -> Vec<String> {
    let known = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    vec![
        group.to_string(),
        p.topic.clone(),
        p.partition.to_string(),
        known(p.committed),
        known(p.log_end_offset),
        known(p.lag),
        p.owner.clone().unwrap_or_else(|| "-".to_string()),
    ]
}

/// `kafka-consumer-groups --reset-offsets`'s table.
fn reset_table(group: &str, topic: &str, offsets: &[(u32, i64)]) -> String {
    let header = ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"];
    let rows: Vec<Vec<String>> = offsets
        .iter()
        .map(|(partition, offset)| {
            vec![
                group.to_string(),
                topic.to_string(),
                partition.to_string(),
                offset.to_string(),
            ]
        })
        .collect();
    aligned(&header, &rows)
}

/// The header and rows, cells left-aligned to their column's width (as
/// Kafka's tool prints them), two spaces apart, no trailing spaces.
fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths.iter().copied())
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// The `--json` description (serde_json objects: keys sorted).
fn description_json(d: &GroupDescription) -> Value {
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            let assignment: Vec<Value> = m
                .assignment
                .iter()
                .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
                .collect();
            json!({
                "member_id": m.member_id,
                "client_id": m.client_id,
                "topics": m.topics,
                "assignment": assignment,
            })
        })
        .collect();
    let offsets: Vec<Value> = d
        .offsets
        .iter()
        .map(|p| {
            json!({
                "topic": p.topic,
                "partition": p.partition,
                "current_offset": p.committed,
                "log_end_offset": p.log_end_offset,
                "lag": p.lag,
                "consumer_id": p.owner,
            })
        })
        .collect();
    json!({
        "group": d.group,
        "state": d.state.name(),
        "generation": d.generation,
        "protocol": d.protocol.map(|p| p.name()),
        "leader": d.leader,
        "members": members,
        "offsets": offsets,
    })
}

/// Parses `--to-datetime`: milliseconds since the Unix epoch, or
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (the fraction is cut
/// to milliseconds).
fn parse_datetime(text: &str) -> Result<i64, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{text:?} is too large for a timestamp in milliseconds"));
    }
    iso_datetime(text).ok_or_else(|| {
        format!(
            "expected milliseconds since the Unix epoch or YYYY-MM-DDTHH:MM:SS[.sss] with a zone \
             (Z or +HH:MM), got {text:?}"
        )
    })
}

/// An ISO-8601 date and time with a zone, in milliseconds since the epoch.
fn iso_datetime(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't'])?;
    let (time, offset_ms) = split_zone(rest)?;
    let days = parse_date(date)?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let [hour, minute, second] = fields(clock, ':', [2, 2, 2])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let millis = match fraction {
        Some(f) => fraction_ms(f)?,
        None => 0,
    };
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Some(seconds * 1_000 + millis - offset_ms)
}

/// Splits `HH:MM:SS...` from its zone (`Z`, `+HH:MM`, `+HHMM`, or the
/// same with `-`); returns the zone's offset from UTC in ms.
fn split_zone(rest: &str) -> Option<(&str, i64)> {
    if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let at = rest.rfind(['+', '-'])?;
    let (time, zone) = rest.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let zone = zone.get(1..)?;
    let (hours, minutes) = match zone.split_once(':') {
        Some(parts) => parts,
        None => zone.split_at_checked(2)?,
    };
    let [hours] = fields(hours, ':', [2])?;
    let [minutes] = fields(minutes, ':', [2])?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((time, sign * (hours * 60 + minutes) * 60_000))
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(date: &str) -> Option<i64> {
    let [year, month, day] = fields(date, '-', [4, 2, 2])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month)
        .contains(&day)
        .then(|| days_from_civil(year, month, day))
}

/// `N` fields of exactly the given digit counts, separated by `sep`.
fn fields<const N: usize>(text: &str, sep: char, digits: [usize; N]) -> Option<[i64; N]> {
    let mut parts = text.split(sep);
    let mut out = [0i64; N];
    for (slot, len) in out.iter_mut().zip(digits) {
        let part = parts.next()?;
        if part.len() != len || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A fraction of a second (1 to 9 digits) in whole milliseconds.
fn fraction_ms(fraction: &str) -> Option<i64> {
    let digits = fraction.bytes().all(|b| b.is_ascii_digit());
    if fraction.is_empty() || fraction.len() > 9 || !digits {
        return None;
    }
    let padded = fraction.bytes().chain(std::iter::repeat(b'0')).take(3);
    Some(padded.fold(0, |ms, b| ms * 10 + i64::from(b - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_as_milliseconds() {
        assert_eq!(parse_datetime("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_datetime("2023-11-14T22:13:20.000Z"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime("2023-11-14T23:13:20.5+01:00"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(
            parse_datetime("2023-11-14T20:13:20.123456-0200"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(parse_datetime("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
        assert_eq!(parse_datetime("1969-12-31T23:59:59.999Z"), Ok(-1));
        for bad in [
            "",
            "x",
            "-5",
            "99999999999999999999",
            "2023-11-14T22:13:20",
            "2023-11-14",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+25:00",
            "2023-1-14T22:13:20Z",
            "2023-11-14T22:13:20+1",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tables_are_left_aligned_without_trailing_spaces() {
        let table = reset_table("g", "orders", &[(0, 5), (10, 1_000_000)]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "GROUP  TOPIC   PARTITION  NEW-OFFSET");
        assert_eq!(lines[1], "g      orders  0          5");
        assert_eq!(lines[2], "g      orders  10         1000000");
    }

    #[test]
    fn unknown_lag_values_print_as_dashes() {
        let p = PartitionLag {
            topic: "t".into(),
            partition: 1,
            committed: Some(3),
            log_end_offset: None,
            lag: None,
            owner: None,
        };
        assert_eq!(lag_row("g", &p), ["g", "t", "1", "3", "-", "-", "-"]);
    }
}
