//! Passthrough (`/v1/*` with no translation): the client's path, query and body go to the
//! provider's base URL; the response streams back untouched.

use http::{HeaderMap, HeaderName, Request};
use http_body_util::BodyExt;
use portcullis_config::plan::Target;
use portcullis_core::{ErrorCode, GatewayError, JsonObject};
use portcullis_providers::{Family, Upstream, adapter_for};

use crate::Engine;
use crate::attempt::{Attempted, Next, next_step, timeout_error_for};
use crate::body::{self, Body};
use crate::call::{ProxyBody, ProxyCall};
use crate::exchange::{Exchange, Failure, unreachable};
use crate::outcome::{Outcome, OutcomeBody, sanitize};
use crate::strategy::{BoxFuture, Leaf};

/// Client headers that never travel upstream on the passthrough route.
fn forwardable(name: &HeaderName) -> bool {
    let n = name.as_str();
    !(n.starts_with("x-portkey-")
        || n.starts_with("proxy-")
        || matches!(
            n,
            "host"
                | "connection"
                | "keep-alive"
                | "transfer-encoding"
                | "te"
                | "trailer"
                | "upgrade"
                | "expect"
                | "authorization"
                | "x-api-key"
                | "api-key"
                | "x-goog-api-key"
        ))
}

/// Whether a transport error was caused by the request body outgrowing its limit.
fn body_too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether the client's own streamed body failed (it closed early): hyper reports an error
/// from the request body it was sending as a user error.
fn client_body_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_user)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The provider URL for a passthrough path.
pub fn proxy_url(up: &Upstream, path: &str, query: Option<&str>) -> Result<String, GatewayError> {
    let base = match up.spec.family {
        Family::OpenAi | Family::Anthropic => format!("{}{}", up.base_url(), up.spec.path_prefix),
        Family::Google => format!(
            "{}/{}",
            up.base_url(),
            up.option("api_version").unwrap_or("v1beta")
        ),
        Family::AzureOpenAi => match up.custom_host.as_deref() {
            Some(h) => h.trim_end_matches('/').to_owned(),
            None => match up.option("resource_name") {
                Some(r) if r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
                    format!("https://{r}.openai.azure.com/openai")
                }
                _ => {
                    return Err(GatewayError::new(
                        ErrorCode::InvalidHeader,
                        "azure-openai needs a resource name: set x-portkey-azure-resource-name or resource_name in the config",
                    ));
                }
            },
        },
    };
    if base.is_empty() {
        return Err(GatewayError::new(
            ErrorCode::InvalidCustomHost,
            format!(
                "Invalid custom host: provider {} needs a custom_host",
                up.slug
            ),
        ));
    }
    let mut url = format!("{base}{path}");
    let mut query = query.map(str::to_owned);
    if up.spec.family == Family::AzureOpenAi
        && let Some(v) = up.option("api_version").filter(|v| *v != "v1")
        && !query.as_deref().unwrap_or("").contains("api-version=")
    {
        let q = query.get_or_insert_with(String::new);
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str("api-version=");
        q.push_str(v);
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(&q);
    }
    Ok(url)
}

pub(crate) struct ProxyLeaf<'a> {
    pub call: &'a ProxyCall,
    pub params: JsonObject,
}

impl ProxyLeaf<'_> {
    fn take_body(&self) -> Option<Body> {
        match &self.call.body {
            ProxyBody::Buffered(b) => Some(body::full(b.clone())),
            ProxyBody::Streamed(slot) => slot.try_lock().ok().and_then(|mut s| s.take()),
        }
    }

    async fn attempt(&self, engine: &Engine, target: &Target, url: &str) -> Exchange {
        let up = &target.upstream;
        let mut headers = HeaderMap::with_capacity(self.call.client_headers.len());
        for (k, v) in &self.call.client_headers {
            if forwardable(k) {
                headers.append(k.clone(), v.clone());
            }
        }
        adapter_for(up.spec.family).auth_headers(up, &mut headers);
        if let Some(tp) = &self.call.traceparent {
            headers.insert(crate::attempt::TRACEPARENT, tp.clone());
        }
        let Some(body) = self.take_body() else {
            let e = GatewayError::new(
                ErrorCode::UpstreamUnreachable,
                "a streamed request body cannot be sent twice; the retry was abandoned",
            );
            return Exchange::Failed(Failure::new(e, false));
        };
        let mut builder = Request::builder().method(self.call.method.clone()).uri(url);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let req = match builder.body(body) {
            Ok(r) => r,
            Err(e) => {
                let e = GatewayError::new(
                    ErrorCode::InvalidRequestBody,
                    format!("invalid passthrough request: {e}"),
                );
                return Exchange::Failed(Failure::new(e, false));
            }
        };
        let resp = match engine.transport.send(req).await {
            Ok(r) => r,
            Err(e) if body_too_large(&*e) => {
                let limit = engine.settings.max_passthrough_body_bytes;
                let e = GatewayError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("The request body is larger than the gateway's limit of {limit} bytes"),
                );
                return Exchange::Failed(Failure::new(e, false));
            }
            Err(e) if client_body_failed(&*e) => {
                let e = GatewayError::new(
                    ErrorCode::InvalidRequestBody,
                    "The request body could not be read: the client ended it before its declared length",
                );
                return Exchange::Failed(Failure::new(e, false));
            }
            Err(e) => return Exchange::Failed(unreachable(&up.slug, &*e)),
        };
        let (parts, upstream) = resp.into_parts();
        let status = parts.status;
        let headers = sanitize(parts.headers);
        Exchange::Done(Outcome {
            status,
            headers,
            body: OutcomeBody::Stream(upstream.map_err(|e| e).boxed_unsync()),
            option_path: String::new(),
            retry_count: 0,
            provider: Some(up.slug.clone()),
            usage: None,
            model: None,
        })
    }

    async fn run_target(&self, engine: &Engine, target: &Target, path: &str) -> Outcome {
        let up = &target.upstream;
        let url = match proxy_url(up, &self.call.path, self.call.query.as_deref()) {
            Ok(u) => u,
            Err(e) => return Outcome::error(e, path, Some(up.slug.clone())),
        };
        let mut spent = std::time::Duration::ZERO;
        let mut attempt = 0;
        loop {
            let started = std::time::Instant::now();
            let result = match engine.attempt_timeout(target, false) {
                Some((t, asked)) => tokio::time::timeout(t, self.attempt(engine, target, &url))
                    .await
                    .unwrap_or_else(|_| {
                        Exchange::Failed(Failure::new(timeout_error_for(t, asked), false))
                    }),
                None => self.attempt(engine, target, &url).await,
            };
            let status = match &result {
                Exchange::Done(o) => o.status,
                Exchange::Failed(f) => f.status,
            };
            self.call
                .journal
                .note(path, up, status.as_u16(), started.elapsed());
            match result {
                Exchange::Done(mut o) => {
                    o.option_path = path.to_owned();
                    o.retry_count = attempt as i32;
                    if o.is_success() {
                        return o;
                    }
                    // A failed status passes through untouched unless a retry replaces it.
                    let seen = Attempted {
                        status: o.status,
                        retry_after: crate::retry::retry_after(&o.headers),
                        network: false,
                    };
                    match next_step(target, &seen, attempt, &mut spent) {
                        Next::Stop(count) => {
                            o.retry_count = count;
                            return o;
                        }
                        Next::Retry(wait) => {
                            drop(o);
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                    }
                }
                Exchange::Failed(f) => match next_step(target, &(&f).into(), attempt, &mut spent) {
                    Next::Stop(count) => return f.into_outcome(path, count, &up.slug),
                    Next::Retry(wait) => {
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                },
            }
        }
    }
}

impl Leaf for ProxyLeaf<'_> {
    fn run<'a>(
        &'a self,
        engine: &'a Engine,
        target: &'a Target,
        path: &'a str,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(self.run_target(engine, target, path))
    }
    fn metadata(&self) -> &JsonObject {
        &self.call.metadata
    }
    fn params(&self) -> &JsonObject {
        &self.params
    }
    fn pathname(&self) -> &str {
        &self.call.path
    }
}
