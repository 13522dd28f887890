//! The store directory's `.lock`, Kafka's own lock file. Two locks are
//! taken on it: a POSIX record lock (`fcntl`), which is what a Kafka broker
//! takes (Java's `FileChannel.tryLock`), so neither can open a directory the
//! other holds; and a `flock`, which also keeps a second `Store::open` in
//! the same process out (POSIX locks are per process).

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::FlockOperation;

use crate::error::{Error, Result};

/// The name of the lock file, as Kafka names it.
pub const LOCK_FILE: &str = ".lock";

/// Holds the store directory's lock until dropped.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of `dir`, or fails with [`Error::StoreLocked`].
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let locked = |e: rustix::io::Errno| {
            if e == rustix::io::Errno::AGAIN
                || e == rustix::io::Errno::ACCESS
                || e == rustix::io::Errno::WOULDBLOCK
            {
                Error::StoreLocked {
                    path: dir.to_path_buf(),
                }
            } else {
                Error::io(&path, e.into())
            }
        };
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(locked)?;
        rustix::fs::fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive).map_err(locked)?;
        Ok(StoreLock { _file: file })
    }
}
