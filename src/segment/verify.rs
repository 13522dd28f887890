//! Full integrity check of a segment as it is on disk: every batch's
//! framing, offsets, CRC and records, and every entry of both index files.
//! Reads only; used by `seglog verify` and by tests.

use std::path::{Path, PathBuf};

use super::config::SegmentConfig;
use super::file_name::{FileKind, file_path};
use super::log_file::LogFile;
use super::scan::check_offsets;
use super::{OffsetIndex, TimeIndex};
use crate::error::Result;
use crate::record::{BatchHeader, BatchView};

/// One problem found by [`verify_segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The file with the problem.
    pub file: PathBuf,
    /// Byte position in that file, when the problem has one.
    pub position: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// What [`verify_segment`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Batches whose framing could be read.
    pub batches: u64,
    /// Records decoded.
    pub records: u64,
    /// Bytes of the `.log`.
    pub bytes: u64,
    /// Index entries checked (both files).
    pub index_entries: u64,
    /// Everything wrong; empty when the segment is sound.
    pub faults: Vec<Fault>,
    /// Remarks that are not faults (a missing or untrimmed index of an
    /// active segment, which Kafka rebuilds from the `.log`).
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether no fault was found.
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }
}

/// A batch's place in the log, kept to cross-check index entries.
struct Placed {
    position: u64,
    base_offset: i64,
    last_offset: i64,
}

/// Checks the segment `base_offset` in `dir` without writing anything.
///
/// # Errors
/// Only when the `.log` cannot be opened or mapped; everything wrong inside
/// the files is a [`Fault`] in the report.
pub fn verify_segment(
    dir: &Path,
    base_offset: i64,
    config: &SegmentConfig,
) -> Result<VerifyReport> {
    let log_path = file_path(dir, base_offset, FileKind::Log);
    let log = LogFile::open(
        &log_path,
        false,
        config.log_capacity(),
        config.preallocate_window_bytes,
    )?;
    let mut report = VerifyReport {
        bytes: log.size(),
        ..VerifyReport::default()
    };
    let placed = check_log(log.bytes(), &log_path, base_offset, config, &mut report);
    let next_offset = placed.last().map_or(base_offset, |p| p.last_offset + 1);
    check_offset_index(dir, base_offset, config, &log, &placed, &mut report);
    check_time_index(dir, base_offset, config, next_offset, &mut report);
    Ok(report)
}

fn check_log(
    data: &[u8],
    path: &Path,
    base_offset: i64,
    config: &SegmentConfig,
    report: &mut VerifyReport,
) -> Vec<Placed> {
    let mut placed = Vec::new();
    let mut pos = 0usize;
    let mut prev_next = None;
    let fault = |position: usize, reason: String| Fault {
        file: path.to_path_buf(),
        position: Some(position as u64),
        reason,
    };
    while pos < data.len() {
        let view = match BatchView::parse(&data[pos..]) {
            Ok(v) => v,
            Err(e) => {
                report.faults.push(fault(
                    pos,
                    format!("unreadable batch, the rest of the file is unchecked: {e}"),
                ));
                break;
            }
        };
        report.batches += 1;
        let problem = check_offsets(&view, base_offset, prev_next)
            .and_then(|()| view.verify_crc())
            .and_then(|()| view.records(&config.decode))
            .and_then(|set| {
                set.validate()?;
                report.records += set.len() as u64;
                Ok(())
            });
        if let Err(e) = problem {
            report.faults.push(fault(pos, e.to_string()));
        }
        placed.push(Placed {
            position: pos as u64,
            base_offset: view.base_offset(),
            last_offset: view.last_offset(),
        });
        prev_next = Some(view.next_offset());
        pos += view.size();
    }
    placed
}

fn check_offset_index(
    dir: &Path,
    base_offset: i64,
    config: &SegmentConfig,
    log: &LogFile,
    placed: &[Placed],
    report: &mut VerifyReport,
) {
    let path = file_path(dir, base_offset, FileKind::OffsetIndex);
    let Some(index) = open_index(&path, report, |p| {
        OffsetIndex::open(p, base_offset, config.segment_index_bytes, false)
    }) else {
        return;
    };
    if index.zero_tail_entries() > 0 {
        report.notes.push(format!(
            "{}: preallocated and not trimmed (segment was active)",
            path.display()
        ));
    }
    if let Err(e) = index.verify(log.size()) {
        report.faults.push(index_fault(&path, e.to_string()));
        return;
    }
    for n in 0..index.len() {
        let (offset, position) = index.entry(n);
        report.index_entries += 1;
        // Kafka indexes a multi-batch append (a follower fetch, cleaner
        // output) by its last offset at its first batch, so the entry's
        // offset may lie in a later batch than the one at its position.
        let at = placed.binary_search_by_key(&u64::from(position), |p| p.position);
        let last = placed.last().map_or(base_offset, |p| p.last_offset);
        let fits = at.is_ok_and(|i| offset >= placed[i].base_offset && offset <= last);
        if !fits {
            report.faults.push(index_fault(
                &path,
                format!("entry {n} maps offset {offset} to position {position}, which is not a batch start at or below that offset"),
            ));
        }
    }
}

fn check_time_index(
    dir: &Path,
    base_offset: i64,
    config: &SegmentConfig,
    next_offset: i64,
    report: &mut VerifyReport,
) {
    let path = file_path(dir, base_offset, FileKind::TimeIndex);
    let Some(index) = open_index(&path, report, |p| {
        TimeIndex::open(p, base_offset, config.segment_index_bytes, false)
    }) else {
        return;
    };
    if let Err(e) = index.verify() {
        report.faults.push(index_fault(&path, e.to_string()));
        return;
    }
    for n in 0..index.len() {
        let (timestamp, offset) = index.entry(n);
        report.index_entries += 1;
        if offset >= next_offset.max(base_offset + 1) {
            report.faults.push(index_fault(
                &path,
                format!(
                    "entry {n} ({timestamp}, {offset}) points past the log's last offset {}",
                    next_offset - 1
                ),
            ));
        }
    }
}

fn open_index<T>(
    path: &Path,
    report: &mut VerifyReport,
    open: impl FnOnce(&Path) -> Result<T>,
) -> Option<T> {
    if !path.exists() {
        report.notes.push(format!(
            "{}: missing (rebuilt from the .log when opened writable)",
            path.display()
        ));
        return None;
    }
    match open(path) {
        Ok(index) => Some(index),
        Err(e) => {
            report.faults.push(index_fault(path, e.to_string()));
            None
        }
    }
}

fn index_fault(path: &Path, reason: String) -> Fault {
    Fault {
        file: path.to_path_buf(),
        position: None,
        reason,
    }
}
