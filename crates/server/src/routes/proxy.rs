//! Passthrough `/v1/*`: any other path goes to the provider untouched, bodies streamed.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};
use portcullis_config::plan::NodeKind;
use portcullis_config::{PortkeyHeaders, headers};
use portcullis_core::{Endpoint, GatewayError};
use portcullis_engine::{Outcome, ProxyBody, ProxyCall};
use tokio::sync::Mutex;

use crate::extract;
use crate::governance;
use crate::observe::Draft;
use crate::pipeline::endpoint_label;
use crate::respond::{self, Ingress};
use crate::state::AppState;

pub async fn passthrough(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut draft = Draft::begin(
        &state.observer,
        state.prices,
        endpoint_label(Endpoint::Proxy),
        &parts.method,
        parts.uri.path(),
        &parts.headers,
    );
    let mut portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => {
            draft.fail(&e);
            return respond::error(e, Ingress::OpenAi, None);
        }
    };
    let trace = draft.trace(portkey.trace_id.as_deref(), portkey.debug);
    match run(&state, parts, body, &mut portkey, &mut draft).await {
        Ok(outcome) => {
            draft.outcome(&outcome, "");
            draft.wrap(respond::outcome(outcome, Ingress::OpenAi, &trace))
        }
        Err(e) => {
            draft.fail(&e);
            respond::error(e, Ingress::OpenAi, Some(&trace))
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    parts: http::request::Parts,
    body: axum::body::Body,
    portkey: &mut PortkeyHeaders,
    draft: &mut Draft,
) -> Result<Outcome, GatewayError> {
    extract::check_content_type(&parts.headers, false)?;
    let (snap, caller) = governance::admit_caller(state, &parts.headers, portkey)?;
    draft.caller(&caller);
    draft.metadata(&portkey.metadata);
    let plan = governance::plan(state, &snap, &caller, portkey, None)?;
    let limit = state.settings.limits.max_passthrough_body_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit
    {
        return Err(extract::too_large(limit));
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
        let b = extract::read_limited(body, max).await?;
        draft.request_bytes(Some(&b), b.len() as u64);
        ProxyBody::Buffered(b)
    } else {
        draft.request_bytes(None, declared.unwrap_or(0));
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
        metadata: std::mem::take(&mut portkey.metadata),
        journal: draft.journal(),
        traceparent: draft.traceparent(),
    };
    draft.no_stream();
    Ok(state.engine.execute_proxy(&plan, &call).await)
}
