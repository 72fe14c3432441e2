//! Why a log operation failed. Messages name the operation and the database target, never SQL
//! text, bound values or passwords.

/// A log store or sink failure.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The caller's input cannot be used (a malformed cursor, a zero bucket width, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The store could not be opened or its schema prepared.
    #[error("cannot open the log store {target}: {reason}")]
    Open { target: String, reason: String },
    /// A database operation failed (connection lost, constraint, timeout, …).
    #[error("{op}: {reason}")]
    Backend { op: &'static str, reason: String },
}

impl LogError {
    pub(crate) fn invalid(msg: impl Into<String>) -> LogError {
        LogError::Invalid(msg.into())
    }

    pub(crate) fn backend(op: &'static str, e: &sqlx::Error) -> LogError {
        tracing::debug!(operation = op, error = %e, "log store operation failed");
        LogError::Backend {
            op,
            reason: describe(e),
        }
    }
}

/// A short operator-facing description of a database failure.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("database error {code}: {}", d.message()),
            None => format!("database error: {}", d.message()),
        },
        sqlx::Error::Io(io) => format!("database connection failed: {io}"),
        sqlx::Error::Tls(_) => "TLS handshake with the database failed".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the log store is closed".to_owned(),
        sqlx::Error::ColumnDecode { index, .. } => {
            format!("a stored value in column {index} cannot be decoded")
        }
        sqlx::Error::Decode(_) => "a stored value cannot be decoded".to_owned(),
        sqlx::Error::Protocol(_) => "unexpected reply from the database".to_owned(),
        sqlx::Error::Configuration(c) => format!("invalid database settings: {c}"),
        _ => "database failure".to_owned(),
    }
}

/// `result.or_backend("op")`: any sqlx failure becomes a [`LogError::Backend`] naming `op`.
pub(crate) trait ResultExt<T> {
    fn or_backend(self, op: &'static str) -> Result<T, LogError>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn or_backend(self, op: &'static str) -> Result<T, LogError> {
        self.map_err(|e| LogError::backend(op, &e))
    }
}
