//! The translated inference endpoints.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use portcullis_core::Endpoint;

use crate::pipeline;
use crate::respond::Ingress;
use crate::state::AppState;

pub async fn chat_completions(State(s): State<Arc<AppState>>, req: Request) -> Response {
    pipeline::json(s, Endpoint::ChatComplete, Ingress::OpenAi, req).await
}

pub async fn completions(State(s): State<Arc<AppState>>, req: Request) -> Response {
    pipeline::json(s, Endpoint::Complete, Ingress::OpenAi, req).await
}

pub async fn embeddings(State(s): State<Arc<AppState>>, req: Request) -> Response {
    pipeline::json(s, Endpoint::Embed, Ingress::OpenAi, req).await
}

pub async fn messages(State(s): State<Arc<AppState>>, req: Request) -> Response {
    pipeline::json(s, Endpoint::Messages, Ingress::Anthropic, req).await
}

pub async fn count_tokens(State(s): State<Arc<AppState>>, req: Request) -> Response {
    pipeline::json(s, Endpoint::MessagesCountTokens, Ingress::Anthropic, req).await
}
