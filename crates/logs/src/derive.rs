//! What a record adds to the stored row beyond its own fields: its dimension id, the analytics
//! flags, the end user, histogram buckets and the stringified metadata. Defined once here so
//! the raw table and the rollups can never disagree.

use serde_json::Value;

use crate::histogram::bucket_of;
use crate::partial::AggInput;
use crate::record::LogRecord;
use crate::users::user_hash;

/// Bits of the `flags` column (`SUM((flags >> n) & 1)` counts them in SQL).
pub(crate) mod flag {
    pub const SUCCESS: i64 = 1 << 0;
    pub const CACHE_HIT: i64 = 1 << 1;
    pub const CACHE_MISS: i64 = 1 << 2;
    pub const RETRIED: i64 = 1 << 3;
    pub const RESCUED_BY_RETRY: i64 = 1 << 4;
    pub const FELL_BACK: i64 = 1 << 5;
    pub const RESCUED_BY_FALLBACK: i64 = 1 << 6;
    pub const STREAM: i64 = 1 << 7;
}

/// Integers are stored as signed 64-bit: larger values saturate.
pub(crate) fn clamp_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stored integers read back: negatives (never written by us) read as 0.
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Metadata values compare as strings: a JSON string is itself, anything else its JSON text
/// (`5`, `true`, `{"a":1}`); `null` counts as absent.
pub(crate) fn meta_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Whether a record counts as a success: by its outcome, or by its status when it has none.
pub(crate) fn is_success(r: &LogRecord) -> bool {
    match r.outcome {
        Some(o) => !o.is_error(),
        None => r.status < 400,
    }
}

pub(crate) fn flags(r: &LogRecord) -> i64 {
    let success = is_success(r);
    let cache = r.cache_status.trim();
    let hit = cache.eq_ignore_ascii_case("HIT") || cache.eq_ignore_ascii_case("SEMANTIC HIT");
    let miss = cache.eq_ignore_ascii_case("MISS") || cache.eq_ignore_ascii_case("SEMANTIC MISS");
    let retried = r.retry_count != 0;
    let rescued_retry = r.retry_count > 0 && success;
    let fell_back = r.fallback_path.len() > 1;
    let mut f = 0;
    for (on, bit) in [
        (success, flag::SUCCESS),
        (hit, flag::CACHE_HIT),
        (miss, flag::CACHE_MISS),
        (retried, flag::RETRIED),
        (rescued_retry, flag::RESCUED_BY_RETRY),
        (fell_back, flag::FELL_BACK),
        (fell_back && success, flag::RESCUED_BY_FALLBACK),
        (r.stream, flag::STREAM),
    ] {
        if on {
            f |= bit;
        }
    }
    f
}

/// Everything stored alongside a record's own fields.
pub(crate) struct Derived {
    /// The id of the record's [`Dims`](crate::dims::Dims).
    pub dim_id: i64,
    pub flags: i64,
    pub user: Option<String>,
    pub user_hash: Option<i64>,
    pub meta: Vec<(String, String)>,
    pub lat_b: i64,
    pub ttft_b: Option<i64>,
    pub ovh_b: i64,
}

impl Derived {
    /// `dim_id` is the id of the record's [`Dims::of`](crate::dims::Dims::of) (the caller may
    /// have it already).
    pub fn of(r: &LogRecord, dim_id: i64) -> Derived {
        let meta: Vec<(String, String)> = r
            .metadata
            .iter()
            .filter_map(|(k, v)| meta_text(v).map(|t| (k.clone(), t)))
            .collect();
        let user = r.metadata.get("_user").and_then(meta_text);
        let user_hash = user.as_deref().map(user_hash);
        // Buckets of the stored (clamped) values, so SQL and rollups agree.
        let b = |v: u64| i64::from(bucket_of(to_u64(clamp_u64(v))));
        Derived {
            dim_id,
            flags: flags(r),
            user,
            user_hash,
            meta,
            lat_b: b(r.timings.total_us),
            ttft_b: r.timings.ttft_us.map(b),
            ovh_b: b(r.timings.overhead_us),
        }
    }

    /// What this record adds to the aggregates.
    pub fn input(&self, r: &LogRecord) -> AggInput {
        let c = |v: u64| to_u64(clamp_u64(v));
        AggInput {
            created_at: r.created_at,
            dim_id: self.dim_id,
            flags: self.flags,
            prompt: c(r.tokens.prompt),
            completion: c(r.tokens.completion),
            cached: c(r.tokens.cached),
            cache_write: c(r.tokens.cache_write),
            reasoning: c(r.tokens.reasoning),
            cost_nanos: r.cost_nanos,
            total_us: c(r.timings.total_us),
            ttft_us: r.timings.ttft_us.map(c),
            upstream_us: r.timings.upstream_us.map(c),
            overhead_us: c(r.timings.overhead_us),
            user: self.user_hash.map(|h| h as u64),
        }
    }
}
