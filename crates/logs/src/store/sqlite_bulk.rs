//! SQLite's bulk write path. A batch is one `BEGIN IMMEDIATE` transaction on a connection of
//! its own, run off the async workers through prepared statements executed row by row: no
//! multi-row statement text, no intermediate row (each record's fields are bound where they
//! are, beside what [`RowParts`] derives), no `RETURNING` rows (each insert's change count says
//! whether the record was new). This is the log store's hottest path — every request through
//! the gateway ends here — and most of its cost is SQLite's own B-tree work.
//!
//! Reads, retention and feedback stay on the sqlx pool: both connections share the file under
//! SQLite's locking (WAL readers never block this writer; other writers wait on the busy
//! timeout).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::payloads::{self, Loc, Segments};
use super::sqlite_insert::{Batch, Insert};
use super::write::{RAW_COLUMN_COUNT, RAW_COLUMNS, RowParts, Sign, by_bucket, deltas, merge};
use crate::derive::clamp_u64;
use crate::dims::{Dims, DimsCache};
use crate::error::LogError;
use crate::partial::AggInput;
use crate::record::LogRecord;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer's connection and payload segments, used by one batch at a time; `None` once
/// closed.
pub(crate) struct Bulk {
    conn: Arc<Mutex<Option<Writer>>>,
}

struct Writer {
    /// Declared before the connection: dropped (finalized) before it closes.
    insert: Insert,
    conn: Connection,
    segments: Segments,
}

fn fail(op: &'static str) -> impl Fn(rusqlite::Error) -> LogError {
    move |e| {
        tracing::debug!(operation = op, error = %e, "log store operation failed");
        LogError::Backend {
            op,
            reason: describe(&e),
        }
    }
}

/// A short operator-facing description (never SQL text or bound values).
fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) => {
            format!("database error {}: {m}", f.extended_code)
        }
        rusqlite::Error::SqliteFailure(f, None) => format!("database error {}", f.extended_code),
        _ => "database failure".to_owned(),
    }
}

impl Bulk {
    /// Opens the writer's connection to a log database whose schema is already in place, and
    /// its payload segments.
    pub fn open(path: &Path) -> Result<Bulk, LogError> {
        let dir = payloads::dir_of(path);
        let segments = Segments::new(dir.clone()).map_err(|e| LogError::Open {
            target: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let (conn, insert) = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            // The pool's checkpointer copies the WAL back; commits here never do (the
            // auto-checkpoint threshold is only a backstop). The page cache holds the
            // indexes' hot pages.
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA cache_size = -8192; PRAGMA temp_store = memory; \
                 PRAGMA wal_autocheckpoint = 4096;",
            )?;
            let insert = Insert::prepare(&c, &insert_sql())?;
            Ok((c, insert))
        })
        .map_err(|e| LogError::Open {
            target: path.display().to_string(),
            reason: describe(&e),
        })?;
        Ok(Bulk {
            conn: Arc::new(Mutex::new(Some(Writer {
                insert,
                conn,
                segments,
            }))),
        })
    }

    /// Writes records and their rollups in one transaction; returns how many were new.
    ///
    /// On a multi-threaded runtime the batch is written in place (`block_in_place`: the
    /// worker's other tasks move to another thread meanwhile), so the records are bound where
    /// they are; elsewhere (tests on a current-thread runtime) a copy goes to a blocking thread.
    pub async fn write(
        &self,
        records: &[LogRecord],
        cache: &Arc<DimsCache>,
    ) -> Result<u64, LogError> {
        let in_place =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if in_place {
            return tokio::task::block_in_place(|| self.write_now(records, cache));
        }
        let (conn, records, cache) = (self.conn.clone(), records.to_vec(), cache.clone());
        tokio::task::spawn_blocking(move || Bulk { conn }.write_now(&records, &cache))
            .await
            .map_err(|_| LogError::Backend {
                op: "write log batch",
                reason: "the writer thread panicked".to_owned(),
            })?
    }

    fn write_now(&self, records: &[LogRecord], cache: &DimsCache) -> Result<u64, LogError> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(w) = guard.as_mut() else {
            return Err(LogError::Backend {
                op: "write log batch",
                reason: "the log store is closed".to_owned(),
            });
        };
        // Payloads first: a row never points at bytes not yet written. Should the append
        // fail (a full disk), the batch keeps its payloads inline.
        let locs = w
            .segments
            .append(records, super::now_ms())
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "log payload segment append failed; payloads kept inline");
                vec![None; records.len()]
            });
        write_blocking(&mut w.conn, &mut w.insert, records, &locs, cache)
    }

    /// Closes the connection (waiting for a batch in progress); later writes fail.
    pub async fn close(&self) {
        let conn = self.conn.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let w = conn.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(mut w) = w {
                w.segments.sync();
            }
        })
        .await;
    }
}

fn insert_sql() -> String {
    let marks = vec!["?"; RAW_COLUMN_COUNT].join(",");
    // No conflict target: the record id is unique under `(created_at, id)` in files created
    // since schema 3 and under `id` alone in older ones.
    format!(
        "INSERT INTO request_logs ({RAW_COLUMNS}, {LOC_COLUMNS}) VALUES ({marks}, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING"
    )
}

/// Where a row keeps its payloads' location (schema 4).
const LOC_COLUMNS: &str = "payload_seg, payload_off, request_len, response_len";

fn write_blocking(
    c: &mut Connection,
    insert: &mut Insert,
    records: &[LogRecord],
    locs: &[Option<Loc>],
    cache: &DimsCache,
) -> Result<u64, LogError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail("begin log batch"))?;
    let (dims, new) = insert_rows(insert, records, locs).map_err(fail("insert log rows"))?;
    if new.is_empty() {
        tx.commit().map_err(fail("commit log batch"))?;
        return Ok(0);
    }
    // The dimensions of records that were already stored are stored too: inserting them again
    // changes nothing.
    let new_dims: Vec<&Dims> = super::write::distinct_dims(&dims)
        .into_iter()
        .filter(|d| cache.get(d.dim_id).is_none())
        .collect();
    insert_dims(&tx, &new_dims).map_err(fail("insert log details"))?;
    let rollups = deltas(&new, |_, _| true);
    apply_rollups(&tx, rollups).map_err(fail("update log rollups"))?;
    tx.commit().map_err(fail("commit log batch"))?;
    for d in new_dims {
        cache.insert(d.clone());
    }
    Ok(new.len() as u64)
}

/// Inserts the records (a record already stored is skipped by its unique `(created_at, id)`);
/// returns the dimensions of the records (each at least once) and the aggregate
/// inputs of those that were new.
fn insert_rows(
    insert: &mut Insert,
    records: &[LogRecord],
    locs: &[Option<Loc>],
) -> rusqlite::Result<(Vec<Dims>, Vec<AggInput>)> {
    let mut batch = insert.batch();
    let mut dims: Vec<Dims> = Vec::new();
    let mut new = Vec::with_capacity(records.len());
    for (r, loc) in records.iter().zip(locs) {
        let dim_id = Dims::id_in(&mut dims, r);
        let p = RowParts::of(r, dim_id);
        if insert_row(&mut batch, r, &p, loc.as_ref())? == 1 {
            new.push(p.d.input(r));
        }
    }
    Ok((dims, new))
}

/// Binds one record's columns, in [`RAW_COLUMNS`] then [`LOC_COLUMNS`] order, each where it is
/// (payloads only when they are not in a segment), and inserts it.
fn insert_row<'a>(
    batch: &mut Batch<'_, 'a>,
    r: &'a LogRecord,
    p: &RowParts,
    loc: Option<&Loc>,
) -> rusqlite::Result<usize> {
    let d = &p.d;
    let t = &r.timings;
    let k = &r.tokens;
    let (request_body, response_body) = match loc {
        Some(_) => (None, None),
        None => (r.request_body.as_deref(), r.response_body.as_deref()),
    };
    batch
        .row()
        .text(&r.id)
        .int(r.created_at)
        .text(&r.trace_id)
        .text(&r.w3c_trace_id)
        .text(&r.span_id)
        .opt_text(r.parent_span_id.as_deref())
        .opt_text(r.workspace_id.as_deref())
        .opt_text(r.api_key_id.as_deref())
        .opt_text(r.provider_id.as_deref())
        .opt_text(r.integration_id.as_deref())
        .opt_text(r.provider.as_deref())
        .opt_text(r.requested_model.as_deref())
        .opt_text(r.model.as_deref())
        .text(&r.endpoint)
        .text(&r.method)
        .text(&r.path)
        .int(i64::from(r.stream))
        .int(i64::from(r.status))
        .opt_text(p.outcome)
        .opt_text(r.error_code.as_deref())
        .opt_text(r.error_type.as_deref())
        .opt_text(r.error_message.as_deref())
        .int(clamp_u64(t.total_us))
        .opt_int(t.upstream_us.map(clamp_u64))
        .opt_int(t.ttft_us.map(clamp_u64))
        .int(clamp_u64(t.overhead_us))
        .int(clamp_u64(k.prompt))
        .int(clamp_u64(k.completion))
        .int(clamp_u64(k.cached))
        .int(clamp_u64(k.cache_write))
        .int(clamp_u64(k.reasoning))
        .opt_int(r.cost_nanos)
        .text(&r.cache_status)
        .int(i64::from(r.retry_count))
        .own_text(&p.fallback_path)
        .opt_own_text(p.guardrails.as_deref())
        .cow_text(&p.metadata)
        .int(clamp_u64(r.request_bytes))
        .int(clamp_u64(r.response_bytes))
        .opt_own_text(d.user.as_deref())
        .opt_int(d.user_hash)
        .int(d.dim_id)
        .int(d.flags)
        .int(d.lat_b)
        .opt_int(d.ttft_b)
        .int(d.ovh_b)
        .opt_text(request_body)
        .opt_text(response_body)
        .cow_text(&p.meta)
        .opt_int(loc.map(|l| l.seg))
        .opt_int(loc.map(|l| l.off))
        .opt_int(loc.and_then(|l| l.request_len))
        .opt_int(loc.and_then(|l| l.response_len))
        .execute()
}

fn insert_dims(tx: &rusqlite::Transaction<'_>, dims: &[&Dims]) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO request_log_dims (dim_id, workspace_id, api_key_id, provider_id, provider, \
         model, status, outcome, endpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (dim_id) DO NOTHING",
    )?;
    for d in dims {
        st.execute(params![
            d.dim_id,
            d.workspace_id,
            d.api_key_id,
            d.provider_id,
            d.provider,
            d.model,
            d.status,
            d.outcome,
            d.endpoint
        ])?;
    }
    Ok(())
}

/// Adds the deltas to their rollup rows: read each touched row, merge, write it back (the
/// transaction holds the write lock, so nothing changes in between).
fn apply_rollups(
    tx: &rusqlite::Transaction<'_>,
    deltas: super::write::RollupDeltas,
) -> rusqlite::Result<()> {
    let mut read = tx.prepare_cached(
        "SELECT agg, users FROM request_log_rollups \
         WHERE grain = ? AND bucket_start = ? AND dim_id = ?",
    )?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO request_log_rollups (grain, bucket_start, dim_id, requests, agg, users) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (grain, bucket_start, dim_id) DO UPDATE SET \
         requests = excluded.requests, agg = excluded.agg, users = excluded.users",
    )?;
    for ((grain, start), rows) in by_bucket(deltas) {
        for (dim, delta) in rows {
            let old: Option<(Vec<u8>, Option<Vec<u8>>)> = read
                .query_row(params![grain, start, dim], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let stored = merge(
                old.as_ref().map(|o| o.0.as_slice()),
                old.as_ref().and_then(|o| o.1.as_deref()),
                delta,
                Sign::Add,
            );
            // Adding never empties a row.
            if let Some(s) = stored {
                upsert.execute(params![grain, start, dim, s.requests, s.agg, s.users])?;
            }
        }
    }
    Ok(())
}
