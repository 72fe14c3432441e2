//! `/v1/integrations/{slug}/workspaces` and `/models`: which workspaces may use an integration
//! (with their own limits and default providers) and which models it allows.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{IntegrationGrant, IntegrationModel};
use serde_json::{Value, json};

use super::integrations::{create_default_provider, load, plan_default_provider};
use super::{P, Reply, Shared, empty};
use crate::auth::Caller;
use crate::body::{Patch, RawBody};
use crate::ctx::grant_scope_id;
use crate::error::ApiError;
use crate::paging::Params;
use crate::time::now;
use crate::wire::integrations::{DeleteModels, UpdateModels, UpdateWorkspaces, global_access};
use crate::wire::limits::{rates, rates_or_null, usage_list, usage_list_out};

pub async fn list_workspaces(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
) -> Reply {
    let i = load(&ctx, &caller, &slug, "read").await?;
    let mut rows = Vec::new();
    if let Some(ws) = &i.workspace_id {
        let w = ctx.repo.get_workspace(ws).await?;
        rows.push(json!({
            "id": w.as_ref().map_or(ws.as_str(), |w| w.slug.as_str()),
            "workspace_id": ws,
            "name": w.as_ref().map(|w| w.name.clone()),
            "enabled": true, "usage_limits": null, "rate_limits": null,
        }));
    } else {
        for g in ctx.repo.list_grants(&i.id).await? {
            if !caller.sees(Some(&g.workspace_id)) {
                continue;
            }
            let w = ctx.repo.get_workspace(&g.workspace_id).await?;
            rows.push(json!({
                "id": w.as_ref().map_or(g.workspace_id.as_str(), |w| w.slug.as_str()),
                "workspace_id": g.workspace_id,
                "name": w.as_ref().map(|w| w.name.clone()),
                "enabled": g.enabled,
                "usage_limits": usage_list_out(&g.usage_limits),
                "rate_limits": rates_or_null(&g.rate_limits),
            }));
        }
    }
    Ok(Json(json!({
        "object": "list",
        "total": rows.len(),
        "workspaces": rows,
        "global_workspace_access": global_access(&i),
    })))
}

pub async fn update_workspaces(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    body: RawBody,
) -> Reply {
    let mut i = load(&ctx, &caller, &slug, "update").await?;
    let req: UpdateWorkspaces = body.parse()?;
    let items = req.workspaces.unwrap_or_default();
    if i.workspace_id.is_some() && !items.is_empty() {
        return Err(ApiError::field(
            "workspaces",
            "a workspace-level integration belongs to its workspace and cannot be granted to others",
        ));
    }
    if let Some(g) = &req.global_workspace_access {
        let has = |v: &Option<Value>| match v {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if has(&g.usage_limits) || has(&g.rate_limits) {
            return Err(ApiError::field(
                "global_workspace_access",
                "global_workspace_access: limits are not supported on global access; set them per workspace",
            ));
        }
    }
    let existing = ctx.repo.list_grants(&i.id).await?;
    let replace_all = req
        .override_existing_workspace_access
        .or(req.override_existing_workspaces_access)
        .unwrap_or(false);
    let default_on = req.create_default_provider.unwrap_or(true);
    let mut grants: Vec<IntegrationGrant> = Vec::new();
    let mut providers: Vec<(String, String)> = Vec::new();
    let mut resets: Vec<String> = Vec::new();
    // Everything is checked before anything is written.
    for (n, g) in items.into_iter().enumerate() {
        let at = |f: &str| format!("workspaces[{n}].{f}");
        let id =
            g.id.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::field(&at("id"), format!("{} is required", at("id"))))?;
        let ws = ctx
            .repo
            .get_workspace(id)
            .await?
            .ok_or_else(|| ApiError::not_found("workspace", id))?;
        let prev = existing.iter().find(|e| e.workspace_id == ws.id);
        let enabled = g.enabled.unwrap_or(true);
        let usage_limits = match g.usage_limits {
            Patch::Absent => prev.and_then(|p| p.usage_limits),
            Patch::Null => None,
            Patch::Value(v) => usage_list(&at("usage_limits"), v)?,
        };
        let rate_limits = match g.rate_limits {
            Patch::Absent => prev.map(|p| p.rate_limits.clone()).unwrap_or_default(),
            Patch::Null => vec![],
            Patch::Value(v) => rates(&at("rate_limits"), v)?,
        };
        let newly_enabled = enabled && !prev.is_some_and(|p| p.enabled);
        if newly_enabled && g.create_default_provider.unwrap_or(default_on) {
            let s = g.default_provider_slug.unwrap_or_else(|| i.slug.clone());
            if plan_default_provider(&ctx, &i, &ws.id, &s, &at("default_provider_slug")).await? {
                providers.push((ws.id.clone(), s));
            }
        }
        if g.reset_usage == Some(true) {
            resets.push(ws.id.clone());
        }
        grants.retain(|x| x.workspace_id != ws.id);
        grants.push(IntegrationGrant {
            integration_id: i.id.clone(),
            workspace_id: ws.id,
            enabled,
            usage_limits,
            rate_limits,
        });
    }
    let actor = caller.actor();
    if !grants.is_empty() || replace_all {
        ctx.repo
            .set_grants(&i.id, grants, replace_all, &actor)
            .await?;
    }
    if let Some(enabled) = req.global_workspace_access.and_then(|g| g.enabled)
        && enabled != i.global_workspace_access
    {
        i.global_workspace_access = enabled;
        i.updated_at = now();
        ctx.repo.update_integration(i.clone(), &actor).await?;
    }
    for (ws, s) in providers {
        create_default_provider(&ctx, &caller, &i, &ws, &s).await?;
    }
    for ws in resets {
        ctx.reset_usage(
            "integration",
            &grant_scope_id(&i.id, &ws),
            Some(&ws),
            &actor,
        )
        .await?;
    }
    empty()
}

pub async fn list_models(State(ctx): State<Shared>, caller: Caller, P(slug): P<String>) -> Reply {
    let i = load(&ctx, &caller, &slug, "read").await?;
    Ok(Json(json!({
        "object": "list",
        "total": i.models.len(),
        "allow_all_models": i.allow_all_models,
        "models": i.models,
    })))
}

pub async fn update_models(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    body: RawBody,
) -> Reply {
    let mut i = load(&ctx, &caller, &slug, "update").await?;
    let req: UpdateModels = body.parse()?;
    if let Some(all) = req.allow_all_models {
        i.allow_all_models = all;
    }
    for (n, m) in req.models.unwrap_or_default().into_iter().enumerate() {
        if m.slug.trim().is_empty() {
            let at = format!("models[{n}].slug");
            return Err(ApiError::field(&at, format!("{at} is required")));
        }
        match i.models.iter_mut().find(|x| x.slug == m.slug) {
            Some(x) => *x = m,
            None => i.models.push(m),
        }
    }
    i.updated_at = now();
    ctx.repo.update_integration(i, &caller.actor()).await?;
    empty()
}

/// Removes models named by `?slugs=a,b` or the body's `models` (strings or `{slug}` objects).
pub async fn delete_models(
    State(ctx): State<Shared>,
    caller: Caller,
    P(slug): P<String>,
    params: Params,
    body: RawBody,
) -> Reply {
    let mut i = load(&ctx, &caller, &slug, "update").await?;
    let req: DeleteModels = body.parse()?;
    let mut names: Vec<String> = params
        .get(&["slugs"])
        .map(|s| s.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    let from_body = req
        .models
        .into_iter()
        .flatten()
        .chain(req.slugs.into_iter().flat_map(|v| match v {
            Value::Array(a) => a,
            Value::String(s) => s.split(',').map(|s| json!(s.trim())).collect(),
            other => vec![other],
        }));
    for v in from_body {
        match v.as_str().or_else(|| v.get("slug").and_then(Value::as_str)) {
            Some(s) => names.push(s.to_owned()),
            None => return Err(ApiError::field("models", "models must list model slugs")),
        }
    }
    names.retain(|s| !s.is_empty());
    if names.is_empty() {
        return Err(ApiError::field(
            "slugs",
            "name the models to remove: ?slugs=a,b",
        ));
    }
    i.models
        .retain(|m: &IntegrationModel| !names.contains(&m.slug));
    i.updated_at = now();
    ctx.repo.update_integration(i, &caller.actor()).await?;
    empty()
}
