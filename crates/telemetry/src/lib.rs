//! Telemetry from finished requests: every [`LogRecord`] becomes Prometheus metrics
//! ([`Metrics`]) and, when an OTLP collector is configured, one OpenTelemetry span
//! ([`Tracing`]). Plus W3C `traceparent` helpers for the request pipeline.
//!
//! ```no_run
//! # async fn demo(record: portcullis_logs::LogRecord) -> Result<(), portcullis_telemetry::TelemetryError> {
//! use portcullis_telemetry::{Telemetry, TelemetrySettings};
//! let telemetry = Telemetry::start(&TelemetrySettings::default())?;
//! telemetry.observe(&record); // on the request path: cheap, never waits
//! if let Some(m) = telemetry.metrics() {
//!     let _body = m.render(); // serve with m.content_type()
//! }
//! telemetry.shutdown().await; // flushes spans
//! # Ok(()) }
//! ```

pub mod metrics;
pub mod otel;
pub mod settings;
pub mod trace_context;

use std::sync::Arc;
use std::time::Duration;

use portcullis_logs::LogRecord;

pub use metrics::Metrics;
pub use otel::{Tracing, TracingStats};
pub use settings::{OtlpSettings, TelemetrySettings};
pub use trace_context::{
    TraceParent, is_valid_span_id, is_valid_trace_id, new_span_id, new_trace_id, parse_traceparent,
    traceparent,
};

/// Why telemetry could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid telemetry settings: {0}")]
    InvalidSettings(String),
    #[error("OTLP tracing needs a Tokio runtime to run its exporter on")]
    NoRuntime,
    #[error("could not build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("the OTLP exporter did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the OTLP exporter is shut down")]
    Closed,
}

/// Metrics and tracing together, as configured. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    metrics: Option<Arc<Metrics>>,
    tracing: Tracing,
}

impl Telemetry {
    /// Starts what `settings` turn on. With `otlp` set this needs a Tokio runtime.
    pub fn start(settings: &TelemetrySettings) -> Result<Self, TelemetryError> {
        Ok(Telemetry {
            metrics: settings.metrics.then(|| Arc::new(Metrics::new())),
            tracing: Tracing::start(settings.otlp.as_ref())?,
        })
    }

    /// Telemetry that records nothing.
    pub fn disabled() -> Self {
        Telemetry::default()
    }

    /// The metrics registry, when metrics are on.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// The span exporter (possibly disabled).
    pub fn tracing(&self) -> &Tracing {
        &self.tracing
    }

    /// Counts a finished request and queues its span. Never waits.
    pub fn observe(&self, record: &LogRecord) {
        if let Some(m) = &self.metrics {
            m.observe(record);
        }
        self.tracing.record(record);
    }

    /// Flushes and stops span export (bounded by the export timeout); errors are logged.
    pub async fn shutdown(&self) {
        if let Err(e) = self.tracing.shutdown().await {
            tracing::warn!(error = %e, "OTLP exporter shutdown");
        }
    }
}
