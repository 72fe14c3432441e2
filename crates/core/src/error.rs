//! The gateway's one error type: a code, the side at fault, a retry decision, and its wire form.
//!
//! Every failure the gateway produces itself is a [`GatewayError`]. The code → status / body
//! mapping is the exhaustive table in [`ErrorCode::spec`]; nothing else picks a status.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

/// Who caused the failure: drives the log level and whether a fallback can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Gateway,
}

/// Whether trying again (the same target, later) can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Never,
    Safe,
    After(Duration),
}

/// The three body shapes Portkey's gateway emits, kept so clients parse ours unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// `{"status":"failure","message":…[, "errors":[…]]}`: Portkey's gateway validation errors.
    Failure,
    /// `{"error":{"message","type","param","code"}[, "provider"]}`: OpenAI-shaped.
    OpenAi,
    /// `{"message":"Not Found","ok":false}`: unknown route.
    NotFound,
    /// `{"status":"failure","message":"Portkey Error: <m>. Error Code: <c>","error":{"message","code"}}`:
    /// Portkey's authentication middleware (keys, key/workspace limits).
    Portkey,
}

/// Every error the gateway can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MissingProviderOrConfig,
    InvalidProvider,
    InvalidContentType,
    InvalidCustomHost,
    InvalidConfigJson,
    InvalidConfig,
    ConfigWithoutProvider,
    LegacyConfig,
    InvalidForwardHeaders,
    InvalidHeader,
    RouterError,
    UnsupportedEndpoint,
    InvalidRequestBody,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    ProviderError,
    RequestTimeout,
    UpstreamUnreachable,
    UpstreamInvalidResponse,
    UpstreamStreamError,
    Overloaded,
    Internal,
    InvalidApiKey,
    ApiKeyExpired,
    Forbidden,
    KeyRateLimited,
    KeyBudgetExhausted,
    RateLimited,
    BudgetExhausted,
    ModelNotAllowed,
    ConfigOverrideNotAllowed,
}

/// One row of the error table.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub status: StatusCode,
    pub style: BodyStyle,
    /// OpenAI `type` (for `OpenAi` bodies).
    pub wire_type: &'static str,
    /// OpenAI `code`; `None` renders as `null`.
    pub wire_code: Option<&'static str>,
    pub side: Side,
    pub retry: Retry,
    /// Portkey's `x-portkey-gateway-exception: true`: stops fallback iteration.
    pub gateway_exception: bool,
}

const fn spec(
    status: u16,
    style: BodyStyle,
    wire_type: &'static str,
    wire_code: Option<&'static str>,
    side: Side,
    retry: Retry,
) -> Spec {
    let status = match StatusCode::from_u16(status) {
        Ok(s) => s,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Spec {
        status,
        style,
        wire_type,
        wire_code,
        side,
        retry,
        gateway_exception: false,
    }
}

const fn exception(mut s: Spec) -> Spec {
    s.gateway_exception = true;
    s
}

impl ErrorCode {
    /// The table: status, body style, wire type and code, side and retry decision per code.
    pub const fn spec(self) -> Spec {
        use BodyStyle::{Failure, NotFound as Nf, OpenAi, Portkey as Pk};
        use Retry::{Never, Safe};
        use Side::{Client, Gateway, Upstream};
        const INVALID: &str = "invalid_request_error";
        match self {
            ErrorCode::MissingProviderOrConfig => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidProvider => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidContentType => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidCustomHost => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidConfigJson => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidConfig => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::ConfigWithoutProvider => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::LegacyConfig => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidForwardHeaders => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::InvalidHeader => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::RouterError => spec(400, Failure, INVALID, None, Client, Never),
            ErrorCode::UnsupportedEndpoint => {
                exception(spec(400, Failure, INVALID, None, Client, Never))
            }
            ErrorCode::InvalidRequestBody => spec(
                400,
                OpenAi,
                INVALID,
                Some("invalid_request_body"),
                Client,
                Never,
            ),
            ErrorCode::PayloadTooLarge => spec(
                413,
                OpenAi,
                INVALID,
                Some("payload_too_large"),
                Client,
                Never,
            ),
            ErrorCode::NotFound => spec(404, Nf, INVALID, None, Client, Never),
            ErrorCode::MethodNotAllowed => spec(
                405,
                OpenAi,
                INVALID,
                Some("method_not_allowed"),
                Client,
                Never,
            ),
            // The status is the upstream's; 502 is only the fallback when none is known.
            ErrorCode::ProviderError => spec(502, OpenAi, "api_error", None, Upstream, Never),
            ErrorCode::RequestTimeout => spec(408, OpenAi, "timeout_error", None, Upstream, Safe),
            ErrorCode::UpstreamUnreachable => spec(
                502,
                OpenAi,
                "api_error",
                Some("upstream_unreachable"),
                Upstream,
                Safe,
            ),
            ErrorCode::UpstreamInvalidResponse => spec(
                502,
                OpenAi,
                "api_error",
                Some("upstream_invalid_response"),
                Upstream,
                Safe,
            ),
            ErrorCode::UpstreamStreamError => spec(
                502,
                OpenAi,
                "api_error",
                Some("upstream_stream_error"),
                Upstream,
                Safe,
            ),
            ErrorCode::Overloaded => spec(
                503,
                OpenAi,
                "api_error",
                Some("gateway_overloaded"),
                Gateway,
                Safe,
            ),
            ErrorCode::Internal => spec(500, Failure, "api_error", None, Gateway, Never),
            ErrorCode::InvalidApiKey => {
                spec(401, Pk, "authentication_error", Some("03"), Client, Never)
            }
            ErrorCode::ApiKeyExpired => {
                spec(401, Pk, "authentication_error", Some("01"), Client, Never)
            }
            ErrorCode::Forbidden => spec(403, Pk, "permission_error", Some("033"), Client, Never),
            ErrorCode::KeyRateLimited => {
                spec(429, Pk, "rate_limit_error", Some("05"), Client, Safe)
            }
            ErrorCode::KeyBudgetExhausted => {
                spec(412, Pk, "budget_exhausted_error", Some("04"), Client, Never)
            }
            // The type names the scope (`integration_rate_limit_error`, …): set per error.
            ErrorCode::RateLimited => spec(429, OpenAi, "rate_limit_error", None, Client, Safe),
            ErrorCode::BudgetExhausted => spec(
                412,
                OpenAi,
                "budget_exhausted_error",
                Some("04"),
                Client,
                Never,
            ),
            ErrorCode::ModelNotAllowed => {
                spec(412, OpenAi, "model_not_allowed_error", None, Client, Never)
            }
            ErrorCode::ConfigOverrideNotAllowed => spec(400, Failure, INVALID, None, Client, Never),
        }
    }

    /// A stable, low-cardinality label for metrics and logs.
    pub const fn label(self) -> &'static str {
        match self {
            ErrorCode::MissingProviderOrConfig => "missing_provider_or_config",
            ErrorCode::InvalidProvider => "invalid_provider",
            ErrorCode::InvalidContentType => "invalid_content_type",
            ErrorCode::InvalidCustomHost => "invalid_custom_host",
            ErrorCode::InvalidConfigJson => "invalid_config_json",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::ConfigWithoutProvider => "config_without_provider",
            ErrorCode::LegacyConfig => "legacy_config",
            ErrorCode::InvalidForwardHeaders => "invalid_forward_headers",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::RouterError => "router_error",
            ErrorCode::UnsupportedEndpoint => "unsupported_endpoint",
            ErrorCode::InvalidRequestBody => "invalid_request_body",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::UpstreamUnreachable => "upstream_unreachable",
            ErrorCode::UpstreamInvalidResponse => "upstream_invalid_response",
            ErrorCode::UpstreamStreamError => "upstream_stream_error",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::ApiKeyExpired => "api_key_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::KeyRateLimited => "key_rate_limited",
            ErrorCode::KeyBudgetExhausted => "key_budget_exhausted",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BudgetExhausted => "budget_exhausted",
            ErrorCode::ModelNotAllowed => "model_not_allowed",
            ErrorCode::ConfigOverrideNotAllowed => "config_override_not_allowed",
        }
    }
}

/// A failure produced by the gateway, ready to be rendered at the edge.
#[derive(Clone)]
pub struct GatewayError(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: ErrorCode,
    message: Cow<'static, str>,
    param: Option<String>,
    /// Itemised problems (config validation): rendered as Portkey's `errors` array.
    errors: Vec<String>,
    provider: Option<String>,
    status: Option<StatusCode>,
    wire_type: Option<String>,
    wire_code: Option<Value>,
    retry_after: Option<Duration>,
}

impl GatewayError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        GatewayError(Box::new(Inner {
            code,
            message: message.into(),
            param: None,
            errors: Vec::new(),
            provider: None,
            status: None,
            wire_type: None,
            wire_code: None,
            retry_after: None,
        }))
    }

    /// An error reported by a provider, re-shaped to OpenAI's envelope with the upstream status.
    pub fn provider(
        provider: &str,
        status: StatusCode,
        message: impl Into<Cow<'static, str>>,
        wire_type: Option<String>,
        wire_code: Option<Value>,
        param: Option<String>,
    ) -> Self {
        let mut e = GatewayError::new(ErrorCode::ProviderError, message);
        e.0.provider = Some(provider.to_owned());
        e.0.status = Some(status);
        e.0.wire_type = wire_type;
        e.0.wire_code = wire_code;
        e.0.param = param;
        e
    }

    pub fn with_errors(mut self, errors: Vec<String>) -> Self {
        self.0.errors = errors;
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.0.param = Some(param.into());
        self
    }

    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.0.provider = Some(provider.into());
        self
    }

    /// Hides `secret` wherever the message repeats it (providers echo keys in their errors).
    pub fn redacted(mut self, secret: &str) -> Self {
        if secret.len() >= 8 && self.0.message.contains(secret) {
            let shown = format!("{}****", &secret[..secret.len().min(4)]);
            self.0.message = Cow::Owned(self.0.message.replace(secret, &shown));
        }
        self
    }

    /// Overrides the OpenAI `type` (e.g. `integration_rate_limit_error`).
    pub fn with_type(mut self, wire_type: impl Into<String>) -> Self {
        self.0.wire_type = Some(wire_type.into());
        self
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn errors(&self) -> &[String] {
        &self.0.errors
    }

    pub fn provider_slug(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }

    pub fn side(&self) -> Side {
        self.0.code.spec().side
    }

    pub fn retry(&self) -> Retry {
        match self.0.retry_after {
            Some(d) => Retry::After(d),
            None => self.0.code.spec().retry,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.0.status.unwrap_or(self.0.code.spec().status)
    }

    pub fn is_gateway_exception(&self) -> bool {
        self.0.code.spec().gateway_exception
    }

    /// The OpenAI-style `error` object (also used for in-band SSE error events).
    pub fn error_object(&self) -> Value {
        let spec = self.0.code.spec();
        let wire_type = self.0.wire_type.as_deref().unwrap_or(spec.wire_type);
        let wire_code = match &self.0.wire_code {
            Some(v) => v.clone(),
            None => spec
                .wire_code
                .map_or(Value::Null, |c| Value::String(c.into())),
        };
        json!({
            "message": self.0.message,
            "type": wire_type,
            "param": self.0.param,
            "code": wire_code,
        })
    }

    /// The JSON body for this error, in the style its code prescribes.
    pub fn body_json(&self) -> Value {
        match self.0.code.spec().style {
            BodyStyle::Failure => {
                let mut body = json!({"status": "failure", "message": self.0.message});
                if !self.0.errors.is_empty() {
                    body["errors"] = json!(self.0.errors);
                }
                body
            }
            BodyStyle::OpenAi => {
                let mut body = json!({ "error": self.error_object() });
                if let Some(p) = &self.0.provider {
                    body["provider"] = Value::String(p.clone());
                }
                body
            }
            BodyStyle::NotFound => json!({"message": "Not Found", "ok": false}),
            BodyStyle::Portkey => {
                let code = self.error_object()["code"].clone();
                let shown = format!(
                    "Portkey Error: {}. Error Code: {}",
                    self.0.message,
                    code.as_str().unwrap_or("")
                );
                json!({"status": "failure", "message": shown, "error": {"message": shown, "code": code}})
            }
        }
    }

    pub fn body_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(&self.body_json()).unwrap_or_default())
    }

    /// One SSE frame carrying this error, for failures after a stream has started.
    pub fn sse_event(&self) -> Bytes {
        let mut body = json!({ "error": self.error_object() });
        if let Some(p) = &self.0.provider {
            body["provider"] = Value::String(p.clone());
        }
        let mut out = b"data: ".to_vec();
        out.extend_from_slice(&serde_json::to_vec(&body).unwrap_or_default());
        out.extend_from_slice(b"\n\n");
        Bytes::from(out)
    }
}

impl fmt::Debug for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayError")
            .field("code", &self.0.code)
            .field("status", &self.status().as_u16())
            .field("message", &self.0.message)
            .field("provider", &self.0.provider)
            .finish()
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.0.code.label(),
            self.status(),
            self.0.message
        )
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[ErrorCode] = &[
        ErrorCode::MissingProviderOrConfig,
        ErrorCode::InvalidProvider,
        ErrorCode::InvalidContentType,
        ErrorCode::InvalidCustomHost,
        ErrorCode::InvalidConfigJson,
        ErrorCode::InvalidConfig,
        ErrorCode::ConfigWithoutProvider,
        ErrorCode::LegacyConfig,
        ErrorCode::InvalidForwardHeaders,
        ErrorCode::InvalidHeader,
        ErrorCode::RouterError,
        ErrorCode::UnsupportedEndpoint,
        ErrorCode::InvalidRequestBody,
        ErrorCode::PayloadTooLarge,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ProviderError,
        ErrorCode::RequestTimeout,
        ErrorCode::UpstreamUnreachable,
        ErrorCode::UpstreamInvalidResponse,
        ErrorCode::UpstreamStreamError,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
        ErrorCode::InvalidApiKey,
        ErrorCode::ApiKeyExpired,
        ErrorCode::Forbidden,
        ErrorCode::KeyRateLimited,
        ErrorCode::KeyBudgetExhausted,
        ErrorCode::RateLimited,
        ErrorCode::BudgetExhausted,
        ErrorCode::ModelNotAllowed,
        ErrorCode::ConfigOverrideNotAllowed,
    ];

    #[test]
    fn every_code_renders_a_json_body_of_its_style() {
        for &code in ALL {
            let e = GatewayError::new(code, "boom");
            let body = e.body_json();
            match code.spec().style {
                BodyStyle::Failure => {
                    assert_eq!(body["status"], "failure", "{code:?}");
                    assert_eq!(body["message"], "boom");
                }
                BodyStyle::OpenAi => {
                    assert_eq!(body["error"]["message"], "boom", "{code:?}");
                    assert!(body["error"]["type"].is_string());
                    assert!(body["error"].get("param").is_some());
                    assert!(body["error"].get("code").is_some());
                }
                BodyStyle::NotFound => assert_eq!(body["ok"], false),
                BodyStyle::Portkey => {
                    assert_eq!(body["status"], "failure", "{code:?}");
                    assert!(
                        body["message"]
                            .as_str()
                            .unwrap()
                            .starts_with("Portkey Error: boom.")
                    );
                    assert_eq!(body["message"], body["error"]["message"]);
                }
            }
            let status = e.status().as_u16();
            if code.spec().side == Side::Client {
                assert!((400..500).contains(&status), "{code:?} is a client error");
            } else {
                assert!(status == 408 || status >= 500, "{code:?} → {status}");
            }
            assert!(!code.label().is_empty());
        }
    }

    #[test]
    fn config_errors_list_every_path() {
        let e = GatewayError::new(ErrorCode::InvalidConfig, "Invalid config passed")
            .with_errors(vec!["path: retry, message: Required".into()]);
        assert_eq!(
            e.body_json(),
            json!({"status":"failure","message":"Invalid config passed","errors":["path: retry, message: Required"]})
        );
    }

    #[test]
    fn provider_errors_keep_upstream_status_and_name_the_provider() {
        let e = GatewayError::provider(
            "openai",
            StatusCode::UNAUTHORIZED,
            "openai error: bad key",
            Some("invalid_request_error".into()),
            Some(json!("invalid_api_key")),
            None,
        );
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.body_json()["provider"], "openai");
        assert_eq!(e.body_json()["error"]["code"], "invalid_api_key");
        let frame = e.sse_event();
        assert!(frame.starts_with(b"data: {\"error\""));
        assert!(frame.ends_with(b"\n\n"));
    }

    #[test]
    fn auth_errors_match_portkey_envelope() {
        let e = GatewayError::new(ErrorCode::InvalidApiKey, "Invalid API Key");
        assert_eq!(e.status().as_u16(), 401);
        assert_eq!(
            e.body_json(),
            json!({"status":"failure","message":"Portkey Error: Invalid API Key. Error Code: 03","error":{"message":"Portkey Error: Invalid API Key. Error Code: 03","code":"03"}})
        );
        let e = GatewayError::new(
            ErrorCode::BudgetExhausted,
            "Portkey Integration openai-prod Usage Limit Exceeded",
        )
        .with_type("integration_exhaust_error");
        assert_eq!(e.status().as_u16(), 412);
        assert_eq!(e.body_json()["error"]["type"], "integration_exhaust_error");
        assert_eq!(e.body_json()["error"]["code"], "04");
    }

    #[test]
    fn redaction_hides_echoed_keys() {
        let e = GatewayError::new(
            ErrorCode::ProviderError,
            "openai error: Incorrect API key provided: sk-live-abcdef123456",
        )
        .redacted("sk-live-abcdef123456");
        assert!(!e.message().contains("abcdef123456"));
        assert!(e.message().ends_with("sk-l****"));
    }

    #[test]
    fn timeout_matches_portkey_body() {
        let e = GatewayError::new(
            ErrorCode::RequestTimeout,
            "Request exceeded the timeout sent in the request: 5000ms",
        );
        assert_eq!(e.status().as_u16(), 408);
        assert_eq!(
            e.body_json(),
            json!({"error":{"message":"Request exceeded the timeout sent in the request: 5000ms","type":"timeout_error","param":null,"code":null}})
        );
    }
}
