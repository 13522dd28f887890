//! The crash-safe segment swap (`.cleaned` -> `.swap` -> live): a rewrite
//! that keeps every other batch of the sealed segments, interrupted at each
//! step, then reopened: the log is either the old one (rolled back) or the
//! new one (rolled forward), never a mix, and offsets never change.

use std::path::Path;

use seglog::config::TopicConfig;
use seglog::partition::{OpenOptions, Partition, RecordsOptions};
use seglog::record::{BatchHeader, Record};
use seglog::segment::file_name::{CLEANED_SUFFIX, DELETED_SUFFIX, SWAP_SUFFIX, suffixed_path};
use seglog::segment::{FileKind, verify_segment};

const T0: i64 = 1_700_000_000_000;

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 1024,
        message_timestamp_after_max_ms: i64::MAX,
        ..TopicConfig::default()
    }
}

fn open(dir: &Path) -> Partition {
    Partition::open(
        dir,
        config(),
        OpenOptions {
            clean_shutdown: true,
            ..Default::default()
        },
    )
    .unwrap()
    .0
}

fn offsets(p: &Partition) -> Vec<i64> {
    let mut out = Vec::new();
    let mut at = p.log_start_offset();
    while at < p.log_end_offset() {
        let slice = p.read(at, 1 << 20).unwrap();
        for batch in slice.iter() {
            for r in batch.records(&p.config().decode).unwrap().iter() {
                let r = r.unwrap();
                assert_eq!(r.value().unwrap(), format!("v{}", r.offset()).as_bytes());
                if r.offset() >= at {
                    out.push(r.offset());
                }
            }
            at = batch.next_offset();
        }
    }
    out
}

/// Writes the rewrite of every sealed segment into one `.cleaned` segment
/// (every other batch kept); returns (old bases, new bases, kept offsets).
fn stage_rewrite(p: &Partition) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let infos = p.segment_infos();
    let old: Vec<i64> = infos
        .iter()
        .filter(|s| !s.active)
        .map(|s| s.base_offset)
        .collect();
    let first = old[0];
    let end = infos.iter().find(|s| s.active).unwrap().base_offset;
    let mut cleaned = p.create_cleaned_segment(first).unwrap();
    let mut kept = Vec::new();
    let mut at = first;
    let mut n = 0;
    while at < end {
        let slice = p.read(at, 1 << 20).unwrap();
        for batch in slice.iter() {
            if batch.base_offset() >= end {
                at = end;
                break;
            }
            if n % 2 == 0 {
                cleaned.append(&batch.view()).unwrap();
                kept.extend(batch.base_offset()..=batch.last_offset());
            }
            n += 1;
            at = batch.next_offset();
        }
    }
    cleaned.seal().unwrap();
    (old, vec![first], kept)
}

fn rename(dir: &Path, base: i64, from: &str, to: &str) {
    for kind in [FileKind::Log, FileKind::OffsetIndex, FileKind::TimeIndex] {
        let src = suffixed_path(dir, base, kind, from);
        if src.exists() {
            std::fs::rename(&src, suffixed_path(dir, base, kind, to)).unwrap();
        }
    }
}

fn setup(root: &Path) -> (std::path::PathBuf, Partition, Vec<i64>) {
    let dir = root.join("compact-0");
    let p = open(&dir);
    for i in 0..60 {
        let r = Record::keyed(T0 + i, format!("k{}", i % 7), format!("v{i}"));
        p.append_records(&[r], RecordsOptions::default()).unwrap();
    }
    assert!(p.segment_infos().len() > 3);
    let all = offsets(&p);
    (dir, p, all)
}

fn reopen_and_check(dir: &Path, p: Partition, expect: &[i64]) {
    std::mem::forget(p); // the crash
    let p = Partition::open(dir, config(), OpenOptions::default())
        .unwrap()
        .0;
    assert_eq!(offsets(&p), expect);
    assert_eq!(p.log_end_offset(), 60);
    p.append_records(&[Record::new(T0, "v60")], RecordsOptions::default())
        .unwrap();
    p.close().unwrap();
    for base in p.segment_base_offsets() {
        assert!(
            verify_segment(dir, base, &p.config().segment_config())
                .unwrap()
                .is_ok()
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| {
            n.ends_with(CLEANED_SUFFIX) || n.ends_with(SWAP_SUFFIX) || n.ends_with(DELETED_SUFFIX)
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn with_tail(kept: &[i64], all: &[i64], sealed_end: i64) -> Vec<i64> {
    kept.iter()
        .copied()
        .chain(all.iter().copied().filter(|&o| o >= sealed_end))
        .collect()
}

#[test]
fn replace_segments_completes_and_reads_with_gaps() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    let sealed_end = p
        .segment_infos()
        .iter()
        .find(|s| s.active)
        .unwrap()
        .base_offset;
    let held = p.read(0, 1 << 20).unwrap(); // a reader holding an old segment
    let (old, new, kept) = stage_rewrite(&p);
    p.replace_segments(&old, &new).unwrap();
    assert_eq!(p.segment_infos().len(), 2);
    assert_eq!(offsets(&p), with_tail(&kept, &all, sealed_end));
    assert!(held.iter().all(|b| b.verify_crc().is_ok()));
    reopen_and_check(&dir, p, &with_tail(&kept, &all, sealed_end));
}

#[test]
fn crash_with_only_cleaned_files_rolls_back() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    stage_rewrite(&p);
    reopen_and_check(&dir, p, &all);
}

#[test]
fn crash_during_step_1_rolls_back() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    let (_, new, _) = stage_rewrite(&p);
    // Only the .log got its .swap name before the crash.
    std::fs::rename(
        suffixed_path(&dir, new[0], FileKind::Log, CLEANED_SUFFIX),
        suffixed_path(&dir, new[0], FileKind::Log, SWAP_SUFFIX),
    )
    .unwrap();
    reopen_and_check(&dir, p, &all);
}

#[test]
fn crash_after_step_1_rolls_forward() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    let sealed_end = p
        .segment_infos()
        .iter()
        .find(|s| s.active)
        .unwrap()
        .base_offset;
    let (_, new, kept) = stage_rewrite(&p);
    rename(&dir, new[0], CLEANED_SUFFIX, SWAP_SUFFIX);
    reopen_and_check(&dir, p, &with_tail(&kept, &all, sealed_end));
}

#[test]
fn crash_during_step_2_rolls_forward() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    let sealed_end = p
        .segment_infos()
        .iter()
        .find(|s| s.active)
        .unwrap()
        .base_offset;
    let (old, new, kept) = stage_rewrite(&p);
    rename(&dir, new[0], CLEANED_SUFFIX, SWAP_SUFFIX);
    rename(&dir, old[1], "", DELETED_SUFFIX); // one old segment already marked
    reopen_and_check(&dir, p, &with_tail(&kept, &all, sealed_end));
}

#[test]
fn crash_during_step_3_rolls_forward() {
    let root = tempfile::tempdir().unwrap();
    let (dir, p, all) = setup(root.path());
    let sealed_end = p
        .segment_infos()
        .iter()
        .find(|s| s.active)
        .unwrap()
        .base_offset;
    let (old, new, kept) = stage_rewrite(&p);
    rename(&dir, new[0], CLEANED_SUFFIX, SWAP_SUFFIX);
    for &b in &old[1..] {
        rename(&dir, b, "", DELETED_SUFFIX);
    }
    // The .log is live again, its indexes are still .swap.
    std::fs::rename(
        suffixed_path(&dir, new[0], FileKind::Log, SWAP_SUFFIX),
        suffixed_path(&dir, new[0], FileKind::Log, ""),
    )
    .unwrap();
    reopen_and_check(&dir, p, &with_tail(&kept, &all, sealed_end));
}

#[test]
fn replace_segments_rejects_the_active_segment() {
    let root = tempfile::tempdir().unwrap();
    let (_dir, p, _) = setup(root.path());
    let active = p.segment_infos().last().unwrap().base_offset;
    assert!(p.replace_segments(&[active], &[]).is_err());
}
