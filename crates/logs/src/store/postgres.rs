//! PostgreSQL: the gateway's catalog database (and `search_path`), its schema, and the bulk
//! write paths (`COPY` for the new rows, `UNNEST` arrays for dimensions and rollups).
//!
//! The catalog's `sqlx::migrate!` owns `_sqlx_migrations` in the same schema, so the log tables
//! are managed apart: idempotent DDL plus the `portcullis_logs_schema` version table, applied
//! under a transaction-scoped advisory lock so replicas opening at once take turns.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::db::{Db, nul_free};
use super::write::{RAW_COLUMNS, RollupDeltas, Sign, Stored, merge};
use crate::derive::clamp_u64;
use crate::dims::Dims;
use crate::error::{LogError, describe};

const POOL: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const APPLICATION_NAME: &str = "portcullis-logs";
/// `pg_advisory_xact_lock` key for schema changes (ASCII "pclogsch").
const SCHEMA_LOCK: i64 = 0x7063_6c6f_6773_6368;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE IF NOT EXISTS request_logs (
    id TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL,
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
    stream BIGINT NOT NULL,
    status BIGINT NOT NULL,
    outcome TEXT,
    error_code TEXT,
    error_type TEXT,
    error_message TEXT,
    total_us BIGINT NOT NULL,
    upstream_us BIGINT,
    ttft_us BIGINT,
    overhead_us BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_nanos BIGINT,
    cache_status TEXT NOT NULL,
    retry_count BIGINT NOT NULL,
    fallback_path TEXT NOT NULL,
    guardrails TEXT,
    metadata TEXT NOT NULL,
    request_bytes BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    user_id TEXT,
    user_hash BIGINT,
    dim_id BIGINT NOT NULL,
    flags BIGINT NOT NULL,
    lat_b BIGINT NOT NULL,
    ttft_b BIGINT,
    ovh_b BIGINT NOT NULL,
    request_body TEXT,
    response_body TEXT,
    meta JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS request_logs_created ON request_logs (created_at, id);
CREATE INDEX IF NOT EXISTS request_logs_trace ON request_logs (trace_id);
CREATE INDEX IF NOT EXISTS request_logs_workspace ON request_logs (workspace_id, created_at, id);
CREATE INDEX IF NOT EXISTS request_logs_user ON request_logs (user_hash, created_at);
CREATE INDEX IF NOT EXISTS request_logs_meta ON request_logs USING gin (meta jsonb_path_ops);
CREATE TABLE IF NOT EXISTS request_log_dims (
    dim_id BIGINT PRIMARY KEY,
    workspace_id TEXT,
    api_key_id TEXT,
    provider_id TEXT,
    provider TEXT,
    model TEXT,
    status BIGINT NOT NULL,
    outcome TEXT,
    endpoint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS request_log_rollups (
    grain BIGINT NOT NULL,
    bucket_start BIGINT NOT NULL,
    dim_id BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    agg BYTEA NOT NULL,
    users BYTEA,
    PRIMARY KEY (grain, bucket_start, dim_id)
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS request_log_feedback (
    id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    value BIGINT NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    metadata TEXT NOT NULL,
    workspace_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
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
    total_records BIGINT,
    error TEXT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_log_exports_workspace ON request_log_exports (workspace_id, created_at);
"#,
    ),
    // The time of the feedback's trace id when it is a record id, as on SQLite (where it finds
    // records kept out of the trace index); unused here, where every record is indexed.
    (
        3,
        "ALTER TABLE request_log_feedback ADD COLUMN IF NOT EXISTS trace_at BIGINT;",
    ),
    // The trace index also orders each trace's records as every trace lookup reads them,
    // newest first. On `trace_id` alone the planner, without statistics (a table just filled)
    // or for a trace of many records, walked the time index backwards filtering by trace: 0.4 s
    // for one record at 1M rows. Rebuilding it holds the table's writes during the open that
    // migrates a large table, once.
    (
        4,
        r#"
DROP INDEX IF EXISTS request_logs_trace;
CREATE INDEX IF NOT EXISTS request_logs_trace ON request_logs (trace_id, created_at, id);
"#,
    ),
];

/// Opens a pool on `postgres://…` (URL parameters such as `sslmode`, `application_name` and
/// `options=-c search_path=…` honoured) and prepares the schema.
pub(crate) async fn open(url: &str) -> Result<Db, LogError> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| LogError::Open {
        target: "postgres".to_owned(),
        reason: format!("invalid database URL: {}", describe(&e)),
    })?;
    let target = format!(
        "{}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("")
    );
    let fail = |e: sqlx::Error| LogError::Open {
        target: target.clone(),
        reason: describe(&e),
    };
    let app = opts
        .get_application_name()
        .unwrap_or(APPLICATION_NAME)
        .to_owned();
    let pool = PgPoolOptions::new()
        .max_connections(POOL)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(opts.application_name(&app))
        .await
        .map_err(fail)?;
    migrate(&pool).await.map_err(fail)?;
    Ok(Db::Postgres(pool))
}

async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS portcullis_logs_schema (\
         version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
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
            "the log tables were written by a newer Portcullis"
        );
    }
    tx.commit().await
}

fn unnest(types: &[&str]) -> String {
    let args: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}[]", i + 1))
        .collect();
    format!("UNNEST({})", args.join(", "))
}

macro_rules! bind_columns {
    ($q:expr, $rows:expr; $($f:ident),*) => {{
        let mut q = $q;
        $( q = q.bind($rows.iter().map(|r| r.$f.nul_free()).collect::<Vec<_>>()); )*
        q
    }};
}

/// Dimensions as stored (and read back), for the cache.
pub(crate) fn as_stored(d: &Dims) -> Dims {
    Dims {
        dim_id: d.dim_id,
        workspace_id: d.workspace_id.nul_free(),
        api_key_id: d.api_key_id.nul_free(),
        provider_id: d.provider_id.nul_free(),
        provider: d.provider.nul_free(),
        model: d.model.nul_free(),
        status: d.status,
        outcome: d.outcome.nul_free(),
        endpoint: d.endpoint.nul_free(),
    }
}

/// A bound value as PostgreSQL stores it (see `nul_free`).
trait NulFree {
    fn nul_free(&self) -> Self;
}

impl NulFree for i64 {
    fn nul_free(&self) -> i64 {
        *self
    }
}

impl NulFree for String {
    fn nul_free(&self) -> String {
        nul_free(self).into_owned()
    }
}

impl NulFree for Option<String> {
    fn nul_free(&self) -> Option<String> {
        self.as_ref().map(String::nul_free)
    }
}

/// Streams `data` (text format) into `COPY <target> FROM STDIN`.
async fn copy_in(
    tx: &mut Transaction<'static, Postgres>,
    target: &str,
    data: &[u8],
) -> Result<(), sqlx::Error> {
    if data.is_empty() {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    match copy.send(data).await {
        Ok(_) => copy.finish().await.map(|_| ()),
        Err(e) => {
            let _ = copy.abort("sending the rows failed").await;
            Err(e)
        }
    }
}

/// Streams rows (`COPY` text, see `super::pg_rows`) into `request_logs`.
pub(crate) async fn copy_rows(
    tx: &mut Transaction<'static, Postgres>,
    data: &[u8],
) -> Result<(), sqlx::Error> {
    copy_in(tx, &format!("request_logs ({RAW_COLUMNS})"), data).await
}

/// Whether an error is a unique key violation (SQLSTATE 23505).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// Which of `ids` are stored already.
pub(crate) async fn stored_ids(
    tx: &mut Transaction<'static, Postgres>,
    ids: &[&str],
) -> Result<HashSet<String>, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, String>("SELECT id FROM request_logs WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect(),
    )
}

/// Dimension rows of newly inserted records.
pub(crate) async fn insert_side(
    tx: &mut Transaction<'static, Postgres>,
    new_dims: &[&Dims],
) -> Result<(), sqlx::Error> {
    if !new_dims.is_empty() {
        let sql = format!(
            "INSERT INTO request_log_dims (dim_id, workspace_id, api_key_id, provider_id, \
             provider, model, status, outcome, endpoint) SELECT * FROM {} \
             ON CONFLICT (dim_id) DO NOTHING",
            unnest(&[
                "int8", "text", "text", "text", "text", "text", "int8", "text", "text"
            ])
        );
        let q = sqlx::query(AssertSqlSafe(sql));
        bind_columns!(q, new_dims; dim_id, workspace_id, api_key_id, provider_id, provider,
            model, status, outcome, endpoint)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A rollup key: `(grain, bucket_start, dim_id)`.
type Key = (i64, i64, i64);

/// The stored `agg` and `users` of a rollup row.
type Row = (Vec<u8>, Option<Vec<u8>>);

/// Locks (`FOR UPDATE`, in key order) and reads the rollup rows of `keys` (sorted) that exist,
/// one bucket per statement (`grain = $1 AND bucket_start = $2 AND dim_id = ANY($3)` always
/// uses the primary key).
async fn lock_rows(
    tx: &mut Transaction<'static, Postgres>,
    keys: &[Key],
) -> Result<HashMap<Key, Row>, sqlx::Error> {
    let mut out = HashMap::with_capacity(keys.len());
    for ((grain, start), dims) in per_bucket(keys.iter().copied()) {
        let rows: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT dim_id, agg, users FROM request_log_rollups \
             WHERE grain = $1 AND bucket_start = $2 AND dim_id = ANY($3) \
             ORDER BY dim_id FOR UPDATE",
        )
        .bind(grain)
        .bind(start)
        .bind(dims)
        .fetch_all(&mut **tx)
        .await?;
        out.extend(
            rows.into_iter()
                .map(|(d, agg, users)| ((grain, start, d), (agg, users))),
        );
    }
    Ok(out)
}

/// Sorted keys grouped by `(grain, bucket_start)`.
fn per_bucket(keys: impl IntoIterator<Item = Key>) -> Vec<((i64, i64), Vec<i64>)> {
    let mut out: Vec<((i64, i64), Vec<i64>)> = Vec::new();
    for (g, b, d) in keys {
        match out.last_mut() {
            Some((k, v)) if *k == (g, b) => v.push(d),
            _ => out.push(((g, b), vec![d])),
        }
    }
    out
}

/// Adds (or subtracts) rollup deltas: the
/// existing rows are locked (`FOR UPDATE`, in key order) and read; missing ones (when adding)
/// are inserted as they are; the rest are merged in memory and written back with one
/// `UPDATE`. Concurrent replicas serialize per row instead of losing updates; a row another
/// writer created after the read is locked and merged in a second pass.
pub(crate) async fn apply_rollups(
    tx: &mut Transaction<'static, Postgres>,
    deltas: RollupDeltas,
    sign: Sign,
) -> Result<(), sqlx::Error> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut deltas = deltas;
    let keys: Vec<Key> = deltas.keys().copied().collect();
    let mut existing = lock_rows(tx, &keys).await?;
    if sign == Sign::Add {
        let new: Vec<Key> = keys
            .into_iter()
            .filter(|k| !existing.contains_key(k))
            .collect();
        if !new.is_empty() {
            let mut n = Vec::with_capacity(new.len());
            let mut agg = Vec::with_capacity(new.len());
            let mut users = Vec::with_capacity(new.len());
            for k in &new {
                let r = &deltas[k];
                n.push(clamp_u64(r.p.requests));
                agg.push(r.p.encode());
                users.push(r.users.as_ref().map(|u| u.encode()));
            }
            let created: Vec<Key> = sqlx::query_as(
                "INSERT INTO request_log_rollups (grain, bucket_start, dim_id, requests, agg, \
                 users) SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], \
                 $5::bytea[], $6::bytea[]) ON CONFLICT DO NOTHING \
                 RETURNING grain, bucket_start, dim_id",
            )
            .bind(new.iter().map(|k| k.0).collect::<Vec<_>>())
            .bind(new.iter().map(|k| k.1).collect::<Vec<_>>())
            .bind(new.iter().map(|k| k.2).collect::<Vec<_>>())
            .bind(n)
            .bind(agg)
            .bind(users)
            .fetch_all(&mut **tx)
            .await?;
            for k in &created {
                deltas.remove(k);
            }
            let raced: Vec<Key> = new.into_iter().filter(|k| deltas.contains_key(k)).collect();
            if !raced.is_empty() {
                existing.extend(lock_rows(tx, &raced).await?);
            }
        }
    }
    let mut updates: Vec<(Key, Stored)> = Vec::new();
    let mut gone: Vec<Key> = Vec::new();
    for (k, delta) in deltas {
        // Subtracting from a row that is gone: nothing to do.
        let Some(old) = existing.get(&k) else {
            continue;
        };
        match merge(Some(&old.0), old.1.as_deref(), delta, sign) {
            Some(s) => updates.push((k, s)),
            None => gone.push(k),
        }
    }
    let mut i = 0;
    while i < updates.len() {
        let (grain, start) = (updates[i].0.0, updates[i].0.1);
        let mut j = i;
        while j < updates.len() && (updates[j].0.0, updates[j].0.1) == (grain, start) {
            j += 1;
        }
        let chunk = &mut updates[i..j];
        sqlx::query(
            "UPDATE request_log_rollups r SET requests = u.requests, agg = u.agg, \
             users = u.users FROM UNNEST($3::int8[], $4::int8[], $5::bytea[], $6::bytea[]) \
             AS u(dim_id, requests, agg, users) \
             WHERE r.grain = $1 AND r.bucket_start = $2 AND r.dim_id = u.dim_id",
        )
        .bind(grain)
        .bind(start)
        .bind(chunk.iter().map(|u| u.0.2).collect::<Vec<_>>())
        .bind(chunk.iter().map(|u| u.1.requests).collect::<Vec<_>>())
        .bind(
            chunk
                .iter_mut()
                .map(|u| std::mem::take(&mut u.1.agg))
                .collect::<Vec<_>>(),
        )
        .bind(
            chunk
                .iter_mut()
                .map(|u| u.1.users.take())
                .collect::<Vec<_>>(),
        )
        .execute(&mut **tx)
        .await?;
        i = j;
    }
    for ((grain, start), dims) in per_bucket(gone) {
        sqlx::query(
            "DELETE FROM request_log_rollups \
             WHERE grain = $1 AND bucket_start = $2 AND dim_id = ANY($3)",
        )
        .bind(grain)
        .bind(start)
        .bind(dims)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
