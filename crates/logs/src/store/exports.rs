//! Export jobs in `request_log_exports`: one row per job, its filters as JSON. Every change is
//! a compare-and-set on the status, so two replicas (or a start racing a cancel) cannot both
//! move the same job.

use super::db::{Db, Q};
use crate::error::{LogError, ResultExt};
use crate::export_job::{ExportJob, ExportStatus};
use crate::query::LogFilter;

const COLUMNS: &str = "id, workspace_id, status, filters, filter, requested_data, description, \
    total_records, error, created_by, created_at, updated_at";

/// The most jobs a listing returns, newest first.
pub const MAX_EXPORTS_LISTED: u32 = 1_000;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workspace_id: Option<String>,
    status: String,
    filters: String,
    filter: String,
    requested_data: String,
    description: Option<String>,
    total_records: Option<i64>,
    error: Option<String>,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_job(self) -> Result<ExportJob, LogError> {
        let damaged = || LogError::Backend {
            op: "read export job",
            reason: format!("export job {} is damaged", self.id),
        };
        Ok(ExportJob {
            status: ExportStatus::parse(&self.status).ok_or_else(damaged)?,
            filters: serde_json::from_str(&self.filters).map_err(|_| damaged())?,
            filter: serde_json::from_str::<LogFilter>(&self.filter).map_err(|_| damaged())?,
            requested_data: serde_json::from_str(&self.requested_data).map_err(|_| damaged())?,
            total_records: self.total_records.map(crate::derive::to_u64),
            id: self.id,
            workspace_id: self.workspace_id,
            description: self.description,
            error: self.error,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

fn total(job: &ExportJob) -> Option<i64> {
    job.total_records.map(crate::derive::clamp_u64)
}

pub(crate) async fn create(db: &Db, job: &ExportJob) -> Result<(), LogError> {
    if job.id.is_empty() {
        return Err(LogError::invalid("an export job needs an id"));
    }
    let mut q = Q::new(&format!(
        "INSERT INTO request_log_exports ({COLUMNS}) VALUES ("
    ));
    q.bind(&job.id)
        .push(", ")
        .bind(job.workspace_id.clone())
        .push(", ")
        .bind(job.status.as_str())
        .push(", ")
        .bind(json(&job.filters))
        .push(", ")
        .bind(json(&job.filter))
        .push(", ")
        .bind(json(&job.requested_data))
        .push(", ")
        .bind(job.description.clone())
        .push(", ")
        .bind(super::db::Arg::Int(total(job)))
        .push(", ")
        .bind(job.error.clone())
        .push(", ")
        .bind(job.created_by.clone())
        .push(", ")
        .bind(job.created_at)
        .push(", ")
        .bind(job.updated_at)
        .push(")");
    match db.execute(q).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            Err(LogError::invalid(
                "an export job with this id already exists",
            ))
        }
        Err(e) => Err(LogError::backend("create export job", &e)),
    }
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<ExportJob>, LogError> {
    let mut q = Q::new(&format!(
        "SELECT {COLUMNS} FROM request_log_exports WHERE id = "
    ));
    q.bind(id);
    let row: Option<Row> = db.fetch_optional(q).await.or_backend("read export job")?;
    row.map(Row::into_job).transpose()
}

/// Jobs newest first; `workspaces` limits them to those workspaces (`None`: every job).
pub(crate) async fn list(
    db: &Db,
    workspaces: Option<&[String]>,
) -> Result<Vec<ExportJob>, LogError> {
    let mut q = Q::new(&format!(
        "SELECT {COLUMNS} FROM request_log_exports WHERE 1 = 1"
    ));
    if let Some(ws) = workspaces {
        if ws.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" AND workspace_id IN (");
        for (i, w) in ws.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(w);
        }
        q.push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(i64::from(MAX_EXPORTS_LISTED));
    let rows: Vec<Row> = db.fetch_all(q).await.or_backend("list export jobs")?;
    rows.into_iter().map(Row::into_job).collect()
}

/// Writes `job` over the stored one if the stored one is still in status `expected`; returns
/// whether it was (`false`: it moved on, or does not exist).
pub(crate) async fn replace(
    db: &Db,
    job: &ExportJob,
    expected: ExportStatus,
) -> Result<bool, LogError> {
    let mut q = Q::new("UPDATE request_log_exports SET status = ");
    q.bind(job.status.as_str())
        .push(", filters = ")
        .bind(json(&job.filters))
        .push(", filter = ")
        .bind(json(&job.filter))
        .push(", requested_data = ")
        .bind(json(&job.requested_data))
        .push(", description = ")
        .bind(job.description.clone())
        .push(", total_records = ")
        .bind(super::db::Arg::Int(total(job)))
        .push(", error = ")
        .bind(job.error.clone())
        .push(", updated_at = ")
        .bind(job.updated_at)
        .push(" WHERE id = ")
        .bind(&job.id)
        .push(" AND status = ")
        .bind(expected.as_str());
    let n = db.execute(q).await.or_backend("update export job")?;
    Ok(n > 0)
}
