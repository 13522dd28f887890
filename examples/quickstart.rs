//! Quickstart: write a Kafka-format segment, read it back, look records up.
//!
//! Run with `cargo run --release --example quickstart [DIR]`. Without DIR a
//! fresh temporary directory is used and its path printed. The files written
//! are Kafka's (`00000000000000000000.log`, `.index`, `.timeindex`) and can be
//! inspected with `cargo run --features cli -- dump DIR`.

use std::error::Error;
use std::path::PathBuf;

use seglog::record::{BatchBuilder, BatchView, Compression, Header, Record};
use seglog::segment::{LogSegment, SegmentConfig, verify_segment};

fn main() -> Result<(), Box<dyn Error>> {
    let (dir, _keep) = data_dir()?;
    println!("writing a segment in {}", dir.display());
    let config = SegmentConfig::default();
    let mut segment = LogSegment::create(&dir, 0, config)?;

    // The numbers 1..=8, four records per batch, the second batch lz4-compressed.
    for (i, codec) in [Compression::None, Compression::Lz4]
        .into_iter()
        .enumerate()
    {
        let mut batch = BatchBuilder::new(segment.next_offset()).compression(codec);
        for n in 1..=4 {
            let number = i * 4 + n;
            let record = Record::keyed(
                1_700_000_000_000 + number as i64,
                format!("key-{number}"),
                number.to_string(),
            )
            .with_header(Header::new("source", "quickstart"));
            batch.push(&record)?;
        }
        let bytes = batch.build()?;
        let position = segment.append(&BatchView::parse(&bytes)?)?;
        println!("appended a {codec} batch of 4 records at byte {position}");
    }
    segment.seal()?;

    println!("reading everything back, in offset order:");
    for batch in segment.read(0, usize::MAX)?.iter() {
        for record in batch.records(&config.decode)?.iter() {
            let record = record?;
            let value = String::from_utf8_lossy(record.value().unwrap_or_default());
            println!(
                "  offset {} timestamp {} value {value}",
                record.offset(),
                record.timestamp()
            );
        }
    }
    let found = segment.find_offset_by_timestamp(1_700_000_000_006, 0)?;
    println!("first record at or after timestamp 1700000000006: {found:?}");
    let at = segment.translate_offset(5)?.ok_or("offset 5 not found")?;
    println!(
        "offset 5 lives in the batch at byte {} (offsets {}..={})",
        at.position, at.base_offset, at.last_offset
    );
    let report = verify_segment(&dir, 0, &config)?;
    println!(
        "verify: {} batches, {} records, {} faults",
        report.batches,
        report.records,
        report.faults.len()
    );
    Ok(())
}

/// The directory from the command line, or a fresh temporary one (kept).
fn data_dir() -> Result<(PathBuf, Option<tempfile::TempDir>), Box<dyn Error>> {
    if let Some(dir) = std::env::args_os().nth(1) {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        return Ok((dir, None));
    }
    let tmp = tempfile::Builder::new()
        .prefix("seglog-quickstart-")
        .tempdir()?;
    let dir = tmp.path().to_path_buf();
    Ok((dir, Some(tmp)))
}
