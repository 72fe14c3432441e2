//! Metrics and traces look at every record: Prometheus counters and histograms, and one
//! OpenTelemetry span per request when OTLP is configured.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use portcullis_logs::LogRecord;
use portcullis_telemetry::Telemetry;

use super::Tap;
use crate::state::AppState;

impl Tap for Telemetry {
    fn observe(&self, record: &LogRecord) {
        Telemetry::observe(self, record);
    }
}

/// `GET /metrics`: the Prometheus text exposition (404 when metrics are off).
pub async fn metrics_route(State(state): State<Arc<AppState>>) -> Response {
    let Some(m) = state.telemetry.metrics() else {
        return (
            http::StatusCode::NOT_FOUND,
            "metrics are disabled (telemetry.metrics: false)\n",
        )
            .into_response();
    };
    if let Some(stats) = state.log_stats.as_ref().map(|f| f()) {
        m.set_log_queue(&stats);
    }
    ([(http::header::CONTENT_TYPE, m.content_type())], m.render()).into_response()
}
