//! `/v1/virtual-keys`: legacy providers with their own sealed key and camelCase `model_config`.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{Provider, Status};
use serde_json::json;

use super::integrations::check_provider;
use super::providers::{Lookup, apply_update, finish_update, load, page_of};
use super::{P, Reply, Shared, empty};
use crate::access::target_workspace;
use crate::auth::Caller;
use crate::body::{RawBody, from_value, required};
use crate::error::ApiError;
use crate::mask::{mask_secret, seal_map};
use crate::paging::{Params, list_envelope};
use crate::slug;
use crate::time::now;
use crate::wire::limits::{rates, usage_one};
use crate::wire::providers::{CreateVirtualKey, UpdateProvider, vk_item, vk_model_config};
use crate::wire::{nonempty, parse_expiry};

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    caller.require("virtual_keys.create")?;
    let raw = body.value()?;
    let req: CreateVirtualKey = from_value(raw.clone())?;
    let name = required("name", &req.name)?.to_owned();
    let provider = required("provider", &req.provider)?.to_owned();
    check_provider("provider", &provider)?;
    let ws = target_workspace(&ctx, &caller, req.workspace_id.as_deref(), true)
        .await?
        .ok_or_else(|| ApiError::field("workspace_id", "workspace_id is required"))?;
    let slug = match req.slug {
        Some(s) => {
            slug::check("slug", &s).map_err(|m| ApiError::field("slug", m))?;
            s
        }
        None => slug::named(&name),
    };
    let mut model_config = vk_model_config(req.model_config, &raw);
    ctx.check_custom_host("model_config", &mut model_config)?;
    let key = nonempty(req.key);
    let at = now();
    let p = Provider {
        id: uuid::Uuid::new_v4().to_string(),
        slug,
        name,
        workspace_id: ws.id,
        integration_id: None,
        ai_provider_id: Some(provider),
        key_sealed: key.as_deref().map(|k| ctx.sealer.seal(k)),
        key_masked: key.as_deref().map(mask_secret),
        model_config: seal_map(&ctx.sealer, model_config),
        note: nonempty(req.note),
        usage_limits: req
            .usage_limits
            .map(|v| usage_one("usage_limits", v))
            .transpose()?,
        rate_limits: req
            .rate_limits
            .map(|v| rates("rate_limits", v))
            .transpose()?
            .unwrap_or_default(),
        expires_at: req
            .expires_at
            .as_deref()
            .map(|t| parse_expiry("expires_at", t))
            .transpose()?,
        is_virtual_key: true,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    };
    let stored = ctx.repo.create_provider(p, &caller.actor()).await?;
    Ok(Json(json!({
        "success": true,
        "data": { "slug": stored.slug, "id": stored.id },
        "id": stored.id,
        "slug": stored.slug,
        "object": "virtual-key",
    })))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require("virtual_keys.list")?;
    let page = params.page(None, 1000)?;
    let (total, rows) = page_of(&ctx, &caller, &params, page).await?;
    let l = Lookup::of(&ctx, &rows).await?;
    let data = rows
        .iter()
        .map(|p| vk_item(p, &l.source(&ctx, p), ctx.usage_of("provider", &p.id)))
        .collect();
    Ok(Json(list_envelope(total, data)))
}

pub async fn retrieve(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
) -> Reply {
    caller.require("virtual_keys.read")?;
    let p = load(&ctx, &caller, &slug, params.get(&["workspace_id"])).await?;
    let l = Lookup::of(&ctx, std::slice::from_ref(&p)).await?;
    Ok(Json(vk_item(
        &p,
        &l.source(&ctx, &p),
        ctx.usage_of("provider", &p.id),
    )))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
    body: RawBody,
) -> Reply {
    caller.require("virtual_keys.update")?;
    let raw = body.value()?;
    let req: UpdateProvider = from_value(raw.clone())?;
    let ws = params
        .get(&["workspace_id"])
        .or(req.workspace_id.as_deref())
        .map(str::to_owned);
    let mut p = load(&ctx, &caller, &slug, ws.as_deref()).await?;
    let model_config = vk_model_config(req.model_config.clone(), &raw);
    let reset = apply_update(&ctx, &mut p, req, model_config)?;
    let (id, slug) = finish_update(&ctx, &caller, p, reset).await?;
    Ok(Json(
        json!({ "id": id, "slug": slug, "object": "virtual-key" }),
    ))
}

pub async fn remove(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
) -> Reply {
    caller.require("virtual_keys.delete")?;
    let p = load(&ctx, &caller, &slug, params.get(&["workspace_id"])).await?;
    ctx.repo.delete_provider(&p.id, &caller.actor()).await?;
    empty()
}
