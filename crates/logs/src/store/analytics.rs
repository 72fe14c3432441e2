//! Summary, series and group-by: one engine that gathers additive partial aggregates per group
//! from the rollups (aligned interior of the range) and the raw table (ragged edges, or
//! everything when the filter or grouping is not rolled up), merges them, and finishes them.

use std::collections::HashMap;

use super::db::{Q, Tx};
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
fn raw_group_sql(q: &mut Q, g: &Grouping) {
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
        Grouping::By(GroupBy::Metadata(k)) => {
            q.push("(SELECT m.value FROM request_log_meta m WHERE m.log_id = l.id AND m.key = ")
                .bind(k)
                .push(")");
        }
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

/// ` AND r.dim_id IN (…)` when the filter names dimensions.
fn dims_in(q: &mut Q, f: &LogFilter, col: &str) {
    if filter::has_dims(f) {
        q.push(&format!(
            " AND {col} IN (SELECT d.dim_id FROM request_log_dims d WHERE 1 = 1"
        ));
        filter::dims(q, f, "d");
        q.push(")");
    }
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

    // Rollups: fetch the rows, merge them here.
    if pieces.iter().any(|p| matches!(p, Piece::Rollup { .. })) {
        let mut q = Q::new(
            "SELECT r.bucket_start, r.dim_id, r.agg, r.users FROM request_log_rollups r \
             WHERE 1 = 1",
        );
        filter::pieces(&mut q, &pieces, Source::Rollups, "r");
        dims_in(&mut q, f, "r.dim_id");
        let rows: Vec<RollupRow> = tx.fetch_all(q).await.or_backend("read log rollups")?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        load_dims(tx, cache, &ids).await?;
        for (bucket_start, dim_id, agg, users) in rows {
            let Some(p) = Partial::decode(&agg) else {
                tracing::error!(dim_id, bucket_start, "an unreadable log rollup is skipped");
                continue;
            };
            let dims = dims_of(cache, dim_id);
            let acc = groups
                .entry(key_of_rollup(g, bucket_start, &dims))
                .or_default();
            acc.add(&dims, &p);
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
        let mut q = Q::new(
            "SELECT r.bucket_start, r.dim_id, r.users FROM request_log_rollups r \
             WHERE r.users IS NOT NULL",
        );
        filter::pieces(&mut q, &days, Source::Rollups, "r");
        dims_in(&mut q, f, "r.dim_id");
        let rows: Vec<(i64, i64, Vec<u8>)> =
            tx.fetch_all(q).await.or_backend("read log rollup users")?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        load_dims(tx, cache, &ids).await?;
        for (bucket_start, dim_id, users) in rows {
            let dims = dims_of(cache, dim_id);
            if let Some(acc) = groups.get_mut(&key_of_rollup(g, bucket_start, &dims)) {
                add_users(acc, &users);
            }
        }
    }

    // Raw rows: one pass computing sums, histogram buckets and users per (group, dimensions).
    if pieces.iter().any(|p| matches!(p, Piece::Raw { .. })) {
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
            _ => raw_group_sql(&mut q, g),
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
        filter::raw(&mut q, f);
        filter::pieces(&mut q, &pieces, Source::Raw, "l");
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
    let groups = aggregate(tx, cache, f, &Grouping::By(by.clone())).await?;
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
