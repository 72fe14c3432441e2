//! SQLite's bulk write path. A batch is one `BEGIN IMMEDIATE` transaction on a connection of
//! its own, run off the async workers through prepared statements: no intermediate row (each
//! record's fields are bound where they are, beside what [`RowParts`] derives), no `RETURNING`
//! rows (an insert's change count says whether its records were new). This is the log store's
//! hottest path — every request through the gateway ends here — and most of its cost is
//! SQLite's own B-tree work.
//!
//! Records go [`ROWS_PER_INSERT`] to a statement: a statement's own costs (opening and
//! closing a cursor per index, releasing its registers, halting) were ~3k instructions per
//! record inserted one by one. The statement is `INSERT OR IGNORE`, which, unlike an upsert's
//! `ON CONFLICT DO NOTHING`, keeps SQLite from opening a statement journal for it (a multi-row
//! statement that may abort half done must be able to undo its first rows): with one, the
//! journal's copies took back most of the gain. The few records past the last full statement
//! go one by one. When a statement stores fewer rows than it has, [`stored_of`] works out which
//! (see there).
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
use super::sqlite_insert::{Batch, Insert, Row};
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
    inserts: Inserts,
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
        let (conn, inserts) = Connection::open_with_flags(
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
            let inserts = Inserts {
                many: Insert::prepare(&c, &insert_many_sql(ROWS_PER_INSERT))?,
                one: Insert::prepare(&c, &insert_one_sql())?,
            };
            Ok((c, inserts))
        })
        .map_err(|e| LogError::Open {
            target: path.display().to_string(),
            reason: describe(&e),
        })?;
        Ok(Bulk {
            conn: Arc::new(Mutex::new(Some(Writer {
                inserts,
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
        write_blocking(&mut w.conn, &mut w.inserts, records, &locs, cache)
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

/// Records per multi-row insert: each statement's own costs are then a sixteenth of what they
/// were per record (3.0k fewer instructions per logged request, whole gateway, callgrind with
/// batches of ~900), while the remainder a batch inserts one by one stays small.
const ROWS_PER_INSERT: usize = 16;

/// The writer's two insert statements.
struct Inserts {
    /// [`ROWS_PER_INSERT`] records at once.
    many: Insert,
    /// One record.
    one: Insert,
}

/// One row's parameter marks: the record's columns, then where its payloads are.
fn row_marks() -> String {
    format!("({}, ?, ?, ?, ?)", vec!["?"; RAW_COLUMN_COUNT].join(","))
}

// Neither statement names a conflict target: the one unique key is `(created_at, id)` (files
// from before schema 3 kept `id` unique alone until schema 7 copied their table).

fn insert_many_sql(rows: usize) -> String {
    let values = vec![row_marks(); rows].join(", ");
    format!("INSERT OR IGNORE INTO request_logs ({RAW_COLUMNS}, {LOC_COLUMNS}) VALUES {values}")
}

fn insert_one_sql() -> String {
    format!(
        "INSERT INTO request_logs ({RAW_COLUMNS}, {LOC_COLUMNS}) VALUES {} \
         ON CONFLICT DO NOTHING",
        row_marks()
    )
}

/// Where a row keeps its payloads' location (schema 4).
const LOC_COLUMNS: &str = "payload_seg, payload_off, request_len, response_len";

fn write_blocking(
    c: &mut Connection,
    inserts: &mut Inserts,
    records: &[LogRecord],
    locs: &[Option<Loc>],
    cache: &DimsCache,
) -> Result<u64, LogError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail("begin log batch"))?;
    let (dims, new) = insert_rows(&tx, inserts, records, locs).map_err(fail("insert log rows"))?;
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
    tx: &rusqlite::Transaction<'_>,
    inserts: &mut Inserts,
    records: &[LogRecord],
    locs: &[Option<Loc>],
) -> rusqlite::Result<(Vec<Dims>, Vec<AggInput>)> {
    let mut out = Inserted {
        dims: Vec::new(),
        new: Vec::with_capacity(records.len()),
        parts: Vec::with_capacity(ROWS_PER_INSERT),
    };
    let full = records.len() - records.len() % ROWS_PER_INSERT;
    let (records, rest) = records.split_at(full);
    let (locs, rest_locs) = locs.split_at(full);
    let mut many = inserts.many.batch();
    for (chunk, locs) in records
        .chunks_exact(ROWS_PER_INSERT)
        .zip(locs.chunks_exact(ROWS_PER_INSERT))
    {
        out.insert(tx, &mut many, chunk, locs)?;
    }
    drop(many);
    let mut one = inserts.one.batch();
    for (chunk, locs) in rest.chunks(1).zip(rest_locs.chunks(1)) {
        out.insert(tx, &mut one, chunk, locs)?;
    }
    Ok((out.dims, out.new))
}

/// What the inserts of a batch gathered so far, and room for one statement's derived parts.
struct Inserted {
    dims: Vec<Dims>,
    new: Vec<AggInput>,
    parts: Vec<RowParts>,
}

impl Inserted {
    /// Inserts `chunk` through one execution of `batch`'s statement (a row per record).
    fn insert<'a>(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        batch: &mut Batch<'_, 'a>,
        chunk: &'a [LogRecord],
        locs: &[Option<Loc>],
    ) -> rusqlite::Result<()> {
        self.parts.clear();
        for r in chunk {
            let dim_id = Dims::id_in(&mut self.dims, r);
            self.parts.push(RowParts::of(r, dim_id));
        }
        let mut row = batch.row();
        for ((r, p), loc) in chunk.iter().zip(&self.parts).zip(locs) {
            bind_row(&mut row, r, p, loc.as_ref());
        }
        let stored = row.execute()?;
        let pairs = chunk.iter().zip(&self.parts);
        if stored == chunk.len() {
            self.new.extend(pairs.map(|(r, p)| p.d.input(r)));
        } else {
            let fresh = stored_of(tx, chunk, stored)?;
            self.new.extend(
                pairs
                    .zip(fresh)
                    .filter(|(_, f)| *f)
                    .map(|((r, p), _)| p.d.input(r)),
            );
        }
        Ok(())
    }
}

/// Which records of an insert that stored only `stored` of them it stored: the rest were stored
/// before (by a retried batch, or earlier in the same chunk).
///
/// A new row's rowid is one more than the largest in the table, and this connection holds the
/// write lock, so the statement's rows are the `stored` largest rowids. Every record left out
/// must be in the table already: `OR IGNORE` would also skip a row breaking a `NOT NULL`
/// constraint, which only a bug could bind, and that fails the batch here rather than losing
/// the record without a word.
fn stored_of(
    tx: &rusqlite::Transaction<'_>,
    chunk: &[LogRecord],
    stored: usize,
) -> rusqlite::Result<Vec<bool>> {
    let mut last =
        tx.prepare_cached("SELECT created_at, id FROM request_logs ORDER BY rowid DESC LIMIT ?")?;
    let mut rows: Vec<(i64, String)> = last
        .query_map([stored as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut exists =
        tx.prepare_cached("SELECT 1 FROM request_logs WHERE created_at = ? AND id = ?")?;
    let mut fresh = Vec::with_capacity(chunk.len());
    for r in chunk {
        // A record twice in the chunk was stored by its first copy.
        let at = rows
            .iter()
            .position(|(t, id)| *t == r.created_at && *id == r.id);
        if let Some(at) = at {
            rows.swap_remove(at);
        } else if !exists.exists(params![r.created_at, r.id])? {
            return Err(unstored(&r.id));
        }
        fresh.push(at.is_some());
    }
    match rows.first() {
        // Rows the statement did not make: rowids were not given as assumed.
        Some((_, id)) => Err(unstored(id)),
        None => Ok(fresh),
    }
}

fn unstored(id: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        Some(format!(
            "the rows a log insert stored do not match its records (record {id})"
        )),
    )
}

/// Binds one record's columns, in [`RAW_COLUMNS`] then [`LOC_COLUMNS`] order, each where it is
/// (payloads only when they are not in a segment), after those bound on `row` already.
fn bind_row<'a, 'r>(
    row: &mut Row<'_, 'a, 'r>,
    r: &'a LogRecord,
    p: &'r RowParts,
    loc: Option<&Loc>,
) {
    let d = &p.d;
    let t = &r.timings;
    let k = &r.tokens;
    let (request_body, response_body) = match loc {
        Some(_) => (None, None),
        None => (r.request_body.as_deref(), r.response_body.as_deref()),
    };
    row.text(&r.id)
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
        .opt_int(loc.and_then(|l| l.response_len));
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
