//! The baseline of DESIGN.md section 6: the simplest possible log.
//! `[u32 length][payload]` frames appended with one `write(2)` per append
//! call, an in-memory offset table, `pread` for reads, no checksum.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The raw baseline log.
pub struct RawLog {
    file: File,
    positions: Vec<u64>,
    end: u64,
    frame: Vec<u8>,
}

impl RawLog {
    /// Creates the log file.
    pub fn create(path: &Path) -> Self {
        RawLog {
            file: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .unwrap(),
            positions: Vec::new(),
            end: 0,
            frame: Vec::new(),
        }
    }

    /// Appends payloads as frames with one write(2); returns the first offset.
    pub fn append(&mut self, payloads: &[&[u8]]) -> u64 {
        self.frame.clear();
        let first = self.positions.len() as u64;
        for p in payloads {
            self.positions.push(self.end + self.frame.len() as u64);
            self.frame
                .extend_from_slice(&(p.len() as u32).to_le_bytes());
            self.frame.extend_from_slice(p);
        }
        self.file.write_all(&self.frame).unwrap();
        self.end += self.frame.len() as u64;
        first
    }

    /// Reads the record at `offset` into `buf` with pread.
    pub fn read(&self, offset: u64, buf: &mut Vec<u8>) -> usize {
        let pos = self.positions[offset as usize];
        let mut len = [0u8; 4];
        self.file.read_exact_at(&mut len, pos).unwrap();
        let len = u32::from_le_bytes(len) as usize;
        buf.resize(len, 0);
        self.file.read_exact_at(buf, pos + 4).unwrap();
        len
    }

    /// Reads everything sequentially in chunks of `chunk` bytes and walks
    /// the frames, calling `f` with each payload.
    pub fn scan(&self, chunk: usize, mut f: impl FnMut(&[u8])) {
        let mut buf = vec![0u8; chunk];
        let mut pos = 0u64;
        let mut carry: Vec<u8> = Vec::new();
        while pos < self.end {
            let n = ((self.end - pos) as usize).min(chunk);
            self.file.read_exact_at(&mut buf[..n], pos).unwrap();
            pos += n as u64;
            carry.extend_from_slice(&buf[..n]);
            let mut at = 0;
            while at + 4 <= carry.len() {
                let len = u32::from_le_bytes(carry[at..at + 4].try_into().unwrap()) as usize;
                if at + 4 + len > carry.len() {
                    break;
                }
                f(&carry[at + 4..at + 4 + len]);
                at += 4 + len;
            }
            carry.drain(..at);
        }
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.positions.len() as u64
    }
}
