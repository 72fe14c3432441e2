//! Provider error bodies (OpenAI's envelope and the shapes compatible servers really send).

use http::StatusCode;
use portcullis_core::GatewayError;
use serde_json::Value;

use crate::common::provider_error;

/// Re-shapes an error body into OpenAI's envelope, keeping type, code and param when present.
pub(crate) fn translate(status: StatusCode, body: &[u8], provider: &str) -> GatewayError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (message, wire_type, code, param) = match parsed.as_ref() {
        Some(Value::Object(obj)) => match obj.get("error") {
            Some(Value::Object(err)) => (
                err.get("message")
                    .map(value_text)
                    .unwrap_or_else(|| Value::Object(err.clone()).to_string()),
                err.get("type").and_then(Value::as_str).map(str::to_owned),
                err.get("code").filter(|c| !c.is_null()).cloned(),
                err.get("param").and_then(Value::as_str).map(str::to_owned),
            ),
            Some(other) => (value_text(other), None, None, None),
            None => (
                obj.get("message")
                    .or_else(|| obj.get("detail"))
                    .map(value_text)
                    .unwrap_or_else(|| Value::Object(obj.clone()).to_string()),
                None,
                None,
                None,
            ),
        },
        Some(other) => (value_text(other), None, None, None),
        None => (text_of(body, status), None, None, None),
    };
    let wire_type = wire_type.or_else(|| Some(default_type(status).to_owned()));
    provider_error(provider, status, &message, wire_type, code, param)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn text_of(body: &[u8], status: StatusCode) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.to_owned()
    }
}

/// OpenAI's error type for a status, for providers that send none.
pub(crate) fn default_type(status: StatusCode) -> &'static str {
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

/// An error delivered inside a 200 stream (`data: {"error": …}`). The status is guessed from
/// the error's numeric code or type, so a fallback before the first byte can act on it.
pub(crate) fn in_band(provider: &str, error: &Value) -> GatewayError {
    let status = error
        .get("code")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or_else(|| {
            let t = error.get("type").and_then(Value::as_str).unwrap_or("");
            if t.contains("rate_limit") {
                StatusCode::TOO_MANY_REQUESTS
            } else if t.contains("invalid_request") {
                StatusCode::BAD_REQUEST
            } else if t.contains("overloaded") {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        });
    let body = serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap_or_default();
    translate(status, &body, provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_openai_error_fields() {
        let body = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let e = translate(StatusCode::UNAUTHORIZED, body, "openai");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            e.body_json(),
            json!({"error":{"message":"openai error: Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"},"provider":"openai"})
        );
    }

    #[test]
    fn understands_other_shapes() {
        let e = translate(
            StatusCode::BAD_REQUEST,
            br#"{"detail":"bad things"}"#,
            "vllm",
        );
        assert_eq!(e.message(), "vllm error: bad things");
        assert_eq!(e.body_json()["error"]["type"], "invalid_request_error");
        let e = translate(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":"slow down"}"#,
            "groq",
        );
        assert_eq!(e.message(), "groq error: slow down");
        assert_eq!(e.body_json()["error"]["type"], "rate_limit_error");
        let e = translate(StatusCode::BAD_GATEWAY, b"", "x-ai");
        assert_eq!(e.message(), "x-ai error: Bad Gateway");
        let e = translate(
            StatusCode::SERVICE_UNAVAILABLE,
            b"upstream connect error",
            "openai",
        );
        assert_eq!(e.message(), "openai error: upstream connect error");
    }
}
