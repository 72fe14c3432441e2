//! Request logs: one [`LogRecord`] per request, queued without blocking the response
//! ([`LogSink`]), written in batches, kept for a retention period, and queried by the logs and
//! analytics APIs through a [`LogStore`] on SQLite or PostgreSQL ([`SqlLogStore`]).
//!
//! Analytics read pre-aggregated rollups (5 min / 1 h / 1 day buckets per dimension
//! combination, see [`plan`](crate::plan)) whenever the filter only names rolled-up dimensions,
//! and the raw table otherwise. Percentiles come from log-scale histograms and are within
//! [`histogram::RELATIVE_ERROR`] (4.43%) of the exact nearest-rank value, plus 1 µs.

mod cursor;
mod derive;
mod dims;
pub mod error;
pub mod export;
pub mod export_job;
pub mod histogram;
mod packed;
mod partial;
mod plan;
pub mod query;
pub mod record;
pub mod sink;
pub mod store;
mod users;
mod writer;

pub use error::LogError;
pub use export::Export;
pub use export_job::{ExportJob, ExportStatus};
pub use partial::UNKNOWN_OUTCOME;
pub use query::{
    Aggregates, Bucket, Feedback, FeedbackBy, FeedbackGroup, FeedbackUpdate, Group, GroupBy,
    LogFilter, Page, PageRequest,
};
pub use record::{LogRecord, Outcome, Timings, Tokens};
pub use sink::{LogSink, ShutdownReport, SinkConfig, SinkStats};
pub use store::{Backend, LogStore, SqlLogStore};
