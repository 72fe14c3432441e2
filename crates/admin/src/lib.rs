//! Portcullis's admin API: the control-plane routes the `portkey-ai` SDKs call (API keys,
//! configs, integrations, providers, virtual keys, workspaces, users, audit log, request logs and
//! their export jobs, feedback and analytics), with Portkey's paths, JSON shapes, scopes and error
//! envelope (`docs/portkey-admin-api.md`, `docs/analytics.md`), and an OpenAPI document built from
//! the same route table.

mod access;
pub mod auth;
mod body;
pub mod ctx;
pub mod error;
mod export_rows;
pub mod export_runs;
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
use axum::extract::State;

pub use ctx::{AdminCtx, CatalogSettle, ConfigValidator, UsageStatus, UsageView, grant_scope_id};
pub use error::ApiError;
pub use export_runs::ExportRuns;
pub use mask::open_map;

/// The admin routes, all under `/v1`, ready to merge into the gateway's router (before its
/// `/v1/{*rest}` passthrough, which static admin paths outrank anyway).
pub fn router(ctx: AdminCtx) -> Router {
    let mut r: Router<routes::Shared> = Router::new();
    for route in routes::ROUTES {
        r = r.route(route.path, (route.handler)());
    }
    let ctx = Arc::new(ctx);
    r.method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), settle))
        .with_state(ctx)
}

/// Read-your-writes: a successful change answers only once this gateway's request path serves
/// it (bounded by the settle hook), so a key used right after its creation is known.
async fn settle(
    State(ctx): State<routes::Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let changes = !matches!(
        *req.method(),
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    );
    let resp = next.run(req).await;
    if changes
        && resp.status().is_success()
        && let Some(settle) = &ctx.settle
    {
        settle().await;
    }
    resp
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
