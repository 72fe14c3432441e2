//! Control-plane persistence: [`Store`] implements `portcullis_control::repo::Repository` on an
//! embedded SQLite file (one node, zero configuration) or a shared PostgreSQL database (any
//! number of stateless replicas).
//!
//! Every change is one transaction that writes its rows, its audit event and a new catalog
//! version; subscribers learn of new versions in-process at once, from other processes through
//! PostgreSQL `LISTEN/NOTIFY`, and in every case within about a second through a polling
//! fallback (see [`notify`]).

mod api_keys;
mod audit;
mod catalog;
mod change;
mod configs;
mod db;
mod details;
mod errors;
mod integrations;
mod list;
pub mod notify;
mod open;
mod providers;
mod repository;
mod rows;
mod spend;
mod usage_resets;
mod workspaces;

use std::sync::Arc;

pub use db::Backend;
pub use notify::{CHANNEL, POLL_INTERVAL};
pub use open::{DEFAULT_FILE_NAME, OpenError};

use db::Db;
use notify::Notifier;

/// The control-plane store. Cloning is cheap and shares the pool and the change feed; the
/// background watch tasks stop when the last clone is dropped (or at [`Store::close`]).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    notifier: Notifier,
}

impl Store {
    fn from_parts(db: Db, notifier: Notifier) -> Store {
        Store {
            inner: Arc::new(Inner { db, notifier }),
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// Deletes the audit events older than `before` (unix ms) in small batches, so a retention
    /// job never holds a long lock or bloats one huge transaction. Returns how many went.
    pub async fn prune_audit(&self, before: i64) -> portcullis_control::repo::RepoResult<u64> {
        audit::prune(self, before).await
    }

    /// Stops the watch tasks and closes the connections (SQLite also runs `PRAGMA optimize`).
    /// Every clone of this store is unusable afterwards.
    pub async fn close(&self) {
        self.inner.notifier.close().await;
        self.inner.db.close().await;
    }
}

impl std::fmt::Debug for Store {
    // Never prints the URL: a PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
