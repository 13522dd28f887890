//! Reading a `.log` file batch by batch, read-only and streaming: memory is
//! one batch, whatever the file's size, and a damaged length field cannot
//! make the reader allocate more than the bytes actually present.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use seglog::BatchError;
use seglog::record::layout::{LOG_OVERHEAD, MAGIC};
use seglog::record::{BatchHeader, BatchView, frame_size};

/// Bytes read before a batch's framing can be judged: baseOffset,
/// batchLength, partitionLeaderEpoch and the magic byte.
const PROBE: u64 = MAGIC as u64 + 1;

/// Why the next batch could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read.
    Io(io::Error),
    /// The bytes at [`LogReader::position`] do not frame a batch (bad length
    /// or magic, or the file ends inside the batch); nothing after them can
    /// be located.
    Framing(BatchError),
}

/// A `.log` file opened read-only, read one batch at a time.
#[derive(Debug)]
pub struct LogReader {
    path: PathBuf,
    reader: BufReader<File>,
    /// Byte position of the batch last returned (or that failed to frame).
    position: u64,
    /// Byte position of the next batch.
    next: u64,
    buf: Vec<u8>,
}

impl LogReader {
    /// Opens `path` for reading.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LogReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, File::open(path)?),
            position: 0,
            next: 0,
            buf: Vec::new(),
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte position of the batch last returned, or of the bytes that failed
    /// to frame.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next batch and its byte position (its CRC and records not
    /// checked), `None` at the end of the file. After an error, stop reading.
    pub fn next_batch(&mut self) -> Result<Option<(u64, BatchView<'_>)>, ReadError> {
        self.position = self.next;
        self.buf.clear();
        self.fill(PROBE)?;
        if self.buf.is_empty() {
            return Ok(None);
        }
        if let Err(BatchError::Truncated { needed, .. }) = frame_size(&self.buf)
            && self.buf.len() as u64 == PROBE
            && needed > PROBE
        {
            self.fill(needed - PROBE)?;
        }
        let view = BatchView::parse(&self.buf).map_err(ReadError::Framing)?;
        self.next += view.size() as u64;
        Ok(Some((self.position, view)))
    }

    /// After a framing error: the number of bytes from
    /// [`position`](Self::position) to the end of the file when all of them
    /// are zero (a preallocated tail that was never written), else `None`.
    pub fn zero_tail(&mut self) -> io::Result<Option<u64>> {
        if self.buf.iter().any(|b| *b != 0) {
            return Ok(None);
        }
        let mut total = self.buf.len() as u64;
        let mut chunk = [0u8; 1 << 14];
        loop {
            let n = self.reader.read(&mut chunk)?;
            if n == 0 {
                return Ok(Some(total));
            }
            if chunk[..n].iter().any(|b| *b != 0) {
                return Ok(None);
            }
            total += n as u64;
        }
    }

    /// Appends up to `n` more bytes to the buffer, fewer at the end of the
    /// file; the buffer grows only by what is read.
    fn fill(&mut self, n: u64) -> Result<(), ReadError> {
        (&mut self.reader)
            .take(n)
            .read_to_end(&mut self.buf)
            .map(|_| ())
            .map_err(ReadError::Io)
    }
}

/// Describes a framing error for a message: the error, and what lies after
/// it when that says more (an all-zero tail).
pub fn describe_framing(reader: &mut LogReader, error: &BatchError) -> String {
    match reader.zero_tail() {
        Ok(Some(zeros)) if zeros >= LOG_OVERHEAD as u64 => format!(
            "unreadable batch ({error}); the remaining {zeros} bytes are all zero \
             (preallocated space never written)"
        ),
        _ => format!("unreadable batch, the dump of this file stops here: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seglog::record::{BatchBuilder, Record};
    use std::io::Write;

    fn batch(base: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(base);
        b.push(&Record::new(1, "v")).expect("push");
        b.build().expect("build")
    }

    #[test]
    fn reads_batches_then_reports_torn_tail() {
        let mut file = tempfile::NamedTempFile::new().expect("tmp");
        let (a, b) = (batch(0), batch(1));
        file.write_all(&a).expect("write");
        file.write_all(&b[..b.len() - 3]).expect("write");
        let mut r = LogReader::open(file.path()).expect("open");
        let first = r.next_batch().expect("first").map(|(p, v)| (p, v.size()));
        assert_eq!(first, Some((0, a.len())));
        let err = r.next_batch().expect_err("torn");
        assert!(matches!(
            err,
            ReadError::Framing(BatchError::Truncated { .. })
        ));
        assert_eq!(r.position(), a.len() as u64);
    }

    #[test]
    fn recognises_zero_tail() {
        let mut file = tempfile::NamedTempFile::new().expect("tmp");
        file.write_all(&batch(0)).expect("write");
        file.write_all(&[0u8; 100]).expect("write");
        let mut r = LogReader::open(file.path()).expect("open");
        assert!(r.next_batch().expect("first").is_some());
        let ReadError::Framing(e) = r.next_batch().expect_err("zeros") else {
            panic!("not a framing error");
        };
        assert!(describe_framing(&mut r, &e).contains("remaining 100 bytes are all zero"));
    }
}
