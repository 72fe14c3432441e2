//! Passthrough `/v1/*`: any other path goes to the provider untouched, bodies streamed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use portcullis_config::headers;
use portcullis_config::plan::NodeKind;
use portcullis_engine::{ProxyBody, ProxyCall};
use tokio::sync::Mutex;

use crate::extract;
use crate::governance;
use crate::pipeline::trace_id;
use crate::respond::{self, Ingress};
use crate::state::AppState;

pub async fn passthrough(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => return respond::error(e, Ingress::OpenAi, None),
    };
    let trace = trace_id(&portkey);
    let fail = |e| respond::error(e, Ingress::OpenAi, Some(&trace));
    if let Err(e) = extract::check_content_type(&parts.headers, false) {
        return fail(e);
    }
    let (snap, caller) = match governance::admit_caller(&state, &parts.headers, &mut portkey) {
        Ok(c) => c,
        Err(e) => return respond::error(e, Ingress::OpenAi, Some(&trace)),
    };
    let plan = match governance::plan(&state, &snap, &caller, &portkey, None) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let limit = state.settings.limits.max_passthrough_body_bytes;
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return fail(extract::too_large(limit));
    }
    // Stream the body unless a retry or fallback might need to send it again.
    let replayable = match &plan.root.kind {
        NodeKind::Target(t) => t.retry.attempts > 0,
        NodeKind::Strategy(_) => true,
    };
    let body = if replayable {
        let max = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .min(state.settings.limits.max_body_bytes);
        match extract::read_limited(body, max).await {
            Ok(b) => ProxyBody::Buffered(b),
            Err(e) => return fail(e),
        }
    } else {
        let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .map_err(|e| e as portcullis_engine::body::BoxError)
            .boxed_unsync();
        ProxyBody::Streamed(Mutex::new(Some(limited)))
    };
    let path = parts.uri.path();
    let call = ProxyCall {
        method: parts.method.clone(),
        path: path.strip_prefix("/v1").unwrap_or(path).to_owned(),
        query: parts.uri.query().map(str::to_owned),
        client_headers: parts.headers,
        body,
        metadata: portkey.metadata,
    };
    let outcome = state.engine.execute_proxy(&plan, &call).await;
    respond::outcome(outcome, Ingress::OpenAi, &trace)
}
