//! A topic's persisted description: seglog's own file at the store root,
//! `<topic id>.seglog-topic` (named by id: a 249-character topic name plus
//! a suffix would pass the file system's 255-byte limit), in `key=value`
//! form: the topic name, the partition count, the topic id and every topic
//! configuration key. A Kafka broker looks only at directories in a log
//! dir, so the file is invisible to it.

use std::path::{Path, PathBuf};

use crate::config::{TopicConfig, parse_properties};
use crate::error::{Error, Result};
use crate::partition::checkpoint::{TopicId, write_atomically};

/// Suffix of topic description files.
pub const TOPIC_FILE_SUFFIX: &str = ".seglog-topic";
const PARTITIONS_KEY: &str = "seglog.partitions";
const TOPIC_ID_KEY: &str = "seglog.topic.id";
const TOPIC_NAME_KEY: &str = "seglog.topic.name";

/// What a topic file holds.
#[derive(Debug, Clone)]
pub(crate) struct TopicMeta {
    pub name: String,
    pub partitions: u32,
    pub topic_id: TopicId,
    pub config: TopicConfig,
}

/// The file of the topic with id `topic_id` in the store directory.
pub(crate) fn topic_file(dir: &Path, topic_id: TopicId) -> PathBuf {
    dir.join(format!("{topic_id}{TOPIC_FILE_SUFFIX}"))
}

/// Writes the topic file atomically.
pub(crate) fn write_topic_meta(dir: &Path, meta: &TopicMeta) -> Result<()> {
    let mut text = format!(
        "# seglog topic\n{TOPIC_NAME_KEY}={}\n{PARTITIONS_KEY}={}\n{TOPIC_ID_KEY}={}\n",
        meta.name, meta.partitions, meta.topic_id
    );
    text.push_str(&meta.config.to_properties());
    write_atomically(topic_file(dir, meta.topic_id), text.as_bytes())
}

/// Reads a topic file; the clock comes from `base` (it is not persisted).
pub(crate) fn read_topic_meta(path: &Path, base: &TopicConfig) -> Result<TopicMeta> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut config = TopicConfig {
        clock: base.clock.clone(),
        ..TopicConfig::default()
    };
    let (mut name, mut partitions, mut topic_id) = (None, None, None);
    for (key, value) in parse_properties(&text)? {
        match key.as_str() {
            TOPIC_NAME_KEY => name = Some(value),
            PARTITIONS_KEY => partitions = value.parse().ok(),
            TOPIC_ID_KEY => topic_id = value.parse().ok(),
            _ => config.set(&key, &value)?,
        }
    }
    let missing = |key: &str| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        kind: "seglog topic",
        line: 0,
        reason: format!("{key} is missing or malformed"),
    };
    Ok(TopicMeta {
        name: name.ok_or_else(|| missing(TOPIC_NAME_KEY))?,
        partitions: partitions.ok_or_else(|| missing(PARTITIONS_KEY))?,
        topic_id: topic_id.ok_or_else(|| missing(TOPIC_ID_KEY))?,
        config,
    })
}
