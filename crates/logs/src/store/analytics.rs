//! Summary, series and group-by: one engine that gathers additive partial aggregates per group
//! from the rollups (aligned interior of the range) and the raw table (ragged edges, or
//! everything when the filter or grouping is not rolled up), merges them, and finishes them.

use std::collections::HashMap;

use super::db::{BothRow, Q, Tx};
use super::filter::{self, Source};
use crate::derive::to_u64;
use crate::dims::{Dims, DimsCache, group_column};
use crate::error::{LogError, ResultExt};
use crate::partial::{GroupAcc, Partial};
use crate::plan::{self, Grouping, Piece, USER_GRAINS};
use crate::query::{GroupBy, LogFilter};
use crate::users::walk;

/// A group while the query runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum GKey {
    All,
    Time(i64),
    Text(Option<String>),
}

/// Start of the epoch-aligned bucket of width `ms` holding `col`, in SQL.
fn floor_sql(col: &str, ms: i64) -> String {
    format!("({col} - ((({col} % {ms}) + {ms}) % {ms}))")
}

/// The SQL expression of a group on the raw table (`l`), or of a dimension group on the
/// dimension table (`d`). Pushes a bind for metadata keys, so call it where it is used.
fn raw_group_sql(q: &mut Q, g: &Grouping, backend: super::Backend) {
    match g {
        Grouping::Total => {
            q.push("'0'");
        }
        Grouping::Series(ms) => {
            q.push(&format!("CAST({} AS TEXT)", floor_sql("l.created_at", *ms)));
        }
        Grouping::By(GroupBy::Metadata(k)) if k == "_user" => {
            q.push("l.user_id");
        }
        Grouping::By(GroupBy::Metadata(k)) => match backend {
            super::Backend::Postgres => {
                q.push("(l.meta ->> ").bind(k).push(")");
            }
            super::Backend::Sqlite => {
                q.push("(SELECT j.value FROM json_each(l.meta) j WHERE j.key = ")
                    .bind(k)
                    .push(")");
            }
        },
        Grouping::By(by) => {
            let col = group_column(by).unwrap_or("endpoint");
            q.push(&format!("CAST(l.{col} AS TEXT)"));
        }
    }
}

fn key_of_text(g: &Grouping, text: Option<String>) -> Option<GKey> {
    Some(match g {
        Grouping::Total => GKey::All,
        Grouping::Series(_) => GKey::Time(text?.parse().ok()?),
        Grouping::By(_) => GKey::Text(text),
    })
}

fn key_of_rollup(g: &Grouping, bucket_start: i64, dims: &Dims) -> GKey {
    match g {
        Grouping::Total => GKey::All,
        Grouping::Series(ms) => GKey::Time(bucket_start - bucket_start.rem_euclid(*ms)),
        Grouping::By(by) => GKey::Text(dims.group_value(by)),
    }
}

/// Makes sure every id is in the cache (loading misses through the query's transaction).
async fn load_dims(tx: &mut Tx, cache: &DimsCache, ids: &[i64]) -> Result<(), LogError> {
    let missing = cache.missing(ids.iter().copied());
    for chunk in missing.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let q = Q::new(&format!(
            "SELECT dim_id, workspace_id, api_key_id, provider_id, provider, model, status, \
             outcome, endpoint FROM request_log_dims WHERE dim_id IN ({})",
            list.join(", ")
        ));
        let rows: Vec<Dims> = tx.fetch_all(q).await.or_backend("read log dimensions")?;
        for d in rows {
            cache.insert(d);
        }
    }
    Ok(())
}

fn dims_of(cache: &DimsCache, id: i64) -> std::sync::Arc<Dims> {
    cache.get(id).unwrap_or_else(|| {
        tracing::warn!(dim_id = id, "a log rollup names unknown dimensions");
        std::sync::Arc::new(Dims {
            dim_id: id,
            ..Dims::default()
        })
    })
}

#[derive(sqlx::FromRow)]
struct RawSums {
    g: Option<String>,
    dim_id: i64,
    requests: i64,
    successes: i64,
    cache_hits: i64,
    cache_misses: i64,
    retried: i64,
    rescued_by_retry: i64,
    fell_back: i64,
    rescued_by_fallback: i64,
    streams: i64,
    prompt: i64,
    completion: i64,
    cached: i64,
    cache_write: i64,
    reasoning: i64,
    cost_nanos: i64,
    latency_sum: i64,
    ttft_count: i64,
    ttft_sum: i64,
    upstream_count: i64,
    upstream_sum: i64,
    overhead_sum: i64,
    /// Comma-separated histogram buckets, one per record.
    lat: Option<String>,
    ttft: Option<String>,
    ovh: Option<String>,
    /// Comma-separated distinct user hashes.
    users: Option<String>,
}

fn numbers(list: &Option<String>) -> impl Iterator<Item = i64> + '_ {
    list.as_deref()
        .unwrap_or("")
        .split(',')
        .filter_map(|n| n.trim().parse::<i64>().ok())
}

impl RawSums {
    fn partial(&self) -> Partial {
        let mut p = Partial {
            requests: to_u64(self.requests),
            successes: to_u64(self.successes),
            prompt: to_u64(self.prompt),
            completion: to_u64(self.completion),
            cached: to_u64(self.cached),
            cache_write: to_u64(self.cache_write),
            reasoning: to_u64(self.reasoning),
            cost_nanos: self.cost_nanos,
            latency_sum: to_u64(self.latency_sum),
            ttft_count: to_u64(self.ttft_count),
            ttft_sum: to_u64(self.ttft_sum),
            upstream_count: to_u64(self.upstream_count),
            upstream_sum: to_u64(self.upstream_sum),
            overhead_sum: to_u64(self.overhead_sum),
            cache_hits: to_u64(self.cache_hits),
            cache_misses: to_u64(self.cache_misses),
            retried: to_u64(self.retried),
            rescued_by_retry: to_u64(self.rescued_by_retry),
            fell_back: to_u64(self.fell_back),
            rescued_by_fallback: to_u64(self.rescued_by_fallback),
            streams: to_u64(self.streams),
            ..Partial::default()
        };
        for (list, hist) in [
            (&self.lat, &mut p.latency),
            (&self.ttft, &mut p.ttft),
            (&self.ovh, &mut p.overhead),
        ] {
            for b in numbers(list) {
                hist.add(u16::try_from(b).unwrap_or(0), 1);
            }
        }
        p
    }
}

fn sum(expr: &str, name: &str) -> String {
    format!(", CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {name}")
}

/// The dimension ids the filter allows (`None`: it names no dimension). Looked up first, so
/// rollup reads filter on a list of ids whatever the planner's statistics say (a semi-join
/// misestimated as a nested loop costs seconds on a fresh table).
async fn dim_ids(tx: &mut Tx, f: &LogFilter) -> Result<Option<Vec<i64>>, LogError> {
    if !filter::has_dims(f) {
        return Ok(None);
    }
    let mut q = Q::new("SELECT d.dim_id FROM request_log_dims d WHERE 1 = 1");
    filter::dims(&mut q, f, "d");
    let ids: Vec<(i64,)> = tx.fetch_all(q).await.or_backend("read log dimensions")?;
    Ok(Some(ids.into_iter().map(|r| r.0).collect()))
}

/// ` AND r.dim_id IN (…)` for [`dim_ids`] (integers the database gave, spliced as text).
fn dims_in(q: &mut Q, ids: &Option<Vec<i64>>, col: &str) {
    match ids {
        None => {}
        Some(ids) if ids.is_empty() => {
            q.push(" AND 1 = 0");
        }
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            // `+ 0`: a filter, not an index condition (as one on the key's last column, every
            // id would rescan the bucket range).
            q.push(&format!(" AND ({col} + 0) IN ({})", list.join(", ")));
        }
    }
}

/// Runs `select` (ending in a `WHERE` clause) once per rollup piece of `pieces`, each a plain
/// primary-key range (OR-ed ranges would make SQLite scan the whole table), with the
/// dimension filter; returns every row.
async fn rollup_rows<T: BothRow>(
    tx: &mut Tx,
    select: &str,
    pieces: &[Piece],
    ids: &Option<Vec<i64>>,
    what: &'static str,
) -> Result<Vec<T>, LogError> {
    let mut out = Vec::new();
    for piece in pieces.iter().filter(|p| matches!(p, Piece::Rollup { .. })) {
        let mut q = Q::new(select);
        filter::pieces(&mut q, std::slice::from_ref(piece), Source::Rollups, "r");
        dims_in(&mut q, ids, "r.dim_id");
        out.extend(tx.fetch_all::<T>(q).await.or_backend(what)?);
    }
    Ok(out)
}

/// Adds every user of an encoded users blob to a group.
fn add_users(acc: &mut GroupAcc, blob: &[u8]) {
    if walk(blob, |h, _| {
        acc.users.insert(h);
    })
    .is_none()
    {
        tracing::error!("an unreadable log rollup user list is skipped");
    }
}

/// `(bucket_start, dim_id, agg, users)` of a rollup row.
type RollupRow = (i64, i64, Vec<u8>, Option<Vec<u8>>);

/// Every group's aggregates for `f`, grouped by `g`.
pub(crate) async fn aggregate(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
    g: &Grouping,
) -> Result<HashMap<GKey, GroupAcc>, LogError> {
    let (from, to) = plan::range(f);
    let pieces = plan::split(from, to, &g.grains(f));
    let mut groups: HashMap<GKey, GroupAcc> = HashMap::new();
    let ids = if pieces.iter().any(|p| matches!(p, Piece::Rollup { .. })) {
        dim_ids(tx, f).await?
    } else {
        None
    };

    // Rollups: fetch the rows, merge them here.
    if pieces.iter().any(|p| matches!(p, Piece::Rollup { .. })) {
        let rows: Vec<RollupRow> = rollup_rows(
            tx,
            "SELECT r.bucket_start, r.dim_id, r.agg, r.users FROM request_log_rollups r \
             WHERE 1 = 1",
            &pieces,
            &ids,
            "read log rollups",
        )
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        load_dims(tx, cache, &ids).await?;
        for (bucket_start, dim_id, agg, users) in rows {
            let dims = dims_of(cache, dim_id);
            let acc = groups
                .entry(key_of_rollup(g, bucket_start, &dims))
                .or_default();
            if acc.add_encoded(&dims, &agg).is_none() {
                tracing::error!(dim_id, bucket_start, "an unreadable log rollup is skipped");
            }
            if let Some(u) = users {
                add_users(acc, &u);
            }
        }
    }

    // Day buckets keep no users: those come from the hours of the same days.
    let days: Vec<Piece> = pieces
        .iter()
        .filter_map(|p| match *p {
            Piece::Rollup { grain, from, to } if !USER_GRAINS.contains(&grain) => {
                Some(Piece::Rollup {
                    grain: USER_GRAINS[0],
                    from,
                    to,
                })
            }
            _ => None,
        })
        .collect();
    if !days.is_empty() {
        let rows: Vec<(i64, i64, Vec<u8>)> = rollup_rows(
            tx,
            "SELECT r.bucket_start, r.dim_id, r.users FROM request_log_rollups r \
             WHERE r.users IS NOT NULL",
            &days,
            &ids,
            "read log rollup users",
        )
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        load_dims(tx, cache, &ids).await?;
        for (bucket_start, dim_id, users) in rows {
            let dims = dims_of(cache, dim_id);
            if let Some(acc) = groups.get_mut(&key_of_rollup(g, bucket_start, &dims)) {
                add_users(acc, &users);
            }
        }
    }

    // Raw rows: one pass per raw piece (each a plain `created_at` range, so the index serves
    // it; OR-ed ranges would make SQLite scan the table) computing sums, histogram buckets and
    // users per (group, dimensions).
    for piece in pieces.iter().filter(|p| matches!(p, Piece::Raw { .. })) {
        raw_into(
            tx,
            cache,
            f,
            g,
            std::slice::from_ref(piece),
            None,
            &mut groups,
        )
        .await?;
    }
    Ok(groups)
}

/// Adds the raw rows of `pieces` matching `f` to `groups`.
async fn raw_into(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
    g: &Grouping,
    pieces: &[Piece],
    users: Option<&[Option<i64>]>,
    groups: &mut HashMap<GKey, GroupAcc>,
) -> Result<(), LogError> {
    let postgres = tx.backend() == super::Backend::Postgres;
    let list = |col: &str, distinct: bool| {
        let d = if distinct { "DISTINCT " } else { "" };
        if postgres {
            format!("string_agg({d}CAST({col} AS TEXT), ',')")
        } else {
            format!("group_concat({d}{col})")
        }
    };
    let mut q = Q::new("SELECT ");
    match g {
        Grouping::By(by) if group_column(by).is_some() => {
            q.push("CAST(NULL AS TEXT)");
        }
        _ => raw_group_sql(&mut q, g, tx.backend()),
    }
    q.push(" AS g, l.dim_id AS dim_id, COUNT(*) AS requests");
    for (bit, name) in [
        (0, "successes"),
        (1, "cache_hits"),
        (2, "cache_misses"),
        (3, "retried"),
        (4, "rescued_by_retry"),
        (5, "fell_back"),
        (6, "rescued_by_fallback"),
        (7, "streams"),
    ] {
        q.push(&sum(&format!("((l.flags >> {bit}) & 1)"), name));
    }
    for (col, name) in [
        ("l.prompt_tokens", "prompt"),
        ("l.completion_tokens", "completion"),
        ("l.cached_tokens", "cached"),
        ("l.cache_write_tokens", "cache_write"),
        ("l.reasoning_tokens", "reasoning"),
        ("l.cost_nanos", "cost_nanos"),
        ("l.total_us", "latency_sum"),
        ("l.ttft_us", "ttft_sum"),
        ("l.upstream_us", "upstream_sum"),
        ("l.overhead_us", "overhead_sum"),
    ] {
        q.push(&sum(col, name));
    }
    q.push(", COUNT(l.ttft_us) AS ttft_count, COUNT(l.upstream_us) AS upstream_count");
    q.push(&format!(
        ", {} AS lat, {} AS ttft, {} AS ovh, {} AS users",
        list("l.lat_b", false),
        list("l.ttft_b", false),
        list("l.ovh_b", false),
        list("l.user_hash", true)
    ));
    q.push(" FROM request_logs l WHERE 1 = 1");
    filter::raw(&mut q, f, tx.backend());
    filter::pieces(&mut q, pieces, Source::Raw, "l");
    match users {
        None => {}
        Some([None]) => {
            q.push(" AND l.user_hash IS NULL");
        }
        Some(hashes) => {
            q.push(" AND l.user_hash IN (");
            for (i, h) in hashes.iter().flatten().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(*h);
            }
            q.push(")");
        }
    }
    q.push(" GROUP BY 1, 2");
    let rows: Vec<RawSums> = tx.fetch_all(q).await.or_backend("aggregate logs")?;
    let ids: Vec<i64> = rows.iter().map(|r| r.dim_id).collect();
    load_dims(tx, cache, &ids).await?;
    for row in &rows {
        let dims = dims_of(cache, row.dim_id);
        let key = match g {
            Grouping::By(by) if group_column(by).is_some() => GKey::Text(dims.group_value(by)),
            _ => match key_of_text(g, row.g.clone()) {
                Some(k) => k,
                None => continue,
            },
        };
        let acc = groups.entry(key).or_default();
        acc.add(&dims, &row.partial());
        for h in numbers(&row.users) {
            acc.users.insert(h as u64);
        }
    }
    Ok(())
}

/// Above this many candidate users, [`top_users`] aggregates every raw row of the range.
const MAX_USER_CANDIDATES: usize = 5_000;

/// Group by end user (`_user`) without aggregating every raw row: the records per user come
/// from the rollups' user counts (plus the raw edges of the range), which pick the candidates
/// for the `limit` largest groups (every user tied with the last one included); only their
/// records are then aggregated from the raw table (indexed by `user_hash`).
async fn top_users(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
    limit: u32,
) -> Result<HashMap<GKey, GroupAcc>, LogError> {
    let (from, to) = plan::range(f);
    // Day buckets keep no users: their hours do.
    let pieces: Vec<Piece> = plan::split(from, to, &plan::GRAINS)
        .into_iter()
        .map(|p| match p {
            Piece::Rollup { grain, from, to } if !USER_GRAINS.contains(&grain) => Piece::Rollup {
                grain: USER_GRAINS[0],
                from,
                to,
            },
            p => p,
        })
        .collect();
    // Records per user hash (`None`: records without a user).
    let mut counts: HashMap<Option<i64>, u64> = HashMap::new();
    if pieces.iter().any(|p| matches!(p, Piece::Rollup { .. })) {
        let ids = dim_ids(tx, f).await?;
        let rows: Vec<(i64, Option<Vec<u8>>)> = rollup_rows(
            tx,
            "SELECT r.requests, r.users FROM request_log_rollups r WHERE 1 = 1",
            &pieces,
            &ids,
            "read log rollup users",
        )
        .await?;
        for (requests, users) in rows {
            let mut with_user = 0u64;
            if let Some(u) = users
                && walk(&u, |h, n| {
                    *counts.entry(Some(h as i64)).or_default() += n;
                    with_user += n;
                })
                .is_none()
            {
                tracing::error!("an unreadable log rollup user list is skipped");
            }
            let rest = to_u64(requests).saturating_sub(with_user);
            if rest > 0 {
                *counts.entry(None).or_default() += rest;
            }
        }
    }
    for piece in pieces.iter().filter(|p| matches!(p, Piece::Raw { .. })) {
        let mut q = Q::new("SELECT l.user_hash, COUNT(*) FROM request_logs l WHERE 1 = 1");
        filter::raw(&mut q, f, tx.backend());
        filter::pieces(&mut q, std::slice::from_ref(piece), Source::Raw, "l");
        q.push(" GROUP BY l.user_hash");
        let rows: Vec<(Option<i64>, i64)> = tx.fetch_all(q).await.or_backend("count log users")?;
        for (h, n) in rows {
            *counts.entry(h).or_default() += to_u64(n);
        }
    }
    counts.retain(|_, n| *n > 0);
    let mut sizes: Vec<u64> = counts.values().copied().collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let threshold = sizes
        .get((limit as usize).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    let mut keep: Vec<Option<i64>> = counts
        .into_iter()
        .filter(|(_, n)| *n >= threshold)
        .map(|(h, _)| h)
        .collect();
    keep.sort_unstable();
    let g = Grouping::By(GroupBy::Metadata("_user".to_owned()));
    let whole = [Piece::Raw { from, to }];
    let mut groups = HashMap::new();
    if keep.len() > MAX_USER_CANDIDATES {
        raw_into(tx, cache, f, &g, &whole, None, &mut groups).await?;
        return Ok(groups);
    }
    if keep.first() == Some(&None) {
        raw_into(tx, cache, f, &g, &whole, Some(&[None]), &mut groups).await?;
    }
    if keep.iter().any(Option::is_some) {
        raw_into(tx, cache, f, &g, &whole, Some(&keep), &mut groups).await?;
    }
    Ok(groups)
}

/// The most buckets a bounded series returns (empty ones included).
pub const MAX_SERIES_BUCKETS: i64 = 10_000;
/// Groups returned when the caller asks for none; and the most ever returned.
pub const DEFAULT_GROUPS: u32 = 100;
pub const MAX_GROUPS: u32 = 10_000;

pub(crate) async fn summary(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
) -> Result<crate::query::Aggregates, LogError> {
    let mut groups = aggregate(tx, cache, f, &Grouping::Total).await?;
    Ok(groups.remove(&GKey::All).unwrap_or_default().finish())
}

/// Checks a series request before any work: a positive width, and not too many buckets.
pub(crate) fn check_series(f: &LogFilter, bucket_ms: i64) -> Result<(), LogError> {
    if bucket_ms <= 0 {
        return Err(LogError::invalid("the bucket width must be positive"));
    }
    if let (Some(from), Some(to)) = (f.from, f.to)
        && to > from
    {
        let start = i128::from(from) - i128::from(from.rem_euclid(bucket_ms));
        let n = (i128::from(to) - start).div_euclid(i128::from(bucket_ms)) + 1;
        if n > i128::from(MAX_SERIES_BUCKETS) {
            return Err(LogError::invalid(format!(
                "the series would have more than {MAX_SERIES_BUCKETS} buckets"
            )));
        }
    }
    Ok(())
}

pub(crate) async fn series(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
    bucket_ms: i64,
) -> Result<Vec<crate::query::Bucket>, LogError> {
    check_series(f, bucket_ms)?;
    let groups = aggregate(tx, cache, f, &Grouping::Series(bucket_ms)).await?;
    let mut by_start: std::collections::BTreeMap<i64, GroupAcc> = groups
        .into_iter()
        .filter_map(|(k, v)| match k {
            GKey::Time(t) => Some((t, v)),
            _ => None,
        })
        .collect();
    // A bounded range gets every bucket, empty ones included, so charts need no gap filling.
    if let (Some(from), Some(to)) = (f.from, f.to)
        && to > from
    {
        let mut t = from - from.rem_euclid(bucket_ms);
        while t < to {
            by_start.entry(t).or_default();
            match t.checked_add(bucket_ms) {
                Some(next) => t = next,
                None => break,
            }
        }
    }
    Ok(by_start
        .into_iter()
        .map(|(start, acc)| crate::query::Bucket {
            start,
            values: acc.finish(),
        })
        .collect())
}

pub(crate) async fn group_by(
    tx: &mut Tx,
    cache: &DimsCache,
    f: &LogFilter,
    by: &GroupBy,
    limit: u32,
) -> Result<Vec<crate::query::Group>, LogError> {
    let limit = match limit {
        0 => DEFAULT_GROUPS,
        n => n.min(MAX_GROUPS),
    };
    let groups = match by {
        GroupBy::Metadata(k) if k == "_user" && plan::rollup_filter(f) => {
            top_users(tx, cache, f, limit).await?
        }
        _ => aggregate(tx, cache, f, &Grouping::By(by.clone())).await?,
    };
    let mut out: Vec<(Option<String>, GroupAcc)> = groups
        .into_iter()
        .filter_map(|(k, v)| match k {
            GKey::Text(t) => Some((t, v)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| {
        b.1.p
            .requests
            .cmp(&a.1.p.requests)
            .then_with(|| a.0.cmp(&b.0))
    });
    out.truncate(limit as usize);
    Ok(out
        .into_iter()
        .map(|(key, acc)| {
            let key = match (by, key) {
                (_, None) => serde_json::Value::Null,
                (GroupBy::Status, Some(s)) => s
                    .parse::<u64>()
                    .map(serde_json::Value::from)
                    .unwrap_or(serde_json::Value::String(s)),
                (_, Some(s)) => serde_json::Value::String(s),
            };
            crate::query::Group {
                key,
                values: acc.finish(),
            }
        })
        .collect())
}
