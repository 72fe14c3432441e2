//! The change feed behind `Repository::subscribe`.
//!
//! A receiver gets catalog versions, strictly increasing, each at most once; when several
//! changes land close together it may get only the newest (read it as "reload if newer").
//! Versions come from three sources, all funnelled through [`Notifier::advance`]:
//!
//! 1. changes committed by this `Store`, at once after commit;
//! 2. on PostgreSQL, `NOTIFY portcullis_catalog, '<version>'` sent inside every change's
//!    transaction (so it is delivered exactly at commit) and heard by a `LISTEN` task on its own
//!    connection. A notification only wakes the task, which re-reads the `version` row of its
//!    own schema, so databases that host several schemas cannot cross-talk. When the listening
//!    connection breaks, the task reconnects with backoff (100 ms up to 5 s) and re-reads the
//!    version, catching up on changes it missed while it was gone;
//! 3. a poll of the `version` row every [`POLL_INTERVAL`] (1 s) while anyone subscribes, on
//!    both backends: a missed notification, a listener that is still reconnecting, or another
//!    process writing the same SQLite file (the CLI beside a running server) is noticed within
//!    a second.
//!
//! The watch tasks start with the first `subscribe()` and stop when the store is dropped or
//! closed. A receiver that falls more than [`CAPACITY`] versions behind gets `Lagged`: it
//! should simply reload.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};
use tokio::runtime::Handle;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;

use crate::db::Db;

/// The PostgreSQL notification channel; the payload is the new catalog version.
pub const CHANNEL: &str = "portcullis_catalog";

/// How often the `version` row is polled while anyone subscribes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Versions a receiver may fall behind before it sees `Lagged`.
pub const CAPACITY: usize = 64;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The highest version announced so far, and the channel it is announced on.
struct Feed {
    sender: broadcast::Sender<i64>,
    last: AtomicI64,
}

impl Feed {
    fn advance(&self, version: i64) {
        if self.last.fetch_max(version, Ordering::AcqRel) < version {
            // No receiver is fine: nobody is listening yet.
            let _ = self.sender.send(version);
        }
    }

    fn last(&self) -> i64 {
        self.last.load(Ordering::Acquire)
    }

    async fn catch_up(&self, db: &Db) {
        match crate::catalog::read_version(db).await {
            Ok(v) => self.advance(v),
            Err(e) => tracing::debug!(error = %e, "catalog version poll failed"),
        }
    }
}

pub(crate) struct Notifier {
    feed: Arc<Feed>,
    db: Db,
    /// PostgreSQL: a one-connection pool for the LISTEN connection.
    listen_pool: Option<PgPool>,
    runtime: Handle,
    /// `None` until the first subscribe; the running watch tasks after it.
    tasks: Mutex<Option<Vec<AbortHandle>>>,
}

impl Notifier {
    pub(crate) fn new(db: Db, listen_pool: Option<PgPool>, version: i64) -> Notifier {
        let (sender, _) = broadcast::channel(CAPACITY);
        Notifier {
            feed: Arc::new(Feed {
                sender,
                last: AtomicI64::new(version),
            }),
            db,
            listen_pool,
            runtime: Handle::current(),
            tasks: Mutex::new(None),
        }
    }

    /// Announces `version` unless a newer one was announced already.
    pub(crate) fn advance(&self, version: i64) {
        self.feed.advance(version);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<i64> {
        let rx = self.feed.sender.subscribe();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        if tasks.is_none() {
            let mut handles = vec![
                self.runtime
                    .spawn(poll(self.db.clone(), self.feed.clone()))
                    .abort_handle(),
            ];
            if let Some(pool) = &self.listen_pool {
                let task = listen(pool.clone(), self.db.clone(), self.feed.clone());
                handles.push(self.runtime.spawn(task).abort_handle());
            }
            *tasks = Some(handles);
        }
        rx
    }

    /// Stops the watch tasks and closes the LISTEN connection.
    pub(crate) async fn close(&self) {
        self.stop();
        if let Some(pool) = &self.listen_pool {
            pool.close().await;
        }
    }

    /// Stops the watch tasks (subscribers keep their receivers but hear nothing more).
    fn stop(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for t in tasks.get_or_insert_with(Vec::new).drain(..) {
            t.abort();
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The polling fallback: re-reads the version every [`POLL_INTERVAL`] while anyone listens.
async fn poll(db: Db, feed: Arc<Feed>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if feed.sender.receiver_count() > 0 {
            feed.catch_up(&db).await;
        }
    }
}

/// The PostgreSQL `LISTEN` loop: reconnects with backoff and re-reads the version after every
/// (re)connection, since notifications sent meanwhile are lost.
async fn listen(pool: PgPool, db: Db, feed: Arc<Feed>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match connect(&pool).await {
            Ok(mut listener) => {
                backoff = MIN_BACKOFF;
                feed.catch_up(&db).await;
                loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => {
                            if n.payload().parse::<i64>().map_or(true, |v| v > feed.last()) {
                                feed.catch_up(&db).await;
                            }
                        }
                        // The connection dropped and was re-established: catch up.
                        Ok(None) => feed.catch_up(&db).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "catalog listener lost its connection");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "catalog listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}
