//! The request path's side of logging: [`LogSink::log`] puts a record on a bounded queue and
//! returns at once. It never waits: when the queue is full (the database is slow or down) the
//! record is dropped and counted, so logging can never slow responses down or grow memory
//! without bound. A writer task drains the queue in batches (see [`crate::writer`]).
//!
//! The queue is bounded twice: in records, and in bytes (records count their payloads, which
//! can be 64 KiB each). Past the byte budget a record keeps its numbers but loses its payloads
//! (counted as shed); only when even that does not fit is it dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::packed::Packed;
use crate::record::LogRecord;
use crate::store::LogStore;
use crate::writer;

/// Queue and writer settings. The defaults suit a busy gateway: ~64k records of slack
/// (seconds of a database hiccup at high load) within 64 MiB, 10,000-record batches (large
/// batches only form when records queue up, and they make each rollup row's rewrite serve many
/// more records), at most 50 ms of delay.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Records the queue holds before dropping.
    pub capacity: usize,
    /// Bytes ([`LogRecord::approx_bytes`]) the queue and the batches being written may hold;
    /// past it, records are queued without payloads, and dropped when even that does not fit.
    pub max_bytes: usize,
    /// Records per write.
    pub batch_size: usize,
    /// How long a partial batch waits for more records before it is written.
    pub flush_interval: Duration,
    /// Tries per batch before it is counted as failed.
    pub max_attempts: u32,
    /// Pause after the first failed try; doubles per retry up to `max_backoff`.
    pub retry_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for SinkConfig {
    fn default() -> SinkConfig {
        SinkConfig {
            capacity: 65_536,
            max_bytes: DEFAULT_MAX_BYTES,
            batch_size: 10_000,
            flush_interval: Duration::from_millis(50),
            max_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// The default byte budget of the queue: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// Counters since the sink started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Records taken onto the queue.
    pub accepted: u64,
    /// Records refused: queue full, or the sink shut down.
    pub dropped: u64,
    /// Records queued without their payloads because the byte budget was reached.
    pub payloads_shed: u64,
    /// Records the store confirmed.
    pub written: u64,
    /// Records in batches given up after every retry.
    pub failed: u64,
    /// Records waiting in the queue now.
    pub queue_depth: u64,
    /// Bytes held by the queue and the batches being written now.
    pub queue_bytes: u64,
}

/// What [`LogSink::shutdown`] achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownReport {
    pub written: u64,
    pub failed: u64,
    /// Accepted records neither written nor failed when the deadline passed (lost).
    pub left: u64,
    pub timed_out: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub dropped: AtomicU64,
    pub payloads_shed: AtomicU64,
    pub written: AtomicU64,
    pub failed: AtomicU64,
    /// Bytes queued or being written: added by `log`, released by the writer after each batch.
    pub bytes: AtomicU64,
}

/// The bounded log queue and its writer. Cloning is cheap; every clone feeds the same queue.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Packed>,
    max_bytes: u64,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl LogSink {
    /// Starts the writer task on the current Tokio runtime. Zero sizes are raised to 1.
    pub fn start(store: Arc<dyn LogStore>, config: SinkConfig) -> LogSink {
        let config = SinkConfig {
            capacity: config.capacity.max(1),
            max_bytes: config.max_bytes.max(1),
            batch_size: config.batch_size.max(1),
            max_attempts: config.max_attempts.max(1),
            ..config
        };
        let (tx, rx) = mpsc::channel(config.capacity);
        let max_bytes = config.max_bytes as u64;
        let (stop, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let handle = tokio::spawn(writer::run(store, rx, stop_rx, config, counters.clone()));
        LogSink {
            inner: Arc::new(Inner {
                tx,
                max_bytes,
                counters,
                stop,
                writer: Mutex::new(Some(handle)),
            }),
        }
    }

    /// Queues a record without waiting. Returns false when it was dropped (queue full, over
    /// the byte budget even without payloads, or the sink shut down).
    pub fn log(&self, mut record: LogRecord) -> bool {
        let c = &self.inner.counters;
        let max = self.inner.max_bytes;
        let mut size = record.approx_bytes() as u64;
        // Concurrent callers may overshoot the budget by a record each: a bound, not an exact cap.
        let held = c.bytes.load(Ordering::Relaxed);
        if held + size > max {
            if record.payload_bytes() > 0 {
                record.request_body = None;
                record.response_body = None;
                size = record.approx_bytes() as u64;
                c.payloads_shed.fetch_add(1, Ordering::Relaxed);
            }
            if held + size > max {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        c.bytes.fetch_add(size, Ordering::Relaxed);
        // Packed while its strings are hot, which are freed here (see `crate::packed`).
        match self.inner.tx.try_send(Packed::of(&mut record, size)) {
            Ok(()) => {
                c.accepted.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                c.bytes.fetch_sub(size, Ordering::Relaxed);
                c.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn stats(&self) -> SinkStats {
        let c = &self.inner.counters;
        let tx = &self.inner.tx;
        SinkStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            payloads_shed: c.payloads_shed.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            queue_depth: (tx.max_capacity() - tx.capacity()) as u64,
            queue_bytes: c.bytes.load(Ordering::Relaxed),
        }
    }

    /// Closes the queue (later records are dropped) and waits up to `deadline` for the writer
    /// to write everything accepted before. Past the deadline the writer is stopped and the
    /// records still pending are reported as `left`. Later calls return at once.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let _ = self.inner.stop.send(true);
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        let mut timed_out = false;
        if let Some(mut handle) = handle
            && tokio::time::timeout(deadline, &mut handle).await.is_err()
        {
            handle.abort();
            timed_out = true;
        }
        let s = self.stats();
        let left = s.accepted.saturating_sub(s.written + s.failed);
        if left > 0 {
            tracing::error!(
                left,
                "request logs lost at shutdown: the writer did not finish in time"
            );
        }
        ShutdownReport {
            written: s.written,
            failed: s.failed,
            left,
            timed_out,
        }
    }
}
