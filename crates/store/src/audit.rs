//! The audit log: one event per change (written inside the change's transaction) plus events
//! recorded directly (budget alerts…); listed newest first with filters. Events are kept when
//! what they describe is deleted.

use portcullis_control::model::AuditEvent;
use portcullis_control::repo::{AuditQuery, Page, RepoResult};

use crate::Store;
use crate::db::{Tx, args};
use crate::errors::ResultExt;
use crate::list::{self, Filter};
use crate::rows::{AuditRow, json};

pub(crate) async fn insert(tx: &mut Tx, e: &AuditEvent, op: &str) -> RepoResult<()> {
    tx.execute(
        "INSERT INTO audit_events (id, at, actor_id, actor_name, action, resource_type, \
         resource_id, workspace_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            &e.id,
            e.at,
            &e.actor_id,
            &e.actor_name,
            &e.action,
            &e.resource_type,
            &e.resource_id,
            &e.workspace_id,
            json(&e.details)?,
        ],
    )
    .await
    .or_conflict(op, |_| format!("audit event \"{}\" already exists", e.id))?;
    Ok(())
}

/// Records an event that is not part of a catalog change (no version bump, no notification).
pub(crate) async fn record(s: &Store, e: AuditEvent) -> RepoResult<()> {
    const OP: &str = "record audit event";
    let mut tx = s.db().write().await.or_backend(OP)?;
    insert(&mut tx, &e, OP).await?;
    tx.commit().await.or_backend(OP)
}

/// Rows one prune statement deletes: short transactions, no long lock on the log.
const PRUNE_BATCH: i64 = 1_000;

/// Deletes the events older than `before` (unix ms), in batches along the `at` index.
pub(crate) async fn prune(s: &Store, before: i64) -> RepoResult<u64> {
    const OP: &str = "prune audit events";
    let mut total = 0;
    loop {
        let mut tx = s.db().write().await.or_backend(OP)?;
        let n = tx
            .execute(
                "DELETE FROM audit_events WHERE seq IN (SELECT seq FROM audit_events \
                 WHERE at < $1 ORDER BY at, seq LIMIT $2)",
                args![before, PRUNE_BATCH],
            )
            .await
            .or_backend(OP)?;
        tx.commit().await.or_backend(OP)?;
        total += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(total);
        }
    }
}

pub(crate) async fn list(s: &Store, q: &AuditQuery) -> RepoResult<Page<AuditEvent>> {
    let mut f = Filter::default();
    if let Some(t) = &q.resource_type {
        f.eq("resource_type", t.as_str());
    }
    if let Some(id) = &q.resource_id {
        f.eq("resource_id", id.as_str());
    }
    if let Some(ws) = &q.workspace_id {
        f.eq("workspace_id", ws.as_str());
    }
    if let Some(since) = q.since {
        f.with(since, |p| format!("at >= {p}"));
    }
    let p = (q.page_size, q.current_page);
    let order = "at DESC, seq DESC";
    list::page(
        s.db(),
        "list audit events",
        "audit_events",
        order,
        f,
        p,
        AuditRow::into_model,
    )
    .await
}
