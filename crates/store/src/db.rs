//! The two backends behind one small query interface: SQL text with `$n` parameters bound from
//! [`Arg`]s, run on a pool or inside a transaction. Repository code is written once against it.

use std::borrow::Cow;

use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};

/// Which database a [`crate::Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (one node, zero configuration).
    Sqlite,
    /// A shared PostgreSQL database (any number of replicas).
    Postgres,
}

/// SQL text: a `&'static str` constant, or a statement assembled from constants (list filters).
/// User input is never spliced into it; it is always bound as an [`Arg`].
pub(crate) type Sql = Cow<'static, str>;

/// A bind parameter.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        Arg::Text(v.clone())
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
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(v)
    }
}

/// `args![a, b, …]`: a `Vec<Arg>` from values convertible into [`Arg`].
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::db::Arg::from($v)),*] };
}
pub(crate) use args;

/// Binds every argument, in order, onto a query of either backend.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
            };
        }
        q
    }};
}

/// A row type that decodes from both backends (`#[derive(sqlx::FromRow)]` gives both).
pub(crate) trait BothRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> BothRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// The connection pool of either backend. Cloning shares the pool.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction of either backend; dropping it without [`Tx::commit`] rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

fn sql(s: impl Into<Sql>) -> AssertSqlSafe<Sql> {
    AssertSqlSafe(s.into())
}

impl Db {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Substring test, case-sensitive on both backends: `{contains}(haystack, needle) > 0`.
    pub(crate) fn contains_fn(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "instr",
            Db::Postgres(_) => "strpos",
        }
    }

    /// A transaction for a change. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// two writers queue on the busy timeout instead of failing when a reader upgrades.
    pub(crate) async fn write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A read-only transaction that sees one consistent snapshot (REPEATABLE READ on
    /// PostgreSQL; a deferred transaction on SQLite, whose WAL snapshot starts at its first read).
    pub(crate) async fn snapshot(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    pub(crate) async fn fetch_optional<T: BothRow>(
        &self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_optional(p)
                    .await
            }
            Db::Postgres(p) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_optional(p)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_all<T: BothRow>(
        &self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Db::Sqlite(p) => bind_all!(sqlx::query_as(sql(q)), args).fetch_all(p).await,
            Db::Postgres(p) => bind_all!(sqlx::query_as(sql(q)), args).fetch_all(p).await,
        }
    }

    pub(crate) async fn scalar(
        &self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(p) => {
                bind_all!(sqlx::query_scalar(sql(q)), args)
                    .fetch_one(p)
                    .await
            }
            Db::Postgres(p) => {
                bind_all!(sqlx::query_scalar(sql(q)), args)
                    .fetch_one(p)
                    .await
            }
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql(q)), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_all!(sqlx::query(sql(q)), args)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch_optional<T: BothRow>(
        &mut self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<Option<T>, sqlx::Error> {
        match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_optional(&mut **t)
                    .await
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_optional(&mut **t)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_all<T: BothRow>(
        &mut self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, sqlx::Error> {
        match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_all(&mut **t)
                    .await
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_as(sql(q)), args)
                    .fetch_all(&mut **t)
                    .await
            }
        }
    }

    pub(crate) async fn scalar(
        &mut self,
        q: impl Into<Sql>,
        args: Vec<Arg>,
    ) -> Result<i64, sqlx::Error> {
        match self {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query_scalar(sql(q)), args)
                    .fetch_one(&mut **t)
                    .await
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query_scalar(sql(q)), args)
                    .fetch_one(&mut **t)
                    .await
            }
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}
