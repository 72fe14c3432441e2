//! Benchmark (ignored by default): writer throughput into each store, then analytics over a
//! million rows. `cargo test --release -p portcullis-logs -- --ignored --nocapture perf`.
//!
//! Traffic shape: 4 workspaces × 5 keys, 8 models on 4 providers, 1,000 end users (each on one
//! key), mostly chat completions, ~93% successes; one day of traffic (≈11.6 requests/s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_logs::sink::DEFAULT_MAX_BYTES;
use portcullis_logs::{GroupBy, LogFilter, LogRecord, LogSink, LogStore, Outcome, SinkConfig};
use serde_json::{Map, json};

use crate::fixtures::{DAY, MIN, Rng, T0, v7_id};
use crate::harness::{Ctx, Target};

/// Rows loaded (`PORTCULLIS_BENCH_ROWS` overrides, for quicker runs).
fn rows() -> usize {
    std::env::var("PORTCULLIS_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

const MODELS: &[(&str, &str, &str)] = &[
    ("gpt-4o", "openai", "@openai"),
    ("gpt-4o-mini", "openai", "@openai"),
    ("o3", "openai", "@openai"),
    ("claude-sonnet-4", "anthropic", "@anthropic"),
    ("claude-haiku", "anthropic", "@anthropic"),
    ("gemini-2.5-pro", "google", "@vertex"),
    ("gemini-flash", "google", "@vertex"),
    ("llama-3.3-70b", "groq", "@groq"),
];

fn realistic(rng: &mut Rng, i: usize, at: i64) -> LogRecord {
    let user = rng.below(1_000);
    let key = user % 20;
    let ws = key % 4;
    let (model, provider, provider_id) = MODELS[(rng.below(8) + user) as usize % 8];
    let (status, outcome) = match rng.below(100) {
        0..=88 => (200, Outcome::Success),
        89..=92 => (200, Outcome::CacheHit),
        93..=95 => (429, Outcome::RateLimited),
        96..=97 => (500, Outcome::ProviderError),
        98 => (400, Outcome::InvalidRequest),
        _ => (200, Outcome::ClientDisconnect),
    };
    let total = rng.log_uniform(80_000, 20_000_000);
    let mut metadata = Map::new();
    metadata.insert("_user".into(), json!(format!("user-{user}")));
    metadata.insert(
        "env".into(),
        json!(if key.is_multiple_of(3) {
            "staging"
        } else {
            "prod"
        }),
    );
    let stream = rng.chance(60);
    let prompt = rng.below(4_000);
    // Half the requests came with a trace id of their own; the gateway gave the others their
    // record id.
    let (id, trace_id) = if i.is_multiple_of(2) {
        let id = v7_id(at, i as u64);
        (id.clone(), id)
    } else {
        (format!("{at:013}-{i:08}"), format!("trace-{i}"))
    };
    LogRecord {
        id,
        trace_id,
        w3c_trace_id: format!("{i:032x}"),
        span_id: format!("{i:016x}"),
        parent_span_id: None,
        sampled: None,
        created_at: at,
        workspace_id: Some(format!("ws-{ws}")),
        api_key_id: Some(format!("key-{key}")),
        provider_id: Some(provider_id.into()),
        integration_id: Some(format!("int-{provider}")),
        provider: Some(provider.into()),
        requested_model: Some(model.into()),
        model: Some(model.into()),
        endpoint: if rng.chance(95) {
            "chat.completions"
        } else {
            "embeddings"
        }
        .into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        stream,
        status,
        outcome: Some(outcome),
        error_code: None,
        error_type: None,
        error_message: None,
        timings: portcullis_logs::Timings {
            total_us: total,
            upstream_us: Some(total - 300),
            ttft_us: stream.then_some(total / 4),
            overhead_us: rng.log_uniform(40, 3_000),
        },
        tokens: portcullis_logs::Tokens {
            prompt,
            completion: rng.below(1_000),
            cached: prompt / 3,
            cache_write: 0,
            reasoning: 0,
        },
        cost_nanos: Some(rng.below(20_000_000) as i64),
        cache_status: if outcome == Outcome::CacheHit {
            "HIT"
        } else {
            "MISS"
        }
        .into(),
        retry_count: if rng.chance(3) { 1 } else { 0 },
        fallback_path: vec!["config.targets[0]".into()],
        guardrails: None,
        metadata,
        // Payloads as `x-portkey-debug` keeps them, a few hundred bytes each.
        request_body: Some(format!(
            "{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
            "lorem ipsum ".repeat(12)
        )),
        response_body: Some(format!(
            "{{\"id\":\"chatcmpl-{i}\",\"choices\":[{{\"message\":{{\"content\":\"{}\"}}}}]}}",
            "dolor sit amet ".repeat(10)
        )),
        request_bytes: 300,
        response_bytes: 400,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn timed<T, F: std::future::Future<Output = T>>(f: impl Fn() -> F) -> (T, Vec<f64>) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let t = Instant::now();
        last = Some(f().await);
        times.push(ms(t.elapsed()));
    }
    (last.unwrap(), times)
}

fn report(backend: &str, what: &str, times: &[f64]) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    println!(
        "[{backend}] {what}: first {:.1} ms, best {:.1} ms, median {:.1} ms",
        times[0],
        sorted[0],
        sorted[sorted.len() / 2]
    );
}

pub async fn throughput_and_analytics_at_scale(ctx: Ctx) {
    let rows = rows();
    let backend = match &ctx.target {
        Target::Sqlite(_) => "sqlite",
        Target::Postgres(_) => "postgres",
    };
    let store: Arc<dyn LogStore> = Arc::new(ctx.store.clone());

    // (a) Writer throughput: one day of records in time order, generated beforehand (so the
    // generator does not compete for the CPU), fed to the sink as fast as it drains (never
    // dropping).
    let mut rng = Rng::new(7);
    let all: Vec<LogRecord> = (0..rows)
        .map(|i| realistic(&mut rng, i, T0 + (i as i64 * DAY) / rows as i64))
        .collect();
    // Two records looked up by trace later: one whose trace id the gateway gave, one the
    // client's (see `realistic`).
    let mid = (rows / 2) & !1;
    let traced = [all[mid].clone(), all[mid + 1].clone()];
    assert_eq!(traced[0].trace_id, traced[0].id);
    assert_ne!(traced[1].trace_id, traced[1].id);
    let sink = LogSink::start(store.clone(), SinkConfig::default());
    let started = Instant::now();
    let producer = {
        let sink = sink.clone();
        tokio::spawn(async move {
            for (i, r) in all.into_iter().enumerate() {
                while {
                    let s = sink.stats();
                    s.queue_depth > 60_000 || s.queue_bytes > (DEFAULT_MAX_BYTES as u64) / 4 * 3
                } {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                assert!(sink.log(r));
                if i % 1024 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    producer.await.unwrap();
    let fed = started.elapsed();
    let done = sink.shutdown(Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    assert_eq!((done.written, done.failed, done.left), (rows as u64, 0, 0));
    println!(
        "[{backend}] writer: {rows} records in {:.1} s = {:.0} records/s (producer done after {:.1} s)",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        fed.as_secs_f64()
    );

    // (b) Analytics over the million rows.
    let day = LogFilter {
        from: Some(T0),
        to: Some(T0 + DAY),
        ..LogFilter::default()
    };
    let ragged = LogFilter {
        from: Some(T0 + 7 * MIN + 13_000),
        to: Some(T0 + DAY - 3 * MIN - 1),
        ..LogFilter::default()
    };
    let (s, t) = timed(|| store.summary(&day)).await;
    assert_eq!(s.unwrap().requests, rows as u64);
    report(backend, "summary, aligned day", &t);
    let (s, t) = timed(|| store.summary(&ragged)).await;
    assert!(s.unwrap().requests > 0);
    report(backend, "summary, ragged day", &t);
    let (s, t) = timed(|| store.series(&day, 3_600_000)).await;
    assert_eq!(s.unwrap().len(), 24);
    report(backend, "series 24 × 1 h", &t);
    let (s, t) = timed(|| store.series(&ragged, 3_600_000)).await;
    assert_eq!(s.unwrap().len(), 24);
    report(backend, "series 24 × 1 h, ragged", &t);
    let (s, t) = timed(|| store.group_by(&day, &GroupBy::Model, 50)).await;
    assert_eq!(s.unwrap().len(), 8);
    report(backend, "group by model", &t);
    let (s, t) = timed(|| store.group_by(&ragged, &GroupBy::Model, 50)).await;
    assert_eq!(s.unwrap().len(), 8);
    report(backend, "group by model, ragged", &t);
    let (_, t) = timed(|| async {
        let a = store.summary(&ragged).await.unwrap();
        let b = store.series(&ragged, 3_600_000).await.unwrap();
        let c = store.group_by(&ragged, &GroupBy::Model, 50).await.unwrap();
        (a, b, c)
    })
    .await;
    report(
        backend,
        "dashboard (summary + series + group by), ragged",
        &t,
    );
    let ws = LogFilter {
        workspace_ids: Some(vec!["ws-1".into()]),
        ..ragged.clone()
    };
    let (_, t) = timed(|| store.summary(&ws)).await;
    report(backend, "summary, one workspace, ragged", &t);

    // Raw-table fallbacks, for reference (no bar).
    let user = LogFilter {
        metadata: vec![("_user".into(), "user-42".into())],
        ..day.clone()
    };
    let (s, t) = timed(|| store.summary(&user)).await;
    assert!(s.unwrap().requests > 0);
    report(backend, "raw: summary for one _user", &t);
    let by_user = GroupBy::Metadata("_user".into());
    let (s, t) = timed(|| store.group_by(&day, &by_user, 20)).await;
    assert_eq!(s.unwrap().len(), 20);
    report(backend, "raw: group by _user (all rows)", &t);
    let one_ws = LogFilter {
        workspace_ids: Some(vec!["ws-2".into()]),
        ..day.clone()
    };
    let page = portcullis_logs::PageRequest {
        limit: 50,
        cursor: None,
    };
    let (_, t) = timed(|| store.list(&one_ws, &page)).await;
    report(backend, "list 50 newest, one workspace", &t);
    // A trace, by its id: one the client chose (in the trace index), and one the gateway gave
    // (found through the record id's time on SQLite).
    for (what, r) in [("client's", &traced[1]), ("gateway's", &traced[0])] {
        let one = LogFilter {
            trace_id: Some(r.trace_id.clone()),
            ..LogFilter::default()
        };
        let (p, t) = timed(|| store.list(&one, &page)).await;
        let ids: Vec<String> = p.unwrap().items.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, std::slice::from_ref(&r.id), "the {what} trace id");
        report(backend, &format!("list by trace id, the {what}"), &t);
    }

    // (c) Retention of a quarter of the day, in 5,000-row batches.
    let t = Instant::now();
    let n = store
        .delete_older_than(T0 + DAY / 4 + 17, 5_000)
        .await
        .unwrap();
    println!(
        "[{backend}] retention: {n} records in {:.1} s = {:.0} records/s",
        t.elapsed().as_secs_f64(),
        n as f64 / t.elapsed().as_secs_f64()
    );
}
