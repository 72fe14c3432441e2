//! The snapshot's source: every row of every catalog table and the version, read in one
//! consistent transaction (REPEATABLE READ on PostgreSQL).

use portcullis_control::model::CatalogData;
use portcullis_control::repo::RepoResult;

use crate::Store;
use crate::db::{Db, args};
use crate::errors::ResultExt;
use crate::rows::{
    self, ApiKeyRow, ConfigRow, GrantRow, IntegrationRow, ProviderRow, WorkspaceRow,
};

const VERSION: &str = "SELECT version FROM catalog_version WHERE id = 1";

pub(crate) async fn read_version(db: &Db) -> RepoResult<i64> {
    db.scalar(VERSION, args![])
        .await
        .or_backend("read catalog version")
}

/// All rows, whatever their status (an exhausted or expired key must still be recognised to
/// be refused with the right error); oldest first.
pub(crate) async fn load(s: &Store) -> RepoResult<CatalogData> {
    const OP: &str = "load catalog";
    let mut tx = s.db().snapshot().await.or_backend(OP)?;
    let version = tx.scalar(VERSION, args![]).await.or_backend(OP)?;
    let workspaces: Vec<WorkspaceRow> = tx
        .fetch_all("SELECT * FROM workspaces ORDER BY created_at, seq", args![])
        .await
        .or_backend(OP)?;
    let api_keys: Vec<ApiKeyRow> = tx
        .fetch_all("SELECT * FROM api_keys ORDER BY created_at, seq", args![])
        .await
        .or_backend(OP)?;
    let integrations: Vec<IntegrationRow> = tx
        .fetch_all(
            "SELECT * FROM integrations ORDER BY created_at, seq",
            args![],
        )
        .await
        .or_backend(OP)?;
    let grants: Vec<GrantRow> = tx
        .fetch_all(
            "SELECT * FROM integration_grants ORDER BY integration_id, workspace_id",
            args![],
        )
        .await
        .or_backend(OP)?;
    let providers: Vec<ProviderRow> = tx
        .fetch_all("SELECT * FROM providers ORDER BY created_at, seq", args![])
        .await
        .or_backend(OP)?;
    let configs: Vec<ConfigRow> = tx
        .fetch_all("SELECT * FROM configs ORDER BY created_at, seq", args![])
        .await
        .or_backend(OP)?;
    let usage_resets = crate::usage_resets::load(&mut tx, OP).await?;
    tx.commit().await.or_backend(OP)?;
    Ok(CatalogData {
        version,
        workspaces: rows::all(workspaces, WorkspaceRow::into_model)?,
        api_keys: rows::all(api_keys, ApiKeyRow::into_model)?,
        integrations: rows::all(integrations, IntegrationRow::into_model)?,
        grants: rows::all(grants, GrantRow::into_model)?,
        providers: rows::all(providers, ProviderRow::into_model)?,
        configs: rows::all(configs, ConfigRow::into_model)?,
        usage_resets,
    })
}
