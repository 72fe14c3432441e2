//! The LLM request pipeline, written down in one place. Its order, and why:
//!
//! 1. **authenticate** — the caller decides everything else (providers, configs, limits). Open
//!    mode: no gateway keys, the client brings its provider key.
//! 2. **resolve** — headers, config and model become a plan: a strategy tree of targets with
//!    retry, timeout, cache and guardrail settings. Bad input stops here, before any cost.
//! 3. **admit** — rate limits and budgets reserve before the call (governance).
//! 4. **input guardrails** — may deny (446) or rewrite the request before it leaves.
//! 5. **cache lookup** — after guardrails, so a cached answer never bypasses them.
//! 6. **execute the plan** — fallback / loadbalance / conditional, per-attempt timeout, retries;
//!    a stream may fall back only before its first byte reaches the client (engine crate).
//! 7. **provider adapters** — inside 6: pure translation, one shared HTTP client.
//! 8. **output guardrails**, stream-aware.
//! 9. **settle** — usage → tokens → cost; reservations settle.
//! 10. **record** — one log event per request, off the response path.
//!
//! Steps 4–5 and 8 arrive with the guardrail and cache capabilities; each slots in at its
//! numbered place below. Step 10 begins first (so refusals are recorded too) and ends when the
//! response body does (`observe`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::response::Response;
use portcullis_config::{PortkeyHeaders, headers};
use portcullis_core::{Endpoint, GatewayError, JsonObject};
use portcullis_engine::stream::{OnStreamEnd, StreamEnd};
use portcullis_engine::{Call, Outcome};
use serde_json::Value;

use crate::extract;
use crate::governance;
use crate::governance::admit::{self, Pending};
use crate::observe::{Draft, StreamSummary};
use crate::respond::{self, Ingress};
use crate::state::AppState;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The trace id a response reports: the client's, or a fresh one.
pub(crate) fn trace_id(h: &PortkeyHeaders) -> String {
    h.trace_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The endpoint's name in log records and analytics.
pub(crate) fn endpoint_label(e: Endpoint) -> &'static str {
    match e {
        Endpoint::ChatComplete => "chat.completions",
        Endpoint::Complete => "completions",
        Endpoint::Embed => "embeddings",
        Endpoint::Messages => "messages",
        Endpoint::MessagesCountTokens => "messages.count_tokens",
        Endpoint::Models => "models",
        Endpoint::Proxy => "proxy",
    }
}

/// Runs a JSON inference request (chat, completions, embeddings, messages, count_tokens).
pub async fn json(
    state: Arc<AppState>,
    endpoint: Endpoint,
    ingress: Ingress,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    // 10. record: begun now, emitted when the response ends, whatever happens in between.
    let mut draft = Draft::begin(
        &state.observer,
        state.prices,
        endpoint_label(endpoint),
        &parts.method,
        parts.uri.path(),
        &parts.headers,
    );
    let mut portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => {
            draft.fail(&e);
            return respond::error(e, ingress, None);
        }
    };
    let trace = draft.trace(portkey.trace_id.as_deref(), portkey.debug);
    match run(&state, endpoint, parts, body, &mut portkey, &mut draft).await {
        Ok((outcome, requested_model, rate_headers)) => {
            draft.outcome(&outcome, &requested_model);
            let mut resp = respond::outcome(outcome, ingress, &trace);
            for (name, value) in rate_headers {
                if let Ok(v) = http::HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, v);
                }
            }
            draft.wrap(resp)
        }
        Err(e) => {
            draft.fail(&e);
            respond::error(e, ingress, Some(&trace))
        }
    }
}

type RateHeaders = Vec<(&'static str, String)>;

/// Steps 1–9; a refusal before the plan ran is the error.
async fn run(
    state: &Arc<AppState>,
    endpoint: Endpoint,
    parts: http::request::Parts,
    body: axum::body::Body,
    portkey: &mut PortkeyHeaders,
    draft: &mut Draft,
) -> Result<(Outcome, String, RateHeaders), GatewayError> {
    extract::check_content_type(&parts.headers, true)?;
    let raw = extract::read_limited(body, state.settings.limits.max_body_bytes).await?;
    let body: JsonObject = extract::json_object(&raw)?;
    draft.request_json(&body, &raw);

    // 1. authenticate (and apply the key's defaults).
    let (snap, caller) = governance::admit_caller(state, &parts.headers, portkey)?;
    draft.caller(&caller);
    draft.metadata(&portkey.metadata);
    // 2. resolve, in the caller's workspace.
    let model = body.get("model").and_then(Value::as_str);
    let plan = governance::plan(state, &snap, &caller, portkey, model)?;
    // 3. admit: the caller's rate limits and budgets (provider accounts are admitted per
    //    target inside the engine, so a fallback can move past an exhausted one).
    let user = admit::end_user(&portkey.metadata, &body);
    let limits = admit::caller_limits(&caller, &snap, user.as_deref());
    let mut rate_headers = Vec::new();
    let pending = if limits.is_empty() {
        None
    } else {
        let est = admit::estimate(state.prices, admit::first_provider(&plan), &body, raw.len());
        match state.limiter.admit(&limits, est).await {
            Ok(a) => {
                rate_headers = a.headers();
                Some(Pending::new(
                    a.reservation,
                    state.limiter.clone(),
                    state.prices,
                    state.crossings.clone(),
                ))
            }
            Err(r) => return Err(admit::refusal_error(r)),
        }
    };
    // 4. input guardrails, 5. cache lookup: see the module docs.

    // 6–7. execute the plan. A stream settles, and reports its end to the record, when it ends.
    let slot = draft.stream_slot();
    let settle = pending.clone();
    let on_end: OnStreamEnd = Box::new(move |end: StreamEnd| {
        if let Some(p) = &settle {
            p.settle(&end.provider, &end.model, end.usage.as_ref());
        }
        if let Ok(mut s) = slot.lock() {
            *s = Some(StreamSummary {
                usage: end.usage,
                error: end.error,
                completed: end.completed,
                provider: end.provider,
                model: end.model,
                response: end.response,
            });
        }
    });
    let requested_model = model.unwrap_or_default().to_owned();
    let call = Call {
        endpoint,
        body,
        raw,
        client_headers: parts.headers,
        metadata: std::mem::take(&mut portkey.metadata),
        path: parts.uri.path().to_owned(),
        created: unix_now(),
        on_stream_end: std::sync::Mutex::new(Some(on_end)),
        record_response: draft.payload_cap(),
        journal: draft.journal(),
        traceparent: draft.traceparent(),
    };
    let outcome = state.engine.execute(&plan, &call).await;

    // 8. output guardrails: see the module docs.
    // 9. settle: a stream settles when it ends (its callback was taken); anything else now.
    let streaming = call
        .on_stream_end
        .lock()
        .map(|g| g.is_none())
        .unwrap_or(false);
    if let Some(p) = &pending
        && !streaming
    {
        if outcome.is_success() {
            let model = outcome.model.as_deref().unwrap_or(&requested_model);
            p.settle(
                outcome.provider.as_deref().unwrap_or(""),
                model,
                outcome.usage.as_ref(),
            );
        } else {
            p.release();
        }
    }
    if !streaming {
        // No stream end will come: the record takes the outcome as is.
        draft.no_stream();
    }
    Ok((outcome, requested_model, rate_headers))
}
