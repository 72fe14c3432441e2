//! Where logs live: the [`LogStore`] interface and its SQL implementation on SQLite
//! (`logs.db` in the data directory) or PostgreSQL (the gateway's catalog database).
//!
//! Tables (same names on both backends):
//! - `request_logs`: one row per record, payloads included on PostgreSQL (SQLite keeps them in
//!   segment files beside the database and the row keeps where, see `payloads`) (indexes:
//!   `(created_at, id)`, unique on SQLite, `trace_id` (PostgreSQL: `(trace_id, created_at,
//!   id)`; SQLite: only where the trace id is not the record's own id, see `filter::trace`),
//!   `(workspace_id, created_at, id)`,
//!   `(user_hash, created_at)`, on SQLite only where there is a user; PostgreSQL and SQLite
//!   files from before schema 3 also index `id` alone), with `meta`: the metadata as a JSON
//!   object of strings (PostgreSQL: `JSONB`, GIN-indexed for metadata filters; SQLite scans it
//!   within the time range);
//! - `request_log_dims`: the distinct dimension combinations (see [`crate::dims`]);
//! - `request_log_rollups`: per `(grain, bucket_start, dim_id)` an encoded partial aggregate
//!   (counts, sums, latency histograms) for grains of 5 min, 1 h and 1 day, and for the 5 min
//!   and 1 h grains the records per user (see [`crate::users`]);
//! - `request_log_feedback`: feedback by id, indexed by trace id;
//! - `request_log_exports`: asynchronous export jobs (see [`crate::ExportJob`]);
//! - `portcullis_logs_schema`: the applied schema versions.

mod analytics;
mod db;
mod exports;
mod feedback;
mod feedback_stats;
mod filter;
mod payloads;
mod pg_rows;
mod postgres;
mod records;
mod retention;
mod sqlite;
mod sqlite_bulk;
mod sqlite_insert;
mod write;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

pub use analytics::{DEFAULT_GROUPS, MAX_GROUPS, MAX_SERIES_BUCKETS};
pub use db::Backend;
pub use exports::MAX_EXPORTS_LISTED;
pub use records::{DEFAULT_PAGE, MAX_PAGE};
pub use retention::DEFAULT_BATCH as DEFAULT_RETENTION_BATCH;
pub use sqlite::FILE_NAME;

use crate::dims::DimsCache;
use crate::error::{LogError, ResultExt};
use crate::export_job::{ExportJob, ExportStatus};
use crate::query::{
    Aggregates, Bucket, Feedback, FeedbackBy, FeedbackGroup, FeedbackUpdate, Group, GroupBy,
    LogFilter, Page, PageRequest,
};
use crate::record::LogRecord;
use db::Db;

/// Everything the sink, the logs API and the analytics API need from storage. Object safe, so
/// the gateway holds an `Arc<dyn LogStore>` whatever the backend (and tests can fake one).
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Writes a batch, rollups included, so that rollups always agree with the stored rows
    /// (one transaction). Idempotent by
    /// record id, so a failed batch can simply be retried; returns how many records were new.
    async fn insert_batch(&self, records: &[LogRecord]) -> Result<u64, LogError>;

    /// How many batches the writer may have in [`insert_batch`](Self::insert_batch) at once.
    /// A store whose writes mostly wait on a database server overlaps them (each still one
    /// transaction, in an order of its own making where they would contend); by default,
    /// one at a time.
    fn write_depth(&self) -> usize {
        1
    }

    /// One record with its payloads.
    async fn get(&self, id: &str) -> Result<Option<LogRecord>, LogError>;

    /// Matching records, newest first, without payload bodies. `page.limit` 0 means
    /// [`DEFAULT_PAGE`]; larger than [`MAX_PAGE`] is capped.
    async fn list(
        &self,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError>;

    /// Like [`LogStore::list`] but with payloads: one page of an export (see
    /// [`crate::Export`] to walk them all).
    async fn export_page(
        &self,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError>;

    /// Aggregates over every matching record.
    async fn summary(&self, filter: &LogFilter) -> Result<Aggregates, LogError>;

    /// Aggregates per epoch-aligned bucket of `bucket_ms`. With both `from` and `to` set every
    /// bucket is returned (empty ones too, at most [`MAX_SERIES_BUCKETS`]); otherwise only
    /// buckets with records.
    async fn series(&self, filter: &LogFilter, bucket_ms: i64) -> Result<Vec<Bucket>, LogError>;

    /// Aggregates per group, the `limit` largest by requests (0: [`DEFAULT_GROUPS`]).
    async fn group_by(
        &self,
        filter: &LogFilter,
        by: &GroupBy,
        limit: u32,
    ) -> Result<Vec<Group>, LogError>;

    /// Retention: deletes records (and feedback) created before `cutoff_ms`, and export jobs
    /// last changed before it, `batch_size` rows
    /// per transaction (0: [`DEFAULT_RETENTION_BATCH`]), pausing between batches, until none
    /// is left; returns the number of records deleted.
    async fn delete_older_than(&self, cutoff_ms: i64, batch_size: u32) -> Result<u64, LogError>;

    /// Stores new feedback (`value` -10..=10, `weight` 0..=1; a duplicate id is invalid).
    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), LogError>;

    /// Changes feedback; `None` when there is no feedback with that id.
    async fn update_feedback(
        &self,
        id: &str,
        update: &FeedbackUpdate,
    ) -> Result<Option<Feedback>, LogError>;

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>, LogError>;

    /// All feedback on a trace, oldest first.
    async fn feedback_for_trace(&self, trace_id: &str) -> Result<Vec<Feedback>, LogError>;

    /// Feedback counts and weighted scores grouped `by` (time buckets ascending, scores
    /// ascending, models and metadata values largest first). A store without feedback
    /// analytics refuses.
    async fn feedback_stats(
        &self,
        _filter: &LogFilter,
        _by: &FeedbackBy,
    ) -> Result<Vec<FeedbackGroup>, LogError> {
        Err(unsupported("feedback analytics"))
    }

    /// Stores a new export job (a duplicate id is invalid). A store without export jobs
    /// refuses this and the calls below.
    async fn create_export(&self, _job: &ExportJob) -> Result<(), LogError> {
        Err(unsupported("log export jobs"))
    }

    async fn get_export(&self, _id: &str) -> Result<Option<ExportJob>, LogError> {
        Err(unsupported("log export jobs"))
    }

    /// Export jobs newest first (at most [`MAX_EXPORTS_LISTED`]), of `workspaces` only when
    /// given.
    async fn list_exports(
        &self,
        _workspaces: Option<&[String]>,
    ) -> Result<Vec<ExportJob>, LogError> {
        Err(unsupported("log export jobs"))
    }

    /// Replaces the stored job by `job` if its status is still `expected`; returns whether it
    /// was (compare-and-set: of two replicas moving one job, one wins).
    async fn replace_export(
        &self,
        _job: &ExportJob,
        _expected: ExportStatus,
    ) -> Result<bool, LogError> {
        Err(unsupported("log export jobs"))
    }

    /// Closes the connections (further calls fail).
    async fn close(&self);
}

fn unsupported(what: &str) -> LogError {
    LogError::Invalid(format!("this log store does not keep {what}"))
}

/// The SQL log store, on either backend. Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct SqlLogStore {
    db: Db,
    dims: Arc<DimsCache>,
    /// SQLite: the writer's own connection.
    bulk: Option<Arc<sqlite_bulk::Bulk>>,
    /// SQLite: the directory of the payload segments.
    payloads: Option<Arc<Path>>,
    /// SQLite: the WAL checkpointer, stopped when the last clone goes.
    _checkpointer: Option<Arc<sqlite::Checkpointer>>,
    /// PostgreSQL: held by the batch updating the rollups (see `write::insert_batch`).
    rollup_turn: Arc<tokio::sync::Mutex<()>>,
}

impl SqlLogStore {
    fn from_db(db: Db) -> SqlLogStore {
        let checkpointer = match &db {
            Db::Sqlite(pool) => Some(Arc::new(sqlite::Checkpointer::start(pool.clone()))),
            Db::Postgres(_) => None,
        };
        SqlLogStore {
            db,
            dims: Arc::new(DimsCache::default()),
            bulk: None,
            payloads: None,
            _checkpointer: checkpointer,
            rollup_turn: Arc::default(),
        }
    }

    /// Opens (creating directory, file and schema as needed) a SQLite log database.
    pub async fn open_sqlite(path: &Path) -> Result<SqlLogStore, LogError> {
        let db = sqlite::open(path).await?;
        let at = path.to_owned();
        let bulk = tokio::task::spawn_blocking(move || sqlite_bulk::Bulk::open(&at))
            .await
            .map_err(|_| LogError::Open {
                target: path.display().to_string(),
                reason: "opening the writer's connection panicked".to_owned(),
            })??;
        Ok(SqlLogStore {
            bulk: Some(Arc::new(bulk)),
            payloads: Some(payloads::dir_of(path).into()),
            ..SqlLogStore::from_db(db)
        })
    }

    /// Opens `<data_dir>/logs.db`: the logs sit beside the catalog but in their own file, so
    /// log traffic never contends with catalog writes.
    pub async fn open_sqlite_in(data_dir: &Path) -> Result<SqlLogStore, LogError> {
        SqlLogStore::open_sqlite(&data_dir.join(FILE_NAME)).await
    }

    /// Opens the log tables in a PostgreSQL database (creating them as needed), with a pool
    /// of its own.
    pub async fn open_postgres(url: &str) -> Result<SqlLogStore, LogError> {
        postgres::open(url).await.map(SqlLogStore::from_db)
    }

    /// Where the gateway's catalog is PostgreSQL (`postgres://`, `postgresql://`) the logs go
    /// there too; otherwise to `logs.db` in `data_dir`.
    pub async fn open(database_url: &str, data_dir: &Path) -> Result<SqlLogStore, LogError> {
        let scheme = database_url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            "postgres" | "postgresql" => SqlLogStore::open_postgres(database_url).await,
            _ => SqlLogStore::open_sqlite_in(data_dir).await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait]
impl LogStore for SqlLogStore {
    async fn insert_batch(&self, records: &[LogRecord]) -> Result<u64, LogError> {
        write::insert_batch(
            &self.db,
            self.bulk.as_deref(),
            &self.dims,
            &self.rollup_turn,
            records,
        )
        .await
    }

    /// PostgreSQL: two, the rows of one batch streaming in while the batch before updates the
    /// rollups and commits (see `write::insert_batch`). SQLite: one (a single writer).
    fn write_depth(&self) -> usize {
        match self.db {
            Db::Postgres(_) => 2,
            Db::Sqlite(_) => 1,
        }
    }

    async fn get(&self, id: &str) -> Result<Option<LogRecord>, LogError> {
        records::get(&self.db, self.payloads.as_deref(), id).await
    }

    async fn list(
        &self,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError> {
        records::page(&self.db, self.payloads.as_deref(), filter, page, false).await
    }

    async fn export_page(
        &self,
        filter: &LogFilter,
        page: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError> {
        records::page(&self.db, self.payloads.as_deref(), filter, page, true).await
    }

    async fn summary(&self, filter: &LogFilter) -> Result<Aggregates, LogError> {
        let mut tx = self.db.snapshot().await.or_backend("begin analytics")?;
        analytics::summary(&mut tx, &self.dims, filter).await
    }

    async fn series(&self, filter: &LogFilter, bucket_ms: i64) -> Result<Vec<Bucket>, LogError> {
        analytics::check_series(filter, bucket_ms)?;
        let mut tx = self.db.snapshot().await.or_backend("begin analytics")?;
        analytics::series(&mut tx, &self.dims, filter, bucket_ms).await
    }

    async fn group_by(
        &self,
        filter: &LogFilter,
        by: &GroupBy,
        limit: u32,
    ) -> Result<Vec<Group>, LogError> {
        let mut tx = self.db.snapshot().await.or_backend("begin analytics")?;
        analytics::group_by(&mut tx, &self.dims, filter, by, limit).await
    }

    async fn delete_older_than(&self, cutoff_ms: i64, batch_size: u32) -> Result<u64, LogError> {
        let n = retention::delete_older_than(&self.db, cutoff_ms, batch_size).await?;
        // The rows are gone: their segments can go.
        if let Some(dir) = self.payloads.clone() {
            tokio::task::spawn_blocking(move || payloads::delete_before(&dir, cutoff_ms))
                .await
                .unwrap_or_else(|_| Err(std::io::Error::other("the deleting thread panicked")))
                .map_err(|e| LogError::Backend {
                    op: "delete old log payloads",
                    reason: e.to_string(),
                })?;
        }
        Ok(n)
    }

    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), LogError> {
        feedback::add(&self.db, feedback).await
    }

    async fn update_feedback(
        &self,
        id: &str,
        update: &FeedbackUpdate,
    ) -> Result<Option<Feedback>, LogError> {
        feedback::update(&self.db, id, update, now_ms()).await
    }

    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>, LogError> {
        feedback::get(&self.db, id).await
    }

    async fn feedback_for_trace(&self, trace_id: &str) -> Result<Vec<Feedback>, LogError> {
        feedback::for_trace(&self.db, trace_id).await
    }

    async fn feedback_stats(
        &self,
        filter: &LogFilter,
        by: &FeedbackBy,
    ) -> Result<Vec<FeedbackGroup>, LogError> {
        feedback_stats::stats(&self.db, filter, by).await
    }

    async fn create_export(&self, job: &ExportJob) -> Result<(), LogError> {
        exports::create(&self.db, job).await
    }

    async fn get_export(&self, id: &str) -> Result<Option<ExportJob>, LogError> {
        exports::get(&self.db, id).await
    }

    async fn list_exports(
        &self,
        workspaces: Option<&[String]>,
    ) -> Result<Vec<ExportJob>, LogError> {
        exports::list(&self.db, workspaces).await
    }

    async fn replace_export(
        &self,
        job: &ExportJob,
        expected: ExportStatus,
    ) -> Result<bool, LogError> {
        exports::replace(&self.db, job, expected).await
    }

    async fn close(&self) {
        if let Some(b) = &self.bulk {
            b.close().await;
        }
        self.db.close().await;
    }
}
