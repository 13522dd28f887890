//! Retention and compaction.

pub mod retention;
