//! Liveness, health, and the answers for unknown routes.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use portcullis_core::{ErrorCode, GatewayError};
use serde_json::json;

use crate::respond::{self, Ingress};

/// `GET /`: Portkey's liveness text, kept for drop-in health checks.
pub async fn root() -> &'static str {
    "AI Gateway says hey!"
}

/// `GET /v1/health`.
pub async fn health() -> Response {
    Json(json!({
        "status": "success",
        "message": "Server is healthy",
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

pub async fn not_found() -> Response {
    respond::error(
        GatewayError::new(ErrorCode::NotFound, "Not Found"),
        Ingress::OpenAi,
        None,
    )
}

pub async fn method_not_allowed(method: http::Method, uri: http::Uri) -> Response {
    let mut r = respond::error(
        GatewayError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on {}", uri.path()),
        ),
        Ingress::OpenAi,
        None,
    );
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
