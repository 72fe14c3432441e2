//! `GET /v1/models`: the provider's list when a provider is named, else the gateway's own.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use portcullis_config::{build_plan, headers};
use portcullis_core::{Endpoint, JsonObject};
use portcullis_engine::Call;
use serde_json::json;

use crate::pipeline::{trace_id, unix_now};
use crate::respond::{self, Ingress};
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => return respond::error(e, Ingress::OpenAi, None),
    };
    let trace = trace_id(&portkey);
    if portkey.provider.is_none() && portkey.config.is_none() {
        // No provider named: the gateway's catalog (empty in open mode).
        return Json(json!({"object": "list", "data": []})).into_response();
    }
    let plan = match build_plan(&state.build_ctx(), &portkey, None) {
        Ok(p) => p,
        Err(e) => return respond::error(e, Ingress::OpenAi, Some(&trace)),
    };
    let call = Call {
        endpoint: Endpoint::Models,
        body: JsonObject::new(),
        raw: Bytes::new(),
        client_headers: parts.headers,
        metadata: portkey.metadata,
        path: parts.uri.path().to_owned(),
        created: unix_now(),
    };
    let outcome = state.engine.execute(&plan, &call).await;
    respond::outcome(outcome, Ingress::OpenAi, &trace)
}
