//! The log store behind the observer: records queue in a [`LogSink`], a batching writer stores
//! them, and an hourly task deletes what is past retention.

use std::sync::Arc;
use std::time::Duration;

use portcullis_logs::LogRecord;
use portcullis_logs::sink::{LogSink, SinkConfig};
use portcullis_logs::store::{LogStore, SqlLogStore};

use super::Sink;
use crate::settings::{LogSettings, Settings};

impl Sink for LogSink {
    fn keep(&self, record: LogRecord) {
        // A full queue drops the record and counts it: the response never waits for logging.
        self.log(record);
    }
}

/// The store and its writer, for the admin API and for draining at shutdown.
pub struct Logs {
    pub store: Arc<dyn LogStore>,
    pub sink: Arc<LogSink>,
}

impl Logs {
    /// Opens the log store beside the catalog and starts its writer and retention task.
    pub async fn start(settings: &Settings) -> Result<Option<Logs>, String> {
        let cfg = &settings.logs;
        if !cfg.enabled {
            return Ok(None);
        }
        let url = settings.governance.database_url.as_deref().unwrap_or("");
        let store: Arc<dyn LogStore> = Arc::new(
            SqlLogStore::open(url, &settings.server.data_dir)
                .await
                .map_err(|e| format!("cannot open the log store: {e}"))?,
        );
        let sink = Arc::new(LogSink::start(store.clone(), sink_config(cfg)));
        if cfg.retention_days > 0 {
            spawn_retention(store.clone(), cfg.retention_days);
        }
        Ok(Some(Logs { store, sink }))
    }

    /// Writes everything accepted before this call (bounded by the drain timeout).
    pub async fn drain(&self, settings: &LogSettings) {
        let report = self
            .sink
            .shutdown(Duration::from_secs(settings.drain_timeout_secs))
            .await;
        if report.left > 0 || report.failed > 0 {
            tracing::error!(
                written = report.written,
                failed = report.failed,
                left = report.left,
                "request logs not all written at shutdown"
            );
        } else {
            tracing::info!(written = report.written, "request logs drained");
        }
        self.store.close().await;
    }
}

fn sink_config(cfg: &LogSettings) -> SinkConfig {
    SinkConfig {
        capacity: cfg.queue_capacity,
        max_bytes: cfg.queue_max_bytes,
        batch_size: cfg.batch_size,
        flush_interval: Duration::from_millis(cfg.flush_interval_ms.max(1)),
        ..SinkConfig::default()
    }
}

fn spawn_retention(store: Arc<dyn LogStore>, days: u32) {
    tokio::spawn(async move {
        let keep = i64::from(days) * 86_400_000;
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = crate::pipeline::unix_millis() - keep;
            match store
                .delete_older_than(cutoff, portcullis_logs::store::DEFAULT_RETENTION_BATCH)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "request logs past retention deleted"),
                Err(e) => tracing::warn!("log retention failed (retried in an hour): {e}"),
            }
        }
    });
}
