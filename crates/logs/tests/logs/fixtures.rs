//! Deterministic record generators and a brute-force reference for every aggregate, written
//! from the definitions (not from the crate's code) so the stores are checked against them.

use std::collections::{BTreeMap, HashSet};

use portcullis_logs::histogram::RELATIVE_ERROR;
use portcullis_logs::{Aggregates, LogFilter, LogRecord, Outcome, Timings, Tokens};
use serde_json::{Map, Value, json};

/// 2023-11-14T00:00:00Z: day-aligned, so tests can place records on any grain boundary.
pub const T0: i64 = 1_699_920_000_000;
pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 60 * MIN;
pub const DAY: i64 = 24 * HOUR;

/// xorshift64*: reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
    /// Log-uniform in `[lo, hi)`.
    pub fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo.max(1) as f64).ln(), (hi as f64).ln());
        let f = (self.below(1_000_000) as f64) / 1_000_000.0;
        (l + (h - l) * f).exp() as u64
    }
}

const WORKSPACES: &[Option<&str>] = &[Some("ws-a"), Some("ws-b"), Some("ws-c"), None];
const TARGETS: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
    (Some("@openai-prod"), Some("openai"), Some("gpt-4o")),
    (Some("@openai-prod"), Some("openai"), Some("gpt-4o-mini")),
    (Some("@anthropic"), Some("anthropic"), Some("claude-sonnet")),
    (Some("@bedrock"), Some("bedrock"), Some("claude-sonnet")),
    (None, None, None),
];
const ENDPOINTS: &[&str] = &["chat.completions", "embeddings", "messages"];
const ENDINGS: &[(u16, Option<Outcome>)] = &[
    (200, Some(Outcome::Success)),
    (200, Some(Outcome::Success)),
    (200, Some(Outcome::Success)),
    (200, Some(Outcome::CacheHit)),
    (429, Some(Outcome::RateLimited)),
    (500, Some(Outcome::ProviderError)),
    (502, Some(Outcome::GatewayError)),
    (400, Some(Outcome::InvalidRequest)),
    (401, Some(Outcome::Unauthorized)),
    (412, Some(Outcome::BudgetExhausted)),
    (446, Some(Outcome::GuardrailDenied)),
    (200, Some(Outcome::ClientDisconnect)),
    (200, None),
    (503, None),
];
const CACHE: &[&str] = &[
    "DISABLED",
    "MISS",
    "HIT",
    "REFRESH",
    "SEMANTIC HIT",
    "SEMANTIC MISS",
];

/// One pseudo-random record created at `created_at`.
pub fn record(rng: &mut Rng, id: String, created_at: i64) -> LogRecord {
    let ws = rng.pick(WORKSPACES);
    let key = ws.map(|w| format!("key-{}{}", &w[3..], rng.below(3)));
    let (provider_id, provider, model) = rng.pick(TARGETS);
    let (status, outcome) = rng.pick(ENDINGS);
    let total = rng.log_uniform(50, 5_000_000);
    let upstream = rng.chance(80).then(|| total * 9 / 10);
    let mut metadata = Map::new();
    match rng.below(10) {
        0..=5 => {
            metadata.insert("_user".into(), json!(format!("user-{}", rng.below(25))));
        }
        6 => {
            metadata.insert("_user".into(), json!(7));
        }
        7 => {
            metadata.insert("_user".into(), Value::Null);
        }
        _ => {}
    }
    if rng.chance(50) {
        metadata.insert("team".into(), json!(rng.pick(&["red", "blue", "green"])));
    }
    if rng.chance(30) {
        metadata.insert("env".into(), json!({"tier": rng.below(2)}));
    }
    let fallbacks = rng.below(4) as usize;
    let prompt = rng.below(5_000);
    let completion = rng.below(2_000);
    LogRecord {
        trace_id: format!("trace-{}", rng.below(500)),
        w3c_trace_id: format!(
            "{:032x}",
            u128::from(rng.next()) << 64 | u128::from(rng.next())
        ),
        span_id: format!("{:016x}", rng.next()),
        parent_span_id: rng.chance(30).then(|| format!("{:016x}", rng.next())),
        sampled: None,
        created_at,
        workspace_id: ws.map(str::to_owned),
        api_key_id: key,
        provider_id: provider_id.map(str::to_owned),
        integration_id: provider_id.map(|p| format!("int-{p}")),
        provider: provider.map(str::to_owned),
        requested_model: model.map(|m| format!("{m}-requested")),
        model: model.map(str::to_owned),
        endpoint: rng.pick(ENDPOINTS).to_owned(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        stream: rng.chance(40),
        status,
        outcome,
        error_code: (status >= 400).then(|| "AB01".to_owned()),
        error_type: (status >= 400).then(|| "api_error".to_owned()),
        error_message: (status >= 400).then(|| "upstream said no".to_owned()),
        timings: Timings {
            total_us: total,
            upstream_us: upstream,
            ttft_us: rng.chance(50).then_some(total / 3),
            overhead_us: rng.log_uniform(5, 20_000),
        },
        tokens: Tokens {
            prompt,
            completion,
            cached: prompt / 4,
            cache_write: prompt / 8,
            reasoning: completion / 5,
        },
        cost_nanos: rng.chance(85).then(|| rng.below(5_000_000) as i64),
        cache_status: rng.pick(CACHE).to_owned(),
        retry_count: rng.pick(&[0, 0, 0, 1, 2, -1]),
        fallback_path: (0..fallbacks)
            .map(|i| format!("config.targets[{i}]"))
            .collect(),
        guardrails: rng
            .chance(20)
            .then(|| json!({"before_request_hooks": [{"id": "g1", "verdict": true}]})),
        metadata,
        request_body: rng
            .chance(70)
            .then(|| format!("{{\"messages\":[{}]}}", rng.below(1000))),
        response_body: rng.chance(60).then(|| "{\"choices\":[]}".to_owned()),
        request_bytes: rng.below(100_000),
        response_bytes: rng.below(100_000),
        id,
    }
}

/// A record id as the gateway makes one: a UUIDv7 carrying `at` (Unix ms), its creation time,
/// with `bits` for its random part (the same id again for the same arguments).
pub fn v7_id(at: i64, bits: u64) -> String {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&bits.to_le_bytes());
    uuid::Builder::from_unix_timestamp_millis(at as u64, &random)
        .into_uuid()
        .to_string()
}

/// A record of a request that came without a trace id: the gateway made its id its trace id.
pub fn own_trace(rng: &mut Rng, at: i64) -> LogRecord {
    let id = v7_id(at, rng.next());
    LogRecord {
        trace_id: id.clone(),
        ..record(rng, id, at)
    }
}

/// `n` records spread at random over `[from, from + span)` (some sharing a millisecond).
pub fn records(seed: u64, n: usize, from: i64, span: i64) -> Vec<LogRecord> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let at = from + rng.below(span as u64) as i64;
            // A few collisions on the same millisecond, to exercise the id tie-break.
            let at = if i % 17 == 0 { at - at % 1000 } else { at };
            record(&mut rng, format!("log-{seed:x}-{i:06}"), at)
        })
        .collect()
}

fn meta_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Whether a record passes a filter, by the filter's documentation.
pub fn matches(f: &LogFilter, r: &LogRecord) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    f.from.is_none_or(|t| r.created_at >= t)
        && f.to.is_none_or(|t| r.created_at < t)
        && f.workspace_ids
            .as_ref()
            .is_none_or(|ws| r.workspace_id.as_ref().is_some_and(|w| ws.contains(w)))
        && eq(&f.api_key_id, &r.api_key_id)
        && eq(&f.provider_id, &r.provider_id)
        && eq(&f.provider, &r.provider)
        && eq(&f.model, &r.model)
        && f.status.is_none_or(|s| r.status == s)
        && f.status_class
            .is_none_or(|c| u32::from(r.status) / 100 == u32::from(c))
        && f.outcome.is_none_or(|o| r.outcome == Some(o))
        && f.metadata
            .iter()
            .all(|(k, v)| r.metadata.get(k).and_then(meta_text).as_deref() == Some(v.as_str()))
        && f.trace_id.as_ref().is_none_or(|t| &r.trace_id == t)
        && f.min_cost_nanos
            .is_none_or(|c| r.cost_nanos.is_some_and(|x| x >= c))
        && f.max_cost_nanos
            .is_none_or(|c| r.cost_nanos.is_some_and(|x| x <= c))
}

fn nearest_rank(sorted: &[u64], per_mille: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * per_mille).div_ceil(1000).max(1);
    sorted[rank - 1]
}

/// The exact aggregates of `records` (percentiles exact, nearest rank).
pub fn expect<'a>(records: impl IntoIterator<Item = &'a LogRecord>) -> Aggregates {
    let mut a = Aggregates::default();
    let (mut lat, mut ttft, mut ovh) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ttft_sum, mut up_sum, mut up_n, mut lat_sum, mut ovh_sum) = (0, 0, 0, 0, 0);
    let mut users = HashSet::new();
    let mut models = HashSet::new();
    let mut keys = HashSet::new();
    let mut by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    for r in records {
        a.requests += 1;
        let success = match r.outcome {
            Some(o) => !matches!(
                o,
                Outcome::ProviderError
                    | Outcome::GatewayError
                    | Outcome::InvalidRequest
                    | Outcome::Unauthorized
                    | Outcome::RateLimited
                    | Outcome::BudgetExhausted
                    | Outcome::GuardrailDenied
                    | Outcome::ClientDisconnect
            ),
            None => r.status < 400,
        };
        if success {
            a.successes += 1;
        } else {
            a.errors += 1;
            *by_outcome
                .entry(r.outcome.map_or("unknown", |o| o.as_str()).to_owned())
                .or_default() += 1;
            *by_status.entry(r.status).or_default() += 1;
        }
        a.prompt_tokens += r.tokens.prompt;
        a.completion_tokens += r.tokens.completion;
        a.cached_tokens += r.tokens.cached;
        a.cache_write_tokens += r.tokens.cache_write;
        a.reasoning_tokens += r.tokens.reasoning;
        a.total_tokens += r.tokens.prompt + r.tokens.completion;
        a.cost_nanos += r.cost_nanos.unwrap_or(0);
        lat.push(r.timings.total_us);
        lat_sum += r.timings.total_us;
        if let Some(t) = r.timings.ttft_us {
            ttft.push(t);
            ttft_sum += t;
        }
        if let Some(u) = r.timings.upstream_us {
            up_sum += u;
            up_n += 1;
        }
        ovh.push(r.timings.overhead_us);
        ovh_sum += r.timings.overhead_us;
        match r.cache_status.as_str() {
            "HIT" | "SEMANTIC HIT" => a.cache_hits += 1,
            "MISS" | "SEMANTIC MISS" => a.cache_misses += 1,
            _ => {}
        }
        if r.retry_count != 0 {
            a.retried += 1;
        }
        if r.retry_count > 0 && success {
            a.rescued_by_retry += 1;
        }
        if r.fallback_path.len() > 1 {
            a.fell_back += 1;
            if success {
                a.rescued_by_fallback += 1;
            }
        }
        if r.stream {
            a.streams += 1;
        }
        if let Some(u) = r.metadata.get("_user").and_then(meta_text) {
            users.insert(u);
        }
        if let Some(m) = &r.model {
            models.insert(m.clone());
        }
        if let Some(k) = &r.api_key_id {
            keys.insert(k.clone());
        }
    }
    let n = a.requests.max(1);
    a.errors_by_outcome = by_outcome;
    a.errors_by_status = by_status;
    a.latency_avg_us = if a.requests > 0 { lat_sum / n } else { 0 };
    a.ttft_avg_us = if ttft.is_empty() {
        0
    } else {
        ttft_sum / ttft.len() as u64
    };
    a.upstream_avg_us = up_sum.checked_div(up_n).unwrap_or(0);
    a.overhead_avg_us = if a.requests > 0 { ovh_sum / n } else { 0 };
    lat.sort_unstable();
    ttft.sort_unstable();
    ovh.sort_unstable();
    a.latency_p50_us = nearest_rank(&lat, 500);
    a.latency_p90_us = nearest_rank(&lat, 900);
    a.latency_p95_us = nearest_rank(&lat, 950);
    a.latency_p99_us = nearest_rank(&lat, 990);
    a.ttft_p50_us = nearest_rank(&ttft, 500);
    a.ttft_p95_us = nearest_rank(&ttft, 950);
    a.overhead_p50_us = nearest_rank(&ovh, 500);
    a.overhead_p99_us = nearest_rank(&ovh, 990);
    a.unique_users = users.len() as u64;
    a.unique_models = models.len() as u64;
    a.unique_keys = keys.len() as u64;
    a
}

/// Asserts `got` equals `want` exactly, except percentiles: within the documented bound.
pub fn assert_aggregates(label: &str, got: &Aggregates, want: &Aggregates) {
    let pct = |a: &Aggregates| {
        [
            ("latency_p50", a.latency_p50_us),
            ("latency_p90", a.latency_p90_us),
            ("latency_p95", a.latency_p95_us),
            ("latency_p99", a.latency_p99_us),
            ("ttft_p50", a.ttft_p50_us),
            ("ttft_p95", a.ttft_p95_us),
            ("overhead_p50", a.overhead_p50_us),
            ("overhead_p99", a.overhead_p99_us),
        ]
    };
    for ((name, g), (_, w)) in pct(got).into_iter().zip(pct(want)) {
        let err = (g as f64 - w as f64).abs();
        assert!(
            err <= w as f64 * RELATIVE_ERROR + 1.0,
            "{label}: {name} = {g}, exact {w} (beyond the {RELATIVE_ERROR} bound)"
        );
    }
    let strip = |a: &Aggregates| Aggregates {
        latency_p50_us: 0,
        latency_p90_us: 0,
        latency_p95_us: 0,
        latency_p99_us: 0,
        ttft_p50_us: 0,
        ttft_p95_us: 0,
        overhead_p50_us: 0,
        overhead_p99_us: 0,
        ..a.clone()
    };
    assert_eq!(strip(got), strip(want), "{label}");
}

/// Inserts records in batches of `batch`.
pub async fn insert(store: &dyn portcullis_logs::LogStore, records: &[LogRecord], batch: usize) {
    for chunk in records.chunks(batch) {
        store.insert_batch(chunk).await.expect("insert batch");
    }
}
