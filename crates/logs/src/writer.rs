//! The writer task: takes up to `batch_size` records from the queue (or what arrived within
//! `flush_interval` of the first), unpacks them into records it keeps from batch to batch,
//! writes them through the store, retries a failed write with doubling pauses, then gives the
//! batch up (counted, logged) so the queue keeps moving.
//!
//! A batch is gathered and unpacked while the ones before are written: at most
//! [`LogStore::write_depth`] writes at once (one for SQLite, so batches land in order; two for
//! PostgreSQL, whose writes are mostly waiting on the server and which keeps two batches off
//! each other's rollup rows itself). Done one after the other, PostgreSQL writes left the two
//! cores here two-thirds idle; see `docs/benchmarks.md`.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

use crate::packed::Packed;
use crate::record::LogRecord;
use crate::sink::{Counters, SinkConfig};
use crate::store::LogStore;

/// Records the batch vectors keep room for between batches.
const KEEP_ROOM: usize = 1024;

pub(crate) async fn run(
    store: Arc<dyn LogStore>,
    mut rx: mpsc::Receiver<Packed>,
    mut stop: watch::Receiver<bool>,
    cfg: SinkConfig,
    counters: Arc<Counters>,
) {
    let mut stopping = false;
    // One vector for every batch, grown as batches need (most are far below `batch_size`),
    // and the sets of records batches are unpacked into, whose strings keep their room: one
    // being filled, the others being written.
    let mut batch = Vec::new();
    let mut records: Vec<LogRecord> = Vec::new();
    let depth = store.write_depth().max(1);
    // Oldest first. Aborted with this task (a shutdown past its deadline), as a write in place
    // used to be.
    let mut writing: VecDeque<AbortOnDropHandle<Vec<LogRecord>>> = VecDeque::new();
    loop {
        // Wait for the first record (or the stop signal).
        tokio::select! {
            biased;
            _ = stop.changed(), if !stopping => {
                stopping = true;
                rx.close();
                continue;
            }
            n = rx.recv_many(&mut batch, cfg.batch_size) => {
                if n == 0 {
                    break; // Closed and drained.
                }
            }
        }
        // Top the batch up: sleep out the flush interval, then take what arrived. The writer
        // does not wait on the queue meanwhile, so senders never wake it record by record (a
        // wake-up, poll and re-arm per request). A queue holding a full batch is drained
        // without sleeping; once stopping, what is left is taken at once.
        if batch.len() < cfg.batch_size && !stopping && rx.len() < cfg.batch_size {
            let deadline = Instant::now() + cfg.flush_interval;
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    stopping = true;
                    rx.close();
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
        while batch.len() < cfg.batch_size {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let bytes: u64 = batch.iter().map(|p| p.approx).sum();
        let n = unpack(&mut batch, &mut records, &counters);
        batch.clear();
        batch.shrink_to(KEEP_ROOM);
        // With as many writes as the store takes under way, the oldest must finish first; its
        // records then take this batch's place.
        let spare = if writing.len() >= depth
            && let Some(w) = writing.pop_front()
        {
            finished(w).await
        } else {
            Vec::new()
        };
        let mut these = std::mem::replace(&mut records, spare);
        let (store, cfg, counters) = (store.clone(), cfg.clone(), counters.clone());
        writing.push_back(AbortOnDropHandle::new(tokio::spawn(async move {
            write(&*store, &these[..n], &cfg, &counters).await;
            // The batch is gone (written or given up): its bytes leave the budget, and a
            // burst's room is not kept.
            keep_room(&mut these);
            counters.bytes.fetch_sub(bytes, Ordering::Relaxed);
            these
        })));
    }
    for w in writing {
        finished(w).await;
    }
}

/// Waits for a batch's write; returns its records for reuse. `write` catches the store's
/// panics, so only a bug of its own loses the records (they were counted as accepted).
async fn finished(w: AbortOnDropHandle<Vec<LogRecord>>) -> Vec<LogRecord> {
    w.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "request logs lost: the write task failed");
        Vec::new()
    })
}

/// Unpacks a batch into the first records of `into`; returns how many. A buffer that does not
/// unpack (only a bug could make one) counts as a failed record.
fn unpack(batch: &mut [Packed], into: &mut Vec<LogRecord>, c: &Counters) -> usize {
    if into.len() < batch.len() {
        into.resize_with(batch.len(), LogRecord::default);
    }
    let mut n = 0;
    for p in batch.iter_mut() {
        if p.unpack_into(&mut into[n]).is_some() {
            n += 1;
        } else {
            c.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!("request log lost: its queued form did not unpack");
        }
    }
    n
}

/// Keeps at most [`KEEP_ROOM`] records for the next batch. Their payloads are let go: the next
/// batch moves its own in (see `crate::packed`).
fn keep_room(records: &mut Vec<LogRecord>) {
    records.truncate(KEEP_ROOM);
    records.shrink_to(KEEP_ROOM);
    for r in records.iter_mut() {
        r.request_body = None;
        r.response_body = None;
    }
}

async fn write(store: &dyn LogStore, batch: &[LogRecord], cfg: &SinkConfig, c: &Counters) {
    let n = batch.len() as u64;
    let mut pause = cfg.retry_backoff;
    let mut last_error = String::new();
    for attempt in 1..=cfg.max_attempts {
        match AssertUnwindSafe(store.insert_batch(batch))
            .catch_unwind()
            .await
        {
            Ok(Ok(_)) => {
                c.written.fetch_add(n, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = "the log store panicked".to_owned(),
        }
        if attempt < cfg.max_attempts {
            tracing::warn!(records = n, attempt, error = %last_error, "writing request logs failed; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(cfg.max_backoff);
        }
    }
    c.failed.fetch_add(n, Ordering::Relaxed);
    tracing::error!(
        records = n,
        attempts = cfg.max_attempts,
        error = %last_error,
        "request logs lost: a batch could not be written"
    );
}
