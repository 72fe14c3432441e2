//! The rendered Prometheus text after a few typical requests.

mod common;

use std::collections::BTreeMap;

use portcullis_logs::{LogRecord, SinkStats};
use portcullis_telemetry::Metrics;
use portcullis_telemetry::metrics::{CONTENT_TYPE, Limits, OPENMETRICS_CONTENT_TYPE};

/// One sample line: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels = BTreeMap::new();
                // Our label values never contain `",` so a plain split is enough here.
                for pair in body.split("\",") {
                    let (k, v) = pair.split_once("=\"").expect("label pair");
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (name.to_owned(), labels)
            }
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// The sum of the samples of `name` whose labels include all of `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn count(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> usize {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .count()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn typical_requests_render_the_expected_series() {
    let m = Metrics::new();
    for r in [
        common::success(),
        common::success(),
        common::provider_error(),
        common::cache_hit(),
        common::stream(),
        common::rate_limited(),
    ] {
        m.observe(&r);
    }
    let text = m.render();
    let s = parse(&text);

    // Requests, by every label.
    let gpt = ("model", "gpt-4o-2024-08-06");
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[
                ("provider", "openai"),
                gpt,
                ("workspace", "ws_1"),
                ("status", "200"),
                ("outcome", "success"),
                ("endpoint", "chat.completions"),
            ]
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[("outcome", "cache_hit"), ("status", "200"), gpt]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[
                ("provider", "anthropic"),
                ("model", "claude-sonnet-4"),
                ("status", "500"),
                ("outcome", "provider_error"),
                ("endpoint", "messages"),
            ]
        ),
        1.0
    );
    // No provider chosen yet: provider unknown, the requested model.
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[
                ("provider", "unknown"),
                ("model", "gpt-4o"),
                ("status", "429"),
                ("outcome", "rate_limited"),
            ]
        ),
        1.0
    );
    assert_eq!(value(&s, "portcullis_requests_total", &[]), 6.0);

    // Errors: provider error and rate limited only.
    assert_eq!(value(&s, "portcullis_errors_total", &[]), 2.0);
    assert_eq!(
        value(
            &s,
            "portcullis_errors_total",
            &[
                ("provider", "anthropic"),
                ("model", "claude-sonnet-4"),
                ("workspace", "ws_1"),
                ("outcome", "provider_error"),
                ("status", "500"),
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_errors_total",
            &[("outcome", "rate_limited"), ("status", "429")]
        ),
        1.0
    );
    assert_eq!(
        count(&s, "portcullis_errors_total", &[("outcome", "success")]),
        0
    );

    // Latency histograms (seconds).
    let ws1 = [("provider", "openai"), gpt, ("workspace", "ws_1")];
    assert_eq!(
        value(&s, "portcullis_request_duration_seconds_count", &ws1),
        3.0
    );
    assert!(close(
        value(&s, "portcullis_request_duration_seconds_sum", &ws1),
        1.25 * 2.0 + 0.0009
    ));
    // Cache hit: no upstream observation.
    assert_eq!(
        value(&s, "portcullis_upstream_duration_seconds_count", &ws1),
        2.0
    );
    // Overhead buckets resolve tens of microseconds: 42 µs twice, 900 µs once.
    let le = |b: &'static str| {
        let mut l = ws1.to_vec();
        l.push(("le", b));
        l
    };
    assert_eq!(
        value(
            &s,
            "portcullis_gateway_overhead_seconds_bucket",
            &le("2.5e-05")
        ),
        0.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_gateway_overhead_seconds_bucket",
            &le("5e-05")
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_gateway_overhead_seconds_bucket",
            &le("0.00075")
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_gateway_overhead_seconds_bucket",
            &le("0.001")
        ),
        3.0
    );
    // Time to first token: the stream only.
    let ws2 = [("provider", "openai"), gpt, ("workspace", "ws_2")];
    assert_eq!(
        value(&s, "portcullis_time_to_first_token_seconds_count", &ws2),
        1.0
    );
    assert!(close(
        value(&s, "portcullis_time_to_first_token_seconds_sum", &ws2),
        0.3
    ));
    assert_eq!(
        value(&s, "portcullis_time_to_first_token_seconds_count", &ws1),
        0.0
    );

    // Tokens by type.
    let tok = |t: &'static str| {
        let mut l = ws1.to_vec();
        l.push(("type", t));
        value(&s, "portcullis_tokens_total", &l)
    };
    assert_eq!(tok("prompt"), 300.0); // two successes and the cache hit
    assert_eq!(tok("completion"), 60.0);
    assert_eq!(tok("cached"), 192.0);
    assert_eq!(tok("cache_write"), 0.0);
    assert_eq!(tok("reasoning"), 15.0);
    let mut l = ws2.to_vec();
    l.push(("type", "completion"));
    assert_eq!(value(&s, "portcullis_tokens_total", &l), 200.0);

    // Cost from nano-dollars: 2 × 0.0015 in ws_1, 0.0025 in ws_2.
    assert!(close(value(&s, "portcullis_cost_usd_total", &ws1), 0.003));
    assert!(close(value(&s, "portcullis_cost_usd_total", &ws2), 0.0025));

    // Cache statuses.
    // Two successes, the provider error and the stream.
    assert_eq!(
        value(&s, "portcullis_cache_total", &[("status", "MISS")]),
        4.0
    );
    assert_eq!(
        value(&s, "portcullis_cache_total", &[("status", "HIT")]),
        1.0
    );
    assert_eq!(
        value(&s, "portcullis_cache_total", &[("status", "DISABLED")]),
        1.0
    );

    // Retries: 2 attempts on the stream; one request exhausted them. One fallback.
    assert_eq!(value(&s, "portcullis_retries_total", &[]), 2.0);
    assert_eq!(value(&s, "portcullis_retries_exhausted_total", &[]), 1.0);
    assert_eq!(value(&s, "portcullis_fallbacks_total", &[]), 1.0);

    // Never a trace id, request id, key id or end user as a label.
    for secret in [
        common::TRACE_ID,
        "client-trace-42",
        "user-7f3a",
        "key_1",
        "0190f0b5",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into metrics");
    }
    for sample in &s {
        for k in sample.labels.keys() {
            assert!(
                [
                    "provider",
                    "model",
                    "workspace",
                    "status",
                    "outcome",
                    "endpoint",
                    "type",
                    "le"
                ]
                .contains(&k.as_str()),
                "unexpected label {k} on {}",
                sample.name
            );
        }
    }
}

#[test]
fn gauges_set_by_callers() {
    let m = Metrics::new();
    let stats = |queue_depth, queue_bytes, dropped, payloads_shed, written| SinkStats {
        queue_depth,
        queue_bytes,
        dropped,
        payloads_shed,
        written,
        ..SinkStats::default()
    };
    m.set_log_queue(&stats(17, 9_000, 3, 1, 1000));
    m.set_log_queue(&stats(5, 4_096, 4, 2, 1200));
    m.set_budget_remaining("workspace", "ws_1", "cost", 12.5);
    m.set_budget_remaining("workspace", "ws_1", "cost", 10.25);
    m.set_budget_remaining("api_key", "key_9", "tokens", 5000.0);
    m.set_rate_limit_remaining("api_key", "key_9", "requests", 42.0);
    let s = parse(&m.render());
    assert_eq!(value(&s, "portcullis_log_queue_depth", &[]), 5.0);
    assert_eq!(value(&s, "portcullis_log_queue_bytes", &[]), 4096.0);
    assert_eq!(value(&s, "portcullis_log_records_dropped_total", &[]), 4.0);
    assert_eq!(value(&s, "portcullis_log_payloads_shed_total", &[]), 2.0);
    assert_eq!(
        value(&s, "portcullis_log_records_written_total", &[]),
        1200.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_budget_remaining",
            &[
                ("scope_kind", "workspace"),
                ("scope_id", "ws_1"),
                ("kind", "cost")
            ]
        ),
        10.25
    );
    assert_eq!(
        value(
            &s,
            "portcullis_budget_remaining",
            &[("scope_id", "key_9"), ("kind", "tokens")]
        ),
        5000.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_rate_limit_remaining",
            &[
                ("scope_kind", "api_key"),
                ("scope_id", "key_9"),
                ("kind", "requests")
            ]
        ),
        42.0
    );
}

#[test]
fn cardinality_is_capped() {
    let m = Metrics::with_limits(Limits {
        request_series: 20,
        model_series: 20,
        ..Limits::default()
    });
    let rec = |model: String, ws: String| LogRecord {
        model: Some(model),
        workspace_id: Some(ws),
        ..common::success()
    };
    let mut n = 0;
    // 20 models fill the cap.
    for i in 0..20 {
        m.observe(&rec(format!("model-{i}"), "ws_a".into()));
        n += 1;
    }
    assert_eq!(m.series_count(), 20);
    // More models in the same workspace share model="other".
    for i in 20..50 {
        m.observe(&rec(format!("model-{i}"), "ws_a".into()));
        n += 1;
    }
    assert_eq!(m.series_count(), 21);
    // New workspaces too, up to 110% of the cap; then everything collapses into one series.
    for i in 0..500 {
        m.observe(&rec(format!("m-{i}"), format!("ws-{i}")));
        n += 1;
    }
    assert!(m.series_count() <= 23, "{} series", m.series_count());
    // A known label set still counts as itself.
    m.observe(&rec("model-3".into(), "ws_a".into()));
    n += 1;

    let s = parse(&m.render());
    assert_eq!(value(&s, "portcullis_requests_total", &[]), n as f64);
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[("model", "model-3"), ("workspace", "ws_a")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[("model", "other"), ("workspace", "ws_a")]
        ),
        30.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[
                ("provider", "other"),
                ("model", "other"),
                ("workspace", "other"),
                ("endpoint", "other")
            ]
        ),
        value(&s, "portcullis_requests_total", &[("workspace", "other")])
    );
    assert!(value(&s, "portcullis_requests_total", &[("workspace", "other")]) >= 498.0);
    assert_eq!(
        value(&s, "portcullis_metrics_series_overflow_total", &[]),
        530.0
    );
    // Per-model series are capped alike.
    assert!(m.model_series_count() <= 23);
    assert!(count(&s, "portcullis_request_duration_seconds_count", &[]) <= 23);
    assert_eq!(
        value(&s, "portcullis_request_duration_seconds_count", &[]),
        n as f64
    );
}

#[test]
fn model_level_series_have_their_own_cap() {
    let m = Metrics::with_limits(Limits {
        model_series: 5,
        ..Limits::default()
    });
    for i in 0..8 {
        m.observe(&LogRecord {
            model: Some(format!("model-{i}")),
            ..common::success()
        });
    }
    assert_eq!(m.series_count(), 8);
    assert_eq!(m.model_series_count(), 6);
    let s = parse(&m.render());
    // Requests keep every model; histograms, tokens and cost fold the last three.
    assert_eq!(
        value(&s, "portcullis_requests_total", &[("model", "model-7")]),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_request_duration_seconds_count",
            &[("model", "other")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &s,
            "portcullis_tokens_total",
            &[("model", "other"), ("type", "prompt")]
        ),
        300.0
    );
    assert_eq!(
        count(
            &s,
            "portcullis_request_duration_seconds_count",
            &[("model", "model-7")]
        ),
        0
    );
    assert_eq!(
        value(&s, "portcullis_metrics_series_overflow_total", &[]),
        3.0
    );
}

#[test]
fn zero_series_are_not_exposed() {
    let m = Metrics::new();
    m.observe(&common::rate_limited());
    let s = parse(&m.render());
    assert_eq!(value(&s, "portcullis_requests_total", &[]), 1.0);
    assert_eq!(
        count(&s, "portcullis_request_duration_seconds_count", &[]),
        1
    );
    assert_eq!(
        count(&s, "portcullis_gateway_overhead_seconds_count", &[]),
        1
    );
    for absent in [
        "portcullis_upstream_duration_seconds_count",
        "portcullis_time_to_first_token_seconds_count",
        "portcullis_tokens_total",
        "portcullis_cost_usd_total",
    ] {
        assert_eq!(count(&s, absent, &[]), 0, "{absent}");
    }
}

#[test]
fn long_and_missing_label_values() {
    let m = Metrics::new();
    m.observe(&LogRecord {
        model: Some("x".repeat(10_000)),
        ..common::success()
    });
    m.observe(&LogRecord::default());
    let s = parse(&m.render());
    let long: Vec<&Sample> = s
        .iter()
        .filter(|x| x.name == "portcullis_requests_total")
        .filter(|x| x.labels["model"].starts_with('x'))
        .collect();
    assert_eq!(long.len(), 1);
    assert_eq!(long[0].labels["model"].len(), 128);
    assert_eq!(
        value(
            &s,
            "portcullis_requests_total",
            &[
                ("provider", "unknown"),
                ("model", "unknown"),
                ("workspace", "unknown"),
                ("endpoint", "unknown"),
                ("outcome", "unknown"),
                ("status", "0"),
            ]
        ),
        1.0
    );
}

#[test]
fn content_types_and_openmetrics() {
    let m = Metrics::new();
    m.observe(&common::success());
    assert_eq!(m.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(m.content_type(), CONTENT_TYPE);
    assert!(!m.render().contains("# EOF"));
    let om = m.render_openmetrics();
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("portcullis_requests_total{"));
    assert!(OPENMETRICS_CONTENT_TYPE.starts_with("application/openmetrics-text"));
}

#[test]
fn observe_is_safe_from_many_threads() {
    let m = std::sync::Arc::new(Metrics::new());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let mut r = common::success();
                    r.model = Some(format!("model-{}", (i + t) % 7));
                    m.observe(&r);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = parse(&m.render());
    assert_eq!(value(&s, "portcullis_requests_total", &[]), 4000.0);
    assert_eq!(m.series_count(), 7);
}
