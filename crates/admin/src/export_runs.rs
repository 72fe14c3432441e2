//! The export jobs this gateway is running, so that a graceful shutdown reports them failed at
//! once (saying they can be started again) instead of leaving them `in_progress` until the
//! staleness rule gives up on them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use portcullis_logs::{ExportJob, ExportStatus, LogStore};
use tokio::task::{AbortHandle, JoinHandle};

/// Why a job this gateway stopped at shutdown failed.
pub const STOPPED_AT_SHUTDOWN: &str = "the gateway stopped during the export; start it again \
    (POST /v1/logs/exports/{id}/start) to export the same records";

/// Shared by every clone of the admin context.
#[derive(Clone, Default)]
pub struct ExportRuns(Arc<Mutex<Runs>>);

#[derive(Default)]
struct Runs {
    /// Set by [`ExportRuns::stop_all`]: later runs fail at once.
    closed: bool,
    running: HashMap<String, Run>,
}

struct Run {
    job: ExportJob,
    store: Arc<dyn LogStore>,
    task: AbortHandle,
}

/// Forgets a run when its task ends, however it ends (done, aborted, panicked).
struct Forget {
    runs: ExportRuns,
    id: String,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.runs.lock().running.remove(&self.id);
    }
}

impl ExportRuns {
    fn lock(&self) -> MutexGuard<'_, Runs> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` for `job` (stored `in_progress`) in the background, known here until it
    /// ends. Once shutting down the job is recorded failed instead.
    pub(crate) fn spawn(
        &self,
        store: Arc<dyn LogStore>,
        job: ExportJob,
        work: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let mut runs = self.lock();
        if runs.closed {
            drop(runs);
            return tokio::spawn(async move { fail(&store, job).await });
        }
        let forget = Forget {
            runs: self.clone(),
            id: job.id.clone(),
        };
        // The lock is held until the run is registered, so its `Forget` cannot come first.
        let task = tokio::spawn(async move {
            let _forget = forget;
            work.await;
        });
        let run = Run {
            job,
            store,
            task: task.abort_handle(),
        };
        runs.running.insert(run.job.id.clone(), run);
        task
    }

    /// How many jobs are running here.
    pub fn running(&self) -> usize {
        self.lock().running.len()
    }

    /// Graceful shutdown: stops every job running here and records it failed (unless it
    /// finished or was cancelled meanwhile); jobs started from now on fail at once. Returns
    /// how many were stopped.
    pub async fn stop_all(&self) -> usize {
        let running = {
            let mut runs = self.lock();
            runs.closed = true;
            std::mem::take(&mut runs.running)
        };
        let n = running.len();
        for (_, run) in running {
            run.task.abort();
            fail(&run.store, run.job).await;
        }
        n
    }
}

/// Records `job` failed if it is still in progress (compare-and-set: a run that finished or
/// a cancel that landed first wins).
async fn fail(store: &Arc<dyn LogStore>, job: ExportJob) {
    let failed = ExportJob {
        status: ExportStatus::Failed,
        total_records: None,
        error: Some(STOPPED_AT_SHUTDOWN.replace("{id}", &job.id)),
        updated_at: crate::time::now(),
        ..job
    };
    match store
        .replace_export(&failed, ExportStatus::InProgress)
        .await
    {
        Ok(true) => tracing::info!(export = %failed.id, "log export stopped by shutdown"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(export = %failed.id, error = %e, "cannot record a stopped log export")
        }
    }
}
