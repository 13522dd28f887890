//! Kafka's segment file names: the base offset as 20 zero-padded digits and
//! a suffix per file kind (`00000000000000012345.log`).

use std::path::{Path, PathBuf};

/// The kinds of per-segment files Kafka keeps in a partition directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `.log`: the record batches.
    Log,
    /// `.index`: offset -> position.
    OffsetIndex,
    /// `.timeindex`: timestamp -> offset.
    TimeIndex,
    /// `.txnindex`: aborted transactions.
    TxnIndex,
    /// `.snapshot`: producer state.
    Snapshot,
}

impl FileKind {
    /// Every kind.
    pub const ALL: [FileKind; 5] = [
        FileKind::Log,
        FileKind::OffsetIndex,
        FileKind::TimeIndex,
        FileKind::TxnIndex,
        FileKind::Snapshot,
    ];

    /// The file suffix, with its dot.
    pub fn suffix(self) -> &'static str {
        match self {
            FileKind::Log => ".log",
            FileKind::OffsetIndex => ".index",
            FileKind::TimeIndex => ".timeindex",
            FileKind::TxnIndex => ".txnindex",
            FileKind::Snapshot => ".snapshot",
        }
    }
}

/// `base_offset` as Kafka prints it in file names: 20 digits, zero-padded.
pub fn offset_prefix(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// The file name of a segment file, e.g. `00000000000000000042.index`.
pub fn file_name(base_offset: i64, kind: FileKind) -> String {
    format!("{}{}", offset_prefix(base_offset), kind.suffix())
}

/// The path of a segment file inside a partition directory.
pub fn file_path(dir: &Path, base_offset: i64, kind: FileKind) -> PathBuf {
    dir.join(file_name(base_offset, kind))
}

/// Suffix of a segment written by the cleaner and not yet swapped in.
pub const CLEANED_SUFFIX: &str = ".cleaned";
/// Suffix of a cleaned segment being swapped in.
pub const SWAP_SUFFIX: &str = ".swap";
/// Suffix of a segment file scheduled for deletion.
pub const DELETED_SUFFIX: &str = ".deleted";

/// The path of a segment file with an extra suffix (`.cleaned`, `.swap`,
/// `.deleted`), e.g. `00000000000000000042.log.swap`.
pub fn suffixed_path(dir: &Path, base_offset: i64, kind: FileKind, suffix: &str) -> PathBuf {
    dir.join(format!("{}{suffix}", file_name(base_offset, kind)))
}

/// Parses a segment file name carrying `suffix` (`00000000000000000042.log.swap`).
pub fn parse_suffixed(name: &str, suffix: &str) -> Option<(i64, FileKind)> {
    parse(name.strip_suffix(suffix)?)
}

/// Parses a segment file name into its base offset and kind. Names with
/// extra suffixes (`.deleted`, `.cleaned`, `.swap`) are not segment files and
/// give `None`.
pub fn parse(name: &str) -> Option<(i64, FileKind)> {
    let kind = FileKind::ALL
        .into_iter()
        .find(|k| name.ends_with(k.suffix()))?;
    let digits = &name[..name.len() - kind.suffix().len()];
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(|offset| (offset, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        assert_eq!(file_name(0, FileKind::Log), "00000000000000000000.log");
        assert_eq!(
            file_name(12345, FileKind::TimeIndex),
            "00000000000000012345.timeindex"
        );
        for kind in FileKind::ALL {
            assert_eq!(parse(&file_name(i64::MAX, kind)), Some((i64::MAX, kind)));
        }
    }

    #[test]
    fn rejects_other_names() {
        for name in [
            "0.log",
            "00000000000000000000.log.deleted",
            "0000000000000000000a.log",
            "00000000000000000000.idx",
            "99999999999999999999.log",
            "leader-epoch-checkpoint",
        ] {
            assert_eq!(parse(name), None, "{name}");
        }
    }
}
