//! seglog: Apache Kafka's storage engine, in-process.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod error;
pub mod record;
pub mod segment;

pub use error::{BatchError, Error, Result};
