//! PostgreSQL: the gateway's catalog database (and `search_path`), its schema, and the bulk
//! write paths (`UNNEST` arrays: one statement per table per batch).
//!
//! The catalog's `sqlx::migrate!` owns `_sqlx_migrations` in the same schema, so the log tables
//! are managed apart: idempotent DDL plus the `portcullis_logs_schema` version table, applied
//! under a transaction-scoped advisory lock so replicas opening at once take turns.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::db::Db;
use super::write::{
    RAW_COLUMN_COUNT, RAW_COLUMNS, RawRow, RollupDeltas, Sign, by_bucket, merge, raw_fields,
};
use crate::derive::clamp_u64;
use crate::dims::Dims;
use crate::error::{LogError, describe};

const POOL: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const APPLICATION_NAME: &str = "portcullis-logs";
/// `pg_advisory_xact_lock` key for schema changes (ASCII "pclogsch").
const SCHEMA_LOCK: i64 = 0x7063_6c6f_6773_6368;

const MIGRATIONS: &[(i64, &str)] = &[(
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
    ovh_b BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_logs_created ON request_logs (created_at, id);
CREATE INDEX IF NOT EXISTS request_logs_trace ON request_logs (trace_id);
CREATE INDEX IF NOT EXISTS request_logs_workspace ON request_logs (workspace_id, created_at, id);
CREATE TABLE IF NOT EXISTS request_log_bodies (
    id TEXT COLLATE "C" PRIMARY KEY,
    request_body TEXT,
    response_body TEXT
);
CREATE TABLE IF NOT EXISTS request_log_meta (
    log_id TEXT COLLATE "C" NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (log_id, key)
);
CREATE INDEX IF NOT EXISTS request_log_meta_value ON request_log_meta (key, value, created_at);
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
)];

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

/// The array type of each `request_logs` column, in [`RAW_COLUMNS`] order.
const RAW_TYPES: [&str; RAW_COLUMN_COUNT] = [
    "text", "int8", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text",
    "text", "text", "text", "text", "int8", "int8", "text", "text", "text", "text", "int8", "int8",
    "int8", "int8", "int8", "int8", "int8", "int8", "int8", "int8", "text", "int8", "text", "text",
    "text", "int8", "int8", "text", "int8", "int8", "int8", "int8", "int8", "int8",
];

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
        $( q = q.bind($rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()); )*
        q
    }};
}

/// Inserts the raw rows; returns the ids that were new.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'static, Postgres>,
    rows: &[RawRow],
) -> Result<HashSet<String>, sqlx::Error> {
    let sql = format!(
        "INSERT INTO request_logs ({RAW_COLUMNS}) SELECT * FROM {} \
         ON CONFLICT (id) DO NOTHING RETURNING id",
        unnest(&RAW_TYPES)
    );
    let q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
    let q = raw_fields!(bind_columns!(q, rows));
    Ok(q.fetch_all(&mut **tx).await?.into_iter().collect())
}

/// Payloads, metadata and dimension rows of newly inserted records.
pub(crate) async fn insert_side(
    tx: &mut Transaction<'static, Postgres>,
    rows: &[&RawRow],
    new_dims: &[&Dims],
) -> Result<(), sqlx::Error> {
    let bodies: Vec<&RawRow> = rows
        .iter()
        .copied()
        .filter(|r| r.request_body.is_some() || r.response_body.is_some())
        .collect();
    if !bodies.is_empty() {
        let sql = format!(
            "INSERT INTO request_log_bodies (id, request_body, response_body) SELECT * FROM {} \
             ON CONFLICT (id) DO NOTHING",
            unnest(&["text", "text", "text"])
        );
        bind_columns!(sqlx::query(AssertSqlSafe(sql)), bodies; id, request_body, response_body)
            .execute(&mut **tx)
            .await?;
    }
    let mut log_ids = Vec::new();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let mut times = Vec::new();
    for r in rows {
        for (k, v) in &r.meta {
            log_ids.push(r.id.as_str());
            keys.push(k.as_str());
            values.push(v.as_str());
            times.push(r.created_at);
        }
    }
    if !log_ids.is_empty() {
        let sql = format!(
            "INSERT INTO request_log_meta (log_id, key, value, created_at) SELECT * FROM {} \
             ON CONFLICT (log_id, key) DO NOTHING",
            unnest(&["text", "text", "text", "int8"])
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(log_ids)
            .bind(keys)
            .bind(values)
            .bind(times)
            .execute(&mut **tx)
            .await?;
    }
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

/// Adds (or subtracts) rollup deltas. New rows are inserted as they are (in key order); the
/// others are locked bucket by bucket in key order (`FOR UPDATE`), merged in memory and written
/// back, so concurrent replicas serialize per row instead of losing updates.
pub(crate) async fn apply_rollups(
    tx: &mut Transaction<'static, Postgres>,
    deltas: RollupDeltas,
    sign: Sign,
) -> Result<(), sqlx::Error> {
    if deltas.is_empty() {
        return Ok(());
    }
    let mut deltas = deltas;
    if sign == Sign::Add {
        let mut g = Vec::with_capacity(deltas.len());
        let mut b = Vec::with_capacity(deltas.len());
        let mut d = Vec::with_capacity(deltas.len());
        let mut n = Vec::with_capacity(deltas.len());
        let mut agg = Vec::with_capacity(deltas.len());
        let mut users = Vec::with_capacity(deltas.len());
        for (k, r) in &deltas {
            g.push(k.0);
            b.push(k.1);
            d.push(k.2);
            n.push(clamp_u64(r.p.requests));
            agg.push(r.p.encode());
            users.push(r.users.as_ref().map(|u| u.encode()));
        }
        let created: Vec<(i64, i64, i64)> = sqlx::query_as(
            "INSERT INTO request_log_rollups (grain, bucket_start, dim_id, requests, agg, users) \
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::bytea[], \
             $6::bytea[]) ON CONFLICT DO NOTHING RETURNING grain, bucket_start, dim_id",
        )
        .bind(g)
        .bind(b)
        .bind(d)
        .bind(n)
        .bind(agg)
        .bind(users)
        .fetch_all(&mut **tx)
        .await?;
        for k in created {
            deltas.remove(&k);
        }
    }
    for ((grain, start), rows) in by_bucket(deltas) {
        let dims: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let existing: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT dim_id, agg, users FROM request_log_rollups \
             WHERE grain = $1 AND bucket_start = $2 AND dim_id = ANY($3) \
             ORDER BY dim_id FOR UPDATE",
        )
        .bind(grain)
        .bind(start)
        .bind(&dims)
        .fetch_all(&mut **tx)
        .await?;
        let existing: HashMap<i64, (Vec<u8>, Option<Vec<u8>>)> =
            existing.into_iter().map(|(d, a, u)| (d, (a, u))).collect();
        let mut d = Vec::new();
        let mut n = Vec::new();
        let mut agg = Vec::new();
        let mut users = Vec::new();
        let mut gone = Vec::new();
        for (dim, delta) in rows {
            // Subtracting from a row that is gone: nothing to do.
            let Some(old) = existing.get(&dim) else {
                continue;
            };
            match merge(Some(&old.0), old.1.as_deref(), delta, sign) {
                Some(s) => {
                    d.push(dim);
                    n.push(s.requests);
                    agg.push(s.agg);
                    users.push(s.users);
                }
                None => gone.push(dim),
            }
        }
        if !d.is_empty() {
            sqlx::query(
                "UPDATE request_log_rollups r SET requests = u.requests, agg = u.agg, \
                 users = u.users FROM UNNEST($3::int8[], $4::int8[], $5::bytea[], $6::bytea[]) \
                 AS u(dim_id, requests, agg, users) \
                 WHERE r.grain = $1 AND r.bucket_start = $2 AND r.dim_id = u.dim_id",
            )
            .bind(grain)
            .bind(start)
            .bind(d)
            .bind(n)
            .bind(agg)
            .bind(users)
            .execute(&mut **tx)
            .await?;
        }
        if !gone.is_empty() {
            sqlx::query(
                "DELETE FROM request_log_rollups \
                 WHERE grain = $1 AND bucket_start = $2 AND dim_id = ANY($3)",
            )
            .bind(grain)
            .bind(start)
            .bind(gone)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
