//! `/v1/integrations`: organisation- or workspace-level provider credentials.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{Integration, Provider, Status};
use portcullis_control::repo::{IntegrationScope, ListQuery};
use serde_json::json;

use super::{P, Reply, Shared, empty};
use crate::access::{ident, list_filter, target_workspace};
use crate::auth::Caller;
use crate::body::{Patch, RawBody, required};
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::mask::{mask_secret, seal_map};
use crate::paging::{Params, list_envelope};
use crate::slug;
use crate::time::now;
use crate::wire::integrations::{CreateIntegration, UpdateIntegration, detail, summary};
use crate::wire::nonempty;

/// The scope family of an integration: by its level.
pub fn family(i: &Integration) -> &'static str {
    if i.workspace_id.is_some() {
        "workspace_integrations"
    } else {
        "organisation_integrations"
    }
}

/// Whether workspace `ws` may draw on `i`: its own workspace-level integration, or an
/// organisation integration with global access or an enabled grant.
pub async fn usable_by(ctx: &AdminCtx, i: &Integration, ws: &str) -> ApiResult<bool> {
    if let Some(own) = &i.workspace_id {
        return Ok(own == ws);
    }
    if i.global_workspace_access {
        return Ok(true);
    }
    Ok(ctx
        .repo
        .list_grants(&i.id)
        .await?
        .iter()
        .any(|g| g.enabled && g.workspace_id == ws))
}

async fn visible(ctx: &AdminCtx, caller: &Caller, i: &Integration) -> ApiResult<bool> {
    match caller.pinned_workspace() {
        None => Ok(true),
        Some(own) => usable_by(ctx, i, own).await,
    }
}

/// The integration `slug` if the caller may see it (else 404) and holds `<level>.action` (else 403).
pub async fn load(
    ctx: &AdminCtx,
    caller: &Caller,
    slug: &str,
    action: &str,
) -> ApiResult<Integration> {
    let slug = ident("integration", slug)?;
    let i = match ctx.repo.get_integration(slug).await? {
        Some(i) if visible(ctx, caller, &i).await? => i,
        _ => return Err(ApiError::not_found("integration", slug)),
    };
    caller.require(&format!("{}.{action}", family(&i)))?;
    Ok(i)
}

/// 400 unless the gateway knows the provider slug.
pub fn check_provider(field: &str, slug: &str) -> ApiResult<()> {
    if portcullis_providers::registry::find(slug).is_some() {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            format!(
                "{field}: unknown provider {slug:?} (not a provider slug this gateway supports)"
            ),
        ))
    }
}

/// A provider `slug` in workspace `ws` drawing from `i`: created unless it already exists for
/// this integration; another provider with that slug is a validation error.
pub async fn plan_default_provider(
    ctx: &AdminCtx,
    i: &Integration,
    ws: &str,
    slug: &str,
    field: &str,
) -> ApiResult<bool> {
    slug::check(field, slug).map_err(|m| ApiError::field(field, m))?;
    match ctx.repo.get_provider(Some(ws), slug).await? {
        None => Ok(true),
        Some(p) if p.workspace_id != ws => Ok(true),
        Some(p) if p.integration_id.as_deref() == Some(i.id.as_str()) => Ok(false),
        Some(_) => Err(ApiError::field(
            field,
            format!(
                "{field}: a provider {slug} already exists in workspace {ws}; pass another default_provider_slug or create_default_provider: false"
            ),
        )),
    }
}

pub async fn create_default_provider(
    ctx: &AdminCtx,
    caller: &Caller,
    i: &Integration,
    ws: &str,
    slug: &str,
) -> ApiResult<()> {
    let at = now();
    let p = Provider {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_owned(),
        name: i.name.clone(),
        workspace_id: ws.to_owned(),
        integration_id: Some(i.id.clone()),
        ai_provider_id: None,
        key_sealed: None,
        key_masked: None,
        model_config: Default::default(),
        note: Some("Created automatically on integration access grant".into()),
        usage_limits: None,
        rate_limits: vec![],
        expires_at: None,
        is_virtual_key: false,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    };
    ctx.repo.create_provider(p, &caller.actor()).await?;
    Ok(())
}

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    let raw = body.value()?;
    // The level decides the scope: a workspace key or a `workspace_id` makes a workspace one.
    let workspace_level = !caller.is_org()
        || raw
            .get("workspace_id")
            .and_then(|v| v.as_str())
            .is_some_and(|s| !s.is_empty());
    let fam = if workspace_level {
        "workspace_integrations"
    } else {
        "organisation_integrations"
    };
    caller.require(&format!("{fam}.create"))?;
    let req: CreateIntegration = crate::body::from_value(raw)?;
    let name = required("name", &req.name)?.to_owned();
    let provider = required("ai_provider_id", &req.ai_provider_id)?.to_owned();
    check_provider("ai_provider_id", &provider)?;
    let slug = match req.slug {
        Some(s) => {
            slug::check("slug", &s).map_err(|m| ApiError::field("slug", m))?;
            s
        }
        None => slug::named(&name),
    };
    let ws = if workspace_level {
        target_workspace(&ctx, &caller, req.workspace_id.as_deref(), true).await?
    } else {
        None
    };
    let mut configurations = req.configurations.unwrap_or_default();
    ctx.check_custom_host("configurations", &mut configurations)?;
    let at = now();
    let key = nonempty(req.key);
    let i = Integration {
        id: uuid::Uuid::new_v4().to_string(),
        slug,
        name,
        description: nonempty(req.description),
        ai_provider_id: provider,
        key_sealed: key.as_deref().map(|k| ctx.sealer.seal(k)),
        key_masked: key.as_deref().map(mask_secret),
        configurations: seal_map(&ctx.sealer, configurations),
        workspace_id: ws.map(|w| w.id),
        allow_all_models: true,
        models: vec![],
        global_workspace_access: false,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    };
    // A workspace-level integration is usable at once through its default provider.
    let default_slug = match (&i.workspace_id, req.create_default_provider.unwrap_or(true)) {
        (Some(ws), true) => {
            let s = req.default_provider_slug.unwrap_or_else(|| i.slug.clone());
            plan_default_provider(&ctx, &i, ws, &s, "default_provider_slug")
                .await?
                .then_some(s)
        }
        _ => None,
    };
    let stored = ctx.repo.create_integration(i, &caller.actor()).await?;
    if let (Some(ws), Some(s)) = (&stored.workspace_id, default_slug) {
        create_default_provider(&ctx, &caller, &stored, ws, &s).await?;
    }
    Ok(Json(json!({ "id": stored.id, "slug": stored.slug })))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    let fams = [
        "organisation_integrations.list".to_owned(),
        "workspace_integrations.list".to_owned(),
    ];
    caller.require_any(&fams)?;
    let page = params.page(Some(100), 1000)?;
    let ws = list_filter(&ctx, &caller, params.get(&["workspace_id"])).await?;
    let scope = match params.get(&["type"]) {
        None | Some("all") => IntegrationScope::All,
        Some("organisation") => IntegrationScope::Organisation,
        Some("workspace") => IntegrationScope::Workspace,
        Some(other) => {
            return Err(ApiError::field(
                "type",
                format!("type must be workspace, organisation or all (got {other:?})"),
            ));
        }
    };
    let all = ctx
        .repo
        .list_integrations(&ListQuery::default(), scope)
        .await?
        .items;
    let mut rows = Vec::new();
    for i in all {
        let level_ok = match scope {
            IntegrationScope::All => true,
            IntegrationScope::Organisation => i.workspace_id.is_none(),
            IntegrationScope::Workspace => i.workspace_id.is_some(),
        };
        if !level_ok || !caller.has(&format!("{}.list", family(&i))) {
            continue;
        }
        let shown = match &ws {
            None => true,
            Some(w) => usable_by(&ctx, &i, w).await?,
        };
        if shown {
            rows.push(i);
        }
    }
    let (total, rows) = page.slice(rows);
    Ok(Json(list_envelope(
        total,
        rows.iter().map(summary).collect(),
    )))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(slug): P<String>) -> Reply {
    let i = load(&ctx, &caller, &slug, "read").await?;
    let count = if i.workspace_id.is_some() {
        1
    } else {
        ctx.repo
            .list_grants(&i.id)
            .await?
            .iter()
            .filter(|g| g.enabled)
            .count()
    };
    Ok(Json(detail(&i, count, &ctx.sealer)))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    body: RawBody,
) -> Reply {
    let mut i = load(&ctx, &caller, &slug, "update").await?;
    let req: UpdateIntegration = body.parse()?;
    if let Some(name) = req.name {
        i.name = required("name", &Some(name))?.to_owned();
    }
    i.description = nonempty(req.description.apply(i.description.take()));
    match req.key {
        Patch::Absent => {}
        Patch::Null => (i.key_sealed, i.key_masked) = (None, None),
        Patch::Value(k) => {
            i.key_sealed = Some(ctx.sealer.seal(&k));
            i.key_masked = Some(mask_secret(&k));
        }
    }
    if let Some(mut conf) = req.configurations {
        ctx.check_custom_host("configurations", &mut conf)?;
        // Merged: fields given replace, `null` removes, the rest (sealed secrets too) stay.
        let mut merged = std::mem::take(&mut i.configurations);
        for (k, v) in seal_map(&ctx.sealer, conf) {
            if v.is_null() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        i.configurations = merged;
    }
    i.updated_at = now();
    ctx.repo.update_integration(i, &caller.actor()).await?;
    empty()
}

/// Deletes the integration and the providers drawing from it.
pub async fn remove(State(ctx): State<Shared>, caller: Caller, P(slug): P<String>) -> Reply {
    let i = load(&ctx, &caller, &slug, "delete").await?;
    let providers = ctx
        .repo
        .list_providers(&ListQuery::default(), false)
        .await?
        .items;
    for p in providers
        .iter()
        .filter(|p| p.integration_id.as_deref() == Some(i.id.as_str()))
    {
        ctx.repo.delete_provider(&p.id, &caller.actor()).await?;
    }
    ctx.repo.delete_integration(&i.id, &caller.actor()).await?;
    empty()
}
