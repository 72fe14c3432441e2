//! Database failures as `RepoError`s: a unique violation becomes a `Conflict` the caller names;
//! anything else becomes a `Backend` error naming the operation, never SQL text or bound values.

use portcullis_control::repo::RepoError;
use sqlx::error::ErrorKind;

/// A short operator-facing description of a database failure (the full error goes to the log).
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("database error {code}: {}", d.message()),
            None => format!("database error: {}", d.message()),
        },
        sqlx::Error::Io(io) => format!("database connection failed: {io}"),
        sqlx::Error::Tls(_) => "TLS handshake with the database failed".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the store is closed".to_owned(),
        sqlx::Error::ColumnDecode { index, .. } => {
            format!("a stored value in column {index} cannot be decoded")
        }
        sqlx::Error::Decode(_) => "a stored value cannot be decoded".to_owned(),
        sqlx::Error::Protocol(_) => "unexpected reply from the database".to_owned(),
        sqlx::Error::Migrate(m) => format!("schema migration failed: {m}"),
        sqlx::Error::Configuration(c) => format!("invalid database settings: {c}"),
        _ => "database failure".to_owned(),
    }
}

pub(crate) fn backend(op: &str, e: &sqlx::Error) -> RepoError {
    if refuses_nul(e) {
        return RepoError::Invalid(format!(
            "{op}: text values must not contain NUL characters (\\u0000)"
        ));
    }
    tracing::warn!(operation = op, error = %e, "store operation failed");
    RepoError::Backend(format!("{op}: {}", describe(e)))
}

/// The constraint (PostgreSQL) or message (SQLite: `UNIQUE constraint failed: t.col`) of a
/// unique violation, used to tell which unique rule was hit.
fn unique_hint(e: &sqlx::Error) -> Option<String> {
    let d = e.as_database_error()?;
    (d.kind() == ErrorKind::UniqueViolation)
        .then(|| format!("{} {}", d.constraint().unwrap_or(""), d.message()))
}

/// PostgreSQL refusing a NUL character in a text value (`22021`) or in a `JSONB` string
/// (`22P05`): strings from clients are valid UTF-8 otherwise, so that is the only cause, and the
/// request's to fix. (SQLite stores NUL.)
fn refuses_nul(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "22021" || c == "22P05")
}

fn is_foreign_key(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == ErrorKind::ForeignKeyViolation)
}

pub(crate) trait ResultExt<T> {
    /// Any failure is a backend error of `op`.
    fn or_backend(self, op: &str) -> Result<T, RepoError>;
    /// A unique violation is a conflict whose message `name` builds from the constraint hint;
    /// a foreign-key violation is a conflict too; anything else a backend error of `op`.
    fn or_conflict(self, op: &str, name: impl FnOnce(&str) -> String) -> Result<T, RepoError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn or_backend(self, op: &str) -> Result<T, RepoError> {
        self.map_err(|e| backend(op, &e))
    }

    fn or_conflict(self, op: &str, name: impl FnOnce(&str) -> String) -> Result<T, RepoError> {
        self.map_err(|e| {
            if let Some(hint) = unique_hint(&e) {
                RepoError::Conflict(name(&hint))
            } else if is_foreign_key(&e) {
                RepoError::Conflict(format!(
                    "{op}: a referenced resource is missing or the resource is still in use"
                ))
            } else {
                backend(op, &e)
            }
        })
    }
}
