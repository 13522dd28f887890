//! `leader-epoch-checkpoint`: Kafka's `LeaderEpochCheckpointFile`, read
//! the way Kafka's `LeaderEpochFileCache` loads it.
//!
//! ```text
//! 0          version
//! 2          number of entries
//! 0 0        epoch, offset of the first batch of that epoch
//! 3 1200
//! ```

use std::fmt;
use std::path::Path;

use super::{
    decode_entries, encode_entries, invalid_input, number, read_if_exists, write_atomically,
};
use crate::error::Result;

/// What [`Error::CorruptCheckpoint`](crate::Error::CorruptCheckpoint) calls these files.
const KIND: &str = "leader epoch checkpoint";

/// A leader epoch and the offset of the first batch written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    /// The partition leader epoch (non-negative).
    pub epoch: i32,
    /// The first offset of the epoch (non-negative). After `DeleteRecords`
    /// the first entry may start below the log start offset: that is normal.
    pub start_offset: i64,
}

impl fmt::Display for EpochEntry {
    /// Kafka's line: `epoch startOffset`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.epoch, self.start_offset)
    }
}

/// Reads a `leader-epoch-checkpoint` as Kafka loads it into its epoch cache.
///
/// A missing or empty file is no epochs (Kafka creates the file empty). A
/// negative epoch or start offset is
/// [`Error::CorruptCheckpoint`](crate::Error::CorruptCheckpoint) (Kafka
/// refuses to load it). Entries that break monotonicity are resolved as
/// Kafka's `LeaderEpochFileCache.assign` does, entry by entry in file
/// order: an entry with the latest epoch and a start offset not below it is
/// ignored, otherwise the entries it conflicts with (epoch or start offset
/// not below its own) are dropped before it is added. The result is
/// strictly increasing in both epoch and start offset.
pub fn read_leader_epochs(path: impl AsRef<Path>) -> Result<Vec<EpochEntry>> {
    let path = path.as_ref();
    match read_if_exists(path)? {
        Some(bytes) => decode_leader_epochs(path, &bytes),
        None => Ok(Vec::new()),
    }
}

/// Replaces a `leader-epoch-checkpoint` atomically with `entries`.
///
/// The entries must be what Kafka's cache holds: non-negative, epochs and
/// start offsets strictly increasing; anything else is an `InvalidInput`
/// [`Error::Io`](crate::Error::Io) and the file is left untouched.
pub fn write_leader_epochs(path: impl AsRef<Path>, entries: &[EpochEntry]) -> Result<()> {
    let path = path.as_ref();
    if let Some(entry) = entries.iter().find(|e| e.epoch < 0 || e.start_offset < 0) {
        return Err(invalid_input(
            path,
            format!("negative leader epoch entry {entry}"),
        ));
    }
    if let Some(pair) = entries
        .windows(2)
        .find(|w| w[0].epoch >= w[1].epoch || w[0].start_offset >= w[1].start_offset)
    {
        return Err(invalid_input(
            path,
            format!(
                "leader epoch entry {} does not increase on {}",
                pair[1], pair[0]
            ),
        ));
    }
    write_atomically(path, &encode_entries(entries.iter()))
}

/// Parses the bytes of a `leader-epoch-checkpoint` with the semantics of
/// [`read_leader_epochs`] (for tools and fuzzing; `path` only names the file
/// in errors).
pub fn decode_leader_epochs(path: &Path, bytes: &[u8]) -> Result<Vec<EpochEntry>> {
    let mut epochs: Vec<EpochEntry> = Vec::new();
    decode_entries(path, KIND, bytes, |fields| {
        let [epoch, start_offset] = fields else {
            return Err(format!(
                "expected 2 fields `epoch startOffset`, found {}",
                fields.len()
            ));
        };
        let entry = EpochEntry {
            epoch: number(epoch, "epoch", "32-bit integer")?,
            start_offset: number(start_offset, "start offset", "64-bit integer")?,
        };
        if entry.epoch < 0 || entry.start_offset < 0 {
            return Err(format!("negative leader epoch entry {entry}"));
        }
        assign(&mut epochs, entry);
        Ok(())
    })?;
    Ok(epochs)
}

/// Kafka's `LeaderEpochFileCache.assign` for one entry.
fn assign(epochs: &mut Vec<EpochEntry>, entry: EpochEntry) {
    if let Some(last) = epochs.last()
        && last.epoch == entry.epoch
        && entry.start_offset >= last.start_offset
    {
        return;
    }
    while let Some(last) = epochs.last()
        && (last.epoch >= entry.epoch || last.start_offset >= entry.start_offset)
    {
        epochs.pop();
    }
    epochs.push(entry);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Error;

    fn e(epoch: i32, start_offset: i64) -> EpochEntry {
        EpochEntry {
            epoch,
            start_offset,
        }
    }

    fn corrupt_line(bytes: &[u8]) -> usize {
        match decode_leader_epochs(Path::new("lec"), bytes) {
            Err(Error::CorruptCheckpoint { line, kind, .. }) => {
                assert_eq!(kind, KIND);
                line
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn writes_kafka_bytes_and_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leader-epoch-checkpoint");
        assert!(read_leader_epochs(&path).unwrap().is_empty());
        let entries = [e(0, 0), e(3, 1200), e(7, 5000)];
        write_leader_epochs(&path, &entries).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"0\n3\n0 0\n3 1200\n7 5000\n"
        );
        assert_eq!(read_leader_epochs(&path).unwrap(), entries);
        write_leader_epochs(&path, &[]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0\n0\n");
        assert!(read_leader_epochs(&path).unwrap().is_empty());
    }

    #[test]
    fn non_monotonic_entries_resolve_as_kafka_loads_them() {
        let p = Path::new("lec");
        // A later entry truncates the entries it conflicts with.
        assert_eq!(
            decode_leader_epochs(p, b"0\n3\n0 0\n1 100\n2 50\n").unwrap(),
            [e(0, 0), e(2, 50)]
        );
        assert_eq!(
            decode_leader_epochs(p, b"0\n2\n5 10\n3 20\n").unwrap(),
            [e(3, 20)]
        );
        // Same epoch again with a higher start offset: ignored.
        assert_eq!(
            decode_leader_epochs(p, b"0\n2\n1 10\n1 20\n").unwrap(),
            [e(1, 10)]
        );
        // Same epoch with a lower start offset: replaces it.
        assert_eq!(
            decode_leader_epochs(p, b"0\n2\n1 10\n1 5\n").unwrap(),
            [e(1, 5)]
        );
        // Same start offset, higher epoch: the newer epoch wins.
        assert_eq!(
            decode_leader_epochs(p, b"0\n2\n1 10\n2 10\n").unwrap(),
            [e(2, 10)]
        );
    }

    #[test]
    fn malformed_names_the_line() {
        assert_eq!(corrupt_line(b"1\n0\n"), 1);
        assert_eq!(corrupt_line(b"0\nx\n"), 2);
        assert_eq!(corrupt_line(b"0\n2\n0 0\n"), 4);
        assert_eq!(corrupt_line(b"0\n1\n0 0\n1 1\n"), 4);
        assert_eq!(corrupt_line(b"0\n1\n0 x\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\n2147483648 0\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\n0\n"), 3);
        assert_eq!(corrupt_line(b"0\n1\n0 0 0\n"), 3);
        assert_eq!(corrupt_line(b"0\n2\n0 0\n-1 5\n"), 4);
        assert_eq!(corrupt_line(b"0\n2\n0 0\n1 -5\n"), 4);
    }

    #[test]
    fn writer_refuses_what_kafka_never_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leader-epoch-checkpoint");
        for bad in [
            &[e(-1, 0)][..],
            &[e(0, -1)],
            &[e(1, 0), e(1, 5)],
            &[e(1, 5), e(2, 5)],
            &[e(2, 0), e(1, 5)],
        ] {
            match write_leader_epochs(&path, bad) {
                Err(Error::Io { source, .. }) => {
                    assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput)
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(!path.exists());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_leader_epochs(Path::new("lec"), &bytes);
        }

        #[test]
        fn decoded_is_strictly_increasing(raw in proptest::collection::vec((0..10i32, 0..100i64), 0..12)) {
            let text = encode_entries(raw.iter().map(|&(a, b)| e(a, b)));
            let epochs = decode_leader_epochs(Path::new("lec"), &text).unwrap();
            for w in epochs.windows(2) {
                prop_assert!(w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset);
            }
            // The file's last epoch is always the latest epoch loaded.
            prop_assert_eq!(epochs.last().map(|k| k.epoch), raw.last().map(|r| r.0));
        }

        #[test]
        fn roundtrip(steps in proptest::collection::vec((1..1000i32, 1..1_000_000i64), 0..20)) {
            let mut entries = Vec::new();
            let (mut epoch, mut offset) = (0i32, 0i64);
            for (de, doff) in steps {
                entries.push(e(epoch, offset));
                epoch += de;
                offset += doff;
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("leader-epoch-checkpoint");
            write_leader_epochs(&path, &entries).unwrap();
            prop_assert_eq!(read_leader_epochs(&path).unwrap(), entries);
        }
    }
}
