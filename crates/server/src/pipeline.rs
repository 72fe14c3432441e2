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
use serde_json::Value;

use crate::extract;
use crate::governance;
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
    // 3. admit, 4. input guardrails, 5. cache lookup: see the module docs.

    // 6–7. execute the plan.
    let call = Call {
        endpoint,
        body,
        raw,
        client_headers: parts.headers,
        metadata: portkey.metadata,
        path: parts.uri.path().to_owned(),
        created: unix_now(),
    };
    let outcome = state.engine.execute(&plan, &call).await;

    // 8. output guardrails, 9. settle, 10. record: see the module docs.
    respond::outcome(outcome, ingress, &trace)
}
