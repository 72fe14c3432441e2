//! Opening a store: URL parsing, connection pools, pragmas, and the embedded migrations (one
//! equivalent set per backend, in `migrations/sqlite` and `migrations/postgres`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::db::Db;
use crate::errors::describe;
use crate::notify::Notifier;
use crate::{Store, catalog};

/// The database file [`Store::open_in_data_dir`] uses.
pub const DEFAULT_FILE_NAME: &str = "portcullis.db";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// SQLite: one writer at a time anyway; a few connections let reads run beside it.
const SQLITE_POOL: u32 = 4;
/// PostgreSQL: per replica, modest so many replicas do not exhaust `max_connections`.
const POSTGRES_POOL: u32 = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const APPLICATION_NAME: &str = "portcullis";

/// Why a store could not be opened. Messages name the file or `host:port/database`, never a
/// password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "unsupported database URL scheme {0:?}: use sqlite://<path> or postgres://user@host/db"
    )]
    UnsupportedScheme(String),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot create the directory {path}: {reason}")]
    Directory { path: String, reason: String },
    #[error("cannot open the database {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("cannot migrate the database {target}: {reason}")]
    Migrate { target: String, reason: String },
}

impl Store {
    /// Opens (creating and migrating as needed) `sqlite://<path>` (also `sqlite:<path>`,
    /// `sqlite::memory:`) or `postgres://…` / `postgresql://…`. PostgreSQL URL parameters
    /// such as `sslmode`, `application_name` or `options=-c search_path=…` are honoured.
    pub async fn open(url: &str) -> Result<Store, OpenError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            "sqlite" => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(|e| OpenError::InvalidUrl(describe(&e)))?;
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                open_sqlite(opts, memory).await
            }
            "postgres" | "postgresql" => {
                let opts = PgConnectOptions::from_str(url)
                    .map_err(|e| OpenError::InvalidUrl(describe(&e)))?;
                open_postgres(opts).await
            }
            other => Err(OpenError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// Opens `<dir>/portcullis.db`, creating the directory and the file on first start.
    pub async fn open_in_data_dir(dir: &Path) -> Result<Store, OpenError> {
        let opts = SqliteConnectOptions::new().filename(dir.join(DEFAULT_FILE_NAME));
        open_sqlite(opts, false).await
    }
}

async fn open_sqlite(opts: SqliteConnectOptions, memory: bool) -> Result<Store, OpenError> {
    let path = opts.get_filename().to_path_buf();
    let target = path.display().to_string();
    let mut opts = opts
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .optimize_on_close(true, 400);
    let mut pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_POOL)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    if memory {
        // The database lives as long as a connection does: keep one, forever.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| OpenError::Directory {
                path: parent.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    let pool: SqlitePool = pool
        .connect_with(opts)
        .await
        .map_err(|e| OpenError::Connect {
            target: target.clone(),
            reason: describe(&e),
        })?;
    SQLITE_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|e| OpenError::Migrate {
            target: target.clone(),
            reason: e.to_string(),
        })?;
    finish(Db::Sqlite(pool), None, target).await
}

async fn open_postgres(opts: PgConnectOptions) -> Result<Store, OpenError> {
    let target = format!(
        "{}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("")
    );
    let app = opts
        .get_application_name()
        .unwrap_or(APPLICATION_NAME)
        .to_owned();
    let opts = opts.application_name(&app);
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_POOL)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(opts.clone())
        .await
        .map_err(|e| OpenError::Connect {
            target: target.clone(),
            reason: describe(&e),
        })?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|e| OpenError::Migrate {
            target: target.clone(),
            reason: e.to_string(),
        })?;
    // The LISTEN connection: its own pool of one, never recycled, named `<app>-listen` so an
    // operator can tell it apart in `pg_stat_activity`.
    let listen_pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(opts.application_name(&format!("{app}-listen")));
    finish(Db::Postgres(pool), Some(listen_pool), target).await
}

async fn finish(db: Db, listen_pool: Option<PgPool>, target: String) -> Result<Store, OpenError> {
    let version = catalog::read_version(&db)
        .await
        .map_err(|e| OpenError::Connect {
            target,
            reason: e.to_string(),
        })?;
    let notifier = Notifier::new(db.clone(), listen_pool, version);
    Ok(Store::from_parts(db, notifier))
}
