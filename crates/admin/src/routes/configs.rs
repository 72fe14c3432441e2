//! `/v1/configs`: saved gateway configs, validated like the gateway validates them, versioned.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{Config, Status};
use portcullis_control::repo::ListQuery;
use serde_json::{Value, json};

use super::{P, Reply, Shared, empty};
use crate::access::{ident, list_filter, target_workspace};
use crate::auth::Caller;
use crate::body::{RawBody, required};
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::paging::{Params, list_envelope};
use crate::slug;
use crate::time::now;
use crate::wire::configs::{CreateConfig, UpdateConfig, config_body, detail, summary, version};

/// 400 listing every problem the gateway's validator found, each with its path.
fn validate(ctx: &AdminCtx, config: &Value, workspace: Option<&str>) -> ApiResult<()> {
    (ctx.validate_config)(config, workspace).map_err(|errors| {
        let mut e = ApiError::field("config", format!("invalid config: {}", errors.join("; ")));
        if errors.is_empty() {
            e.message = "invalid config".into();
        }
        e
    })
}

async fn load(ctx: &AdminCtx, caller: &Caller, slug: &str) -> ApiResult<Config> {
    let slug = ident("config", slug)?;
    match ctx.repo.get_config(slug).await? {
        Some(c) if caller.sees(c.workspace_id.as_deref()) => Ok(c),
        _ => Err(ApiError::not_found("config", slug)),
    }
}

/// Only one default config per workspace: clears the flag on the others.
async fn clear_other_defaults(ctx: &AdminCtx, caller: &Caller, keep: &Config) -> ApiResult<()> {
    let q = ListQuery {
        workspace_id: keep.workspace_id.clone(),
        ..ListQuery::default()
    };
    for mut c in ctx.repo.list_configs(&q).await?.items {
        if c.id != keep.id && c.is_default && c.workspace_id == keep.workspace_id {
            c.is_default = false;
            c.updated_at = now();
            ctx.repo.update_config(c, &caller.actor()).await?;
        }
    }
    Ok(())
}

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    caller.require("configs.create")?;
    let req: CreateConfig = body.parse()?;
    let name = required("name", &req.name)?.to_owned();
    let config = config_body(
        req.config
            .ok_or_else(|| ApiError::field("config", "config is required"))?,
    )?;
    let ws = target_workspace(&ctx, &caller, req.workspace_id.as_deref(), true).await?;
    let ws_id = ws.map(|w| w.id);
    validate(&ctx, &config, ws_id.as_deref())?;
    let at = now();
    let c = Config {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug::prefixed("pc", &name),
        name,
        workspace_id: ws_id,
        is_default: req.is_default.or(req.is_default_camel).is_some_and(|f| f.0),
        status: Status::Active,
        version_id: uuid::Uuid::new_v4().to_string(),
        config,
        created_at: at,
        updated_at: at,
    };
    let stored = ctx.repo.create_config(c, &caller.actor()).await?;
    if stored.is_default {
        clear_other_defaults(&ctx, &caller, &stored).await?;
    }
    Ok(Json(json!({
        "id": stored.id,
        "version_id": stored.version_id,
        "slug": stored.slug,
        "object": "config",
    })))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require("configs.list")?;
    let page = params.page(None, 1000)?;
    let ws = list_filter(&ctx, &caller, params.get(&["workspace_id"])).await?;
    let q = ListQuery {
        workspace_id: ws.clone(),
        ..ListQuery::default()
    };
    let rows: Vec<Config> = ctx
        .repo
        .list_configs(&q)
        .await?
        .items
        .into_iter()
        .filter(|c| caller.sees(c.workspace_id.as_deref()))
        .filter(|c| ws.is_none() || c.workspace_id == ws)
        .collect();
    let (total, rows) = page.slice(rows);
    Ok(Json(list_envelope(
        total,
        rows.iter().map(summary).collect(),
    )))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(slug): P<String>) -> Reply {
    caller.require("configs.read")?;
    Ok(Json(detail(&load(&ctx, &caller, &slug).await?)))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    body: RawBody,
) -> Reply {
    caller.require("configs.update")?;
    let mut c = load(&ctx, &caller, &slug).await?;
    let req: UpdateConfig = body.parse()?;
    if let Some(name) = req.name {
        c.name = required("name", &Some(name))?.to_owned();
    }
    if let Some(status) = req.status {
        c.status = match status.as_str() {
            "active" => Status::Active,
            "archived" => Status::Archived,
            other => {
                return Err(ApiError::field(
                    "status",
                    format!("status must be active or archived (got {other:?})"),
                ));
            }
        };
    }
    if let Some(config) = req.config {
        let config = config_body(config)?;
        validate(&ctx, &config, c.workspace_id.as_deref())?;
        if config != c.config {
            c.config = config;
            c.version_id = uuid::Uuid::new_v4().to_string();
        }
    }
    let make_default = req.is_default.or(req.is_default_camel).map(|f| f.0);
    if let Some(d) = make_default {
        c.is_default = d;
    }
    c.updated_at = now();
    let version_id = c.version_id.clone();
    ctx.repo.update_config(c.clone(), &caller.actor()).await?;
    if make_default == Some(true) {
        clear_other_defaults(&ctx, &caller, &c).await?;
    }
    Ok(Json(
        json!({ "version_id": version_id, "object": "config" }),
    ))
}

pub async fn remove(State(ctx): State<Shared>, caller: Caller, P(slug): P<String>) -> Reply {
    caller.require("configs.delete")?;
    let c = load(&ctx, &caller, &slug).await?;
    ctx.repo.delete_config(&c.id, &caller.actor()).await?;
    empty()
}

pub async fn versions(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
) -> Reply {
    caller.require("configs.read")?;
    let page = params.page(None, 1000)?;
    let c = load(&ctx, &caller, &slug).await?;
    let mut rows = ctx.repo.list_config_versions(&c.id).await?;
    rows.sort_by_key(|v| std::cmp::Reverse(v.created_at));
    let (total, rows) = page.slice(rows);
    Ok(Json(list_envelope(
        total,
        rows.iter().map(|v| version(&c, v)).collect(),
    )))
}
