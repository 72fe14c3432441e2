//! The route table and the edge layers around it.

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};
use portcullis_admin::AdminCtx;
use tower_http::catch_panic::CatchPanicLayer;

use crate::edge::{self, Gate};
use crate::routes::{inference, meta, models, proxy};
use crate::state::AppState;

/// Builds the gateway's router. `gate` bounds requests in flight; `admin` mounts the admin API
/// (its static paths win over the `/v1/*` passthrough).
pub fn router(state: Arc<AppState>, gate: Arc<Gate>, admin: Option<AdminCtx>) -> Router {
    let admin = admin.map(portcullis_admin::router).unwrap_or_default();
    Router::new()
        .route("/", get(meta::root))
        .route("/v1/health", get(meta::health))
        .route("/metrics", get(crate::observe::metrics_route))
        .route("/v1/chat/completions", post(inference::chat_completions))
        .route("/v1/completions", post(inference::completions))
        .route("/v1/embeddings", post(inference::embeddings))
        .route("/v1/messages", post(inference::messages))
        .route("/v1/messages/count_tokens", post(inference::count_tokens))
        .route("/v1/models", get(models::list))
        .route("/v1/{*rest}", any(proxy::passthrough))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state.clone())
        .merge(admin)
        .layer(edge::ShedLayer { gate, state })
        .layer(CatchPanicLayer::custom(edge::panic_response))
}
