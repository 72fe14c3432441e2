//! A quick micro-benchmark of the request-path calls:
//! `cargo run --release -p portcullis-telemetry --example bench_observe`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use portcullis_logs::{LogRecord, Outcome, Timings, Tokens};
use portcullis_telemetry::Metrics;
use portcullis_telemetry::otel::span_data;

fn record(model: usize, workspace: usize) -> LogRecord {
    LogRecord {
        w3c_trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        created_at: 1_700_000_000_000,
        provider: Some("openai".into()),
        requested_model: Some(format!("model-{model}")),
        model: Some(format!("model-{model}-2024-08-06")),
        workspace_id: Some(format!("ws_{workspace}")),
        endpoint: "chat.completions".into(),
        status: 200,
        outcome: Some(Outcome::Success),
        stream: true,
        timings: Timings {
            total_us: 1_250_000,
            upstream_us: Some(1_249_958),
            ttft_us: Some(300_000),
            overhead_us: 42,
        },
        tokens: Tokens {
            prompt: 100,
            completion: 20,
            cached: 64,
            cache_write: 0,
            reasoning: 5,
        },
        cost_nanos: Some(1_500_000),
        cache_status: "MISS".into(),
        retry_count: 1,
        ..Default::default()
    }
}

fn per_op(elapsed: Duration, n: u64) -> f64 {
    elapsed.as_nanos() as f64 / n as f64
}

fn main() {
    const N: u64 = 2_000_000;

    // One hot label set.
    let m = Metrics::new();
    let r = record(0, 0);
    for _ in 0..10_000 {
        m.observe(&r);
    }
    let t = Instant::now();
    for _ in 0..N {
        m.observe(black_box(&r));
    }
    println!(
        "observe, one series:           {:6.1} ns/op",
        per_op(t.elapsed(), N)
    );

    // 1,000 label sets (50 models x 20 workspaces), visited round-robin.
    let records: Vec<LogRecord> = (0..1000).map(|i| record(i % 50, i / 50)).collect();
    for r in &records {
        m.observe(r);
    }
    let t = Instant::now();
    for i in 0..N as usize {
        m.observe(black_box(&records[i % records.len()]));
    }
    println!(
        "observe, 1,000 series:         {:6.1} ns/op",
        per_op(t.elapsed(), N)
    );

    // Two threads on the same hot series (this machine has 2 cores).
    let m = Arc::new(Metrics::new());
    m.observe(&r);
    let t = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            let r = r.clone();
            std::thread::spawn(move || {
                for _ in 0..N / 2 {
                    m.observe(black_box(&r));
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    println!(
        "observe, 2 threads, 1 series:  {:6.1} ns/op (wall time / total ops)",
        per_op(t.elapsed(), N)
    );

    // Building a span (what Tracing::record does before its non-blocking try_send).
    let scope = InstrumentationScope::builder("portcullis").build();
    let n = N / 10;
    let t = Instant::now();
    for _ in 0..n {
        black_box(span_data(black_box(&r), scope.clone()));
    }
    println!(
        "span_data (tracing on):        {:6.1} ns/op",
        per_op(t.elapsed(), n)
    );

    // Rendering 1,000 label sets.
    let m = Metrics::new();
    for r in &records {
        m.observe(r);
    }
    let t = Instant::now();
    let body = m.render();
    println!(
        "render, 1,000 series:          {:6.2} ms, {} KiB",
        t.elapsed().as_secs_f64() * 1e3,
        body.len() / 1024
    );
}
