//! Workspaces: addressed by id or slug; slugs are unique, at most one is the default, and one is
//! deleted only once nothing belongs to it any more.

use portcullis_control::model::{Actor, Workspace};
use portcullis_control::repo::{ListQuery, Page, RepoError, RepoResult};

use crate::Store;
use crate::db::args;
use crate::details;
use crate::errors::ResultExt;
use crate::list::{self, Filter, NEWEST_FIRST};
use crate::rows::{WorkspaceRow, json, json_opt};

const BY_ID: &str = "SELECT * FROM workspaces WHERE id = $1";
const BY_ID_OR_SLUG: &str = "SELECT * FROM workspaces WHERE id = $1 OR slug = $1 \
     ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";

fn taken(w: &Workspace, hint: &str) -> String {
    if hint.contains("slug") {
        format!("workspace slug \"{}\" is already taken", w.slug)
    } else if hint.contains("default") {
        "a default workspace already exists".to_owned()
    } else {
        format!("workspace id \"{}\" already exists", w.id)
    }
}

fn check(w: &Workspace) -> RepoResult<()> {
    if w.id.is_empty() || w.slug.is_empty() {
        return Err(RepoError::Invalid(
            "a workspace needs an id and a slug".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn create(s: &Store, w: Workspace, actor: &Actor) -> RepoResult<Workspace> {
    const OP: &str = "create workspace";
    check(&w)?;
    let mut c = s.begin_change(OP).await?;
    c.tx.execute(
        "INSERT INTO workspaces (id, slug, name, description, defaults, usage_limits, \
         rate_limits, is_default, status, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            &w.id,
            &w.slug,
            &w.name,
            &w.description,
            json_opt(&w.defaults)?,
            json_opt(&w.usage_limits)?,
            json(&w.rate_limits)?,
            w.is_default,
            w.status.as_str(),
            w.created_at,
            w.updated_at,
            c.version,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&w, hint))?;
    let d = details::created(details::workspace(&w));
    c.audit(actor, "create", ("workspace", &w.id), Some(&w.id), d)
        .await?;
    c.commit(s).await?;
    Ok(w)
}

pub(crate) async fn get(s: &Store, id_or_slug: &str) -> RepoResult<Option<Workspace>> {
    let row: Option<WorkspaceRow> = s
        .db()
        .fetch_optional(BY_ID_OR_SLUG, args![id_or_slug])
        .await
        .or_backend("get workspace")?;
    row.map(WorkspaceRow::into_model).transpose()
}

pub(crate) async fn list(s: &Store, q: &ListQuery) -> RepoResult<Page<Workspace>> {
    let mut f = Filter::of(
        s.db(),
        &ListQuery {
            workspace_id: None,
            ..q.clone()
        },
    );
    if let Some(ws) = &q.workspace_id {
        f.eq("id", ws.as_str());
    }
    let p = list::paging(q);
    list::page(
        s.db(),
        "list workspaces",
        "workspaces",
        NEWEST_FIRST,
        f,
        p,
        WorkspaceRow::into_model,
    )
    .await
}

pub(crate) async fn update(s: &Store, w: Workspace, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "update workspace";
    check(&w)?;
    let mut c = s.begin_change(OP).await?;
    let old: Option<WorkspaceRow> =
        c.tx.fetch_optional(BY_ID, args![&w.id])
            .await
            .or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("workspace {}", w.id)))?
        .into_model()?;
    c.tx.execute(
        "UPDATE workspaces SET slug = $2, name = $3, description = $4, defaults = $5, \
         usage_limits = $6, rate_limits = $7, is_default = $8, status = $9, updated_at = $10 \
         WHERE id = $1",
        args![
            &w.id,
            &w.slug,
            &w.name,
            &w.description,
            json_opt(&w.defaults)?,
            json_opt(&w.usage_limits)?,
            json(&w.rate_limits)?,
            w.is_default,
            w.status.as_str(),
            w.updated_at,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&w, hint))?;
    let d = details::updated(&details::workspace(&old), &details::workspace(&w), &[]);
    c.audit(actor, "update", ("workspace", &w.id), Some(&w.id), d)
        .await?;
    c.commit(s).await
}

#[derive(sqlx::FromRow)]
struct Dependents {
    api_keys: i64,
    providers: i64,
    configs: i64,
    integrations: i64,
    grants: i64,
}

impl Dependents {
    fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.api_keys, "API key"),
            (self.providers, "provider"),
            (self.configs, "config"),
            (self.integrations, "workspace integration"),
            (self.grants, "integration access grant"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

pub(crate) async fn delete(s: &Store, id: &str, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "delete workspace";
    let mut c = s.begin_change(OP).await?;
    let old: Option<WorkspaceRow> = c.tx.fetch_optional(BY_ID, args![id]).await.or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("workspace {id}")))?
        .into_model()?;
    if old.is_default {
        return Err(RepoError::Conflict(format!(
            "workspace \"{}\" is the default workspace and cannot be deleted",
            old.slug
        )));
    }
    let deps: Option<Dependents> =
        c.tx.fetch_optional(
            "SELECT (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1) AS api_keys, \
             (SELECT COUNT(*) FROM providers WHERE workspace_id = $1) AS providers, \
             (SELECT COUNT(*) FROM configs WHERE workspace_id = $1) AS configs, \
             (SELECT COUNT(*) FROM integrations WHERE workspace_id = $1) AS integrations, \
             (SELECT COUNT(*) FROM integration_grants WHERE workspace_id = $1) AS grants",
            args![id],
        )
        .await
        .or_backend(OP)?;
    if let Some(what) = deps.and_then(|d| d.describe()) {
        return Err(RepoError::Conflict(format!(
            "workspace \"{}\" still has {what}; delete or move them first",
            old.slug
        )));
    }
    c.tx.execute("DELETE FROM workspaces WHERE id = $1", args![id])
        .await
        .or_conflict(OP, |_| {
            format!("workspace \"{}\" is still in use", old.slug)
        })?;
    let d = details::deleted(details::workspace(&old));
    c.audit(actor, "delete", ("workspace", id), Some(id), d)
        .await?;
    c.commit(s).await
}
