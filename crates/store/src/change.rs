//! One catalog change: a write transaction that first takes the next catalog version (which
//! also serialises concurrent changes), then writes rows and an audit event, and commits and
//! notifies together.

use portcullis_control::model::{Actor, AuditEvent};
use portcullis_control::repo::{RepoError, RepoResult};
use serde_json::Value;

use crate::db::{Arg, Backend, Tx, args};
use crate::errors::ResultExt;
use crate::{Store, audit, now_ms};

/// An open change. Dropping it without [`Change::commit`] rolls everything back.
pub(crate) struct Change {
    pub(crate) tx: Tx,
    /// The catalog version this change will publish; also the `seq` of the rows it creates.
    pub(crate) version: i64,
    op: &'static str,
}

impl Store {
    pub(crate) async fn begin_change(&self, op: &'static str) -> RepoResult<Change> {
        let mut tx = self.db().write().await.or_backend(op)?;
        let version = tx
            .scalar(
                "UPDATE catalog_version SET version = version + 1 WHERE id = 1 RETURNING version",
                args![],
            )
            .await
            .or_backend(op)?;
        Ok(Change { tx, version, op })
    }
}

impl Change {
    /// Writes the audit event of this change.
    pub(crate) async fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        resource: (&str, &str),
        workspace_id: Option<&str>,
        details: Value,
    ) -> RepoResult<()> {
        let e = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: now_ms(),
            actor_id: actor.id.clone(),
            actor_name: actor.name.clone(),
            action: action.to_owned(),
            resource_type: resource.0.to_owned(),
            resource_id: resource.1.to_owned(),
            workspace_id: workspace_id.map(str::to_owned),
            details,
        };
        audit::insert(&mut self.tx, &e, self.op).await
    }

    /// Whether a row with this id exists in `table` (one of the catalog tables).
    pub(crate) async fn exists(&mut self, table: &'static str, id: &str) -> RepoResult<bool> {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
        let n = self.tx.scalar(sql, args![id]).await.or_backend(self.op)?;
        Ok(n > 0)
    }

    /// `NotFound("workspace <id>")` unless that workspace exists.
    pub(crate) async fn require_workspace(&mut self, id: &str) -> RepoResult<()> {
        if self.exists("workspaces", id).await? {
            Ok(())
        } else {
            Err(RepoError::NotFound(format!("workspace {id}")))
        }
    }

    /// Commits, then tells this process's subscribers. On PostgreSQL the `NOTIFY` is sent in
    /// the transaction, so other processes hear of the change exactly when it is committed.
    pub(crate) async fn commit(mut self, store: &Store) -> RepoResult<()> {
        if self.tx.backend() == Backend::Postgres {
            self.tx
                .execute(
                    "SELECT pg_notify($1, $2)",
                    vec![
                        Arg::from(crate::CHANNEL),
                        Arg::from(self.version.to_string()),
                    ],
                )
                .await
                .or_backend(self.op)?;
        }
        self.tx.commit().await.or_backend(self.op)?;
        store.notifier().advance(self.version);
        Ok(())
    }
}
