//! Opening: creates what is missing, changes nothing the second time, and tolerates replicas
//! opening at once; on PostgreSQL it shares the schema with the catalog's own migrations.

use futures_util::future::join_all;
use portcullis_logs::{LogFilter, LogStore, PageRequest, SqlLogStore};
use sqlx::{Connection, PgConnection};

use crate::fixtures::{HOUR, Rng, T0, own_trace, record, records};
use crate::harness::{Ctx, Target};

pub async fn opening_is_idempotent_and_concurrent_opens_are_safe(ctx: Ctx) {
    let batch = records(31, 100, T0, HOUR);
    ctx.store.insert_batch(&batch).await.unwrap();
    // Four more stores open at once on the same database.
    let stores: Vec<SqlLogStore> = join_all((0..4).map(|_| ctx.open_again())).await;
    for s in &stores {
        assert_eq!(s.backend(), ctx.store.backend());
        assert_eq!(
            s.summary(&LogFilter::default()).await.unwrap().requests,
            100
        );
    }
    stores[2]
        .insert_batch(&records(32, 10, T0, HOUR))
        .await
        .unwrap();
    assert_eq!(
        ctx.store
            .summary(&LogFilter::default())
            .await
            .unwrap()
            .requests,
        110
    );
    for s in stores {
        s.close().await;
    }
}

/// A schema where a `sqlx::migrate!`-style `_sqlx_migrations` table already holds the
/// catalog's versions: opening the log store must leave it alone, and the catalog's migrator
/// must still find only its own versions.
pub async fn coexists_with_catalog_migrations(url: String, schema: String) {
    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
         checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations VALUES (1, 'catalog', now(), true, '\\x00', 1);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let store = SqlLogStore::open_postgres(&url).await.unwrap();
    store
        .insert_batch(&records(33, 10, T0, HOUR))
        .await
        .unwrap();
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(versions, vec![1]);
    let ours: Vec<i64> = sqlx::query_scalar("SELECT version FROM portcullis_logs_schema")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(ours, vec![1, 2, 3, 4]);
    // The tables are in the search_path schema.
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name LIKE 'request_log%'",
    )
    .bind(&schema)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // request_logs (payloads and metadata inline), _dims, _rollups, _feedback, _exports.
    assert_eq!(n, 5);
    store.close().await;
    // Reopening is a no-op.
    let again = SqlLogStore::open_postgres(&url).await.unwrap();
    assert_eq!(
        again.summary(&LogFilter::default()).await.unwrap().requests,
        10
    );
    again.close().await;
}

/// SQLite schema 6: the trace index keeps only records whose trace id is not their own id. A
/// file from before (its index whole, feedback without `trace_at`) migrates on open, and its
/// records are still found by trace, beside records written after.
pub async fn sqlite_trace_index_migration_keeps_traces_found(ctx: Ctx) {
    let Target::Sqlite(dir) = &ctx.target else {
        return;
    };
    let url = format!(
        "sqlite://{}",
        dir.join(portcullis_logs::store::FILE_NAME).display()
    );
    let mut rng = Rng::new(61);
    let before = [
        record(&mut rng, "old-1".into(), T0),
        record(&mut rng, "old-2".into(), T0 + 1),
    ];
    let store = &ctx.store;
    store.insert_batch(&before).await.unwrap();
    // Back to schema 5, as an older gateway left the file.
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "DROP INDEX request_logs_trace; \
         CREATE INDEX request_logs_trace ON request_logs (trace_id); \
         ALTER TABLE request_log_feedback DROP COLUMN trace_at; \
         DELETE FROM portcullis_logs_schema WHERE version >= 6;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    store.close().await;
    let store = ctx.open_again().await;
    let index: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'request_logs_trace'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(index.ends_with("WHERE trace_id <> id"), "{index}");
    let after = [own_trace(&mut rng, T0 + 2), own_trace(&mut rng, T0 + 3)];
    store.insert_batch(&after).await.unwrap();
    for r in before.iter().chain(&after) {
        let f = LogFilter {
            trace_id: Some(r.trace_id.clone()),
            ..LogFilter::default()
        };
        let page = store.list(&f, &PageRequest::default()).await.unwrap();
        let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
        assert!(
            ids.contains(&r.id.as_str()),
            "{} by trace {}",
            r.id,
            r.trace_id
        );
    }
    store.close().await;
}

/// SQLite schema 7: the table copied without declared types or `NOT NULL`. A file whose table
/// still has them (as schemas 1–6 left it) migrates on open: every row is kept with its rowid
/// and reads back the same, the unique `(created_at, id)` still makes a repeated record a
/// no-op, and new records are written beside the old.
pub async fn sqlite_untyped_table_migration_keeps_rows(ctx: Ctx) {
    let Target::Sqlite(dir) = &ctx.target else {
        return;
    };
    let url = format!(
        "sqlite://{}",
        dir.join(portcullis_logs::store::FILE_NAME).display()
    );
    let before = records(71, 40, T0, HOUR);
    let store = &ctx.store;
    store.insert_batch(&before).await.unwrap();
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // Back to the typed table of schema 6.
    let typed: Vec<String> = TYPED_COLUMNS
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect();
    let names: Vec<&str> = TYPED_COLUMNS.iter().map(|(name, _)| *name).collect();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE old_logs ({}); \
         INSERT INTO old_logs (rowid, {cols}) SELECT rowid, {cols} FROM request_logs; \
         DROP TABLE request_logs; ALTER TABLE old_logs RENAME TO request_logs; \
         CREATE UNIQUE INDEX request_logs_created ON request_logs (created_at, id); \
         CREATE INDEX request_logs_trace ON request_logs (trace_id) WHERE trace_id <> id; \
         CREATE INDEX request_logs_workspace ON request_logs (workspace_id, created_at, id) \
             WHERE workspace_id IS NOT NULL; \
         CREATE INDEX request_logs_user ON request_logs (user_hash, created_at) \
             WHERE user_hash IS NOT NULL; \
         DELETE FROM portcullis_logs_schema WHERE version >= 7;",
        typed.join(", "),
        cols = names.join(", ")
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let rows_before = rowids(&mut c).await;
    assert_eq!(rows_before.len(), before.len());
    store.close().await;
    let store = ctx.open_again().await;
    let table: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'request_logs'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(
        !table.contains("NOT NULL") && !table.contains("TEXT") && !table.contains("INTEGER"),
        "{table}"
    );
    let indexes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'request_logs' \
         AND name LIKE 'request_logs_%'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(indexes, 4);
    assert_eq!(rowids(&mut c).await, rows_before);
    for r in &before {
        let got = store.get(&r.id).await.unwrap().expect("a migrated record");
        assert_eq!(got.id, r.id);
        assert_eq!(got.created_at, r.created_at);
        assert_eq!(got.model, r.model);
        assert_eq!(got.status, r.status);
        assert_eq!(got.tokens, r.tokens);
        assert_eq!(got.cost_nanos, r.cost_nanos);
        assert_eq!(got.timings, r.timings);
        assert_eq!(got.metadata, r.metadata);
        assert_eq!(got.request_body, r.request_body);
        assert_eq!(got.response_body, r.response_body);
    }
    // A record written again changes nothing; new ones are added.
    store.insert_batch(&before[..5]).await.unwrap();
    store
        .insert_batch(&records(72, 10, T0, HOUR))
        .await
        .unwrap();
    assert_eq!(
        store.summary(&LogFilter::default()).await.unwrap().requests,
        50
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_logs")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 50);
    store.close().await;
}

/// Every row's rowid and record id, in rowid order.
async fn rowids(c: &mut sqlx::SqliteConnection) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT rowid, id FROM request_logs ORDER BY rowid")
        .fetch_all(c)
        .await
        .unwrap()
}

/// The request log table's columns as schemas 1–6 declared them.
const TYPED_COLUMNS: &[(&str, &str)] = &[
    ("id", "TEXT NOT NULL"),
    ("created_at", "INTEGER NOT NULL"),
    ("trace_id", "TEXT NOT NULL"),
    ("w3c_trace_id", "TEXT NOT NULL"),
    ("span_id", "TEXT NOT NULL"),
    ("parent_span_id", "TEXT"),
    ("workspace_id", "TEXT"),
    ("api_key_id", "TEXT"),
    ("provider_id", "TEXT"),
    ("integration_id", "TEXT"),
    ("provider", "TEXT"),
    ("requested_model", "TEXT"),
    ("model", "TEXT"),
    ("endpoint", "TEXT NOT NULL"),
    ("method", "TEXT NOT NULL"),
    ("path", "TEXT NOT NULL"),
    ("stream", "INTEGER NOT NULL"),
    ("status", "INTEGER NOT NULL"),
    ("outcome", "TEXT"),
    ("error_code", "TEXT"),
    ("error_type", "TEXT"),
    ("error_message", "TEXT"),
    ("total_us", "INTEGER NOT NULL"),
    ("upstream_us", "INTEGER"),
    ("ttft_us", "INTEGER"),
    ("overhead_us", "INTEGER NOT NULL"),
    ("prompt_tokens", "INTEGER NOT NULL"),
    ("completion_tokens", "INTEGER NOT NULL"),
    ("cached_tokens", "INTEGER NOT NULL"),
    ("cache_write_tokens", "INTEGER NOT NULL"),
    ("reasoning_tokens", "INTEGER NOT NULL"),
    ("cost_nanos", "INTEGER"),
    ("cache_status", "TEXT NOT NULL"),
    ("retry_count", "INTEGER NOT NULL"),
    ("fallback_path", "TEXT NOT NULL"),
    ("guardrails", "TEXT"),
    ("metadata", "TEXT NOT NULL"),
    ("request_bytes", "INTEGER NOT NULL"),
    ("response_bytes", "INTEGER NOT NULL"),
    ("user_id", "TEXT"),
    ("user_hash", "INTEGER"),
    ("dim_id", "INTEGER NOT NULL"),
    ("flags", "INTEGER NOT NULL"),
    ("lat_b", "INTEGER NOT NULL"),
    ("ttft_b", "INTEGER"),
    ("ovh_b", "INTEGER NOT NULL"),
    ("request_body", "TEXT"),
    ("response_body", "TEXT"),
    ("meta", "TEXT NOT NULL"),
    ("payload_seg", "INTEGER"),
    ("payload_off", "INTEGER"),
    ("request_len", "INTEGER"),
    ("response_len", "INTEGER"),
];
