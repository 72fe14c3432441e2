//! The two backends behind one small query interface: SQL text with `$n` parameters bound from
//! [`Arg`]s, run on a pool or in a transaction. Read paths are written once against it; only
//! the bulk write paths are per backend.

use std::borrow::Cow;

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};

/// Which database a log store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `logs.db` in the gateway's data directory.
    Sqlite,
    /// The gateway's shared PostgreSQL database.
    Postgres,
}

/// A bind parameter.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Arg {
        Arg::Float(Some(v))
    }
}

/// SQL text assembled from constants, with every value bound as an [`Arg`]: user input is
/// never spliced into the text (only integers the code computed, such as grains).
#[derive(Debug, Default)]
pub(crate) struct Q {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Q {
    pub fn new(sql: &str) -> Q {
        Q {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Q {
        self.sql.push_str(sql);
        self
    }

    /// Appends a `$n` placeholder bound to `a`.
    pub fn bind(&mut self, a: impl Into<Arg>) -> &mut Q {
        self.args.push(a.into());
        let n = self.args.len();
        self.sql.push('$');
        self.sql.push_str(&n.to_string());
        self
    }
}

/// Text as PostgreSQL stores it: its text and `JSONB` strings cannot hold NUL (a client's
/// `\u0000` decodes to one), so each becomes U+FFFD. Everything the log store sends PostgreSQL
/// goes through here (`super::pg_rows` does the same byte by byte as it escapes), so a filter
/// naming a NUL finds what was stored instead of failing the query.
pub(crate) fn nul_free(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A bound text through [`nul_free`], copied only when it holds a NUL.
fn pg_text(v: Option<String>) -> Option<String> {
    v.map(|s| match nul_free(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => o,
    })
}

macro_rules! bind_all {
    (pg $query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(pg_text(v)),
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
            };
        }
        q
    }};
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Float(v) => q.bind(v),
            };
        }
        q
    }};
}

/// A row type both backends decode (`#[derive(sqlx::FromRow)]` gives both).
pub(crate) trait BothRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> BothRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction; dropping it without [`Tx::commit`] rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so
    /// read-modify-write of rollups is safe and writers queue on the busy timeout.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read transaction over one consistent snapshot.
    pub async fn snapshot(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    pub async fn fetch_all<T: BothRow>(&self, q: Q) -> Result<Vec<T>, sqlx::Error> {
        let sql = AssertSqlSafe(q.sql);
        match self {
            Db::Sqlite(p) => bind_all!(sqlx::query_as(sql), q.args).fetch_all(p).await,
            Db::Postgres(p) => bind_all!(pg sqlx::query_as(sql), q.args).fetch_all(p).await,
        }
    }

    pub async fn fetch_optional<T: BothRow>(&self, q: Q) -> Result<Option<T>, sqlx::Error> {
        let sql = AssertSqlSafe(q.sql);
        match self {
            Db::Sqlite(p) => {
                bind_all!(sqlx::query_as(sql), q.args)
                    .fetch_optional(p)
                    .await
            }
            Db::Postgres(p) => {
                bind_all!(pg sqlx::query_as(sql), q.args)
                    .fetch_optional(p)
                    .await
            }
        }
    }

    pub async fn execute(&self, q: Q) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(q.sql);
        Ok(match self {
            Db::Sqlite(p) => bind_all!(sqlx::query(sql), q.args)
                .execute(p)
                .await?
                .rows_affected(),
            Db::Postgres(p) => bind_all!(pg sqlx::query(sql), q.args)
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn fetch_all<T: BothRow>(&mut self, q: Q) -> Result<Vec<T>, sqlx::Error> {
        let sql = AssertSqlSafe(q.sql);
        match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as(sql), q.args)
                    .fetch_all(&mut **t)
                    .await
            }
            Tx::Postgres(t) => {
                bind_all!(pg sqlx::query_as(sql), q.args)
                    .fetch_all(&mut **t)
                    .await
            }
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}
