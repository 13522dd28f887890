//! The persisted producer id allocator (DESIGN.md section 7 item 7).
//!
//! Ids are handed out from blocks; the end of the current block is written
//! to a small text file (seglog's own, at the store root where Kafka looks
//! for nothing) before any id of the block is used, so after a crash the
//! allocator restarts past every id it may have handed out. On open it also
//! starts above every producer id found in the data (imported Kafka data
//! included), which the caller passes in.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::partition::checkpoint::write_atomically;

/// Ids reserved per write of the allocator file.
pub const BLOCK_SIZE: i64 = 1000;

/// Hands out producer ids that are never reused, across restarts.
#[derive(Debug)]
pub struct ProducerIdAllocator {
    path: PathBuf,
    state: Mutex<Block>,
}

#[derive(Debug)]
struct Block {
    next: i64,
    end: i64,
}

impl ProducerIdAllocator {
    /// Opens (or starts) the allocator file at `path`; the first id handed
    /// out is above both what the file reserved and `max_seen`.
    pub fn open(path: impl AsRef<Path>, max_seen: Option<i64>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let reserved = read_block_end(&path)?;
        let next = reserved.max(max_seen.map_or(0, |m| m.saturating_add(1)));
        Ok(ProducerIdAllocator {
            path,
            state: Mutex::new(Block { next, end: next }),
        })
    }

    /// The next producer id.
    pub fn allocate(&self) -> Result<i64> {
        let mut block = self.state.lock();
        if block.next >= block.end {
            let end = block.next.saturating_add(BLOCK_SIZE);
            write_atomically(&self.path, format!("{end}\n").as_bytes())?;
            block.end = end;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }
}

fn read_block_end(path: &Path) -> Result<i64> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            kind: "producer id block",
            line: 1,
            reason: format!("expected a number, found {:?}", text.trim()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("producer-id-block");
        let a = ProducerIdAllocator::open(&path, None).unwrap();
        let first: Vec<i64> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(first, [0, 1, 2]);
        drop(a); // a crash after handing out 3 ids of a 1000-id block
        let b = ProducerIdAllocator::open(&path, None).unwrap();
        assert_eq!(b.allocate().unwrap(), BLOCK_SIZE);
        let c = ProducerIdAllocator::open(&path, Some(5_000)).unwrap();
        assert_eq!(c.allocate().unwrap(), 5_001);
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            ProducerIdAllocator::open(&path, None),
            Err(Error::CorruptCheckpoint { .. })
        ));
    }
}
