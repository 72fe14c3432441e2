//! Anthropic error bodies and in-band stream errors, classified for the gateway.
//!
//! Anthropic errors look like `{"type":"error","error":{"type":"rate_limit_error","message":…}}`.
//! For OpenAI-format clients the type is mapped onto OpenAI's vocabulary; where Anthropic's type
//! has no OpenAI twin (`overloaded_error`, `request_too_large`, `billing_error`) it is kept as
//! the error `code`, so nothing is lost. Anthropic-format clients (`/v1/messages`) get the raw
//! type and message back, rendered by [`error_body`] / [`error_event`].

use bytes::Bytes;
use http::StatusCode;
use portcullis_core::GatewayError;
use portcullis_core::sse::push_event_frame;
use serde_json::{Value, json};

use crate::common::provider_error;

/// Anthropic's documented error types.
const ANTHROPIC_TYPES: &[&str] = &[
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
];

/// `(type, message)` from an error body; `None` type when the body carries none.
fn parse(status: StatusCode, body: &[u8]) -> (Option<String>, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let obj = parsed.as_ref().and_then(Value::as_object);
    let err = obj
        .and_then(|o| o.get("error"))
        .and_then(Value::as_object)
        .or(obj);
    match err {
        Some(e) => {
            let message = match e.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => Value::Object(e.clone()).to_string(),
            };
            let kind = e
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| *t != "error");
            (kind.map(str::to_owned), message)
        }
        None => {
            let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
            let text = text.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text.to_owned()
            };
            (None, message)
        }
    }
}

/// OpenAI's error type for a status, for bodies that carry no type.
fn default_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic type → OpenAI `(type, code)`.
fn openai_type(kind: Option<&str>, status: StatusCode) -> (String, Option<Value>) {
    match kind {
        Some(
            t @ ("invalid_request_error"
            | "authentication_error"
            | "permission_error"
            | "not_found_error"
            | "rate_limit_error"
            | "api_error"
            | "timeout_error"),
        ) => (t.to_owned(), None),
        Some(t @ ("request_too_large" | "billing_error")) => {
            ("invalid_request_error".into(), Some(json!(t)))
        }
        Some("overloaded_error") => ("api_error".into(), Some(json!("overloaded_error"))),
        Some(other) => (default_type(status).to_owned(), Some(json!(other))),
        None => (default_type(status).to_owned(), None),
    }
}

/// A non-2xx response for an OpenAI-format client. The upstream status is kept (529 stays 529).
pub(super) fn translate(status: StatusCode, body: &[u8], provider: &str) -> GatewayError {
    let (kind, message) = parse(status, body);
    let (wire_type, code) = openai_type(kind.as_deref(), status);
    provider_error(provider, status, &message, Some(wire_type), code, None)
}

/// A non-2xx response for an Anthropic-format client: raw type and message, no prefix, so
/// [`error_body`] can give the client back what Anthropic said.
pub(super) fn translate_native(status: StatusCode, body: &[u8], provider: &str) -> GatewayError {
    let (kind, message) = parse(status, body);
    let kind = kind.unwrap_or_else(|| anthropic_type_for(status).to_owned());
    GatewayError::provider(provider, status, message, Some(kind), None, None)
}

/// The status Anthropic would have answered with, for an error type seen inside a stream.
fn status_for(kind: &str) -> StatusCode {
    let code = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    };
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An `event: error` received after a 200: re-classified with the status it stands for, so a
/// fallback before the first byte can act on it (overloaded → 529, rate limit → 429, …).
pub(super) fn in_band(data: &[u8], provider: &str, native: bool) -> GatewayError {
    let (kind, _) = parse(StatusCode::INTERNAL_SERVER_ERROR, data);
    let status = status_for(kind.as_deref().unwrap_or("api_error"));
    if native {
        translate_native(status, data, provider)
    } else {
        translate(status, data, provider)
    }
}

/// Anthropic's error type for a status (gateway errors shown to Anthropic-format clients).
fn anthropic_type_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic's error body `{"type":"error","error":{"type","message"}}` for any gateway error:
/// what `/v1/messages` clients (Anthropic SDKs) parse. The error's own type is used when it is
/// one of Anthropic's, else one is derived from the status.
pub fn error_body(err: &GatewayError) -> Value {
    let obj = err.error_object();
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| ANTHROPIC_TYPES.contains(t))
        .unwrap_or_else(|| anthropic_type_for(err.status()));
    json!({"type": "error", "error": {"type": kind, "message": err.message()}})
}

/// `event: error\ndata: {…}\n\n`: the in-band error frame of an Anthropic-format stream.
pub fn error_event(err: &GatewayError) -> Bytes {
    let mut out = Vec::new();
    push_event_frame(
        &mut out,
        "error",
        &serde_json::to_vec(&error_body(err)).unwrap_or_default(),
    );
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorCode;

    fn st(n: u16) -> StatusCode {
        StatusCode::from_u16(n).unwrap()
    }

    #[test]
    fn maps_types_and_keeps_status() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let e = translate(st(529), body, "anthropic");
        assert_eq!(e.status().as_u16(), 529);
        assert_eq!(
            e.body_json(),
            json!({"error":{"message":"anthropic error: Overloaded","type":"api_error","param":null,"code":"overloaded_error"},"provider":"anthropic"})
        );
        let e = translate(st(401), br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#, "anthropic");
        assert_eq!(e.body_json()["error"]["type"], "authentication_error");
        assert_eq!(e.body_json()["error"]["code"], Value::Null);
        let e = translate(
            st(413),
            br#"{"type":"error","error":{"type":"request_too_large","message":"big"}}"#,
            "anthropic",
        );
        assert_eq!(e.body_json()["error"]["type"], "invalid_request_error");
        assert_eq!(e.body_json()["error"]["code"], "request_too_large");
    }

    #[test]
    fn non_json_and_empty_bodies_still_explain_themselves() {
        let e = translate(st(502), b"<html>bad gateway</html>", "anthropic");
        assert_eq!(e.message(), "anthropic error: <html>bad gateway</html>");
        assert_eq!(e.body_json()["error"]["type"], "api_error");
        let e = translate(st(429), b"", "anthropic");
        assert_eq!(e.message(), "anthropic error: Too Many Requests");
        assert_eq!(e.body_json()["error"]["type"], "rate_limit_error");
    }

    #[test]
    fn in_band_errors_get_the_status_their_type_stands_for() {
        let data =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(in_band(data, "anthropic", false).status().as_u16(), 529);
        let data = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#;
        assert_eq!(in_band(data, "anthropic", false).status().as_u16(), 429);
        assert_eq!(
            in_band(b"garbage", "anthropic", false).status().as_u16(),
            500
        );
    }

    #[test]
    fn native_errors_render_in_anthropic_shape() {
        let body =
            br#"{"type":"error","error":{"type":"not_found_error","message":"model: nope"}}"#;
        let e = translate_native(st(404), body, "anthropic");
        assert_eq!(
            error_body(&e),
            json!({"type":"error","error":{"type":"not_found_error","message":"model: nope"}})
        );
        let gw = GatewayError::new(ErrorCode::UpstreamStreamError, "cut");
        assert_eq!(error_body(&gw)["error"]["type"], "api_error");
        let frame = error_event(&gw);
        assert!(frame.starts_with(b"event: error\ndata: {\"type\":\"error\""));
        assert!(frame.ends_with(b"\n\n"));
        let e = translate_native(st(529), b"", "anthropic");
        assert_eq!(error_body(&e)["error"]["type"], "overloaded_error");
    }
}
