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
//! Steps 3–5 and 8–10 arrive with the governance, guardrail and observability capabilities;
//! each slots in at its numbered place below.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::response::Response;
use portcullis_config::{PortkeyHeaders, headers};
use portcullis_core::{Endpoint, GatewayError, JsonObject};
use portcullis_engine::Call;
use portcullis_engine::stream::{OnStreamEnd, StreamEnd};
use serde_json::Value;

use crate::extract;
use crate::governance;
use crate::governance::admit::{self, Pending};
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

/// Runs a JSON inference request (chat, completions, embeddings, messages, count_tokens).
pub async fn json(
    state: Arc<AppState>,
    endpoint: Endpoint,
    ingress: Ingress,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let mut portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => return respond::error(e, ingress, None),
    };
    let trace = trace_id(&portkey);
    let fail = |e: GatewayError| respond::error(e, ingress, Some(&trace));
    if let Err(e) = extract::check_content_type(&parts.headers, true) {
        return fail(e);
    }
    let raw = match extract::read_limited(body, state.settings.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let body: JsonObject = match extract::json_object(&raw) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };

    // 1. authenticate (and apply the key's defaults).
    let (snap, caller) = match governance::admit_caller(&state, &parts.headers, &mut portkey) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // 2. resolve, in the caller's workspace.
    let model = body.get("model").and_then(Value::as_str);
    let plan = match governance::plan(&state, &snap, &caller, &portkey, model) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
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
            Err(r) => return fail(admit::refusal_error(r)),
        }
    };
    // 4. input guardrails, 5. cache lookup: see the module docs.

    // 6–7. execute the plan.
    let on_end = pending.clone().map(|p| {
        Box::new(move |end: StreamEnd| p.settle(&end.provider, &end.model, end.usage.as_ref()))
            as OnStreamEnd
    });
    let requested_model = model.unwrap_or_default().to_owned();
    let call = Call {
        endpoint,
        body,
        raw,
        client_headers: parts.headers,
        metadata: portkey.metadata,
        path: parts.uri.path().to_owned(),
        created: unix_now(),
        on_stream_end: std::sync::Mutex::new(on_end),
    };
    let outcome = state.engine.execute(&plan, &call).await;

    // 8. output guardrails: see the module docs.
    // 9. settle: a stream settles when it ends (its callback was taken); anything else now.
    if let Some(p) = &pending {
        let streaming = call
            .on_stream_end
            .lock()
            .map(|g| g.is_none())
            .unwrap_or(false);
        if !streaming {
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
    }
    // 10. record: see the module docs.
    let mut resp = respond::outcome(outcome, ingress, &trace);
    for (name, value) in rate_headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}
