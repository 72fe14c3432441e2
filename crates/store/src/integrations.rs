//! Integrations (organisation- or workspace-level provider credentials) and their workspace
//! grants: addressed by slug or id; slugs are unique; one is deleted only while no provider
//! draws from it (its grants go with it).

use std::collections::BTreeSet;

use portcullis_control::model::{Actor, Integration, IntegrationGrant};
use portcullis_control::repo::{IntegrationScope, ListQuery, Page, RepoError, RepoResult};
use serde_json::json;

use crate::Store;
use crate::db::args;
use crate::details;
use crate::errors::ResultExt;
use crate::list::{self, Filter, NEWEST_FIRST};
use crate::rows::{self, GrantRow, IntegrationRow, json, json_opt};

const BY_ID: &str = "SELECT * FROM integrations WHERE id = $1";
const BY_SLUG_OR_ID: &str = "SELECT * FROM integrations WHERE id = $1 OR slug = $1 \
     ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";
const GRANTS: &str = "SELECT * FROM integration_grants WHERE integration_id = $1 \
     ORDER BY workspace_id";

fn taken(i: &Integration, hint: &str) -> String {
    if hint.contains("slug") {
        format!("integration slug \"{}\" is already taken", i.slug)
    } else {
        format!("integration id \"{}\" already exists", i.id)
    }
}

fn check(i: &Integration) -> RepoResult<()> {
    if i.id.is_empty() || i.slug.is_empty() {
        return Err(RepoError::Invalid(
            "an integration needs an id and a slug".into(),
        ));
    }
    Ok(())
}

fn hidden(old: &Integration, new: &Integration) -> [(&'static str, bool); 2] {
    [
        ("key", old.key_sealed != new.key_sealed),
        ("configurations", old.configurations != new.configurations),
    ]
}

pub(crate) async fn create(s: &Store, i: Integration, actor: &Actor) -> RepoResult<Integration> {
    const OP: &str = "create integration";
    check(&i)?;
    let mut c = s.begin_change(OP).await?;
    if let Some(ws) = &i.workspace_id {
        c.require_workspace(ws).await?;
    }
    c.tx.execute(
        "INSERT INTO integrations (id, slug, name, description, ai_provider_id, key_sealed, \
         key_masked, configurations, workspace_id, allow_all_models, models, \
         global_workspace_access, status, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        args![
            &i.id,
            &i.slug,
            &i.name,
            &i.description,
            &i.ai_provider_id,
            &i.key_sealed,
            &i.key_masked,
            json(&i.configurations)?,
            &i.workspace_id,
            i.allow_all_models,
            json(&i.models)?,
            i.global_workspace_access,
            i.status.as_str(),
            i.created_at,
            i.updated_at,
            c.version,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&i, hint))?;
    let d = details::created(details::integration(&i));
    let ws = i.workspace_id.as_deref();
    c.audit(actor, "create", ("integration", &i.id), ws, d)
        .await?;
    c.commit(s).await?;
    Ok(i)
}

pub(crate) async fn get(s: &Store, slug_or_id: &str) -> RepoResult<Option<Integration>> {
    let row: Option<IntegrationRow> = s
        .db()
        .fetch_optional(BY_SLUG_OR_ID, args![slug_or_id])
        .await
        .or_backend("get integration")?;
    row.map(IntegrationRow::into_model).transpose()
}

/// `workspace_id` selects the integrations scoped to that workspace (not those merely granted).
pub(crate) async fn list(
    s: &Store,
    q: &ListQuery,
    scope: IntegrationScope,
) -> RepoResult<Page<Integration>> {
    let mut f = Filter::of(s.db(), q);
    match scope {
        IntegrationScope::All => {}
        IntegrationScope::Organisation => f.raw("workspace_id IS NULL"),
        IntegrationScope::Workspace => f.raw("workspace_id IS NOT NULL"),
    }
    let p = list::paging(q);
    let op = "list integrations";
    list::page(
        s.db(),
        op,
        "integrations",
        NEWEST_FIRST,
        f,
        p,
        IntegrationRow::into_model,
    )
    .await
}

pub(crate) async fn update(s: &Store, i: Integration, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "update integration";
    check(&i)?;
    let mut c = s.begin_change(OP).await?;
    let old: Option<IntegrationRow> =
        c.tx.fetch_optional(BY_ID, args![&i.id])
            .await
            .or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("integration {}", i.id)))?
        .into_model()?;
    if let Some(ws) = &i.workspace_id {
        c.require_workspace(ws).await?;
    }
    c.tx.execute(
        "UPDATE integrations SET slug = $2, name = $3, description = $4, ai_provider_id = $5, \
         key_sealed = $6, key_masked = $7, configurations = $8, workspace_id = $9, \
         allow_all_models = $10, models = $11, global_workspace_access = $12, status = $13, \
         updated_at = $14 WHERE id = $1",
        args![
            &i.id,
            &i.slug,
            &i.name,
            &i.description,
            &i.ai_provider_id,
            &i.key_sealed,
            &i.key_masked,
            json(&i.configurations)?,
            &i.workspace_id,
            i.allow_all_models,
            json(&i.models)?,
            i.global_workspace_access,
            i.status.as_str(),
            i.updated_at,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&i, hint))?;
    let (before, after) = (details::integration(&old), details::integration(&i));
    let d = details::updated(&before, &after, &hidden(&old, &i));
    let ws = i.workspace_id.as_deref();
    c.audit(actor, "update", ("integration", &i.id), ws, d)
        .await?;
    c.commit(s).await
}

pub(crate) async fn delete(s: &Store, id: &str, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "delete integration";
    let mut c = s.begin_change(OP).await?;
    let old: Option<IntegrationRow> = c.tx.fetch_optional(BY_ID, args![id]).await.or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("integration {id}")))?
        .into_model()?;
    let users =
        c.tx.scalar(
            "SELECT COUNT(*) FROM providers WHERE integration_id = $1",
            args![id],
        )
        .await
        .or_backend(OP)?;
    if users > 0 {
        let s_ = if users == 1 { "" } else { "s" };
        return Err(RepoError::Conflict(format!(
            "integration \"{}\" is still used by {users} provider{s_}; delete them first",
            old.slug
        )));
    }
    let grants: Vec<GrantRow> = c.tx.fetch_all(GRANTS, args![id]).await.or_backend(OP)?;
    let grants = rows::all(grants, GrantRow::into_model)?;
    c.tx.execute(
        "DELETE FROM integration_grants WHERE integration_id = $1",
        args![id],
    )
    .await
    .or_backend(OP)?;
    c.tx.execute("DELETE FROM integrations WHERE id = $1", args![id])
        .await
        .or_conflict(OP, |_| {
            format!("integration \"{}\" is still in use", old.slug)
        })?;
    let mut d = details::deleted(details::integration(&old));
    d["grants_removed"] = grants.iter().map(|g| json!(g.workspace_id)).collect();
    let ws = old.workspace_id.as_deref();
    c.audit(actor, "delete", ("integration", id), ws, d).await?;
    c.commit(s).await
}

/// The integration's id, looked up by id or slug.
async fn resolve(s: &Store, slug_or_id: &str) -> RepoResult<Integration> {
    get(s, slug_or_id)
        .await?
        .ok_or_else(|| RepoError::NotFound(format!("integration {slug_or_id}")))
}

/// The grants of an integration (given by id or slug), by workspace id.
pub(crate) async fn list_grants(s: &Store, integration: &str) -> RepoResult<Vec<IntegrationGrant>> {
    let i = resolve(s, integration).await?;
    let rows: Vec<GrantRow> = s
        .db()
        .fetch_all(GRANTS, args![&i.id])
        .await
        .or_backend("list grants")?;
    rows::all(rows, GrantRow::into_model)
}

/// Upserts `grants` for the integration given by id or slug (each grant's own
/// `integration_id` is ignored); with `replace_all`, removes the grants not listed.
pub(crate) async fn set_grants(
    s: &Store,
    integration: &str,
    grants: Vec<IntegrationGrant>,
    replace_all: bool,
    actor: &Actor,
) -> RepoResult<()> {
    const OP: &str = "set integration grants";
    let mut c = s.begin_change(OP).await?;
    let row: Option<IntegrationRow> =
        c.tx.fetch_optional(BY_SLUG_OR_ID, args![integration])
            .await
            .or_backend(OP)?;
    let i = row
        .ok_or_else(|| RepoError::NotFound(format!("integration {integration}")))?
        .into_model()?;
    let listed: BTreeSet<&str> = grants.iter().map(|g| g.workspace_id.as_str()).collect();
    for ws in &listed {
        c.require_workspace(ws).await?;
    }
    for g in &grants {
        c.tx.execute(
            "INSERT INTO integration_grants (integration_id, workspace_id, enabled, \
             usage_limits, rate_limits) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (integration_id, workspace_id) DO UPDATE SET \
             enabled = excluded.enabled, usage_limits = excluded.usage_limits, \
             rate_limits = excluded.rate_limits",
            args![
                &i.id,
                &g.workspace_id,
                g.enabled,
                json_opt(&g.usage_limits)?,
                json(&g.rate_limits)?,
            ],
        )
        .await
        .or_backend(OP)?;
    }
    let mut removed = Vec::new();
    if replace_all {
        let existing: Vec<GrantRow> = c.tx.fetch_all(GRANTS, args![&i.id]).await.or_backend(OP)?;
        for g in rows::all(existing, GrantRow::into_model)? {
            if !listed.contains(g.workspace_id.as_str()) {
                c.tx.execute(
                    "DELETE FROM integration_grants WHERE integration_id = $1 \
                     AND workspace_id = $2",
                    args![&i.id, &g.workspace_id],
                )
                .await
                .or_backend(OP)?;
                removed.push(g.workspace_id);
            }
        }
    }
    let d = json!({
        "slug": i.slug,
        "replace_all": replace_all,
        "upserted": grants.iter().map(details::grant).collect::<Vec<_>>(),
        "removed": removed,
    });
    let ws = i.workspace_id.as_deref();
    c.audit(actor, "grants.update", ("integration", &i.id), ws, d)
        .await?;
    c.commit(s).await
}
