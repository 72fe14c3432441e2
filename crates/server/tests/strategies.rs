//! Portkey config semantics end to end: fallback, loadbalance, conditional routing, retries,
//! timeouts, inheritance, forwarded headers, camelCase keys and strict OpenAI compliance, all
//! over real HTTP against the mock (compat reference §4, §5).

mod common;

use std::time::{Duration, Instant};

use common::{Harness, chat};
use portcullis_mock::Reply;
use reqwest::Response;
use serde_json::{Value, json};

/// The `model` of every request the mock saw, in order (OpenAI and Anthropic bodies).
fn models_seen(h: &Harness) -> Vec<String> {
    h.mock
        .requests()
        .iter()
        .map(|r| {
            r.json()
                .and_then(|b| b["model"].as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect()
}

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing response header {name}"))
        .to_str()
        .unwrap()
}

fn fallback(targets: Vec<Value>) -> Value {
    json!({"strategy": {"mode": "fallback"}, "targets": targets})
}

async fn send(h: &Harness, config: &Value) -> Response {
    h.post_config("/v1/chat/completions", config, &chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap()
}

async fn body(resp: Response) -> Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

// ---------------------------------------------------------------------------------------------
// fallback

#[tokio::test]
async fn fallback_moves_on_after_a_503_and_reports_the_second_target() {
    let h = Harness::start().await;
    let config = fallback(vec![
        h.target("openai", "gpt-first+status=503"),
        h.target("anthropic", "claude-second"),
    ]);
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(header(&resp, "x-portkey-provider"), "anthropic");
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "0");
    let v = body(resp).await;
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-second");
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[1].path, "/v1/messages");
    assert_eq!(models_seen(&h), ["gpt-first+status=503", "claude-second"]);
}

#[tokio::test]
async fn fallback_on_status_codes_stops_on_an_unlisted_status() {
    let h = Harness::start().await;
    let mut config = fallback(vec![
        h.target("openai", "gpt-first+status=401"),
        h.target("openai", "gpt-second"),
    ]);
    config["strategy"]["on_status_codes"] = json!([429]);
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[0]"
    );
    assert_eq!(header(&resp, "x-portkey-provider"), "openai");
    assert_eq!(
        body(resp).await,
        json!({"error": {
            "message": "openai error: Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": null,
            "code": "invalid_api_key"
        }, "provider": "openai"})
    );
    assert_eq!(models_seen(&h), ["gpt-first+status=401"]);
}

#[tokio::test]
async fn fallback_on_status_codes_moves_on_for_a_listed_status() {
    let h = Harness::start().await;
    let mut config = fallback(vec![
        h.target("openai", "gpt-first+status=429"),
        h.target("openai", "gpt-second"),
    ]);
    config["strategy"]["on_status_codes"] = json!([429]);
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(models_seen(&h), ["gpt-first+status=429", "gpt-second"]);
}

#[tokio::test]
async fn when_every_target_fails_the_last_ones_error_is_returned() {
    let h = Harness::start().await;
    let config = fallback(vec![
        h.target("openai", "gpt-a+status=503"),
        h.target("openai", "gpt-b+status=502"),
        h.target("anthropic", "claude-c+status=529"),
    ]);
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 529);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[2]"
    );
    assert_eq!(header(&resp, "x-portkey-provider"), "anthropic");
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "0");
    assert_eq!(
        body(resp).await,
        json!({"error": {
            "message": "anthropic error: Overloaded",
            "type": "api_error",
            "param": null,
            "code": "overloaded_error"
        }, "provider": "anthropic"})
    );
    assert_eq!(
        models_seen(&h),
        [
            "gpt-a+status=503",
            "gpt-b+status=502",
            "claude-c+status=529"
        ]
    );
}

#[tokio::test]
async fn a_request_timeout_408_falls_back_by_default() {
    let h = Harness::start().await;
    let mut slow = h.target("openai", "gpt-slow+delay_ms=3000");
    slow["request_timeout"] = json!(200);
    let config = fallback(vec![slow, h.target("openai", "gpt-fast")]);
    let start = Instant::now();
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert!(
        start.elapsed() < Duration::from_millis(2000),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(models_seen(&h), ["gpt-slow+delay_ms=3000", "gpt-fast"]);
}

#[tokio::test]
async fn an_unreachable_target_falls_back() {
    let h = Harness::start().await;
    // A port nothing listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let mut first = h.target("openai", "gpt-dead");
    first["custom_host"] = json!(dead);
    let config = fallback(vec![first, h.target("openai", "gpt-alive")]);
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(models_seen(&h), ["gpt-alive"]);
}

#[tokio::test]
async fn a_gateway_exception_stops_the_fallback() {
    let h = Harness::start().await;
    // Anthropic has no embeddings: the gateway refuses before calling anyone, and stops there.
    let config = fallback(vec![
        h.target("anthropic", "claude"),
        h.target("openai", "text-embedding-3-small"),
    ]);
    let resp = h
        .post_config(
            "/v1/embeddings",
            &config,
            &json!({"model": "x", "input": "hello"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-portkey-gateway-exception"), "true");
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[0]"
    );
    assert_eq!(
        body(resp).await,
        json!({"status": "failure", "message": "embed is not supported by anthropic"})
    );
    assert_eq!(h.mock.request_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// loadbalance

#[tokio::test]
async fn loadbalance_never_picks_a_zero_weight_target() {
    let h = Harness::start().await;
    let mut zero = h.target("openai", "lb-zero");
    zero["weight"] = json!(0);
    let mut one = h.target("openai", "lb-one");
    one["weight"] = json!(1);
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [zero, one]});
    for _ in 0..20 {
        let resp = send(&h, &config).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "x-portkey-last-used-option-index"),
            "config.targets[1]"
        );
    }
    let seen = models_seen(&h);
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|m| m == "lb-one"), "{seen:?}");
}

#[tokio::test]
async fn loadbalance_spreads_requests_by_weight() {
    let h = Harness::start().await;
    let mut a = h.target("openai", "lb-a");
    a["weight"] = json!(0.5);
    let mut b = h.target("openai", "lb-b");
    b["weight"] = json!(0.5);
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [a, b]});
    let mut by_header = [0usize; 2];
    for _ in 0..200 {
        let resp = send(&h, &config).await;
        assert_eq!(resp.status(), 200);
        match header(&resp, "x-portkey-last-used-option-index") {
            "config.targets[0]" => by_header[0] += 1,
            "config.targets[1]" => by_header[1] += 1,
            other => panic!("unexpected option index {other}"),
        }
    }
    let seen = models_seen(&h);
    let a_count = seen.iter().filter(|m| *m == "lb-a").count();
    let b_count = seen.iter().filter(|m| *m == "lb-b").count();
    assert_eq!(a_count + b_count, 200);
    assert_eq!(
        [a_count, b_count],
        by_header,
        "headers match what the mock saw"
    );
    // Binomial(200, 0.5): below 50 has probability < 1e-12.
    assert!(a_count >= 50 && b_count >= 50, "a={a_count} b={b_count}");
}

#[tokio::test]
async fn nested_loadbalance_then_fallback_reports_the_nested_path() {
    let h = Harness::start().await;
    let mut unused = h.target("openai", "never");
    unused["weight"] = json!(0);
    let inner = json!({
        "weight": 1,
        "strategy": {"mode": "fallback"},
        "targets": [h.target("openai", "inner-a+status=500"), h.target("anthropic", "inner-b")],
    });
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [unused, inner]});
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1].targets[1]"
    );
    assert_eq!(header(&resp, "x-portkey-provider"), "anthropic");
    assert_eq!(models_seen(&h), ["inner-a+status=500", "inner-b"]);

    // A nested failure reports the nested leaf too.
    h.mock.clear();
    let inner = json!({
        "weight": 1,
        "strategy": {"mode": "fallback"},
        "targets": [h.target("openai", "inner-a")],
    });
    let mut unused = h.target("openai", "never");
    unused["weight"] = json!(0);
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [unused, inner]});
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1].targets[0]"
    );
    assert_eq!(models_seen(&h), ["inner-a"]);
}

// ---------------------------------------------------------------------------------------------
// conditional

fn named(h: &Harness, name: &str, model: &str) -> Value {
    let mut t = h.target("openai", model);
    t["name"] = json!(name);
    t
}

/// Sends one chat request (body model `model`, metadata `meta`) and returns the option index
/// and the model the mock saw.
async fn route(h: &Harness, config: &Value, model: &str, meta: Option<Value>) -> (String, String) {
    h.mock.clear();
    let mut req = h.post_config("/v1/chat/completions", config, &chat(model));
    if let Some(m) = meta {
        req = req.header("x-portkey-metadata", m.to_string());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{model} {:?}", resp.text().await);
    let index = header(&resp, "x-portkey-last-used-option-index").to_owned();
    let seen = models_seen(h);
    assert_eq!(seen.len(), 1);
    (index, seen[0].clone())
}

#[tokio::test]
async fn conditional_routes_on_metadata_with_a_default() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "premium"},
                {"query": {"params.model": "fast"}, "then": "quick"},
            ],
            "default": "cheap",
        },
        "targets": [
            named(&h, "premium", "m-premium"),
            named(&h, "cheap", "m-cheap"),
            named(&h, "quick", "m-quick"),
        ],
    });
    let paid = Some(json!({"plan": "paid"}));
    let free = Some(json!({"plan": "free"}));
    assert_eq!(
        route(&h, &config, "gpt-4o", paid.clone()).await,
        ("config.targets[0]".into(), "m-premium".into())
    );
    assert_eq!(
        route(&h, &config, "gpt-4o", free).await,
        ("config.targets[1]".into(), "m-cheap".into())
    );
    assert_eq!(
        route(&h, &config, "gpt-4o", None).await,
        ("config.targets[1]".into(), "m-cheap".into())
    );
    assert_eq!(
        route(&h, &config, "fast", None).await,
        ("config.targets[2]".into(), "m-quick".into())
    );
    // Conditions are evaluated in order: the first match wins.
    assert_eq!(
        route(&h, &config, "fast", paid).await,
        ("config.targets[0]".into(), "m-premium".into())
    );
}

#[tokio::test]
async fn conditional_operators_in_regex_and_or() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"$and": [
                    {"metadata.env": {"$in": ["dev", "test"]}},
                    {"params.model": {"$regex": "^gpt-4"}},
                ]}, "then": "a"},
                {"query": {"$or": [
                    {"params.model": "fast"},
                    {"metadata.tier": {"$in": ["gold", "silver"]}},
                ]}, "then": "b"},
            ],
            "default": "c",
        },
        "targets": [named(&h, "a", "m-a"), named(&h, "b", "m-b"), named(&h, "c", "m-c")],
    });
    let cases = [
        ("gpt-4o", json!({"env": "dev"}), "m-a"),
        ("gpt-4.1", json!({"env": "test"}), "m-a"),
        ("gpt-4o", json!({"env": "prod"}), "m-c"),
        ("claude", json!({"env": "dev"}), "m-c"),
        ("my-gpt-4", json!({"env": "dev"}), "m-c"),
        ("fast", json!({}), "m-b"),
        ("slow", json!({"tier": "gold"}), "m-b"),
        ("slow", json!({"tier": "bronze"}), "m-c"),
    ];
    for (model, meta, want) in cases {
        let (_, got) = route(&h, &config, model, Some(meta.clone())).await;
        assert_eq!(got, want, "model {model}, metadata {meta}");
    }
}

#[tokio::test]
async fn conditional_routes_on_the_url_pathname() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"url.pathname": {"$regex": "embeddings$"}}, "then": "embed"},
            ],
            "default": "chat",
        },
        "targets": [named(&h, "chat", "m-chat"), named(&h, "embed", "m-embed")],
    });
    let resp = h
        .post_config(
            "/v1/embeddings",
            &config,
            &json!({"model": "x", "input": "hello"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(route(&h, &config, "gpt-4o", None).await.1, "m-chat");
    assert_eq!(h.mock.requests()[0].path, "/v1/chat/completions");
}

#[tokio::test]
async fn conditional_without_a_match_or_default_is_a_400() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.plan": "paid"}, "then": "premium"}],
        },
        "targets": [named(&h, "premium", "m-premium")],
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &chat("gpt-4o"))
        .header("x-portkey-metadata", r#"{"plan":"free"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        body(resp).await,
        json!({"status": "failure", "message": "Query router did not resolve to any valid target"})
    );
    assert_eq!(h.mock.request_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// retry

fn retrying(h: &Harness, retry: Value) -> Value {
    let mut t = h.target("openai", "gpt-retry");
    t["retry"] = retry;
    t
}

#[tokio::test]
async fn retries_until_success_and_counts_them() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::status(429).retry_after(0).path("/chat/completions"));
    h.mock
        .enqueue(Reply::status(429).retry_after(0).path("/chat/completions"));
    let config = retrying(&h, json!({"attempts": 2, "use_retry_after_header": true}));
    let start = Instant::now();
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "Retry-After: 0 means no wait"
    );
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "2");
    assert_eq!(header(&resp, "x-portkey-last-used-option-index"), "config");
    assert_eq!(body(resp).await["object"], "chat.completion");
    assert_eq!(h.mock.request_count(), 3);
}

#[tokio::test]
async fn retries_back_off_one_second_without_retry_after() {
    let h = Harness::start().await;
    h.mock.enqueue(Reply::status(503).path("/chat/completions"));
    let config = retrying(&h, json!({"attempts": 1}));
    let start = Instant::now();
    let resp = send(&h, &config).await;
    let took = start.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "1");
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(2500),
        "Portkey waits 1 s before the first retry, took {took:?}"
    );
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn retry_after_ms_is_waited_when_asked_for() {
    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::status(429)
            .header("retry-after-ms", "300")
            .path("/chat/completions"),
    );
    let config = retrying(&h, json!({"attempts": 1, "use_retry_after_header": true}));
    let start = Instant::now();
    let resp = send(&h, &config).await;
    let took = start.elapsed();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "1");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(900),
        "waits retry-after-ms, not the 1 s backoff: {took:?}"
    );
}

#[tokio::test]
async fn exhausted_retries_report_minus_one_and_pass_retry_after_through() {
    let h = Harness::start().await;
    for _ in 0..3 {
        h.mock.enqueue(
            Reply::status(429)
                .retry_after(0)
                .header("retry-after-ms", "5")
                .path("/chat/completions"),
        );
    }
    let config = retrying(&h, json!({"attempts": 2, "use_retry_after_header": true}));
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "-1");
    assert_eq!(header(&resp, "retry-after"), "0");
    assert_eq!(header(&resp, "retry-after-ms"), "5");
    let v = body(resp).await;
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(h.mock.request_count(), 3);
    assert_eq!(h.mock.queued_replies(), 0);
}

#[tokio::test]
async fn a_status_outside_the_retry_list_is_not_retried() {
    let h = Harness::start().await;
    h.mock.enqueue(Reply::status(400).path("/chat/completions"));
    let config = retrying(&h, json!({"attempts": 3}));
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "0");
    assert_eq!(
        body(resp).await,
        json!({"error": {
            "message": "openai error: Invalid request.",
            "type": "invalid_request_error",
            "param": null,
            "code": null
        }, "provider": "openai"})
    );
    assert_eq!(h.mock.request_count(), 1);
}

#[tokio::test]
async fn retry_on_status_codes_replaces_the_defaults() {
    let h = Harness::start().await;
    // 408 is not a default retry code; listing it makes it one (and 429 stops being one).
    h.mock.enqueue(Reply::status(408).path("/chat/completions"));
    h.mock.enqueue(Reply::status(429).path("/chat/completions"));
    let config = retrying(
        &h,
        json!({"attempts": 3, "on_status_codes": [408], "use_retry_after_header": true}),
    );
    let start = Instant::now();
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "1");
    assert!(start.elapsed() < Duration::from_millis(2500));
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_retry_after_over_the_budget_stops_retrying() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::status(429).retry_after(61).path("/chat/completions"));
    let config = retrying(&h, json!({"attempts": 3, "use_retry_after_header": true}));
    let start = Instant::now();
    let resp = send(&h, &config).await;
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "no wait at all"
    );
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "-1");
    assert_eq!(header(&resp, "retry-after"), "61");
    assert_eq!(h.mock.request_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// request timeout

fn timeout_body(ms: u64) -> Value {
    json!({"error": {
        "message": format!("Request exceeded the timeout sent in the request: {ms}ms"),
        "type": "timeout_error",
        "param": null,
        "code": null
    }})
}

#[tokio::test]
async fn config_request_timeout_is_a_408() {
    let h = Harness::start().await;
    let mut t = h.target("openai", "gpt-slow+delay_ms=3000");
    t["request_timeout"] = json!(300);
    let start = Instant::now();
    let resp = send(&h, &t).await;
    let took = start.elapsed();
    assert_eq!(resp.status(), 408);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(header(&resp, "x-portkey-last-used-option-index"), "config");
    assert_eq!(header(&resp, "x-portkey-provider"), "openai");
    assert_eq!(body(resp).await, timeout_body(300));
    assert_eq!(h.mock.request_count(), 1);
}

#[tokio::test]
async fn a_timeout_is_per_attempt_and_retryable_when_listed() {
    let h = Harness::start().await;
    let mut t = h.target("openai", "gpt-slow+delay_ms=3000");
    t["request_timeout"] = json!(200);
    t["retry"] = json!({"attempts": 1, "on_status_codes": [408]});
    let start = Instant::now();
    let resp = send(&h, &t).await;
    let took = start.elapsed();
    assert_eq!(resp.status(), 408);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "-1");
    // 200 ms, the 1 s backoff, 200 ms.
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2800),
        "{took:?}"
    );
    assert_eq!(body(resp).await, timeout_body(200));
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_fractional_timeout_is_reported_as_given() {
    // Portkey formats the number it was given (`${timeout}ms`), fractions included.
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &chat("gpt-slow+delay_ms=3000"),
        )
        .header("x-portkey-request-timeout", "150.5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(
        body(resp).await["error"]["message"],
        "Request exceeded the timeout sent in the request: 150.5ms"
    );
}

#[tokio::test]
async fn the_request_timeout_header_beats_the_config() {
    let h = Harness::start().await;
    let mut t = h.target("openai", "gpt-slow+delay_ms=3000");
    t["request_timeout"] = json!(2500);
    let start = Instant::now();
    let resp = h
        .post_config("/v1/chat/completions", &t, &chat("gpt-4o"))
        .header("x-portkey-request-timeout", "200")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert!(start.elapsed() < Duration::from_millis(1500));
    assert_eq!(body(resp).await, timeout_body(200));
}

#[tokio::test]
async fn the_request_timeout_header_applies_to_header_only_requests() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &chat("gpt-slow+delay_ms=3000"),
        )
        .header("x-portkey-request-timeout", "250")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(header(&resp, "x-portkey-last-used-option-index"), "config");
    assert_eq!(body(resp).await, timeout_body(250));
}

// ---------------------------------------------------------------------------------------------
// inheritance

#[tokio::test]
async fn override_params_merge_parent_child_and_body() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {"mode": "fallback"},
        "override_params": {"temperature": 0.5, "max_tokens": 10, "model": "parent-model"},
        "targets": [{
            "provider": "openai",
            "api_key": "sk-test",
            "custom_host": h.mock_v1(),
            "override_params": {"model": "child-model", "max_tokens": 20},
        }],
    });
    let req = json!({
        "model": "body-model",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 1,
        "top_p": 0.9,
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = h.mock.requests()[0].json().unwrap();
    assert_eq!(sent["model"], "child-model");
    assert_eq!(sent["max_tokens"], 20);
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["top_p"], 0.9);
    assert_eq!(sent["messages"], req["messages"]);
}

#[tokio::test]
async fn retry_is_inherited_unless_a_child_sets_its_own() {
    let h = Harness::start().await;
    for _ in 0..2 {
        h.mock
            .enqueue(Reply::status(429).retry_after(0).path("/chat/completions"));
    }
    let mut own = h.target("openai", "own-retry");
    own["retry"] = json!({"attempts": 0});
    let config = json!({
        "strategy": {"mode": "fallback"},
        "retry": {"attempts": 1, "use_retry_after_header": true},
        "targets": [own, h.target("openai", "inherits")],
    });
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "1");
    assert_eq!(models_seen(&h), ["own-retry", "inherits", "inherits"]);
}

#[tokio::test]
async fn request_timeout_is_inherited_unless_a_child_sets_its_own() {
    let h = Harness::start().await;
    let mut own = h.target("openai", "own-timeout+delay_ms=400");
    own["request_timeout"] = json!(3000);
    let config = json!({
        "strategy": {"mode": "fallback"},
        "request_timeout": 200,
        "targets": [h.target("openai", "inherits+delay_ms=1500"), own],
    });
    let start = Instant::now();
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "the first target timed out at 200 ms"
    );
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );

    // Both inherit: the second times out too, and its 408 is what the client gets.
    h.mock.clear();
    let config = json!({
        "strategy": {"mode": "fallback"},
        "request_timeout": 200,
        "targets": [
            h.target("openai", "a+delay_ms=1500"),
            h.target("openai", "b+delay_ms=1500"),
        ],
    });
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 408);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(body(resp).await, timeout_body(200));
}

#[tokio::test]
async fn custom_host_is_inherited_unless_a_child_sets_its_own() {
    let h = Harness::start().await;
    let other = portcullis_mock::MockProvider::start().await;
    let config = json!({
        "strategy": {"mode": "fallback"},
        "custom_host": h.mock_v1(),
        "targets": [
            {"provider": "openai", "api_key": "sk-test", "override_params": {"model": "inherited+status=503"}},
            {"provider": "openai", "api_key": "sk-test", "custom_host": format!("{}/v1", other.url()),
             "override_params": {"model": "own-host"}},
        ],
    });
    let resp = send(&h, &config).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(models_seen(&h), ["inherited+status=503"]);
    let theirs = other.requests();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].path, "/v1/chat/completions");
    assert_eq!(theirs[0].json().unwrap()["model"], "own-host");
}

// ---------------------------------------------------------------------------------------------
// forward_headers

fn assert_forwarded(h: &Harness) {
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-custom-a"), Some("alpha"));
    assert_eq!(seen[0].header("x-custom-b"), Some("beta"));
    assert_eq!(
        seen[0].header("x-custom-c"),
        None,
        "unlisted headers stay behind"
    );
    assert_eq!(seen[0].header("x-portkey-forward-headers"), None);
}

#[tokio::test]
async fn config_forward_headers_reach_the_provider() {
    let h = Harness::start().await;
    let mut t = h.target("openai", "gpt-4o");
    t["forward_headers"] = json!(["x-custom-a", "X-Custom-B"]);
    let resp = h
        .post_config("/v1/chat/completions", &t, &chat("gpt-4o"))
        .header("x-custom-a", "alpha")
        .header("x-custom-b", "beta")
        .header("x-custom-c", "gamma")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_forwarded(&h);
}

#[tokio::test]
async fn forward_headers_header_in_both_list_forms() {
    for list in ["x-custom-a, X-Custom-B", r#"["x-custom-a","x-custom-b"]"#] {
        let h = Harness::start().await;
        let resp = h
            .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
            .header("x-portkey-forward-headers", list)
            .header("x-custom-a", "alpha")
            .header("x-custom-b", "beta")
            .header("x-custom-c", "gamma")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{list}");
        assert_forwarded(&h);
    }
}

#[tokio::test]
async fn client_headers_are_not_forwarded_by_default() {
    let h = Harness::start().await;
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
        .header("x-custom-a", "alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(h.mock.requests()[0].header("x-custom-a"), None);
}

// ---------------------------------------------------------------------------------------------
// camelCase

#[tokio::test]
async fn camel_case_config_keys_work_like_snake_case() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {"mode": "fallback", "onStatusCodes": [429]},
        "retry": {"attempts": 1, "useRetryAfterHeader": true},
        "targets": [
            {"provider": "openai", "apiKey": "sk-camel-1", "customHost": h.mock_v1(),
             "overrideParams": {"model": "camel-1+status=429+retry_after=0"}},
            {"provider": "openai", "apiKey": "sk-camel-2", "customHost": h.mock_v1(),
             "overrideParams": {"model": "camel-2"}, "forwardHeaders": ["x-custom-a"]},
        ],
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &chat("gpt-4o"))
        .header("x-custom-a", "alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    let seen = h.mock.requests();
    // Target 0 is retried once (useRetryAfterHeader with Retry-After: 0), then target 1 answers.
    assert_eq!(
        models_seen(&h),
        [
            "camel-1+status=429+retry_after=0",
            "camel-1+status=429+retry_after=0",
            "camel-2"
        ]
    );
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-camel-1"));
    assert_eq!(seen[2].header("authorization"), Some("Bearer sk-camel-2"));
    assert_eq!(seen[2].header("x-custom-a"), Some("alpha"));
    assert_eq!(seen[0].header("x-custom-a"), None);
}

// ---------------------------------------------------------------------------------------------
// strict_open_ai_compliance

#[tokio::test]
async fn strict_compliance_hides_anthropic_extras_unless_turned_off() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::ok().reasoning_tokens(20).path("/messages"));
    let resp = h
        .post(
            "/v1/chat/completions",
            "anthropic",
            &chat("claude-sonnet-4"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v = body(resp).await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(
        choice["message"].get("content_blocks").is_none(),
        "strict mode: {v}"
    );
    assert_eq!(
        choice["message"]["content"],
        "Hello! This is a deterministic reply from the Portcullis mock provider."
    );

    h.mock
        .enqueue(Reply::ok().reasoning_tokens(20).path("/messages"));
    let resp = h
        .post(
            "/v1/chat/completions",
            "anthropic",
            &chat("claude-sonnet-4"),
        )
        .header("x-portkey-strict-open-ai-compliance", "false")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v = body(resp).await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "end_turn");
    let blocks = choice["message"]["content_blocks"]
        .as_array()
        .unwrap_or_else(|| panic!("content_blocks missing: {v}"));
    assert_eq!(blocks.len(), 2, "{v}");
    assert_eq!(blocks[0]["type"], "thinking");
    assert_eq!(
        blocks[0]["thinking"],
        "The user wants a short answer. Let me think it through step by step."
    );
    assert!(blocks[0]["signature"].is_string());
    assert_eq!(blocks[1]["type"], "text");
}

#[tokio::test]
async fn strict_compliance_false_in_the_config() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::ok().reasoning_tokens(20).path("/messages"));
    let mut t = h.target("anthropic", "claude-sonnet-4");
    t["strict_open_ai_compliance"] = json!(false);
    let resp = send(&h, &t).await;
    assert_eq!(resp.status(), 200);
    let v = body(resp).await;
    assert_eq!(v["choices"][0]["finish_reason"], "end_turn");
    assert!(
        v["choices"][0]["message"]["content_blocks"].is_array(),
        "{v}"
    );
}
