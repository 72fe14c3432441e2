//! AI providers and legacy virtual keys: slugs are unique per workspace; found by id, or by
//! slug within a workspace (or across workspaces when the slug is unambiguous).

use portcullis_control::model::{Actor, Provider};
use portcullis_control::repo::{ListQuery, Page, RepoError, RepoResult};

use crate::Store;
use crate::change::Change;
use crate::db::args;
use crate::details;
use crate::errors::ResultExt;
use crate::list::{self, Filter, NEWEST_FIRST};
use crate::rows::{ProviderRow, json, json_opt};

const BY_ID: &str = "SELECT * FROM providers WHERE id = $1";

fn taken(p: &Provider, hint: &str) -> String {
    if hint.contains("slug") {
        format!(
            "provider slug \"{}\" is already taken in workspace {}",
            p.slug, p.workspace_id
        )
    } else {
        format!("provider id \"{}\" already exists", p.id)
    }
}

fn check(p: &Provider) -> RepoResult<()> {
    if p.id.is_empty() || p.slug.is_empty() || p.workspace_id.is_empty() {
        return Err(RepoError::Invalid(
            "a provider needs an id, a slug and a workspace_id".into(),
        ));
    }
    Ok(())
}

/// The workspace and the integration a provider refers to must exist.
async fn check_refs(c: &mut Change, p: &Provider) -> RepoResult<()> {
    c.require_workspace(&p.workspace_id).await?;
    if let Some(i) = &p.integration_id
        && !c.exists("integrations", i).await?
    {
        return Err(RepoError::NotFound(format!("integration {i}")));
    }
    Ok(())
}

fn hidden(old: &Provider, new: &Provider) -> [(&'static str, bool); 2] {
    [
        ("key", old.key_sealed != new.key_sealed),
        ("model_config", old.model_config != new.model_config),
    ]
}

pub(crate) async fn create(s: &Store, p: Provider, actor: &Actor) -> RepoResult<Provider> {
    const OP: &str = "create provider";
    check(&p)?;
    let mut c = s.begin_change(OP).await?;
    check_refs(&mut c, &p).await?;
    c.tx.execute(
        "INSERT INTO providers (id, slug, name, workspace_id, integration_id, ai_provider_id, \
         key_sealed, key_masked, model_config, note, usage_limits, rate_limits, expires_at, \
         is_virtual_key, status, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        args![
            &p.id,
            &p.slug,
            &p.name,
            &p.workspace_id,
            &p.integration_id,
            &p.ai_provider_id,
            &p.key_sealed,
            &p.key_masked,
            json(&p.model_config)?,
            &p.note,
            json_opt(&p.usage_limits)?,
            json(&p.rate_limits)?,
            p.expires_at,
            p.is_virtual_key,
            p.status.as_str(),
            p.created_at,
            p.updated_at,
            c.version,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&p, hint))?;
    let d = details::created(details::provider(&p));
    let ws = Some(p.workspace_id.as_str());
    c.audit(actor, "create", ("provider", &p.id), ws, d).await?;
    c.commit(s).await?;
    Ok(p)
}

/// By id or slug within `workspace_id`; without a workspace, by id, else by a slug that only
/// one workspace uses (`Invalid` when several do).
pub(crate) async fn get(
    s: &Store,
    workspace_id: Option<&str>,
    slug_or_id: &str,
) -> RepoResult<Option<Provider>> {
    const OP: &str = "get provider";
    let rows: Vec<ProviderRow> = match workspace_id {
        Some(ws) => s
            .db()
            .fetch_all(
                "SELECT * FROM providers WHERE workspace_id = $1 AND (id = $2 OR slug = $2) \
                 ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1",
                args![ws, slug_or_id],
            )
            .await
            .or_backend(OP)?,
        None => s
            .db()
            .fetch_all(
                "SELECT * FROM providers WHERE id = $1 OR slug = $1 \
                 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 2",
                args![slug_or_id],
            )
            .await
            .or_backend(OP)?,
    };
    let mut rows = rows.into_iter().map(ProviderRow::into_model);
    let Some(first) = rows.next().transpose()? else {
        return Ok(None);
    };
    if first.id != slug_or_id && rows.next().is_some() {
        return Err(RepoError::Invalid(format!(
            "provider slug \"{slug_or_id}\" exists in several workspaces; name the workspace"
        )));
    }
    Ok(Some(first))
}

pub(crate) async fn list(s: &Store, q: &ListQuery, vk_only: bool) -> RepoResult<Page<Provider>> {
    let mut f = Filter::of(s.db(), q);
    if vk_only {
        f.raw("is_virtual_key");
    }
    let p = list::paging(q);
    list::page(
        s.db(),
        "list providers",
        "providers",
        NEWEST_FIRST,
        f,
        p,
        ProviderRow::into_model,
    )
    .await
}

pub(crate) async fn update(s: &Store, p: Provider, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "update provider";
    check(&p)?;
    let mut c = s.begin_change(OP).await?;
    let old: Option<ProviderRow> =
        c.tx.fetch_optional(BY_ID, args![&p.id])
            .await
            .or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("provider {}", p.id)))?
        .into_model()?;
    check_refs(&mut c, &p).await?;
    c.tx.execute(
        "UPDATE providers SET slug = $2, name = $3, workspace_id = $4, integration_id = $5, \
         ai_provider_id = $6, key_sealed = $7, key_masked = $8, model_config = $9, note = $10, \
         usage_limits = $11, rate_limits = $12, expires_at = $13, is_virtual_key = $14, \
         status = $15, updated_at = $16 WHERE id = $1",
        args![
            &p.id,
            &p.slug,
            &p.name,
            &p.workspace_id,
            &p.integration_id,
            &p.ai_provider_id,
            &p.key_sealed,
            &p.key_masked,
            json(&p.model_config)?,
            &p.note,
            json_opt(&p.usage_limits)?,
            json(&p.rate_limits)?,
            p.expires_at,
            p.is_virtual_key,
            p.status.as_str(),
            p.updated_at,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&p, hint))?;
    let (before, after) = (details::provider(&old), details::provider(&p));
    let d = details::updated(&before, &after, &hidden(&old, &p));
    let ws = Some(p.workspace_id.as_str());
    c.audit(actor, "update", ("provider", &p.id), ws, d).await?;
    c.commit(s).await
}

pub(crate) async fn delete(s: &Store, id: &str, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "delete provider";
    let mut c = s.begin_change(OP).await?;
    let old: Option<ProviderRow> = c.tx.fetch_optional(BY_ID, args![id]).await.or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("provider {id}")))?
        .into_model()?;
    c.tx.execute("DELETE FROM providers WHERE id = $1", args![id])
        .await
        .or_backend(OP)?;
    let d = details::deleted(details::provider(&old));
    let ws = Some(old.workspace_id.as_str());
    c.audit(actor, "delete", ("provider", id), ws, d).await?;
    c.commit(s).await
}
