//! The partition's leader epoch and topic id files (DESIGN.md section 7
//! item 7): seglog stamps the current epoch (the last entry of
//! `leader-epoch-checkpoint`, 0 for a new partition) into every batch and
//! never lets it go backwards; `partition.metadata` holds the topic id.

use std::path::Path;

use super::checkpoint::{
    EpochEntry, LEADER_EPOCH_CHECKPOINT, PARTITION_METADATA, TopicId, read_leader_epochs,
    read_partition_metadata, write_leader_epochs, write_partition_metadata,
};
use crate::error::Result;

/// The current leader epoch; a partition without one gets epoch 0 starting
/// at `log_start`, written down.
pub(super) fn load_leader_epoch(dir: &Path, log_start: i64) -> Result<i32> {
    let path = dir.join(LEADER_EPOCH_CHECKPOINT);
    let entries = read_leader_epochs(&path)?;
    match entries.last() {
        Some(last) => Ok(last.epoch),
        None => {
            write_leader_epochs(
                &path,
                &[EpochEntry {
                    epoch: 0,
                    start_offset: log_start,
                }],
            )?;
            Ok(0)
        }
    }
}

/// After a truncation to `end`: drops epoch entries starting at or after
/// it, as Kafka's `truncateFromEnd`, keeping the current epoch on record.
pub(super) fn truncate_epochs(dir: &Path, end: i64, current: i32) -> Result<()> {
    let path = dir.join(LEADER_EPOCH_CHECKPOINT);
    let entries = read_leader_epochs(&path)?;
    let mut kept: Vec<EpochEntry> = entries
        .iter()
        .copied()
        .filter(|e| e.start_offset < end)
        .collect();
    // The epoch being stamped must stay on record, or a reopen would go
    // back to an older one.
    if kept.last().is_none_or(|e| e.epoch != current) {
        kept.push(EpochEntry {
            epoch: current,
            start_offset: end,
        });
    }
    if kept != entries {
        write_leader_epochs(&path, &kept)?;
    }
    Ok(())
}

/// The topic id: the one in `partition.metadata`, else `wanted` written
/// down; `None` when neither exists (a directory seglog did not create).
pub(super) fn load_topic_id(dir: &Path, wanted: Option<TopicId>) -> Result<Option<TopicId>> {
    let path = dir.join(PARTITION_METADATA);
    if path.exists() {
        return read_partition_metadata(&path).map(Some);
    }
    if let Some(id) = wanted {
        write_partition_metadata(&path, id)?;
    }
    Ok(wanted)
}
