//! Budget usage resets (Portkey's `reset_usage`): one row per budget, its last reset's time.
//! A reset is a catalog change (new version, audit event), so replicas learn of it as of any
//! other admin change and their limiters start the budget over.

use portcullis_control::model::{Actor, UsageReset};
use portcullis_control::repo::{RepoError, RepoResult};
use serde_json::json;

use crate::db::{Tx, args};
use crate::errors::ResultExt;
use crate::{Store, now_ms};

#[derive(sqlx::FromRow)]
struct Row {
    scope_kind: String,
    scope_id: String,
    reset_at: i64,
}

pub(crate) async fn reset(
    s: &Store,
    scope_kind: &str,
    scope_id: &str,
    workspace_id: Option<&str>,
    actor: &Actor,
) -> RepoResult<i64> {
    const OP: &str = "reset budget usage";
    if scope_kind.is_empty() || scope_id.is_empty() {
        return Err(RepoError::Invalid(
            "a usage reset names its budget's scope".into(),
        ));
    }
    let mut c = s.begin_change(OP).await?;
    // Strictly later than the last reset of this budget, even within one millisecond or with
    // a clock that went back: each reset starts a period of its own.
    let at =
        c.tx.scalar(
            "INSERT INTO usage_resets (scope_kind, scope_id, reset_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope_kind, scope_id) DO UPDATE SET reset_at = CASE \
             WHEN excluded.reset_at > usage_resets.reset_at THEN excluded.reset_at \
             ELSE usage_resets.reset_at + 1 END \
             RETURNING reset_at",
            args![scope_kind, scope_id, now_ms()],
        )
        .await
        .or_backend(OP)?;
    c.audit(
        actor,
        "reset_usage",
        (scope_kind, scope_id),
        workspace_id,
        json!({ "reset_at": at }),
    )
    .await?;
    c.commit(s).await?;
    Ok(at)
}

/// Every reset, for the catalog snapshot.
pub(crate) async fn load(tx: &mut Tx, op: &'static str) -> RepoResult<Vec<UsageReset>> {
    let rows: Vec<Row> = tx
        .fetch_all(
            "SELECT scope_kind, scope_id, reset_at FROM usage_resets \
             ORDER BY scope_kind, scope_id",
            args![],
        )
        .await
        .or_backend(op)?;
    Ok(rows
        .into_iter()
        .map(|r| UsageReset {
            scope_kind: r.scope_kind,
            scope_id: r.scope_id,
            reset_at: r.reset_at,
        })
        .collect())
}
