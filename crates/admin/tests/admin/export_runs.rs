//! Export jobs and gateway shutdown: the jobs a gateway is running are recorded failed when it
//! stops (not left `in_progress` for the staleness rule), and a failed job starts again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use portcullis_logs::{
    Aggregates, Bucket, ExportJob, ExportStatus, Feedback, FeedbackUpdate, Group, GroupBy,
    LogError, LogFilter, LogRecord, LogStore, Page, PageRequest, SqlLogStore,
};
use serde_json::json;

use crate::logs::{T0, seed_records, seeded};
use crate::support::{H, W1};

/// The SQLite store, except that counting hangs while `hold` is set (a slow export).
struct HeldCounts {
    inner: SqlLogStore,
    hold: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl LogStore for HeldCounts {
    async fn insert_batch(&self, records: &[LogRecord]) -> Result<u64, LogError> {
        self.inner.insert_batch(records).await
    }
    async fn get(&self, id: &str) -> Result<Option<LogRecord>, LogError> {
        self.inner.get(id).await
    }
    async fn list(&self, f: &LogFilter, p: &PageRequest) -> Result<Page<LogRecord>, LogError> {
        self.inner.list(f, p).await
    }
    async fn export_page(
        &self,
        f: &LogFilter,
        p: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError> {
        self.inner.export_page(f, p).await
    }
    async fn summary(&self, f: &LogFilter) -> Result<Aggregates, LogError> {
        if self.hold.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.summary(f).await
    }
    async fn series(&self, f: &LogFilter, bucket_ms: i64) -> Result<Vec<Bucket>, LogError> {
        self.inner.series(f, bucket_ms).await
    }
    async fn group_by(
        &self,
        f: &LogFilter,
        by: &GroupBy,
        limit: u32,
    ) -> Result<Vec<Group>, LogError> {
        self.inner.group_by(f, by, limit).await
    }
    async fn delete_older_than(&self, cutoff_ms: i64, batch: u32) -> Result<u64, LogError> {
        self.inner.delete_older_than(cutoff_ms, batch).await
    }
    async fn add_feedback(&self, fb: &Feedback) -> Result<(), LogError> {
        self.inner.add_feedback(fb).await
    }
    async fn update_feedback(
        &self,
        id: &str,
        u: &FeedbackUpdate,
    ) -> Result<Option<Feedback>, LogError> {
        self.inner.update_feedback(id, u).await
    }
    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>, LogError> {
        self.inner.get_feedback(id).await
    }
    async fn feedback_for_trace(&self, trace_id: &str) -> Result<Vec<Feedback>, LogError> {
        self.inner.feedback_for_trace(trace_id).await
    }
    async fn create_export(&self, job: &ExportJob) -> Result<(), LogError> {
        self.inner.create_export(job).await
    }
    async fn get_export(&self, id: &str) -> Result<Option<ExportJob>, LogError> {
        self.inner.get_export(id).await
    }
    async fn list_exports(&self, ws: Option<&[String]>) -> Result<Vec<ExportJob>, LogError> {
        self.inner.list_exports(ws).await
    }
    async fn replace_export(
        &self,
        job: &ExportJob,
        expected: ExportStatus,
    ) -> Result<bool, LogError> {
        self.inner.replace_export(job, expected).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

fn filters() -> serde_json::Value {
    json!({"filters": {
        "time_of_generation_min": portcullis_admin::time::iso(T0),
        "time_of_generation_max": "2100-01-01T00:00:00Z",
    }})
}

async fn draft(h: &H) -> String {
    let v = h.ok_post("/v1/logs/exports", W1, filters()).await;
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn shutdown_records_the_exports_running_here_failed() {
    let hold = Arc::new(AtomicBool::new(false));
    let h = {
        let hold = hold.clone();
        H::with_log_store(move |inner| Arc::new(HeldCounts { inner, hold })).await
    };
    h.logs.insert_batch(&seed_records(&h)).await.unwrap();
    let id = draft(&h).await;
    let path = format!("/v1/logs/exports/{id}");
    hold.store(true, Ordering::SeqCst);
    // The count outlasts the start's wait: the job is left running in the background.
    let v = h.ok_post(&format!("{path}/start"), W1, json!({})).await;
    assert_eq!(v["status"], "in_progress", "{v}");
    assert_eq!(h.exports.running(), 1);

    assert_eq!(h.exports.stop_all().await, 1);
    assert_eq!(h.exports.running(), 0);
    let job = h.ok_get(&path, W1).await;
    assert_eq!(job["status"], "failed", "{job}");
    let why = job["error"].as_str().unwrap();
    assert!(
        why.contains("gateway stopped during the export") && why.contains("start it again"),
        "{why}"
    );
    assert!(
        why.contains(&format!("/v1/logs/exports/{id}/start")),
        "{why}"
    );

    // Started after the gateway began stopping: failed at once, never left running (even
    // though counting would now finish).
    hold.store(false, Ordering::SeqCst);
    let late = draft(&h).await;
    let v = h
        .ok_post(&format!("/v1/logs/exports/{late}/start"), W1, json!({}))
        .await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(h.exports.running(), 0);
    // Nothing left to stop.
    assert_eq!(h.exports.stop_all().await, 0);
}

#[tokio::test]
async fn a_finished_run_is_forgotten_and_not_failed_at_shutdown() {
    let h = seeded().await;
    let id = draft(&h).await;
    let v = h
        .ok_post(&format!("/v1/logs/exports/{id}/start"), W1, json!({}))
        .await;
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(h.exports.running(), 0);
    assert_eq!(h.exports.stop_all().await, 0);
    let job = h.ok_get(&format!("/v1/logs/exports/{id}"), W1).await;
    assert_eq!(job["status"], "success", "{job}");
}

#[tokio::test]
async fn a_failed_export_starts_again_and_exports_the_same_records() {
    let h = seeded().await;
    let id = draft(&h).await;
    // As a gateway that stopped mid-way leaves it: frozen at its first start, then failed.
    let job = h.logs.get_export(&id).await.unwrap().unwrap();
    let first_start = portcullis_admin::time::now() - 60_000;
    let failed = ExportJob {
        status: ExportStatus::Failed,
        error: Some("the gateway stopped during the export".into()),
        filter: LogFilter {
            to: Some(first_start),
            ..job.filter.clone()
        },
        ..job
    };
    assert!(
        h.logs
            .replace_export(&failed, ExportStatus::Draft)
            .await
            .unwrap()
    );
    let v = h
        .ok_post(&format!("/v1/logs/exports/{id}/start"), W1, json!({}))
        .await;
    assert_eq!(v["status"], "success", "{v}");
    let got = h.ok_get(&format!("/v1/logs/exports/{id}"), W1).await;
    assert_eq!(got["status"], "success", "{got}");
    assert_eq!(got["total_records"], 6, "workspace 1's records: {got}");
    assert!(
        got.get("error").is_none(),
        "the old error is cleared: {got}"
    );
    let stored = h.logs.get_export(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.filter.to,
        Some(first_start),
        "the first bound is kept"
    );
}
