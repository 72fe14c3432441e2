//! One batch, one transaction: raw rows with their payloads, metadata, dimensions, then the
//! rollups and the distinct-users rollup, so rollups never disagree with the rows they
//! summarize.
//! Inserting is idempotent by record id: a batch retried after an unacknowledged commit adds
//! nothing twice.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Mutex;

use super::db::{Db, Tx};
use super::pg_rows::PgRows;
use super::sqlite_bulk::Bulk;
use super::{postgres, sqlite};
use crate::derive::{Derived, clamp_u64};
use crate::dims::{Dims, DimsCache};
use crate::error::{LogError, ResultExt};
use crate::partial::{AggInput, Partial};
use crate::plan::{GRAINS, USER_GRAINS};
use crate::record::LogRecord;
use crate::users::UserCounts;

/// The `request_logs` columns, in the order both writers send them.
pub(crate) const RAW_COLUMNS: &str = "id, created_at, trace_id, w3c_trace_id, span_id, \
    parent_span_id, workspace_id, api_key_id, provider_id, integration_id, provider, \
    requested_model, model, endpoint, method, path, stream, status, outcome, error_code, \
    error_type, error_message, total_us, upstream_us, ttft_us, overhead_us, prompt_tokens, \
    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_nanos, \
    cache_status, retry_count, fallback_path, guardrails, metadata, request_bytes, \
    response_bytes, user_id, user_hash, dim_id, flags, lat_b, ttft_b, ovh_b, request_body, \
    response_body, meta";
pub(crate) const RAW_COLUMN_COUNT: usize = 49;

/// What a record's row adds to the record's own fields: the derived values and the JSON texts.
/// Both writers send these beside the record's fields (borrowed, never copied).
pub(crate) struct RowParts {
    pub d: Derived,
    pub outcome: Option<&'static str>,
    pub fallback_path: String,
    pub guardrails: Option<String>,
    /// `{}` without an allocation for a record without metadata (most of them).
    pub metadata: Cow<'static, str>,
    pub meta: Cow<'static, str>,
}

impl RowParts {
    /// `dim_id`: the id of the record's [`Dims::of`].
    pub fn of(r: &LogRecord, dim_id: i64) -> RowParts {
        let d = Derived::of(r, dim_id);
        const EMPTY: Cow<'static, str> = Cow::Borrowed("{}");
        let meta = if d.meta.is_empty() {
            EMPTY
        } else {
            Cow::Owned(json(
                &d.meta
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<BTreeMap<&str, &str>>(),
            ))
        };
        RowParts {
            outcome: r.outcome.map(|o| o.as_str()),
            fallback_path: json(&r.fallback_path),
            guardrails: r.guardrails.as_ref().map(json),
            metadata: if r.metadata.is_empty() {
                EMPTY
            } else {
                Cow::Owned(json(&r.metadata))
            },
            meta,
            d,
        }
    }
}

/// JSON text of a record's structured fields (they always serialize).
fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A change to one rollup row: sums and histograms, and (5-minute and hourly grains) users.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Rollup {
    pub p: Partial,
    pub users: Option<UserCounts>,
}

/// Rollup changes keyed by `(grain, bucket_start, dim_id)`, sorted: the lock order.
pub(crate) type RollupDeltas = BTreeMap<(i64, i64, i64), Rollup>;

/// Whether deltas are added (inserts) or removed (retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sign {
    Add,
    Subtract,
}

pub(crate) fn bucket(t: i64, grain: i64) -> i64 {
    t - t.rem_euclid(grain)
}

/// What `inputs` add to every rollup grain. `keep(grain, bucket_start)` decides which buckets
/// are wanted.
///
/// Each input is added once, to its bucket of the finest grain; the coarser buckets merge those
/// sums (every grain is a multiple of the finest, so a fine bucket lies within one bucket of
/// each), which costs per distinct bucket rather than per record and grain.
pub(crate) fn deltas<'a>(
    inputs: impl IntoIterator<Item = &'a AggInput>,
    keep: impl Fn(i64, i64) -> bool,
) -> RollupDeltas {
    let mut fine: BTreeMap<(i64, i64), (Partial, UserCounts)> = BTreeMap::new();
    for i in inputs {
        let (p, users) = fine
            .entry((bucket(i.created_at, FINEST), i.dim_id))
            .or_default();
        p.add_input(i);
        if let Some(u) = i.user {
            users.add(u, 1);
        }
    }
    let mut rollups = RollupDeltas::new();
    for ((start, dim), (p, users)) in &fine {
        for g in GRAINS {
            let b = bucket(*start, g);
            if !keep(g, b) {
                continue;
            }
            let r = rollups.entry((g, b, *dim)).or_default();
            r.p.merge(p);
            if USER_GRAINS.contains(&g) {
                r.users
                    .get_or_insert_with(UserCounts::default)
                    .combine(users, false);
            }
        }
    }
    rollups
}

/// The finest rollup grain: every grain is a whole number of it, and it counts users.
const FINEST: i64 = {
    let finest = GRAINS[GRAINS.len() - 1];
    let mut k = 0;
    while k < GRAINS.len() {
        assert!(
            GRAINS[k] % finest == 0,
            "every grain is a multiple of the finest"
        );
        k += 1;
    }
    let mut users = false;
    k = 0;
    while k < USER_GRAINS.len() {
        users |= USER_GRAINS[k] == finest;
        k += 1;
    }
    assert!(users, "the finest grain counts users");
    finest
};

/// A rollup row as stored: request count, encoded sums, encoded users.
pub(crate) struct Stored {
    pub requests: i64,
    pub agg: Vec<u8>,
    pub users: Option<Vec<u8>>,
}

/// The stored row (`old_agg`, `old_users`) changed by `delta`; `None` when nothing is left.
pub(crate) fn merge(
    old_agg: Option<&[u8]>,
    old_users: Option<&[u8]>,
    delta: Rollup,
    sign: Sign,
) -> Option<Stored> {
    let unreadable = || {
        tracing::error!("a stored log rollup is unreadable; it restarts from this batch");
    };
    let mut p = match old_agg.map(Partial::decode) {
        None => Partial::default(),
        Some(Some(p)) => p,
        Some(None) => {
            unreadable();
            Partial::default()
        }
    };
    let mut users = match old_users.map(UserCounts::decode) {
        None => None,
        Some(Some(u)) => Some(u),
        Some(None) => {
            unreadable();
            None
        }
    };
    match sign {
        Sign::Add if p.requests == 0 => p = delta.p,
        Sign::Add => p.merge(&delta.p),
        Sign::Subtract => p.subtract(&delta.p),
    }
    if let Some(d) = delta.users {
        match (&mut users, sign) {
            (Some(u), _) => u.combine(&d, sign == Sign::Subtract),
            (None, Sign::Add) => users = Some(d),
            (None, Sign::Subtract) => {}
        }
    }
    (p.requests > 0).then(|| Stored {
        requests: clamp_u64(p.requests),
        agg: p.encode(),
        users: users.map(|u| u.encode()),
    })
}

/// One bucket's deltas: `(grain, bucket_start)` and `(dim_id, delta)` pairs.
pub(crate) type BucketDeltas = ((i64, i64), Vec<(i64, Rollup)>);

/// The deltas grouped by `(grain, bucket_start)`, in key order: the write paths look rows up
/// one bucket at a time (`grain = ? AND bucket_start = ? AND dim_id IN …`), which always uses
/// the primary key.
pub(crate) fn by_bucket(deltas: RollupDeltas) -> Vec<BucketDeltas> {
    let mut out: Vec<BucketDeltas> = Vec::new();
    for ((g, b, d), r) in deltas {
        match out.last_mut() {
            Some((k, v)) if *k == (g, b) => v.push((d, r)),
            _ => out.push(((g, b), vec![(d, r)])),
        }
    }
    out
}

/// Applies rollup deltas on either backend.
pub(crate) async fn apply(
    tx: &mut Tx,
    rollups: RollupDeltas,
    sign: Sign,
) -> Result<(), sqlx::Error> {
    match tx {
        Tx::Sqlite(t) => sqlite::apply_rollups(t, rollups, sign).await,
        Tx::Postgres(t) => postgres::apply_rollups(t, rollups, sign).await,
    }
}

/// Writes a batch in one transaction; returns how many records were new. SQLite writes
/// through its bulk writer (`bulk`, always present for a SQLite store).
pub(crate) async fn insert_batch(
    db: &Db,
    bulk: Option<&Bulk>,
    cache: &Arc<DimsCache>,
    rollup_turn: &Mutex<()>,
    records: &[LogRecord],
) -> Result<u64, LogError> {
    if records.is_empty() {
        return Ok(0);
    }
    match (db, bulk) {
        (Db::Sqlite(_), Some(bulk)) => bulk.write(records, cache).await,
        (Db::Sqlite(_), None) => Err(LogError::Backend {
            op: "write log batch",
            reason: "the log store is closed".to_owned(),
        }),
        (Db::Postgres(pool), _) => {
            write_rows_pg(pool, cache, rollup_turn, &PgRows::of(records)).await
        }
    }
}

/// Writes a batch's rows in one PostgreSQL transaction; returns how many records were new.
///
/// Batches may be written two at a time (see [`LogStore::write_depth`]): their rows stream in
/// at once, but only the holder of `rollup_turn` goes on to the dimensions, the rollups and
/// the commit, so two batches never wait on each other's rollup rows (nor, holding the turn,
/// on a batch that waits for it). The rows of two batches never conflict: ids are unique, and
/// a batch sent again is the same batch, written by one call at a time.
///
/// The rows are sent at once, as though none were stored: a batch is only ever written again
/// when a try's commit went unacknowledged, and then its `COPY` fails on the first id already
/// stored, and the batch is sent again without the stored ones (looked up by id). Looking every
/// id up first cost each batch a query of its own.
async fn write_rows_pg(
    pool: &PgPool,
    cache: &DimsCache,
    rollup_turn: &Mutex<()>,
    rows: &PgRows<'_>,
) -> Result<u64, LogError> {
    // The rollup deltas of every record, computed on another thread while the rows are
    // written (then redone for the new ones only, in the rare batch that had old ones).
    let inputs = rows.inputs.clone();
    let all_deltas = tokio::task::spawn_blocking(move || deltas(&inputs, |_, _| true));
    let mut tx = pool.begin().await.or_backend("begin log batch")?;
    // The inputs of the new records, when not every record was new.
    let mut only_new: Option<Vec<AggInput>> = None;
    match postgres::copy_rows(&mut tx, &rows.data).await {
        Ok(()) => {}
        Err(e) if postgres::is_unique_violation(&e) => {
            tx.rollback().await.or_backend("roll back log batch")?;
            tx = pool.begin().await.or_backend("begin log batch")?;
            let ids: Vec<&str> = rows.rows.iter().map(|r| r.0).collect();
            let stored = postgres::stored_ids(&mut tx, &ids)
                .await
                .or_backend("look up stored log ids")?;
            let (data, inputs) = rows.only(|id| !stored.contains(id));
            postgres::copy_rows(&mut tx, &data)
                .await
                .or_backend("insert log rows")?;
            only_new = Some(inputs);
        }
        Err(e) => return Err(e).or_backend("insert log rows"),
    }
    let new = only_new.as_ref().map_or(rows.inputs.len(), Vec::len);
    let _turn = rollup_turn.lock().await;
    if new == 0 {
        tx.commit().await.or_backend("commit log batch")?;
        return Ok(0);
    }
    // The dimensions of records that were already stored are stored too: inserting them again
    // changes nothing.
    let new_dims: Vec<&Dims> = distinct_dims(&rows.dims)
        .into_iter()
        .filter(|d| cache.get(d.dim_id).is_none())
        .collect();
    postgres::insert_side(&mut tx, &new_dims)
        .await
        .or_backend("insert log details")?;
    let rollups = match (all_deltas.await, only_new) {
        (Ok(d), None) => d,
        (_, Some(inputs)) => deltas(&inputs, |_, _| true),
        (Err(_), None) => deltas(&rows.inputs, |_, _| true),
    };
    postgres::apply_rollups(&mut tx, rollups, Sign::Add)
        .await
        .or_backend("update log rollups")?;
    tx.commit().await.or_backend("commit log batch")?;
    for d in new_dims {
        cache.insert(postgres::as_stored(d));
    }
    Ok(new as u64)
}

/// The distinct dimension rows of a batch.
pub(crate) fn distinct_dims<'a>(dims: impl IntoIterator<Item = &'a Dims>) -> Vec<&'a Dims> {
    let mut seen = HashSet::new();
    let mut out: Vec<&Dims> = dims.into_iter().filter(|d| seen.insert(d.dim_id)).collect();
    out.sort_by_key(|d| d.dim_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input added to every grain's bucket directly (how deltas were first computed).
    fn reference<'a>(
        inputs: impl IntoIterator<Item = &'a AggInput>,
        keep: impl Fn(i64, i64) -> bool,
    ) -> RollupDeltas {
        let mut rollups = RollupDeltas::new();
        for i in inputs {
            for g in GRAINS {
                let b = bucket(i.created_at, g);
                if !keep(g, b) {
                    continue;
                }
                let r = rollups.entry((g, b, i.dim_id)).or_default();
                r.p.add_input(i);
                if USER_GRAINS.contains(&g) {
                    let users = r.users.get_or_insert_with(UserCounts::default);
                    if let Some(u) = i.user {
                        users.add(u, 1);
                    }
                }
            }
        }
        rollups
    }

    /// Folding fine buckets into coarse ones gives exactly the sums, histograms and user
    /// counts of adding every record to every grain, with or without buckets left out.
    #[test]
    fn folded_deltas_equal_adding_each_record_to_each_grain() {
        let mut seed = 0x853c_49e6_748f_ea9b_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        const DAY_MS: i64 = 86_400_000;
        let inputs: Vec<AggInput> = (0..5_000)
            .map(|_| AggInput {
                // Two days, so every grain has several buckets, negative times included.
                created_at: next(2 * DAY_MS as u64) as i64 - DAY_MS / 3,
                dim_id: next(4) as i64,
                flags: next(256) as i64,
                prompt: next(5_000),
                completion: next(2_000),
                cached: next(100),
                cache_write: next(50),
                reasoning: next(300),
                cost_nanos: (next(3) > 0).then(|| next(1_000_000) as i64),
                total_us: next(10_000_000),
                ttft_us: (next(2) == 0).then(|| next(1_000_000)),
                upstream_us: (next(4) > 0).then(|| next(9_000_000)),
                overhead_us: next(5_000),
                user: (next(3) == 0).then(|| next(20)),
            })
            .collect();
        let all = |_: i64, _: i64| true;
        let some = |g: i64, b: i64| (g / 1000 + b / 1000) % 3 != 0;
        assert_eq!(deltas(&inputs, all), reference(&inputs, all));
        assert_eq!(deltas(&inputs, some), reference(&inputs, some));
        assert_eq!(deltas(&inputs[..1], all), reference(&inputs[..1], all));
        assert!(deltas(&[], all).is_empty());
    }
}
