//! Gateway API keys: addressed by id; the key hash is unique; workspace keys need a workspace
//! and organisation keys have none.

use portcullis_control::model::{Actor, ApiKey};
use portcullis_control::repo::{ListQuery, Page, RepoError, RepoResult};

use crate::Store;
use crate::db::args;
use crate::details;
use crate::errors::ResultExt;
use crate::list::{self, Filter, NEWEST_FIRST};
use crate::rows::{ApiKeyRow, json, json_opt};

const BY_ID: &str = "SELECT * FROM api_keys WHERE id = $1";

fn taken(k: &ApiKey, hint: &str) -> String {
    if hint.contains("key_hash") {
        "this API key is already registered".to_owned()
    } else {
        format!("API key id \"{}\" already exists", k.id)
    }
}

fn check(k: &ApiKey) -> RepoResult<()> {
    if k.id.is_empty() || k.key_hash.is_empty() {
        return Err(RepoError::Invalid(
            "an API key needs an id and a key hash".into(),
        ));
    }
    match (k.key_type.is_organisation(), &k.workspace_id) {
        (true, Some(_)) => Err(RepoError::Invalid(
            "an organisation API key belongs to no workspace".into(),
        )),
        (false, None) => Err(RepoError::Invalid(format!(
            "a {} API key needs a workspace_id",
            k.key_type.as_str()
        ))),
        _ => Ok(()),
    }
}

pub(crate) async fn create(s: &Store, k: ApiKey, actor: &Actor) -> RepoResult<ApiKey> {
    const OP: &str = "create API key";
    check(&k)?;
    let mut c = s.begin_change(OP).await?;
    if let Some(ws) = &k.workspace_id {
        c.require_workspace(ws).await?;
    }
    c.tx.execute(
        "INSERT INTO api_keys (id, name, description, key_type, workspace_id, user_id, scopes, \
         defaults, usage_limits, rate_limits, alert_emails, expires_at, key_hash, key_visible, \
         status, creation_mode, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19)",
        args![
            &k.id,
            &k.name,
            &k.description,
            k.key_type.as_str(),
            &k.workspace_id,
            &k.user_id,
            json(&k.scopes)?,
            json(&k.defaults)?,
            json_opt(&k.usage_limits)?,
            json(&k.rate_limits)?,
            json(&k.alert_emails)?,
            k.expires_at,
            &k.key_hash,
            &k.key_visible,
            k.status.as_str(),
            &k.creation_mode,
            k.created_at,
            k.updated_at,
            c.version,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&k, hint))?;
    let d = details::created(details::api_key(&k));
    let ws = k.workspace_id.as_deref();
    c.audit(actor, "create", ("api_key", &k.id), ws, d).await?;
    c.commit(s).await?;
    Ok(k)
}

pub(crate) async fn get(s: &Store, id: &str) -> RepoResult<Option<ApiKey>> {
    let row: Option<ApiKeyRow> = s
        .db()
        .fetch_optional(BY_ID, args![id])
        .await
        .or_backend("get API key")?;
    row.map(ApiKeyRow::into_model).transpose()
}

pub(crate) async fn list(s: &Store, q: &ListQuery) -> RepoResult<Page<ApiKey>> {
    let f = Filter::of(s.db(), q);
    let p = list::paging(q);
    list::page(
        s.db(),
        "list API keys",
        "api_keys",
        NEWEST_FIRST,
        f,
        p,
        ApiKeyRow::into_model,
    )
    .await
}

pub(crate) async fn update(s: &Store, k: ApiKey, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "update API key";
    check(&k)?;
    let mut c = s.begin_change(OP).await?;
    let old: Option<ApiKeyRow> =
        c.tx.fetch_optional(BY_ID, args![&k.id])
            .await
            .or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("API key {}", k.id)))?
        .into_model()?;
    if let Some(ws) = &k.workspace_id {
        c.require_workspace(ws).await?;
    }
    c.tx.execute(
        "UPDATE api_keys SET name = $2, description = $3, key_type = $4, workspace_id = $5, \
         user_id = $6, scopes = $7, defaults = $8, usage_limits = $9, rate_limits = $10, \
         alert_emails = $11, expires_at = $12, key_hash = $13, key_visible = $14, status = $15, \
         creation_mode = $16, updated_at = $17 WHERE id = $1",
        args![
            &k.id,
            &k.name,
            &k.description,
            k.key_type.as_str(),
            &k.workspace_id,
            &k.user_id,
            json(&k.scopes)?,
            json(&k.defaults)?,
            json_opt(&k.usage_limits)?,
            json(&k.rate_limits)?,
            json(&k.alert_emails)?,
            k.expires_at,
            &k.key_hash,
            &k.key_visible,
            k.status.as_str(),
            &k.creation_mode,
            k.updated_at,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&k, hint))?;
    let hidden = [("key", old.key_hash != k.key_hash)];
    let d = details::updated(&details::api_key(&old), &details::api_key(&k), &hidden);
    let ws = k.workspace_id.as_deref();
    c.audit(actor, "update", ("api_key", &k.id), ws, d).await?;
    c.commit(s).await
}

pub(crate) async fn delete(s: &Store, id: &str, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "delete API key";
    let mut c = s.begin_change(OP).await?;
    let old: Option<ApiKeyRow> = c.tx.fetch_optional(BY_ID, args![id]).await.or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("API key {id}")))?
        .into_model()?;
    c.tx.execute("DELETE FROM api_keys WHERE id = $1", args![id])
        .await
        .or_backend(OP)?;
    let d = details::deleted(details::api_key(&old));
    let ws = old.workspace_id.as_deref();
    c.audit(actor, "delete", ("api_key", id), ws, d).await?;
    c.commit(s).await
}
