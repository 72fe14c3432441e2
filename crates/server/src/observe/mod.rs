//! Step 10 of the pipeline, **record**: every request becomes one [`LogRecord`], handed to the
//! observers (metrics and traces look at it, the log queue keeps it) once its response is
//! complete. Nothing here waits on IO: the log queue is bounded and drops when full.

mod body;
mod classify;
mod draft;
mod logs;
mod mask;
mod refused;
mod telemetry;

use std::sync::Arc;

pub use body::Recorded;
pub use classify::outcome_of;
pub use draft::{Draft, StreamSlot, StreamSummary};
pub use logs::Logs;
use portcullis_logs::LogRecord;
pub use refused::RefusedHeads;
pub use telemetry::metrics_route;

/// Looks at each finished record (metrics, traces). Must not block.
pub trait Tap: Send + Sync {
    fn observe(&self, record: &LogRecord);
}

/// Keeps each finished record (the log queue). Must not block.
pub trait Sink: Send + Sync {
    fn keep(&self, record: LogRecord);
}

/// Where finished records go. Empty (the default) costs nothing per request.
#[derive(Clone, Default)]
pub struct Observer {
    taps: Vec<Arc<dyn Tap>>,
    sink: Option<Arc<dyn Sink>>,
    /// Largest request or response body kept in a record (bytes of text).
    pub payload_cap: usize,
}

/// Bodies longer than this are cut in the record (the request itself is not).
pub const DEFAULT_PAYLOAD_CAP: usize = 64 * 1024;

impl Observer {
    pub fn new(payload_cap: usize) -> Observer {
        Observer {
            payload_cap,
            ..Observer::default()
        }
    }

    pub fn with_tap(mut self, tap: Arc<dyn Tap>) -> Observer {
        self.taps.push(tap);
        self
    }

    pub fn with_sink(mut self, sink: Arc<dyn Sink>) -> Observer {
        self.sink = Some(sink);
        self
    }

    /// Whether anyone listens: without, the pipeline skips building records.
    pub fn enabled(&self) -> bool {
        self.sink.is_some() || !self.taps.is_empty()
    }

    /// Whether records keep payloads (only the log store reads them).
    pub fn wants_payloads(&self) -> bool {
        self.sink.is_some() && self.payload_cap > 0
    }

    pub fn emit(&self, record: LogRecord) {
        for t in &self.taps {
            t.observe(&record);
        }
        if let Some(s) = &self.sink {
            s.keep(record);
        }
    }
}
