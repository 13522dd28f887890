//! Making file system changes durable: atomic replacement of a small file
//! (DESIGN.md section 2: write `<name>.tmp`, fsync it, rename it over the
//! target, fsync the directory; the `.tmp` name is Kafka's) and directory
//! syncs after creating, renaming or removing entries.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Replaces `path` with `bytes` so that a crash leaves either the old or the
/// new content, never a mix: the bytes go to `<path>.tmp` (truncated first),
/// which is fsynced and renamed over `path`; then the directory is fsynced
/// so the rename itself is durable. On failure before the rename the
/// temporary file is removed (best effort) and `path` is untouched.
pub(crate) fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let tmp = tmp_path(path);
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_parent_dir(path)
}

/// Makes entries created, renamed or removed in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// [`sync_dir`] of the directory holding `path`.
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    sync_dir(dir)
}

/// `<path>.tmp`.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recovery-point-offset-checkpoint");
        write_atomically(&path, b"first, longer content").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["recovery-point-offset-checkpoint"]);
        assert_eq!(
            tmp_path(&path),
            dir.path().join("recovery-point-offset-checkpoint.tmp")
        );
    }

    #[test]
    fn stale_tmp_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leader-epoch-checkpoint");
        std::fs::write(
            tmp_path(&path),
            b"garbage left by a crash, longer than the new content",
        )
        .unwrap();
        write_atomically(&path, b"0\n0\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0\n0\n");
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn missing_directory_names_the_tmp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("partition.metadata");
        match write_atomically(&path, b"x") {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, tmp_path(&path)),
            other => panic!("{other:?}"),
        }
    }
}
