//! `/v1/providers`: a workspace's AI providers (what `@slug` names), drawing on integrations.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{Integration, Provider, Status, Workspace};
use portcullis_control::repo::ListQuery;
use serde_json::{Map, Value, json};

use super::integrations::usable_by;
use super::{P, Reply, Shared, empty};
use crate::access::{ident, list_filter, target_workspace};
use crate::auth::Caller;
use crate::body::{Patch, RawBody, required};
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::mask::{mask_secret, seal_map};
use crate::paging::{PageReq, Params, list_envelope};
use crate::slug;
use crate::time::now;
use crate::wire::limits::{rates, usage_one};
use crate::wire::providers::{CreateProvider, Source, UpdateProvider, provider_item};
use crate::wire::{nonempty, parse_expiry};

/// The provider `slug` (or id) the caller may see, in `workspace` when given (a workspace key's
/// own always); an organisation key without `workspace_id` gets the only match (400 if several).
pub async fn load(
    ctx: &AdminCtx,
    caller: &Caller,
    slug: &str,
    workspace: Option<&str>,
) -> ApiResult<Provider> {
    let slug = ident("provider", slug)?;
    let ws = list_filter(ctx, caller, workspace).await?;
    let found = match &ws {
        Some(w) => ctx
            .repo
            .get_provider(Some(w), slug)
            .await?
            .filter(|p| &p.workspace_id == w),
        None if slug::is_uuid(slug) => ctx.repo.get_provider(None, slug).await?,
        None => {
            let mut all: Vec<Provider> = ctx
                .repo
                .list_providers(&ListQuery::default(), false)
                .await?
                .items
                .into_iter()
                .filter(|p| p.slug == slug)
                .collect();
            if all.len() > 1 {
                return Err(ApiError::field(
                    "workspace_id",
                    format!("{slug} exists in several workspaces: pass workspace_id"),
                ));
            }
            all.pop()
        }
    };
    match found {
        Some(p) if caller.sees(Some(&p.workspace_id)) => Ok(p),
        _ => Err(ApiError::not_found("provider", slug)),
    }
}

/// Integrations and workspace names for rendering provider objects.
pub struct Lookup {
    integrations: HashMap<String, Integration>,
    workspaces: HashMap<String, Workspace>,
}

impl Lookup {
    pub async fn of(ctx: &AdminCtx, providers: &[Provider]) -> ApiResult<Lookup> {
        let mut l = Lookup {
            integrations: HashMap::new(),
            workspaces: HashMap::new(),
        };
        for p in providers {
            if let Some(id) = &p.integration_id
                && !l.integrations.contains_key(id)
                && let Some(i) = ctx.repo.get_integration(id).await?
            {
                l.integrations.insert(id.clone(), i);
            }
            if !l.workspaces.contains_key(&p.workspace_id)
                && let Some(w) = ctx.repo.get_workspace(&p.workspace_id).await?
            {
                l.workspaces.insert(p.workspace_id.clone(), w);
            }
        }
        Ok(l)
    }

    pub fn source<'a>(&'a self, ctx: &'a AdminCtx, p: &Provider) -> Source<'a> {
        Source {
            sealer: &ctx.sealer,
            integration: p
                .integration_id
                .as_ref()
                .and_then(|i| self.integrations.get(i)),
            workspace_name: self
                .workspaces
                .get(&p.workspace_id)
                .map(|w| w.name.as_str()),
        }
    }
}

/// The providers of a list call, filtered to what the caller may see, newest first, one page.
pub async fn page_of(
    ctx: &AdminCtx,
    caller: &Caller,
    params: &Params,
    page: PageReq,
) -> ApiResult<(u64, Vec<Provider>)> {
    let ws = list_filter(ctx, caller, params.get(&["workspace_id"])).await?;
    let q = ListQuery {
        workspace_id: ws.clone(),
        ..ListQuery::default()
    };
    let rows: Vec<Provider> = ctx
        .repo
        .list_providers(&q, false)
        .await?
        .items
        .into_iter()
        .filter(|p| caller.sees(Some(&p.workspace_id)))
        .filter(|p| ws.as_ref().is_none_or(|w| &p.workspace_id == w))
        .collect();
    Ok(page.slice(rows))
}

/// Applies the update fields providers and virtual keys share; returns whether the caller
/// asked for `reset_usage` (done by [`finish_update`] once the provider is stored).
pub fn apply_update(
    ctx: &AdminCtx,
    p: &mut Provider,
    req: UpdateProvider,
    mut model_config: Map<String, Value>,
) -> ApiResult<bool> {
    ctx.check_custom_host("model_config", &mut model_config)?;
    if let Some(name) = req.name {
        p.name = required("name", &Some(name))?.to_owned();
    }
    p.note = nonempty(req.note.apply(p.note.take()));
    match req.usage_limits {
        Patch::Absent => {}
        Patch::Null => p.usage_limits = None,
        Patch::Value(v) => p.usage_limits = Some(usage_one("usage_limits", v)?),
    }
    match req.rate_limits {
        Patch::Absent => {}
        Patch::Null => p.rate_limits.clear(),
        Patch::Value(v) => p.rate_limits = rates("rate_limits", v)?,
    }
    match req.expires_at {
        Patch::Absent => {}
        Patch::Null => p.expires_at = None,
        Patch::Value(t) => p.expires_at = Some(parse_expiry("expires_at", &t)?),
    }
    if let Some(key) = nonempty(req.key) {
        if p.integration_id.is_some() {
            return Err(ApiError::field(
                "key",
                "key: this provider draws its key from its integration; update the integration",
            ));
        }
        p.key_sealed = Some(ctx.sealer.seal(&key));
        p.key_masked = Some(mask_secret(&key));
    }
    for (k, v) in seal_map(&ctx.sealer, model_config) {
        if v.is_null() {
            p.model_config.remove(&k);
        } else {
            p.model_config.insert(k, v);
        }
    }
    let reset = req.reset_usage == Some(true);
    if reset && p.status == Status::Exhausted {
        p.status = Status::Active;
    }
    p.updated_at = now();
    Ok(reset)
}

/// Stores an updated provider or virtual key, then resets its budget's usage if asked.
pub async fn finish_update(
    ctx: &AdminCtx,
    caller: &Caller,
    p: Provider,
    reset: bool,
) -> ApiResult<(String, String)> {
    let (id, slug, ws) = (p.id.clone(), p.slug.clone(), p.workspace_id.clone());
    let actor = caller.actor();
    ctx.repo.update_provider(p, &actor).await?;
    if reset {
        ctx.reset_usage("provider", &id, Some(&ws), &actor).await?;
    }
    Ok((id, slug))
}

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    caller.require("providers.create")?;
    let req: CreateProvider = body.parse()?;
    let name = required("name", &req.name)?.to_owned();
    let integration_ref = required("integration_id", &req.integration_id)?.to_owned();
    let ws = target_workspace(&ctx, &caller, req.workspace_id.as_deref(), true)
        .await?
        .ok_or_else(|| ApiError::field("workspace_id", "workspace_id is required"))?;
    let integration = match ctx.repo.get_integration(&integration_ref).await? {
        Some(i) if i.workspace_id.is_none() || caller.sees(i.workspace_id.as_deref()) => i,
        _ => return Err(ApiError::not_found("integration", &integration_ref)),
    };
    if integration.status != Status::Active || !usable_by(&ctx, &integration, &ws.id).await? {
        return Err(ApiError::field(
            "integration_id",
            format!(
                "integration_id: integration {integration_ref} is not enabled for workspace {}; grant it with PUT /v1/integrations/{integration_ref}/workspaces",
                ws.slug
            ),
        ));
    }
    let slug = match req.slug {
        Some(s) => {
            slug::check("slug", &s).map_err(|m| ApiError::field("slug", m))?;
            s
        }
        None => slug::named(&name),
    };
    let mut model_config = req.model_config.unwrap_or_default();
    ctx.check_custom_host("model_config", &mut model_config)?;
    let at = now();
    let p = Provider {
        id: uuid::Uuid::new_v4().to_string(),
        slug,
        name,
        workspace_id: ws.id,
        integration_id: Some(integration.id),
        ai_provider_id: None,
        key_sealed: None,
        key_masked: None,
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
        is_virtual_key: false,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    };
    let stored = ctx.repo.create_provider(p, &caller.actor()).await?;
    Ok(Json(
        json!({ "id": stored.id, "slug": stored.slug, "object": "provider" }),
    ))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require("providers.list")?;
    let page = params.page(Some(50), 1000)?;
    let (total, rows) = page_of(&ctx, &caller, &params, page).await?;
    let l = Lookup::of(&ctx, &rows).await?;
    let data = rows
        .iter()
        .map(|p| provider_item(p, &l.source(&ctx, p), ctx.usage_of("provider", &p.id)))
        .collect();
    Ok(Json(list_envelope(total, data)))
}

pub async fn retrieve(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
) -> Reply {
    caller.require("providers.read")?;
    let p = load(&ctx, &caller, &slug, params.get(&["workspace_id"])).await?;
    let l = Lookup::of(&ctx, std::slice::from_ref(&p)).await?;
    Ok(Json(provider_item(
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
    caller.require("providers.update")?;
    let req: UpdateProvider = body.parse()?;
    let ws = params
        .get(&["workspace_id"])
        .or(req.workspace_id.as_deref())
        .map(str::to_owned);
    let mut p = load(&ctx, &caller, &slug, ws.as_deref()).await?;
    let model_config = req.model_config.clone().unwrap_or_default();
    let reset = apply_update(&ctx, &mut p, req, model_config)?;
    let (id, slug) = finish_update(&ctx, &caller, p, reset).await?;
    Ok(Json(
        json!({ "id": id, "slug": slug, "object": "provider" }),
    ))
}

pub async fn remove(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
) -> Reply {
    caller.require("providers.delete")?;
    let p = load(&ctx, &caller, &slug, params.get(&["workspace_id"])).await?;
    ctx.repo.delete_provider(&p.id, &caller.actor()).await?;
    empty()
}
