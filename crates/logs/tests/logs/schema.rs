//! Opening: creates what is missing, changes nothing the second time, and tolerates replicas
//! opening at once; on PostgreSQL it shares the schema with the catalog's own migrations.

use futures_util::future::join_all;
use portcullis_logs::{LogFilter, LogStore, SqlLogStore};
use sqlx::{Connection, PgConnection};

use crate::fixtures::{HOUR, T0, records};
use crate::harness::Ctx;

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
    assert_eq!(ours, vec![1, 2]);
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
