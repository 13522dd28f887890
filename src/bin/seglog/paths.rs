//! What a PATH argument names: a segment file, a partition directory, or a
//! directory of partition directories (a store, a Kafka `log.dirs` entry).
//!
//! Segment files are recognised by Kafka's names only (20-digit base offset
//! and `.log`, `.index` or `.timeindex`); everything else in a directory
//! (`.snapshot`, `.txnindex`, checkpoints, `meta.properties`, `*.deleted`,
//! `*.cleaned`, `*.swap`) is skipped.

use std::fs;
use std::path::{Path, PathBuf};

use seglog::segment::FileKind;
use seglog::segment::file_name::{file_path, parse};

/// Directories nested deeper than this below a PATH are not searched (a
/// guard against symlink loops; real layouts are two or three levels deep).
const MAX_DEPTH: usize = 32;

/// One segment: its partition directory and base offset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SegmentRef {
    /// The partition directory holding the segment's files.
    pub dir: PathBuf,
    /// The base offset its files are named by.
    pub base_offset: i64,
}

impl SegmentRef {
    /// The segment's `.log` file.
    pub fn log_path(&self) -> PathBuf {
        file_path(&self.dir, self.base_offset, FileKind::Log)
    }
}

/// What `seglog dump` was asked to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpTarget {
    /// `.log` files, in this order (one file, or a partition's segments in
    /// base-offset order).
    Logs(Vec<PathBuf>),
    /// An `.index` file and the base offset from its name.
    OffsetIndex(PathBuf, i64),
    /// A `.timeindex` file and the base offset from its name.
    TimeIndex(PathBuf, i64),
}

/// Resolves the PATH of `seglog dump`.
///
/// # Errors
/// A message naming the path when it is missing, unreadable, or neither a
/// dumpable file nor a directory holding `.log` segments.
pub fn dump_target(path: &Path) -> Result<DumpTarget, String> {
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let bases = segment_bases(path)?;
        if bases.is_empty() {
            return Err(format!(
                "{}: no segment .log file here; dump takes a partition directory or a \
                 .log, .index or .timeindex file",
                path.display()
            ));
        }
        let logs = bases.iter().map(|b| file_path(path, *b, FileKind::Log));
        return Ok(DumpTarget::Logs(logs.collect()));
    }
    match file_kind(path) {
        Some((base, FileKind::OffsetIndex)) => Ok(DumpTarget::OffsetIndex(path.into(), base)),
        Some((base, FileKind::TimeIndex)) => Ok(DumpTarget::TimeIndex(path.into(), base)),
        _ if path.extension().is_some_and(|e| e == "log") => {
            Ok(DumpTarget::Logs(vec![path.into()]))
        }
        _ => Err(format!(
            "{}: not a .log, .index or .timeindex segment file, nor a directory",
            path.display()
        )),
    }
}

/// Every segment a PATH of `seglog verify` names, and the problems met while
/// looking (unreadable directories); the search goes on past those.
#[derive(Debug, Default)]
pub struct Found {
    /// Segments in path order, base-offset order within a directory.
    pub segments: Vec<SegmentRef>,
    /// One message per path that could not be read or used.
    pub errors: Vec<String>,
}

/// Resolves a PATH of `seglog verify`: a segment's `.log` file, a partition
/// directory, or any directory above partition directories (searched
/// recursively, in name order).
pub fn segments_under(path: &Path) -> Found {
    let mut found = Found::default();
    match fs::metadata(path) {
        Err(e) => found.errors.push(format!("{}: {e}", path.display())),
        Ok(meta) if meta.is_dir() => walk(path, 0, &mut found),
        Ok(_) => match (file_kind(path), path.parent()) {
            (Some((base_offset, FileKind::Log)), Some(dir)) => found.segments.push(SegmentRef {
                dir: dir.to_path_buf(),
                base_offset,
            }),
            _ => found.errors.push(format!(
                "{}: not a segment .log file (20-digit base offset + .log) nor a directory",
                path.display()
            )),
        },
    }
    found
}

/// Collects the segments of `dir`, then those of its subdirectories.
fn walk(dir: &Path, depth: usize, found: &mut Found) {
    match segment_bases(dir) {
        Ok(bases) => found
            .segments
            .extend(bases.into_iter().map(|base_offset| SegmentRef {
                dir: dir.to_path_buf(),
                base_offset,
            })),
        Err(e) => {
            found.errors.push(e);
            return;
        }
    }
    if depth >= MAX_DEPTH {
        return;
    }
    match subdirectories(dir) {
        Ok(subdirs) => subdirs.iter().for_each(|d| walk(d, depth + 1, found)),
        Err(e) => found.errors.push(e),
    }
}

/// Base offsets of the `.log` segment files directly in `dir`, ascending.
///
/// # Errors
/// A message naming `dir` when it cannot be listed.
pub fn segment_bases(dir: &Path) -> Result<Vec<i64>, String> {
    let mut bases: Vec<i64> = list(dir)?
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| match file_kind(&p) {
            Some((base, FileKind::Log)) => Some(base),
            _ => None,
        })
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

/// The subdirectories of `dir` (symlinks followed), in name order.
fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(list(dir)?.into_iter().filter(|p| p.is_dir()).collect())
}

/// The entries of `dir`, sorted by name.
fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let error = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(error)? {
        paths.push(entry.map_err(error)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The base offset and kind of a file named as Kafka names segment files.
pub fn file_kind(path: &Path) -> Option<(i64, FileKind)> {
    parse(path.file_name()?.to_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_segment_files_only() {
        let p = Path::new("/x/00000000000000000042.timeindex");
        assert_eq!(file_kind(p), Some((42, FileKind::TimeIndex)));
        assert_eq!(
            file_kind(Path::new("/x/00000000000000000042.log.deleted")),
            None
        );
        assert_eq!(file_kind(Path::new("/x/meta.properties")), None);
    }
}
