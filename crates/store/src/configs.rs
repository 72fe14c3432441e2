//! Configs (`pc-…` slugs, unique) and their versions: every new `version_id` stores a new
//! version; all versions are kept while the config exists.

use portcullis_control::model::{Actor, Config, ConfigVersion};
use portcullis_control::repo::{ListQuery, Page, RepoError, RepoResult};

use crate::Store;
use crate::db::args;
use crate::details;
use crate::errors::ResultExt;
use crate::list::{self, Filter, NEWEST_FIRST};
use crate::rows::{self, ConfigRow, ConfigVersionRow, json};

const BY_ID: &str = "SELECT * FROM configs WHERE id = $1";
const BY_SLUG_OR_ID: &str = "SELECT * FROM configs WHERE id = $1 OR slug = $1 \
     ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1";
const INSERT_VERSION: &str = "INSERT INTO config_versions (version_id, config_id, config, \
     created_at, seq) VALUES ($1, $2, $3, $4, $5)";

fn taken(c: &Config, hint: &str) -> String {
    if hint.contains("slug") {
        format!("config slug \"{}\" is already taken", c.slug)
    } else if hint.contains("version") {
        format!("config version \"{}\" already exists", c.version_id)
    } else {
        format!("config id \"{}\" already exists", c.id)
    }
}

fn check(c: &Config) -> RepoResult<()> {
    if c.id.is_empty() || c.slug.is_empty() || c.version_id.is_empty() {
        return Err(RepoError::Invalid(
            "a config needs an id, a slug and a version_id".into(),
        ));
    }
    Ok(())
}

pub(crate) async fn create(s: &Store, cfg: Config, actor: &Actor) -> RepoResult<Config> {
    const OP: &str = "create config";
    check(&cfg)?;
    let body = json(&cfg.config)?;
    let mut c = s.begin_change(OP).await?;
    if let Some(ws) = &cfg.workspace_id {
        c.require_workspace(ws).await?;
    }
    c.tx.execute(
        "INSERT INTO configs (id, slug, name, workspace_id, is_default, status, version_id, \
         config, created_at, updated_at, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        args![
            &cfg.id,
            &cfg.slug,
            &cfg.name,
            &cfg.workspace_id,
            cfg.is_default,
            cfg.status.as_str(),
            &cfg.version_id,
            body.clone(),
            cfg.created_at,
            cfg.updated_at,
            c.version,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&cfg, hint))?;
    c.tx.execute(
        INSERT_VERSION,
        args![&cfg.version_id, &cfg.id, body, cfg.created_at, c.version],
    )
    .await
    .or_conflict(OP, |_| taken(&cfg, "version"))?;
    let d = details::created(details::config(&cfg));
    let ws = cfg.workspace_id.as_deref();
    c.audit(actor, "create", ("config", &cfg.id), ws, d).await?;
    c.commit(s).await?;
    Ok(cfg)
}

pub(crate) async fn get(s: &Store, slug_or_id: &str) -> RepoResult<Option<Config>> {
    let row: Option<ConfigRow> = s
        .db()
        .fetch_optional(BY_SLUG_OR_ID, args![slug_or_id])
        .await
        .or_backend("get config")?;
    row.map(ConfigRow::into_model).transpose()
}

pub(crate) async fn list(s: &Store, q: &ListQuery) -> RepoResult<Page<Config>> {
    let f = Filter::of(s.db(), q);
    let p = list::paging(q);
    list::page(
        s.db(),
        "list configs",
        "configs",
        NEWEST_FIRST,
        f,
        p,
        ConfigRow::into_model,
    )
    .await
}

/// Stores the row. A `version_id` not seen before also stores a new version; a known one
/// (switching back to an older version) must come with that version's body.
pub(crate) async fn update(s: &Store, cfg: Config, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "update config";
    check(&cfg)?;
    let body = json(&cfg.config)?;
    let mut c = s.begin_change(OP).await?;
    let old: Option<ConfigRow> =
        c.tx.fetch_optional(BY_ID, args![&cfg.id])
            .await
            .or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("config {}", cfg.id)))?
        .into_model()?;
    if let Some(ws) = &cfg.workspace_id {
        c.require_workspace(ws).await?;
    }
    let known: Option<ConfigVersionRow> =
        c.tx.fetch_optional(
            "SELECT * FROM config_versions WHERE version_id = $1",
            args![&cfg.version_id],
        )
        .await
        .or_backend(OP)?;
    match known.map(ConfigVersionRow::into_model).transpose()? {
        None => {
            let args = args![
                &cfg.version_id,
                &cfg.id,
                body.clone(),
                cfg.updated_at,
                c.version
            ];
            c.tx.execute(INSERT_VERSION, args)
                .await
                .or_conflict(OP, |_| taken(&cfg, "version"))?;
        }
        Some(v) if v.config_id != cfg.id => {
            return Err(RepoError::Conflict(format!(
                "config version \"{}\" belongs to another config",
                cfg.version_id
            )));
        }
        Some(v) if v.config != cfg.config => {
            return Err(RepoError::Invalid(format!(
                "the config body differs from version {}; a changed config needs a new version_id",
                cfg.version_id
            )));
        }
        Some(_) => {}
    }
    c.tx.execute(
        "UPDATE configs SET slug = $2, name = $3, workspace_id = $4, is_default = $5, \
         status = $6, version_id = $7, config = $8, updated_at = $9 WHERE id = $1",
        args![
            &cfg.id,
            &cfg.slug,
            &cfg.name,
            &cfg.workspace_id,
            cfg.is_default,
            cfg.status.as_str(),
            &cfg.version_id,
            body,
            cfg.updated_at,
        ],
    )
    .await
    .or_conflict(OP, |hint| taken(&cfg, hint))?;
    let hidden = [("config", old.config != cfg.config)];
    let d = details::updated(&details::config(&old), &details::config(&cfg), &hidden);
    let ws = cfg.workspace_id.as_deref();
    c.audit(actor, "update", ("config", &cfg.id), ws, d).await?;
    c.commit(s).await
}

pub(crate) async fn delete(s: &Store, id: &str, actor: &Actor) -> RepoResult<()> {
    const OP: &str = "delete config";
    let mut c = s.begin_change(OP).await?;
    let old: Option<ConfigRow> = c.tx.fetch_optional(BY_ID, args![id]).await.or_backend(OP)?;
    let old = old
        .ok_or_else(|| RepoError::NotFound(format!("config {id}")))?
        .into_model()?;
    let versions =
        c.tx.execute(
            "DELETE FROM config_versions WHERE config_id = $1",
            args![id],
        )
        .await
        .or_backend(OP)?;
    c.tx.execute("DELETE FROM configs WHERE id = $1", args![id])
        .await
        .or_backend(OP)?;
    let mut d = details::deleted(details::config(&old));
    d["versions_removed"] = versions.into();
    let ws = old.workspace_id.as_deref();
    c.audit(actor, "delete", ("config", id), ws, d).await?;
    c.commit(s).await
}

/// The versions of a config (given by id or slug), newest first.
pub(crate) async fn versions(s: &Store, config: &str) -> RepoResult<Vec<ConfigVersion>> {
    const OP: &str = "list config versions";
    let cfg = get(s, config)
        .await?
        .ok_or_else(|| RepoError::NotFound(format!("config {config}")))?;
    let rows: Vec<ConfigVersionRow> = s
        .db()
        .fetch_all(
            "SELECT * FROM config_versions WHERE config_id = $1 ORDER BY created_at DESC, seq DESC",
            args![&cfg.id],
        )
        .await
        .or_backend(OP)?;
    rows::all(rows, ConfigVersionRow::into_model)
}
