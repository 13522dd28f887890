//! `seglog topics create|list|describe|alter|delete`: topic administration
//! on the store, with Kafka's topic name rules and configuration keys.
//!
//! `create`, `alter` and `delete` print nothing on success; `list` prints
//! one name per line; `describe` prints a table, or one JSON object with
//! `--json`, with each partition's dirty ratio and cleaner checkpoint when
//! the topic is compacted.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use clap::{ArgGroup, Args, Subcommand};
use seglog::Store;
use seglog::config::TopicConfig;
use seglog::store::{PartitionDescription, TopicDescription};
use serde_json::{Map, Value, json};

use crate::{Open, Status, report, store_error, with_store};

/// Arguments of `seglog topics`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// What to do with topics.
    #[command(subcommand)]
    command: TopicsCommand,
}

/// The `topics` subcommands.
#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create a topic (and the store directory when it does not exist yet).
    Create(CreateArgs),
    /// Print the topic names, one per line, sorted.
    List,
    /// Print a topic's partitions (log start and end offsets, bytes,
    /// segments; dirty ratio and cleaner checkpoint when compacted) and its
    /// configuration.
    Describe(DescribeArgs),
    /// Change configuration keys and/or add partitions.
    Alter(AlterArgs),
    /// Delete a topic and its files.
    Delete(DeleteArgs),
}

/// Arguments of `seglog topics create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// The topic: 1 to 249 ASCII letters, digits, '.', '_' or '-'.
    name: String,

    /// Number of partitions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    partitions: u32,

    /// A topic configuration key (Kafka's name, e.g. retention.ms,
    /// segment.bytes, cleanup.policy) and its value; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    configs: Vec<(String, String)>,
}

/// Arguments of `seglog topics describe`.
#[derive(Debug, Args)]
struct DescribeArgs {
    /// The topic.
    name: String,

    /// Print one JSON object instead of the table: {"config":{KEY:VALUE,...},
    /// "configured":BOOL,"id":STRING|null,"name":STRING,"partitions":[
    /// {"log_end_offset":N,"log_start_offset":N,"partition":N,"segments":N,
    /// "size_bytes":N},...]} (keys sorted); a compacted topic's partitions
    /// also have "cleaner_checkpoint":N|null and "dirty_ratio":F.
    #[arg(long)]
    json: bool,
}

/// Arguments of `seglog topics alter`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true).args(["configs", "partitions"])))]
struct AlterArgs {
    /// The topic.
    name: String,

    /// A configuration key and its new value; repeatable. Keys not given
    /// keep their value.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config)]
    configs: Vec<(String, String)>,

    /// Grow the topic to this many partitions (never fewer than it has).
    #[arg(long)]
    partitions: Option<u32>,
}

/// Arguments of `seglog topics delete`.
#[derive(Debug, Args)]
struct DeleteArgs {
    /// The topic.
    name: String,
}

/// Runs `seglog topics`.
pub fn run(dir: &Path, args: &TopicsArgs) -> Status {
    match &args.command {
        TopicsCommand::Create(a) => with_store(dir, Open::OrCreate, |s| create(s, a)),
        TopicsCommand::List => with_store(dir, Open::Existing, list),
        TopicsCommand::Describe(a) => with_store(dir, Open::Existing, |s| describe(s, a)),
        TopicsCommand::Alter(a) => with_store(dir, Open::Existing, |s| alter(s, a)),
        TopicsCommand::Delete(a) => with_store(dir, Open::Existing, |s| delete(s, &a.name)),
    }
}

/// `KEY=VALUE`, split at the first `=`.
fn parse_config(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// The pairs as the library takes them.
fn borrowed(configs: &[(String, String)]) -> Vec<(&str, &str)> {
    configs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Maps a library result to a status, reporting an error.
fn outcome(result: seglog::Result<()>) -> Status {
    match result {
        Ok(()) => Status::Sound,
        Err(e) => report(Status::Failed, store_error(&e)),
    }
}

fn create(store: &Store, args: &CreateArgs) -> Status {
    let mut config = TopicConfig::default();
    for (key, value) in &args.configs {
        if let Err(e) = config.set(key, value) {
            return report(Status::Failed, e);
        }
    }
    outcome(
        store
            .create_topic(&args.name, args.partitions, config)
            .map(drop),
    )
}

fn list(store: &Store) -> Status {
    let mut text = String::new();
    for name in store.topic_names() {
        text.push_str(&name);
        text.push('\n');
    }
    print(&text)
}

fn describe(store: &Store, args: &DescribeArgs) -> Status {
    let described = store
        .describe_topic(&args.name)
        .and_then(|d| Ok((cleaner_states(store, &d)?, d)));
    match described {
        Ok((cleaner, d)) if args.json => print(&format!("{}\n", description_json(&d, &cleaner))),
        Ok((cleaner, d)) => print(&description_table(&d, &cleaner)),
        Err(e) => report(Status::Failed, store_error(&e)),
    }
}

/// Where the cleaner stands on one partition of a compacted topic.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CleanerState {
    /// The dirty ratio: dirty bytes over cleanable bytes.
    dirty_ratio: f64,
    /// The cleaner checkpoint, `None` when never cleaned.
    checkpoint: Option<i64>,
}

/// One state per partition for a compacted topic; none otherwise.
fn cleaner_states(store: &Store, d: &TopicDescription) -> seglog::Result<Vec<CleanerState>> {
    if !store.topic(&d.name)?.config().cleanup_policy.compact {
        return Ok(Vec::new());
    }
    d.partitions
        .iter()
        .map(|p| {
            Ok(CleanerState {
                dirty_ratio: store.cleanable(&d.name, p.partition)?.ratio,
                checkpoint: store.cleaner_checkpoint(&d.name, p.partition),
            })
        })
        .collect()
}

fn alter(store: &Store, args: &AlterArgs) -> Status {
    // Check the partition count first, so a refused count changes nothing.
    let current = match store.topic(&args.name) {
        Ok(topic) => topic.partition_count(),
        Err(e) => return report(Status::Failed, store_error(&e)),
    };
    if let Some(total) = args.partitions.filter(|&total| total < current) {
        let message = format!(
            "topic {} has {current} partitions; it cannot shrink to {total} (partitions can \
             only be added)",
            args.name
        );
        return report(Status::Failed, message);
    }
    if !args.configs.is_empty() {
        let status = outcome(store.alter_topic_config(&args.name, &borrowed(&args.configs)));
        if status != Status::Sound {
            return status;
        }
    }
    match args.partitions {
        Some(total) if total > current => outcome(store.add_partitions(&args.name, total)),
        _ => Status::Sound,
    }
}

fn delete(store: &Store, name: &str) -> Status {
    outcome(store.delete_topic(name))
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

/// The human-readable description: a header, a partition table (with the
/// `cleaner` columns when there are states), the configuration.
fn description_table(d: &TopicDescription, cleaner: &[CleanerState]) -> String {
    let id = d.id.map_or_else(|| "none".to_string(), |id| id.to_string());
    let configured = if d.configured {
        "yes"
    } else {
        "no (defaults; found as Kafka partition directories only)"
    };
    let mut text = format!(
        "Topic: {}\nTopicId: {id}\nPartitions: {}\nConfigured: {configured}\n\n",
        d.name,
        d.partitions.len()
    );
    text.push_str(&partition_table(&d.partitions, cleaner));
    text.push_str("\nConfigs:\n");
    for (key, value) in &d.config {
        let _ = writeln!(text, "  {key}={value}");
    }
    text
}

/// One row per partition, columns aligned; `DIRTY-RATIO` and
/// `CLEANER-CHECKPOINT` columns follow when `cleaner` has the partitions'
/// states.
fn partition_table(partitions: &[PartitionDescription], cleaner: &[CleanerState]) -> String {
    let mut header: Vec<String> = [
        "PARTITION",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "SIZE-BYTES",
        "SEGMENTS",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<Vec<String>> = partitions
        .iter()
        .map(|p| {
            vec![
                p.partition.to_string(),
                p.log_start_offset.to_string(),
                p.log_end_offset.to_string(),
                p.size_bytes.to_string(),
                p.segments.to_string(),
            ]
        })
        .collect();
    if !cleaner.is_empty() {
        header.extend(["DIRTY-RATIO", "CLEANER-CHECKPOINT"].map(String::from));
        for (row, state) in rows.iter_mut().zip(cleaner) {
            row.push(format!("{:.3}", state.dirty_ratio));
            row.push(
                state
                    .checkpoint
                    .map_or_else(|| "-".into(), |c| c.to_string()),
            );
        }
    }
    aligned(&header, &rows)
}

/// The header and rows, each cell right-aligned to its column's width.
fn aligned(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths.iter().copied())
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect();
        text.push_str(&cells.join("  "));
        text.push('\n');
    }
    text
}

/// The `--json` description (serde_json objects: keys sorted), with the
/// `cleaner` fields when there are states.
fn description_json(d: &TopicDescription, cleaner: &[CleanerState]) -> Value {
    let mut partitions: Vec<Value> = d
        .partitions
        .iter()
        .map(|p| {
            json!({
                "partition": p.partition,
                "log_start_offset": p.log_start_offset,
                "log_end_offset": p.log_end_offset,
                "size_bytes": p.size_bytes,
                "segments": p.segments,
            })
        })
        .collect();
    for (partition, state) in partitions.iter_mut().zip(cleaner) {
        if let Some(fields) = partition.as_object_mut() {
            fields.insert("dirty_ratio".into(), json!(state.dirty_ratio));
            fields.insert("cleaner_checkpoint".into(), json!(state.checkpoint));
        }
    }
    let config: Map<String, Value> = d
        .config
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
        .collect();
    json!({
        "name": d.name,
        "id": d.id.map(|id| id.to_string()),
        "configured": d.configured,
        "partitions": partitions,
        "config": config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_pairs_split_at_the_first_equals() {
        assert_eq!(
            parse_config("a.b=c=d"),
            Ok(("a.b".to_string(), "c=d".to_string()))
        );
        assert_eq!(parse_config("k="), Ok(("k".to_string(), String::new())));
        assert!(parse_config("novalue").is_err());
        assert!(parse_config("=v").is_err());
    }

    #[test]
    fn table_columns_are_aligned() {
        let p = |partition, end| PartitionDescription {
            partition,
            log_start_offset: 0,
            log_end_offset: end,
            size_bytes: 123_456,
            segments: 1,
        };
        let table = partition_table(&[p(0, 5), p(1, 1_000_000_000_000)], &[]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{table}");
        assert!(lines[2].contains("1000000000000"));
        assert!(!table.contains("DIRTY-RATIO"), "{table}");
    }

    #[test]
    fn compacted_tables_have_cleaner_columns() {
        let p = |partition| PartitionDescription {
            partition,
            log_start_offset: 0,
            log_end_offset: 10,
            size_bytes: 1,
            segments: 1,
        };
        let cleaner = [
            CleanerState {
                dirty_ratio: 0.5,
                checkpoint: Some(7),
            },
            CleanerState {
                dirty_ratio: 0.0,
                checkpoint: None,
            },
        ];
        let table = partition_table(&[p(0), p(1)], &cleaner);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].ends_with("DIRTY-RATIO  CLEANER-CHECKPOINT"),
            "{table}"
        );
        assert!(lines[1].ends_with("0.500                   7"), "{table}");
        assert!(lines[2].ends_with("0.000                   -"), "{table}");
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{table}");
    }
}
