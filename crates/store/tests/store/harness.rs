//! Runs one test case on a fresh store of each backend: a SQLite file in a temporary directory,
//! or a PostgreSQL schema of its own (dropped afterwards) on the local server.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use portcullis_store::{Backend, Store};
use sqlx::{Connection, PgConnection};

/// What a case gets: the store, and how to open more stores on the same database.
#[derive(Clone)]
pub struct Ctx {
    pub store: Store,
    pub url: String,
    /// PostgreSQL: the `application_name` this case's extra stores use (see [`Ctx::open_named`]).
    pub tag: String,
}

impl Ctx {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Another store on the same database (another replica, or the same file reopened).
    pub async fn open_again(&self) -> Store {
        Store::open(&self.url).await.expect("reopen store")
    }

    /// PostgreSQL: another store whose connections are named `name` (its LISTEN connection
    /// `name-listen`), so a test can find them in `pg_stat_activity`.
    pub async fn open_named(&self, name: &str) -> Store {
        let url = format!("{}&application_name={name}", self.url);
        Store::open(&url).await.expect("open named store")
    }

    /// PostgreSQL: a plain connection to the server (for inspecting `pg_stat_activity`).
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("admin connection")
    }
}

pub async fn sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory that does not exist yet: opening must create it.
    let url = format!("sqlite://{}/data/portcullis.db", dir.path().display());
    let store = Store::open(&url).await.expect("open sqlite store");
    let tag = String::new();
    case(Ctx { store, url, tag }).await;
}

/// The server and how to reach it: `PORTCULLIS_TEST_POSTGRES_URL`, else the local server as
/// `postgres`, then as `root`.
async fn server() -> Result<(String, PgConnection), String> {
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

pub async fn postgres<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
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
    let schema = format!("pcl_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let result = AssertUnwindSafe(async {
        let store = Store::open(&url).await.expect("open postgres store");
        case(Ctx {
            store,
            url: url.clone(),
            tag: schema.clone(),
        })
        .await;
    })
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
