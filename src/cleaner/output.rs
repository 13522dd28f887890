//! Writing the cleaned copy of one group of segments under `.cleaned`
//! names, ready for [`Partition::replace_segments`].
//!
//! The copy starts at the group's first base offset (the swap protocol
//! requires it). Should it not fit one segment (a rewritten batch can grow
//! when a delete horizon is stamped into it, and an index can fill before
//! the `.log` does), it continues in a further `.cleaned` segment whose base
//! is the next batch's offset.

use std::path::Path;

use crate::error::{Error, Result};
use crate::partition::Partition;
use crate::record::{BatchHeader, BatchView};
use crate::segment::file_name::{CLEANED_SUFFIX, suffixed_path};
use crate::segment::{FileKind, LogSegment};

/// The `.cleaned` segments being written for one group.
#[derive(Debug)]
pub(crate) struct CleanedOutput<'a> {
    partition: &'a Partition,
    current: LogSegment,
    /// Base offsets of the segments written, the current one last.
    bases: Vec<i64>,
    /// Bytes of the sealed segments before the current one.
    sealed_bytes: u64,
}

impl<'a> CleanedOutput<'a> {
    /// Starts the copy of a group whose first segment has `base_offset`.
    pub(crate) fn new(partition: &'a Partition, base_offset: i64) -> Result<Self> {
        let current = create(partition, base_offset)?;
        Ok(CleanedOutput {
            partition,
            current,
            bases: vec![base_offset],
            sealed_bytes: 0,
        })
    }

    /// Appends one batch (offsets already assigned, increasing).
    pub(crate) fn append(&mut self, batch: &BatchView<'_>) -> Result<()> {
        match self.current.append(batch) {
            Ok(_) => Ok(()),
            Err(Error::SegmentFull { .. } | Error::OffsetNotInSegment { .. })
                if !self.current.is_empty() =>
            {
                self.roll(batch.base_offset())?;
                self.current.append(batch).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    fn roll(&mut self, base_offset: i64) -> Result<()> {
        self.current.seal()?;
        self.sealed_bytes += self.current.size();
        self.current = create(self.partition, base_offset)?;
        self.bases.push(base_offset);
        Ok(())
    }

    /// Seals the copy; returns the new segments' base offsets and bytes.
    pub(crate) fn finish(mut self) -> Result<(Vec<i64>, u64)> {
        self.current.seal()?;
        let bytes = self.sealed_bytes + self.current.size();
        Ok((self.bases, bytes))
    }

    /// Removes what was written (after an error); best effort, since a
    /// reopen removes any `.cleaned` file anyway.
    pub(crate) fn abandon(self) {
        let dir = self.partition.dir().to_path_buf();
        drop(self.current);
        for base in self.bases {
            remove_cleaned(&dir, base);
        }
    }
}

/// Creates a `.cleaned` segment, first removing any leftover of an earlier
/// attempt at the same base offset (as Kafka's `cleanSegments` does).
fn create(partition: &Partition, base_offset: i64) -> Result<LogSegment> {
    remove_cleaned(partition.dir(), base_offset);
    partition.create_cleaned_segment(base_offset)
}

/// Removes the `.cleaned` files of `base_offset`, if any (best effort).
pub(crate) fn remove_cleaned(dir: &Path, base_offset: i64) {
    for kind in FileKind::ALL {
        let path = suffixed_path(dir, base_offset, kind, CLEANED_SUFFIX);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a .cleaned file");
        }
    }
}
