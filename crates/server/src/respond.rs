//! The one edge where outcomes and errors become HTTP responses, with Portkey's headers.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use portcullis_core::{BodyStyle, GatewayError, Side};
use portcullis_engine::{Outcome, OutcomeBody};

pub const LAST_USED_OPTION_INDEX: HeaderName =
    HeaderName::from_static("x-portkey-last-used-option-index");
pub const RETRY_ATTEMPT_COUNT: HeaderName =
    HeaderName::from_static("x-portkey-retry-attempt-count");
pub const CACHE_STATUS: HeaderName = HeaderName::from_static("x-portkey-cache-status");
pub const TRACE_ID: HeaderName = HeaderName::from_static("x-portkey-trace-id");
pub const PROVIDER: HeaderName = HeaderName::from_static("x-portkey-provider");
pub const GATEWAY_EXCEPTION: HeaderName = HeaderName::from_static("x-portkey-gateway-exception");

/// Which API the client spoke: errors are rendered in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    OpenAi,
    Anthropic,
}

/// The body bytes for an error, in the client's format.
pub fn error_body(err: &GatewayError, ingress: Ingress) -> Bytes {
    if ingress == Ingress::Anthropic && err.code().spec().style == BodyStyle::OpenAi {
        let body = portcullis_providers::anthropic::error_body(err);
        return Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    }
    err.body_bytes()
}

fn log_error(err: &GatewayError) {
    match err.side() {
        Side::Client => tracing::debug!(
            code = err.code().label(),
            status = err.status().as_u16(),
            "{}",
            err.message()
        ),
        Side::Upstream => tracing::warn!(
            code = err.code().label(),
            status = err.status().as_u16(),
            provider = err.provider_slug(),
            "{}",
            err.message()
        ),
        Side::Gateway => tracing::error!(
            code = err.code().label(),
            status = err.status().as_u16(),
            "{}",
            err.message()
        ),
    }
}

fn json_response(status: StatusCode, body: Bytes, mut headers: HeaderMap) -> Response {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// A gateway error before any target ran (validation, limits).
pub fn error(err: GatewayError, ingress: Ingress, trace_id: Option<&str>) -> Response {
    log_error(&err);
    let mut headers = HeaderMap::new();
    if let Some(t) = trace_id.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(TRACE_ID, t);
    }
    if err.is_gateway_exception() {
        headers.insert(GATEWAY_EXCEPTION, HeaderValue::from_static("true"));
    }
    if let Some(wait) = err.retry_after() {
        // Whole seconds, rounded up: a client retrying at once would only be refused again.
        let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    json_response(err.status(), error_body(&err, ingress), headers)
}

/// The response for an executed plan.
pub fn outcome(o: Outcome, ingress: Ingress, trace_id: &str) -> Response {
    let mut headers = o.headers;
    if let Ok(v) = HeaderValue::from_str(&o.option_path) {
        headers.insert(LAST_USED_OPTION_INDEX, v);
    }
    headers.insert(RETRY_ATTEMPT_COUNT, HeaderValue::from(o.retry_count));
    headers.insert(CACHE_STATUS, HeaderValue::from_static("DISABLED"));
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        headers.insert(TRACE_ID, v);
    }
    if let Some(p) = o
        .provider
        .as_deref()
        .and_then(|p| HeaderValue::from_str(p).ok())
    {
        headers.insert(PROVIDER, p);
    }
    match o.body {
        OutcomeBody::Full(bytes) => {
            let mut resp = Response::new(Body::from(bytes));
            *resp.status_mut() = o.status;
            *resp.headers_mut() = headers;
            resp
        }
        OutcomeBody::Stream(body) => {
            let mut resp = Response::new(Body::new(body));
            *resp.status_mut() = o.status;
            *resp.headers_mut() = headers;
            resp
        }
        OutcomeBody::Error(err) => {
            log_error(&err);
            if err.is_gateway_exception() {
                headers.insert(GATEWAY_EXCEPTION, HeaderValue::from_static("true"));
            }
            headers.remove("content-encoding");
            json_response(o.status, error_body(&err, ingress), headers)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorCode;
    use serde_json::json;

    #[test]
    fn anthropic_clients_get_anthropic_errors() {
        let e = GatewayError::provider(
            "anthropic",
            StatusCode::from_u16(529).unwrap(),
            "anthropic error: busy",
            Some("overloaded_error".into()),
            None,
            None,
        );
        let v: serde_json::Value =
            serde_json::from_slice(&error_body(&e, Ingress::Anthropic)).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","error":{"type":"overloaded_error","message":"anthropic error: busy"}})
        );
        let e = GatewayError::new(ErrorCode::InvalidProvider, "Invalid provider passed");
        let v: serde_json::Value =
            serde_json::from_slice(&error_body(&e, Ingress::Anthropic)).unwrap();
        assert_eq!(
            v["status"], "failure",
            "Portkey's validation errors keep their shape"
        );
    }
}
