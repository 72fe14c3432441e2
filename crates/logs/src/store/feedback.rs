//! Feedback on traces: Portkey's `value` (-10..=10) and `weight` (0..=1), with metadata.

use serde_json::{Map, Value};

use super::db::{Db, Q};
use crate::error::{LogError, ResultExt};
use crate::query::{Feedback, FeedbackUpdate};

const COLUMNS: &str = "id, trace_id, value, weight, metadata, workspace_id, created_at, updated_at";
/// Written, never read back: see `filter::trace`.
const TRACE_AT: &str = "trace_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    trace_id: String,
    value: i64,
    weight: f64,
    metadata: String,
    workspace_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_feedback(self) -> Feedback {
        Feedback {
            id: self.id,
            trace_id: self.trace_id,
            value: self.value,
            weight: self.weight,
            metadata: serde_json::from_str::<Map<String, Value>>(&self.metadata)
                .unwrap_or_default(),
            workspace_id: self.workspace_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn check_value(v: i64) -> Result<(), LogError> {
    if (-10..=10).contains(&v) {
        Ok(())
    } else {
        Err(LogError::invalid(
            "feedback value must be an integer from -10 to 10",
        ))
    }
}

fn check_weight(w: f64) -> Result<(), LogError> {
    if w.is_finite() && (0.0..=1.0).contains(&w) {
        Ok(())
    } else {
        Err(LogError::invalid("feedback weight must be between 0 and 1"))
    }
}

pub(crate) async fn add(db: &Db, fb: &Feedback) -> Result<(), LogError> {
    if fb.id.is_empty() || fb.trace_id.is_empty() {
        return Err(LogError::invalid("feedback needs an id and a trace id"));
    }
    check_value(fb.value)?;
    check_weight(fb.weight)?;
    let mut q = Q::new(&format!(
        "INSERT INTO request_log_feedback ({COLUMNS}, {TRACE_AT}) VALUES ("
    ));
    q.bind(&fb.id)
        .push(", ")
        .bind(&fb.trace_id)
        .push(", ")
        .bind(fb.value)
        .push(", ")
        .bind(fb.weight)
        .push(", ")
        .bind(Value::Object(fb.metadata.clone()).to_string())
        .push(", ")
        .bind(fb.workspace_id.clone())
        .push(", ")
        .bind(fb.created_at)
        .push(", ")
        .bind(fb.updated_at)
        .push(", ")
        .bind(crate::record::id_time(&fb.trace_id))
        .push(")");
    match db.execute(q).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            Err(LogError::invalid("feedback with this id already exists"))
        }
        Err(e) => Err(LogError::backend("add feedback", &e)),
    }
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<Feedback>, LogError> {
    let mut q = Q::new(&format!(
        "SELECT {COLUMNS} FROM request_log_feedback WHERE id = "
    ));
    q.bind(id);
    let row: Option<Row> = db.fetch_optional(q).await.or_backend("get feedback")?;
    Ok(row.map(Row::into_feedback))
}

pub(crate) async fn update(
    db: &Db,
    id: &str,
    u: &FeedbackUpdate,
    now_ms: i64,
) -> Result<Option<Feedback>, LogError> {
    if let Some(v) = u.value {
        check_value(v)?;
    }
    if let Some(w) = u.weight {
        check_weight(w)?;
    }
    let mut q = Q::new("UPDATE request_log_feedback SET updated_at = ");
    q.bind(now_ms);
    if let Some(v) = u.value {
        q.push(", value = ").bind(v);
    }
    if let Some(w) = u.weight {
        q.push(", weight = ").bind(w);
    }
    if let Some(m) = &u.metadata {
        q.push(", metadata = ")
            .bind(Value::Object(m.clone()).to_string());
    }
    q.push(" WHERE id = ").bind(id);
    let n = db.execute(q).await.or_backend("update feedback")?;
    if n == 0 {
        return Ok(None);
    }
    get(db, id).await
}

pub(crate) async fn for_trace(db: &Db, trace_id: &str) -> Result<Vec<Feedback>, LogError> {
    let mut q = Q::new(&format!(
        "SELECT {COLUMNS} FROM request_log_feedback WHERE trace_id = "
    ));
    q.bind(trace_id).push(" ORDER BY created_at, id");
    let rows: Vec<Row> = db.fetch_all(q).await.or_backend("list feedback")?;
    Ok(rows.into_iter().map(Row::into_feedback).collect())
}
