//! Gemini error bodies and in-stream error events → OpenAI's error envelope.
//!
//! Google sends `{"error": {"code", "message", "status", "details"}}`, sometimes wrapped in an
//! array; the upstream HTTP status is kept and the status name becomes the OpenAI `code`.

use std::time::Duration;

use http::StatusCode;
use portcullis_core::GatewayError;
use serde_json::Value;

use crate::common::provider_error;

/// OpenAI's error type for a Google RPC status name.
fn wire_type(status_name: &str) -> Option<&'static str> {
    Some(match status_name {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" | "UNKNOWN" | "ABORTED" | "CANCELLED" => {
            "api_error"
        }
        _ => return None,
    })
}

/// OpenAI's error type for an HTTP status, when Google sent no status name.
fn type_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 => "timeout_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The HTTP status a status name stands for, for in-stream errors that carry no numeric code.
fn status_for_name(name: &str) -> Option<StatusCode> {
    Some(match name {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => StatusCode::BAD_REQUEST,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "PERMISSION_DENIED" => StatusCode::FORBIDDEN,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "RESOURCE_EXHAUSTED" => StatusCode::TOO_MANY_REQUESTS,
        "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "DEADLINE_EXCEEDED" => StatusCode::GATEWAY_TIMEOUT,
        "INTERNAL" | "UNKNOWN" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => return None,
    })
}

/// The error object in a body: `{"error": {...}}` or `[{"error": {...}}]`.
fn error_object(v: &Value) -> Option<&Value> {
    let v = match v {
        Value::Array(items) => items.first()?,
        other => other,
    };
    v.get("error")
}

pub(super) fn translate(status: StatusCode, body: &[u8], provider: &str) -> GatewayError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(error_object) {
        Some(err @ Value::Object(_)) => from_object(status, err, provider),
        Some(Value::String(s)) => provider_error(
            provider,
            status,
            s,
            Some(type_for_status(status).into()),
            None,
            None,
        ),
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
            let text = text.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error")
            } else {
                text
            };
            provider_error(
                provider,
                status,
                message,
                Some(type_for_status(status).into()),
                None,
                None,
            )
        }
    }
}

fn from_object(status: StatusCode, err: &Value, provider: &str) -> GatewayError {
    let name = err
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let message = match err.get("message") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => name
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"))
            .to_owned(),
    };
    // A bad key is a 400 INVALID_ARGUMENT from Google; clients branch on the type, so it says so.
    let wire = if reason(err) == Some("API_KEY_INVALID") {
        "authentication_error"
    } else {
        name.and_then(wire_type)
            .unwrap_or_else(|| type_for_status(status))
    };
    let code = name.map(|n| Value::String(n.to_owned()));
    let e = provider_error(provider, status, &message, Some(wire.into()), code, None);
    match retry_delay(err) {
        Some(d) => e.with_retry_after(d),
        None => e,
    }
}

/// `google.rpc.ErrorInfo.reason` (`API_KEY_INVALID`, …).
fn reason(err: &Value) -> Option<&str> {
    err.get("details")?
        .as_array()?
        .iter()
        .find(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
        })?
        .get("reason")?
        .as_str()
}

/// `google.rpc.RetryInfo.retryDelay` (`"37s"`, `"1.5s"`): Gemini's 429s say when to come back
/// in the body rather than in a `Retry-After` header.
fn retry_delay(err: &Value) -> Option<Duration> {
    let details = err.get("details")?.as_array()?;
    details.iter().find_map(|d| {
        let is_retry = d
            .get("@type")
            .and_then(Value::as_str)?
            .ends_with("google.rpc.RetryInfo");
        let secs = d
            .get("retryDelay")?
            .as_str()?
            .strip_suffix('s')?
            .parse::<f64>()
            .ok()?;
        (is_retry && secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(3600.0)))
    })
}

/// An error delivered as a stream event. Its status comes from the numeric `code`, else the
/// status name, else 500, so a fallback before the first byte can act on it.
pub(super) fn in_band(provider: &str, err: &Value) -> GatewayError {
    let status = err
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .or_else(|| {
            err.get("status")
                .and_then(Value::as_str)
                .and_then(status_for_name)
        })
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    from_object(status, err, provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Retry;
    use serde_json::json;

    #[test]
    fn maps_status_names_and_reads_retry_info() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#;
        let e = translate(StatusCode::TOO_MANY_REQUESTS, body, "google");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry(), Retry::After(Duration::from_secs(37)));
        assert_eq!(
            e.body_json(),
            json!({"error":{"message":"google error: Quota exceeded","type":"rate_limit_error","param":null,"code":"RESOURCE_EXHAUSTED"},"provider":"google"})
        );
    }

    #[test]
    fn in_band_errors_take_their_status_from_the_code_or_name() {
        let e = in_band(
            "google",
            &json!({"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}),
        );
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let e = in_band(
            "google",
            &json!({"message": "slow down", "status": "RESOURCE_EXHAUSTED"}),
        );
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        let e = in_band("google", &json!({"message": "?"}));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
