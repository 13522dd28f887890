//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The real Kafka fixtures (DESIGN.md section 7 item 13): `SEGLOG_FIXTURES`,
/// default `../shared/fixtures/kafka-real`. `None` (with a message) when
/// absent, unless `SEGLOG_REQUIRE_FIXTURES=1`, which makes absence a failure.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("SEGLOG_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kafka-real")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("SEGLOG_REQUIRE_FIXTURES").as_deref() == Ok("1") {
        panic!(
            "SEGLOG_REQUIRE_FIXTURES=1 but no fixtures at {}",
            dir.display()
        );
    }
    eprintln!(
        "skipping: no Kafka fixtures at {} (set SEGLOG_FIXTURES)",
        dir.display()
    );
    None
}

/// Every directory below `root` that holds at least one `.log` file, sorted.
pub fn partition_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut has_log = false;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "log") {
            has_log = true;
        }
    }
    if has_log {
        out.push(dir.to_path_buf());
    }
}

/// Base offsets of the segments in a partition directory, ascending.
pub fn segment_bases(dir: &Path) -> Vec<i64> {
    let mut bases: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            match seglog::segment::file_name::parse(name.to_str()?) {
                Some((base, seglog::segment::FileKind::Log)) => Some(base),
                _ => None,
            }
        })
        .collect();
    bases.sort();
    bases
}

/// Copies every regular file of `src` into a new temporary directory.
pub fn copy_dir(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dst.path().join(entry.file_name())).unwrap();
        }
    }
    dst
}
