//! SQLite: `logs.db` beside the gateway's catalog (WAL, `synchronous=NORMAL`), its schema, the
//! read pool, and rollup changes made by retention (the write lock makes their read-modify-write
//! safe). New records are written by [`super::sqlite_bulk`].

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Sqlite, Transaction};

use super::db::Db;
use super::write::{RollupDeltas, Sign, Stored, by_bucket, merge};
use crate::error::{LogError, describe};

/// The file [`super::SqlLogStore::open_sqlite_in`] opens in the data directory.
pub const FILE_NAME: &str = "logs.db";

const POOL: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`Checkpointer`] copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// SQLite allows 32,766 bound parameters per statement; stay well under it.
const MAX_PARAMS: usize = 16_000;

/// Schema steps, applied in order once each (and idempotent anyway).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE IF NOT EXISTS request_logs (
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    w3c_trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    workspace_id TEXT,
    api_key_id TEXT,
    provider_id TEXT,
    integration_id TEXT,
    provider TEXT,
    requested_model TEXT,
    model TEXT,
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT,
    error_code TEXT,
    error_type TEXT,
    error_message TEXT,
    total_us INTEGER NOT NULL,
    upstream_us INTEGER,
    ttft_us INTEGER,
    overhead_us INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_nanos INTEGER,
    cache_status TEXT NOT NULL,
    retry_count INTEGER NOT NULL,
    fallback_path TEXT NOT NULL,
    guardrails TEXT,
    metadata TEXT NOT NULL,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    user_id TEXT,
    user_hash INTEGER,
    dim_id INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    lat_b INTEGER NOT NULL,
    ttft_b INTEGER,
    ovh_b INTEGER NOT NULL,
    request_body TEXT,
    response_body TEXT,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_logs_created ON request_logs (created_at, id);
CREATE INDEX IF NOT EXISTS request_logs_trace ON request_logs (trace_id);
CREATE INDEX IF NOT EXISTS request_logs_workspace ON request_logs (workspace_id, created_at, id);
CREATE INDEX IF NOT EXISTS request_logs_user ON request_logs (user_hash, created_at);
CREATE TABLE IF NOT EXISTS request_log_dims (
    dim_id INTEGER PRIMARY KEY,
    workspace_id TEXT,
    api_key_id TEXT,
    provider_id TEXT,
    provider TEXT,
    model TEXT,
    status INTEGER NOT NULL,
    outcome TEXT,
    endpoint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS request_log_rollups (
    grain INTEGER NOT NULL,
    bucket_start INTEGER NOT NULL,
    dim_id INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    agg BLOB NOT NULL,
    users BLOB,
    PRIMARY KEY (grain, bucket_start, dim_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS request_log_feedback (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    weight REAL NOT NULL,
    metadata TEXT NOT NULL,
    workspace_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS request_log_feedback_trace ON request_log_feedback (trace_id, created_at);
CREATE INDEX IF NOT EXISTS request_log_feedback_created ON request_log_feedback (created_at);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE IF NOT EXISTS request_log_exports (
    id TEXT PRIMARY KEY,
    workspace_id TEXT,
    status TEXT NOT NULL,
    filters TEXT NOT NULL,
    filter TEXT NOT NULL,
    requested_data TEXT NOT NULL,
    description TEXT,
    total_records INTEGER,
    error TEXT,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS request_log_exports_workspace ON request_log_exports (workspace_id, created_at);
"#,
    ),
    // Fewer index entries per record: ids are unique within their creation time (`(created_at,
    // id)`, the listing index, so a lookup by id goes through the time its id carries), and
    // only records with an end user enter the user index. Schema 1 made `id` unique on its own;
    // files created since no longer do (a table constraint can only be dropped by copying the
    // table, so older files keep it).
    (
        3,
        r#"
DROP INDEX IF EXISTS request_logs_created;
CREATE UNIQUE INDEX IF NOT EXISTS request_logs_created ON request_logs (created_at, id);
DROP INDEX IF EXISTS request_logs_user;
CREATE INDEX IF NOT EXISTS request_logs_user ON request_logs (user_hash, created_at)
    WHERE user_hash IS NOT NULL;
"#,
    ),
    // Payloads out of the row pages, in segment files beside the database (see
    // `super::payloads`); rows keep where. Older rows keep theirs inline.
    (
        4,
        r#"
ALTER TABLE request_logs ADD COLUMN payload_seg INTEGER;
ALTER TABLE request_logs ADD COLUMN payload_off INTEGER;
ALTER TABLE request_logs ADD COLUMN request_len INTEGER;
ALTER TABLE request_logs ADD COLUMN response_len INTEGER;
"#,
    ),
    // Only records with a workspace enter the workspace index: every workspace filter is
    // `workspace_id IN (…)`, which no record without one matches, and traffic without gateway
    // keys (the zero-config gateway) then writes one index entry less per record. Rebuilding
    // the index reads a large existing file once, at the open that migrates it.
    (
        5,
        r#"
DROP INDEX IF EXISTS request_logs_workspace;
CREATE INDEX IF NOT EXISTS request_logs_workspace ON request_logs (workspace_id, created_at, id)
    WHERE workspace_id IS NOT NULL;
"#,
    ),
    // Only records whose trace id is not their own id enter the trace index: the gateway gives
    // a request without a client trace id its record id as trace id, and such a record is found
    // through `(created_at, id)` (see `filter::trace`). The index insert was ~8% of logging's
    // instructions per request (callgrind). Feedback keeps its trace id's time, for the same
    // lookup. Rows written before keep their entries (their trace ids are not their ids).
    (
        6,
        r#"
DROP INDEX IF EXISTS request_logs_trace;
CREATE INDEX IF NOT EXISTS request_logs_trace ON request_logs (trace_id) WHERE trace_id <> id;
ALTER TABLE request_log_feedback ADD COLUMN trace_at INTEGER;
"#,
    ),
    // The table again without declared types or `NOT NULL`: each typed column cost an affinity
    // step and each `NOT NULL` one a check in every insert, ~1.5k of the ~9.6k instructions
    // SQLite spent per row (`bench/sqlite-rows.sh`: 16-row inserts of this table's rows). The writer binds
    // every value in its stored type and never a NULL where a record has a value, so neither
    // changed what is stored. A table's columns can only be redefined by copying it: rows keep
    // their rowids, and the indexes are made again as they were.
    (
        7,
        r#"
CREATE TABLE request_logs_new (
    id, created_at, trace_id, w3c_trace_id, span_id, parent_span_id, workspace_id, api_key_id,
    provider_id, integration_id, provider, requested_model, model, endpoint, method, path, stream,
    status, outcome, error_code, error_type, error_message, total_us, upstream_us, ttft_us,
    overhead_us, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens,
    reasoning_tokens, cost_nanos, cache_status, retry_count, fallback_path, guardrails, metadata,
    request_bytes, response_bytes, user_id, user_hash, dim_id, flags, lat_b, ttft_b, ovh_b,
    request_body, response_body, meta, payload_seg, payload_off, request_len, response_len
);
INSERT INTO request_logs_new (rowid, id, created_at, trace_id, w3c_trace_id, span_id,
    parent_span_id, workspace_id, api_key_id, provider_id, integration_id, provider,
    requested_model, model, endpoint, method, path, stream, status, outcome, error_code,
    error_type, error_message, total_us, upstream_us, ttft_us, overhead_us, prompt_tokens,
    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos,
    cache_status, retry_count, fallback_path, guardrails, metadata, request_bytes, response_bytes,
    user_id, user_hash, dim_id, flags, lat_b, ttft_b, ovh_b, request_body, response_body, meta,
    payload_seg, payload_off, request_len, response_len)
SELECT rowid, id, created_at, trace_id, w3c_trace_id, span_id,
    parent_span_id, workspace_id, api_key_id, provider_id, integration_id, provider,
    requested_model, model, endpoint, method, path, stream, status, outcome, error_code,
    error_type, error_message, total_us, upstream_us, ttft_us, overhead_us, prompt_tokens,
    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos,
    cache_status, retry_count, fallback_path, guardrails, metadata, request_bytes, response_bytes,
    user_id, user_hash, dim_id, flags, lat_b, ttft_b, ovh_b, request_body, response_body, meta,
    payload_seg, payload_off, request_len, response_len
FROM request_logs;
DROP TABLE request_logs;
ALTER TABLE request_logs_new RENAME TO request_logs;
CREATE UNIQUE INDEX request_logs_created ON request_logs (created_at, id);
CREATE INDEX request_logs_trace ON request_logs (trace_id) WHERE trace_id <> id;
CREATE INDEX request_logs_workspace ON request_logs (workspace_id, created_at, id)
    WHERE workspace_id IS NOT NULL;
CREATE INDEX request_logs_user ON request_logs (user_hash, created_at)
    WHERE user_hash IS NOT NULL;
"#,
    ),
];

/// Opens (creating the directory, the file and the schema as needed) a SQLite log database.
pub(crate) async fn open(path: &Path) -> Result<Db, LogError> {
    let target = path.display().to_string();
    let fail = |reason: String| LogError::Open {
        target: target.clone(),
        reason,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        // Large pages make bulk appends cheaper (fewer splits and WAL frames per record);
        // it only takes effect when the file is created.
        .page_size(16_384)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        // Reads, retention and feedback: 8 MiB each (the writer's own connection keeps more).
        .pragma("cache_size", "-8192")
        .pragma("temp_store", "memory")
        // The checkpointer below keeps the WAL short; this is only the backstop (4096 pages of
        // 16 KiB: 64 MiB).
        .pragma("wal_autocheckpoint", "4096")
        .pragma("journal_size_limit", "67108864");
    let pool = SqlitePoolOptions::new()
        .max_connections(POOL)
        .acquire_timeout(BUSY_TIMEOUT)
        .connect_with(opts)
        .await
        .map_err(|e| fail(describe(&e)))?;
    migrate(&pool).await.map_err(|e| fail(describe(&e)))?;
    Ok(Db::Sqlite(pool))
}

/// Checkpoints the WAL every second from a connection of its own (`PASSIVE`: it never waits
/// for nor blocks the writer), so commits do not pay for copying pages back into the database
/// (with a large batch that is most of a commit). Stops when dropped or the pool closes.
pub(crate) struct Checkpointer(tokio::task::JoinHandle<()>);

impl Checkpointer {
    pub fn start(pool: sqlx::SqlitePool) -> Checkpointer {
        Checkpointer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    return;
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::debug!(error = %e, "log database checkpoint failed");
                }
            }
        }))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    // The write lock serializes two processes opening at once.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS portcullis_logs_schema (\
         version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM portcullis_logs_schema")
            .fetch_one(&mut *tx)
            .await?;
    let current = current.unwrap_or(0);
    for &(version, ddl) in MIGRATIONS {
        if version <= current {
            continue;
        }
        if current > 0 {
            // Some steps copy the request table: on a large file, a slow start.
            tracing::info!(schema = version, "upgrading the log database");
        }
        sqlx::raw_sql(ddl).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO portcullis_logs_schema (version, applied_at) VALUES ($1, $2) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(super::now_ms())
        .execute(&mut *tx)
        .await?;
    }
    if let Some(&(latest, _)) = MIGRATIONS.last()
        && current > latest
    {
        tracing::warn!(
            schema = current,
            supported = latest,
            "the log database was written by a newer Portcullis"
        );
    }
    tx.commit().await
}

/// `(?, ?, …), (?, …)`: `rows` groups of `cols` anonymous placeholders.
fn placeholders(rows: usize, cols: usize) -> String {
    let mut one = String::with_capacity(cols * 2 + 2);
    one.push('(');
    for c in 0..cols {
        one.push_str(if c == 0 { "?" } else { ",?" });
    }
    one.push(')');
    let mut out = String::with_capacity(rows * (one.len() + 1));
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push_str(&one);
    }
    out
}

/// Adds (or subtracts) rollup deltas: read the touched rows bucket by bucket, merge in memory,
/// write back. The transaction holds SQLite's write lock, so nothing changes in between.
pub(crate) async fn apply_rollups(
    tx: &mut Transaction<'static, Sqlite>,
    deltas: RollupDeltas,
    sign: Sign,
) -> Result<(), sqlx::Error> {
    let mut writes: Vec<((i64, i64, i64), Stored)> = Vec::with_capacity(deltas.len());
    let mut deletes: Vec<((i64, i64), Vec<i64>)> = Vec::new();
    for ((grain, start), rows) in by_bucket(deltas) {
        let mut existing: HashMap<i64, (Vec<u8>, Option<Vec<u8>>)> = HashMap::new();
        for chunk in rows.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT dim_id, agg, users FROM request_log_rollups \
                 WHERE grain = ? AND bucket_start = ? AND dim_id IN ({})",
                vec!["?"; chunk.len()].join(",")
            );
            let mut q = sqlx::query_as::<_, (i64, Vec<u8>, Option<Vec<u8>>)>(AssertSqlSafe(sql))
                .bind(grain)
                .bind(start);
            for (d, _) in chunk {
                q = q.bind(d);
            }
            for (d, agg, users) in q.fetch_all(&mut **tx).await? {
                existing.insert(d, (agg, users));
            }
        }
        let mut gone = Vec::new();
        for (d, delta) in rows {
            let old = existing.get(&d);
            match merge(
                old.map(|o| o.0.as_slice()),
                old.and_then(|o| o.1.as_deref()),
                delta,
                sign,
            ) {
                Some(s) => writes.push(((grain, start, d), s)),
                None if old.is_some() => gone.push(d),
                None => {}
            }
        }
        if !gone.is_empty() {
            deletes.push(((grain, start), gone));
        }
    }
    for chunk in writes.chunks(MAX_PARAMS / 6) {
        let sql = format!(
            "INSERT INTO request_log_rollups (grain, bucket_start, dim_id, requests, agg, users) \
             VALUES {} ON CONFLICT (grain, bucket_start, dim_id) DO UPDATE SET \
             requests = excluded.requests, agg = excluded.agg, users = excluded.users",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (k, s) in chunk {
            q = q
                .bind(k.0)
                .bind(k.1)
                .bind(k.2)
                .bind(s.requests)
                .bind(&s.agg)
                .bind(&s.users);
        }
        q.execute(&mut **tx).await?;
    }
    for ((grain, start), dims) in deletes {
        for chunk in dims.chunks(MAX_PARAMS) {
            let sql = format!(
                "DELETE FROM request_log_rollups WHERE grain = ? AND bucket_start = ? \
                 AND dim_id IN ({})",
                vec!["?"; chunk.len()].join(",")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(grain).bind(start);
            for d in chunk {
                q = q.bind(d);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}
