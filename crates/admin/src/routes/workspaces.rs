//! `/v1/admin/workspaces`: workspaces by id or slug; workspace keys see only their own.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::{Status, Workspace};
use portcullis_control::repo::ListQuery;

use super::{P, Reply, Shared, empty};
use crate::access::visible_workspace;
use crate::auth::Caller;
use crate::body::{Patch, RawBody, required};
use crate::error::ApiError;
use crate::paging::{Params, list_envelope};
use crate::slug;
use crate::time::now;
use crate::wire::limits::{rates, usage_list};
use crate::wire::nonempty;
use crate::wire::workspaces::{CreateWorkspace, DeleteWorkspace, UpdateWorkspace, detail, item};

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    caller.require_org("create workspaces")?;
    caller.require("workspaces.create")?;
    let req: CreateWorkspace = body.parse()?;
    let name = required("name", &req.name)?.to_owned();
    let slug = match req.slug {
        Some(s) => {
            slug::check("slug", &s).map_err(|m| ApiError::field("slug", m))?;
            s
        }
        None => slug::prefixed("ws", &name),
    };
    let at = now();
    let w = Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        slug,
        name,
        description: nonempty(req.description),
        defaults: req
            .defaults
            .map(|d| d.into_defaults("defaults"))
            .transpose()?,
        usage_limits: req
            .usage_limits
            .map(|v| usage_list("usage_limits", v))
            .transpose()?
            .flatten(),
        rate_limits: req
            .rate_limits
            .map(|v| rates("rate_limits", v))
            .transpose()?
            .unwrap_or_default(),
        is_default: false,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    };
    let stored = ctx.repo.create_workspace(w, &caller.actor()).await?;
    Ok(Json(item(&stored)))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require("workspaces.list")?;
    let page = params.page(None, 1000)?;
    let name = params.get(&["name"]).map(str::to_owned);
    let exact = params.get(&["exact_name"]).map(str::to_owned);
    let q = ListQuery {
        name: name.clone(),
        exact_name: exact.clone(),
        ..ListQuery::default()
    };
    let rows: Vec<Workspace> = ctx
        .repo
        .list_workspaces(&q)
        .await?
        .items
        .into_iter()
        .filter(|w| caller.sees(Some(&w.id)))
        .filter(|w| name.as_ref().is_none_or(|n| w.name.contains(n.as_str())))
        .filter(|w| exact.as_ref().is_none_or(|n| &w.name == n))
        .collect();
    let (total, rows) = page.slice(rows);
    Ok(Json(list_envelope(total, rows.iter().map(item).collect())))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require("workspaces.read")?;
    Ok(Json(detail(&visible_workspace(&ctx, &caller, &id).await?)))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    body: RawBody,
) -> Reply {
    caller.require("workspaces.update")?;
    let mut w = visible_workspace(&ctx, &caller, &id).await?;
    let req: UpdateWorkspace = body.parse()?;
    if let Some(name) = req.name {
        w.name = required("name", &Some(name))?.to_owned();
    }
    w.description = nonempty(req.description.apply(w.description.take()));
    match req.defaults {
        Patch::Absent => {}
        Patch::Null => w.defaults = None,
        Patch::Value(d) => w.defaults = Some(d.into_defaults("defaults")?),
    }
    match req.usage_limits {
        Patch::Absent => {}
        Patch::Null => w.usage_limits = None,
        Patch::Value(v) => w.usage_limits = usage_list("usage_limits", v)?,
    }
    match req.rate_limits {
        Patch::Absent => {}
        Patch::Null => w.rate_limits.clear(),
        Patch::Value(v) => w.rate_limits = rates("rate_limits", v)?,
    }
    w.updated_at = now();
    ctx.repo.update_workspace(w, &caller.actor()).await?;
    empty()
}

/// Deletes an empty workspace; a `name` in the body must match (a confirmation).
pub async fn remove(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    body: RawBody,
) -> Reply {
    caller.require("workspaces.delete")?;
    let w = visible_workspace(&ctx, &caller, &id).await?;
    let req: DeleteWorkspace = body.parse()?;
    if let Some(name) = req.name.filter(|n| n != &w.name) {
        return Err(ApiError::field(
            "name",
            format!("name {name:?} does not match the workspace's name"),
        ));
    }
    if w.is_default {
        return Err(ApiError::invalid(
            "the organisation's default workspace cannot be deleted",
        ));
    }
    ctx.repo.delete_workspace(&w.id, &caller.actor()).await?;
    empty()
}
