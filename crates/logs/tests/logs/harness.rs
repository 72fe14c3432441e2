//! Runs one test case on a fresh store of each backend: a SQLite file in a temporary directory,
//! or a PostgreSQL schema of its own (dropped afterwards) on the local server.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use futures_util::FutureExt;
use portcullis_logs::SqlLogStore;
use sqlx::{Connection, PgConnection};

/// Where a case's database is, to open more stores on it.
#[derive(Clone)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

/// What a case gets: the store, and how to open another one on the same database.
#[derive(Clone)]
pub struct Ctx {
    pub store: SqlLogStore,
    pub target: Target,
}

impl Ctx {
    /// Another store on the same database (another replica, or the same file reopened).
    pub async fn open_again(&self) -> SqlLogStore {
        match &self.target {
            Target::Sqlite(dir) => SqlLogStore::open_sqlite_in(dir).await,
            Target::Postgres(url) => SqlLogStore::open_postgres(url).await,
        }
        .expect("reopen log store")
    }
}

pub async fn sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory that does not exist yet: opening must create it.
    let data = dir.path().join("data");
    let store = SqlLogStore::open_sqlite_in(&data)
        .await
        .expect("open sqlite log store");
    assert!(data.join("logs.db").exists());
    case(Ctx {
        store,
        target: Target::Sqlite(data),
    })
    .await;
}

/// The server: `PORTCULLIS_TEST_POSTGRES_URL`, else the local server as `postgres`, then `root`.
pub async fn server() -> Result<(String, PgConnection), String> {
    let candidates = match std::env::var("PORTCULLIS_TEST_POSTGRES_URL") {
        Ok(url) => vec![url],
        Err(_) => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_owned(),
            "postgres://root@127.0.0.1:5432/test".to_owned(),
        ],
    };
    let mut reasons = Vec::new();
    for url in candidates {
        match PgConnection::connect(&url).await {
            Ok(conn) => return Ok((url, conn)),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(reasons.join("; "))
}

/// Runs `case` with a URL whose `search_path` is a fresh schema, dropped afterwards; `None`
/// (after printing why) when PostgreSQL is absent and not required.
pub async fn with_schema<F, Fut>(case: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let (base, mut admin) = match server().await {
        Ok(s) => s,
        Err(reason) => {
            if std::env::var("PORTCULLIS_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("PostgreSQL is required (PORTCULLIS_REQUIRE_SERVICES=1): {reason}");
            }
            eprintln!("skipping postgres tests: {reason}");
            return;
        }
    };
    let schema = format!("pcl_logs_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let result = AssertUnwindSafe(case(url, schema.clone()))
        .catch_unwind()
        .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop test schema");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

pub async fn postgres<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    with_schema(|url, _schema| async move {
        let store = SqlLogStore::open_postgres(&url)
            .await
            .expect("open postgres log store");
        case(Ctx {
            store,
            target: Target::Postgres(url),
        })
        .await;
    })
    .await;
}
