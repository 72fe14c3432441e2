//! What executing a plan produces: one response plus the facts Portkey's headers report.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::{GatewayError, Usage};

use crate::body::Body;

pub enum OutcomeBody {
    Full(Bytes),
    Stream(Body),
    /// Rendered at the edge, in the format of the endpoint the client called.
    Error(GatewayError),
}

pub struct Outcome {
    pub status: StatusCode,
    /// Upstream response headers worth passing on (hop-by-hop and framing headers removed).
    pub headers: HeaderMap,
    pub body: OutcomeBody,
    /// Portkey's JSON path of the target that produced this response (`config.targets[1]`).
    pub option_path: String,
    /// Portkey's retry count: 0 none, n succeeded (or stopped) on retry n, -1 exhausted.
    pub retry_count: i32,
    pub provider: Option<String>,
    pub usage: Option<Usage>,
    /// The model the provider reports it served.
    pub model: Option<String>,
}

impl Outcome {
    pub fn error(err: GatewayError, option_path: &str, provider: Option<String>) -> Outcome {
        Outcome {
            status: err.status(),
            headers: HeaderMap::new(),
            body: OutcomeBody::Error(err),
            option_path: option_path.to_owned(),
            retry_count: 0,
            provider,
            usage: None,
            model: None,
        }
    }

    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Portkey's `x-portkey-gateway-exception`: the gateway itself refused; stop falling back.
    pub fn gateway_exception(&self) -> bool {
        matches!(&self.body, OutcomeBody::Error(e) if e.is_gateway_exception())
    }

    pub fn error_ref(&self) -> Option<&GatewayError> {
        match &self.body {
            OutcomeBody::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// Response headers never copied from upstream: hop-by-hop, framing, and cookies.
fn dropped(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-length"
            | "set-cookie"
            | "alt-svc"
    )
}

/// Passthrough: the upstream headers minus connection-level ones and the gateway's namespace.
pub(crate) fn sanitize(headers: HeaderMap) -> HeaderMap {
    filter(headers, |n| !dropped(n) && !n.starts_with("x-portkey-"))
}

/// Translated answers: only the provider headers a client can use (rate-limit state, request
/// ids, retry hints). Anything else (redirects, cookies, caching and security policies) would
/// speak for the gateway's origin.
pub(crate) fn sanitize_translated(headers: HeaderMap) -> HeaderMap {
    filter(headers, |n| {
        [
            "x-ratelimit-",
            "ratelimit-",
            "openai-",
            "anthropic-",
            "x-ms-",
            "x-goog-",
        ]
        .iter()
        .any(|p| n.starts_with(p))
            || matches!(
                n,
                "retry-after"
                    | "retry-after-ms"
                    | "x-request-id"
                    | "request-id"
                    | "apim-request-id"
            )
    })
}

/// One pass over the headers (no lookups by name), keeping what `keep` accepts.
fn filter(headers: HeaderMap, keep: impl Fn(&str) -> bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len() + 6);
    let mut last = None;
    for (name, value) in headers {
        // `into_iter` names only the first value of a repeated header.
        if let Some(n) = name {
            last = keep(n.as_str()).then_some(n);
        }
        if let Some(n) = &last {
            out.append(n.clone(), value);
        }
    }
    out
}
