//! Request logs: one [`LogRecord`] per request, queued without blocking the response, written in
//! batches, kept for a retention period, and queried by the logs and analytics APIs.

pub mod query;
pub mod record;

pub use query::{Aggregates, Bucket, Feedback, Group, GroupBy, LogFilter, Page, PageRequest};
pub use record::{LogRecord, Outcome, Timings, Tokens};
