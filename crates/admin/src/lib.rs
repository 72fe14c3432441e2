//! Portcullis's admin API: the control-plane routes the `portkey-ai` SDKs call (API keys,
//! configs, integrations, providers, virtual keys, workspaces, users, audit log, request logs,
//! feedback and analytics), with Portkey's paths, JSON shapes, scopes and error envelope
//! (`docs/portkey-admin-api.md`, `docs/analytics.md`), and an OpenAPI document built from the
//! same route table.

mod access;
pub mod auth;
mod body;
pub mod ctx;
pub mod error;
mod logq;
pub mod mask;
mod paging;
pub mod routes;
pub mod scopes;
mod slug;
pub mod time;
mod wire;

use std::sync::Arc;

use axum::Router;

pub use ctx::{AdminCtx, ConfigValidator, UsageStatus, UsageView, grant_scope_id};
pub use error::ApiError;
pub use mask::open_map;

/// The admin routes, all under `/v1`, ready to merge into the gateway's router (before its
/// `/v1/{*rest}` passthrough, which static admin paths outrank anyway).
pub fn router(ctx: AdminCtx) -> Router {
    let mut r: Router<routes::Shared> = Router::new();
    for route in routes::ROUTES {
        r = r.route(route.path, (route.handler)());
    }
    r.method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::new(ctx))
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    ApiError {
        status: http::StatusCode::METHOD_NOT_ALLOWED,
        code: "AB01",
        message: format!("{method} is not supported on {}", uri.path()),
        param: None,
    }
}

/// The OpenAPI 3.1 document of every admin route.
pub fn openapi() -> serde_json::Value {
    routes::openapi::document()
}
