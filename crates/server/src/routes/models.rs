//! `GET /v1/models`: the named provider's own list, or else the models of the caller's catalog
//! as `@slug/model` ids (what Cline and other clients offer in their model pickers).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use portcullis_config::headers;
use portcullis_core::{Endpoint, JsonObject};
use portcullis_engine::Call;
use serde_json::{Value, json};

use crate::governance;
use crate::pipeline::{trace_id, unix_now};
use crate::respond::{self, Ingress};
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let mut portkey = match headers::parse(&parts.headers) {
        Ok(h) => h,
        Err(e) => return respond::error(e, Ingress::OpenAi, None),
    };
    let trace = trace_id(&portkey);
    let (snap, caller) = match governance::admit_caller(&state, &parts.headers, &mut portkey) {
        Ok(c) => c,
        Err(e) => return respond::error(e, Ingress::OpenAi, Some(&trace)),
    };
    if portkey.provider.is_none() && portkey.config.is_none() {
        let data: Vec<Value> = snap
            .catalog_models(caller.workspace_id())
            .into_iter()
            .map(
                |(id, owner)| json!({"id": id, "object": "model", "created": 0, "owned_by": owner}),
            )
            .collect();
        return Json(json!({"object": "list", "data": data})).into_response();
    }
    let plan = match governance::plan(&state, &snap, &caller, &portkey, None) {
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
        on_stream_end: Default::default(),
        record_response: None,
        journal: Default::default(),
        traceparent: None,
    };
    let outcome = state.engine.execute(&plan, &call).await;
    respond::outcome(outcome, Ingress::OpenAi, &trace)
}
