//! One target: build the upstream request once, then try it with Portkey's retry rules and a
//! per-attempt timeout.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use portcullis_config::plan::Target;
use portcullis_core::{ErrorCode, GatewayError, JsonObject};

use crate::Engine;
use crate::call::Call;
use crate::exchange::{Exchange, Failure};
use crate::gate::Pass;
use crate::leg::Leg;
use crate::outcome::Outcome;
use crate::retry::{RETRY_AFTER_BUDGET, backoff};

/// W3C trace context, sent to providers.
pub(crate) const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

/// `{...body, ...override_params}`; borrows the body when there is nothing to override.
fn merged<'a>(body: &'a JsonObject, over: &JsonObject) -> Cow<'a, JsonObject> {
    if over.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut m = body.clone();
    for (k, v) in over {
        m.insert(k.clone(), v.clone());
    }
    Cow::Owned(m)
}

/// A catalog account with a model allow-list refuses other models (Portkey's 412).
fn model_allowed(
    up: &portcullis_providers::Upstream,
    body: &JsonObject,
) -> Result<(), GatewayError> {
    let Some(allowed) = up.account.as_ref().and_then(|a| a.allowed_models.as_ref()) else {
        return Ok(());
    };
    let model = body
        .get("model")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    if allowed.contains(model) {
        return Ok(());
    }
    let whose = up
        .account
        .as_ref()
        .and_then(|a| a.integration_slug.clone())
        .unwrap_or_else(|| up.slug.clone());
    Err(GatewayError::new(
        ErrorCode::ModelNotAllowed,
        format!(
            "Model {model} is not allowed for this integration ({whose}); allowed: {}",
            {
                let mut v: Vec<&str> = allowed.iter().map(String::as_str).collect();
                v.sort_unstable();
                v.join(", ")
            }
        ),
    ))
}

/// Portkey's 408 for an attempt that outlived its `request_timeout`.
pub(crate) fn timeout_error(t: Duration) -> GatewayError {
    // Portkey prints the number the client sent: `5000ms`, `150.5ms`.
    let micros = t.as_micros();
    let ms = if micros.is_multiple_of(1000) {
        (micros / 1000).to_string()
    } else {
        (micros as f64 / 1000.0).to_string()
    };
    GatewayError::new(
        ErrorCode::RequestTimeout,
        format!("Request exceeded the timeout sent in the request: {ms}ms"),
    )
}

/// The gateway's own limit, when the request set none: a silent provider must not hold a
/// request (and its connection and reservations) forever.
pub(crate) fn timeout_error_for(t: Duration, asked: bool) -> GatewayError {
    if asked {
        return timeout_error(t);
    }
    GatewayError::new(
        ErrorCode::RequestTimeout,
        format!(
            "The provider did not answer within the gateway's limit of {} s (upstream.request_timeout_secs); set x-portkey-request-timeout or request_timeout to choose another",
            t.as_secs()
        ),
    )
}

/// What the retry loop does after a failed attempt.
pub(crate) enum Next {
    Retry(Duration),
    /// Stop and report this retry count (`-1`: retries exhausted or Retry-After over budget).
    Stop(i32),
}

/// What the retry rules look at in a failed attempt.
pub(crate) struct Attempted {
    pub status: http::StatusCode,
    pub retry_after: Option<Duration>,
    /// The provider was never reached (or the connection broke): always worth retrying.
    pub network: bool,
}

impl From<&Failure> for Attempted {
    fn from(f: &Failure) -> Attempted {
        Attempted {
            status: f.status,
            retry_after: f.retry_after,
            network: f.network,
        }
    }
}

/// Portkey's retry decision for a failure on attempt `attempt` (0 = the first try).
pub(crate) fn next_step(
    target: &Target,
    f: &Attempted,
    attempt: u32,
    retry_after_spent: &mut Duration,
) -> Next {
    let policy = &target.retry;
    let retryable = f.network || policy.on_status_codes.contains(&f.status.as_u16());
    if !retryable {
        return Next::Stop(attempt as i32);
    }
    if attempt >= policy.attempts {
        return Next::Stop(if policy.attempts > 0 { -1 } else { 0 });
    }
    let retry = attempt + 1;
    if policy.use_retry_after
        && f.status.as_u16() == 429
        && let Some(wait) = f.retry_after
    {
        if wait >= RETRY_AFTER_BUDGET || *retry_after_spent + wait > RETRY_AFTER_BUDGET {
            return Next::Stop(-1);
        }
        *retry_after_spent += wait;
        return Next::Retry(wait);
    }
    Next::Retry(backoff(retry))
}

impl Engine {
    /// The per-attempt timeout and whether the request asked for it. A stream's first event must
    /// come within the stream idle timeout, as every later one must.
    pub(crate) fn attempt_timeout(
        &self,
        target: &Target,
        stream: bool,
    ) -> Option<(Duration, bool)> {
        match target.request_timeout {
            Some(t) => Some((t, true)),
            None if stream => Some((self.settings.stream_idle_timeout, false)),
            None => self.settings.default_timeout.map(|t| (t, false)),
        }
    }

    fn settle_pass(
        &self,
        pass: Option<Pass>,
        provider: &str,
        model: &str,
        usage: Option<portcullis_core::Usage>,
        called: bool,
    ) {
        if let (Some(gate), Some(pass)) = (&self.gate, pass) {
            gate.settle(pass, provider, model, usage, called);
        }
    }

    pub(crate) async fn run_target(&self, target: &Target, path: &str, call: &Call) -> Outcome {
        let up = &target.upstream;
        let body = merged(&call.body, &target.override_params);
        if let Err(e) = model_allowed(up, &body) {
            return Outcome::error(e, path, Some(up.slug.clone()));
        }
        // The account's own limits, once per target: a refusal is this target's answer.
        let mut pass = match &self.gate {
            Some(g) => match g.admit(up, &body).await {
                Ok(p) => p,
                Err(e) => return Outcome::error(e, path, Some(up.slug.clone())),
            },
            None => None,
        };
        let pristine = matches!(body, Cow::Borrowed(_)).then_some(&call.raw);
        let prepared = Leg::prepare(
            call.endpoint,
            &body,
            pristine,
            up,
            target.strict_open_ai_compliance,
            call.created,
        );
        drop(body);
        let (leg, mut req) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.settle_pass(pass, &up.slug, "", None, false);
                return Outcome::error(e, path, Some(up.slug.clone()));
            }
        };
        for name in &target.forward_headers {
            if let Some(v) = call.client_headers.get(name) {
                req.headers.insert(name.clone(), v.clone());
            }
        }
        if let Some(tp) = &call.traceparent {
            req.headers.insert(TRACEPARENT, tp.clone());
        }
        let mut spent = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let exchange = self.exchange(&req, &leg, &mut pass, call);
            let result = match self.attempt_timeout(target, req.stream) {
                Some((t, asked)) => tokio::time::timeout(t, exchange).await.unwrap_or_else(|_| {
                    Exchange::Failed(Failure::new(timeout_error_for(t, asked), false))
                }),
                None => exchange.await,
            };
            let status = match &result {
                Exchange::Done(o) => o.status,
                Exchange::Failed(f) => f.status,
            };
            call.journal
                .note(path, up, status.as_u16(), started.elapsed());
            let failure = match result {
                Exchange::Done(mut o) => {
                    o.option_path = path.to_owned();
                    o.retry_count = attempt as i32;
                    // A stream took the pass; a complete answer settles it now.
                    self.settle_pass(
                        pass.take(),
                        &leg.ctx.provider,
                        &leg.ctx.model,
                        o.usage,
                        true,
                    );
                    return o;
                }
                Exchange::Failed(f) => f,
            };
            match next_step(target, &(&failure).into(), attempt, &mut spent) {
                Next::Stop(count) => {
                    self.settle_pass(pass.take(), &leg.ctx.provider, &leg.ctx.model, None, false);
                    let mut failure = failure;
                    if let Some(key) = &up.api_key {
                        failure.error = failure.error.redacted(key.expose());
                    }
                    return failure.into_outcome(path, count, &up.slug);
                }
                Next::Retry(wait) => {
                    tracing::debug!(provider = %up.slug, status = failure.status.as_u16(), ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}
