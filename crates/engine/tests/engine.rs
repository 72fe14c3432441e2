//! Engine behaviour under paused time: retries, backoff, Retry-After, timeouts, strategies and
//! stream commit, against a scripted transport.

mod fake;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fake::{Fake, Step, json, ok_chat};
use http::HeaderMap;
use http_body_util::BodyExt;
use portcullis_config::{BuildCtx, HostPolicy, OpenCatalog, Plan, PortkeyHeaders, build_plan};
use portcullis_core::Endpoint;
use portcullis_engine::{Call, Engine, EngineSettings, Outcome, OutcomeBody};
use serde_json::{Value, json};
use tokio::time::Instant;

fn plan(config: Value) -> Plan {
    let hosts = HostPolicy::default();
    let ctx = BuildCtx {
        hosts: &hosts,
        catalog: &OpenCatalog,
    };
    let headers = PortkeyHeaders {
        config: Some(config.to_string()),
        debug: true,
        ..Default::default()
    };
    build_plan(&ctx, &headers, None).expect("valid config")
}

fn call(endpoint: Endpoint, body: Value, metadata: Value) -> Call {
    let raw = Bytes::from(body.to_string());
    Call {
        endpoint,
        body: body.as_object().cloned().unwrap_or_default(),
        raw,
        client_headers: HeaderMap::new(),
        metadata: metadata.as_object().cloned().unwrap_or_default(),
        path: "/v1/chat/completions".into(),
        created: 1,
        journal: Default::default(),
        traceparent: None,
        on_stream_end: Default::default(),
        record_response: None,
    }
}

fn chat(body: Value) -> Call {
    call(Endpoint::ChatComplete, body, json!({}))
}

async fn run(steps: Vec<Step>, config: Value, call: Call) -> (Outcome, Arc<Fake>) {
    let fake = Fake::new(steps);
    let engine = Engine::new(fake.clone(), EngineSettings::default());
    let o = engine.execute(&plan(config), &call).await;
    (o, fake)
}

async fn body_text(o: Outcome) -> String {
    match o.body {
        OutcomeBody::Full(b) => String::from_utf8(b.to_vec()).unwrap(),
        OutcomeBody::Stream(s) => {
            String::from_utf8(s.collect().await.unwrap().to_bytes().to_vec()).unwrap()
        }
        OutcomeBody::Error(e) => e.body_json().to_string(),
    }
}

fn openai(retry: Value) -> Value {
    json!({"provider": "openai", "api_key": "sk", "retry": retry})
}

fn body() -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_one_two_four_seconds() {
    let start = Instant::now();
    let (o, fake) = run(
        vec![json(429, "{}"), json(500, "{}"), json(503, "{}"), ok_chat()],
        openai(json!({"attempts": 3})),
        chat(body()),
    )
    .await;
    assert_eq!(o.status, 200);
    assert_eq!(o.retry_count, 3);
    assert_eq!(fake.calls(), 4);
    assert_eq!(start.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_report_minus_one() {
    let (o, fake) = run(
        vec![json(429, "{}"), json(429, "{}"), json(429, "{}")],
        openai(json!({"attempts": 2})),
        chat(body()),
    )
    .await;
    assert_eq!(o.status, 429);
    assert_eq!(o.retry_count, -1);
    assert_eq!(fake.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_status_outside_the_retry_list_stops_at_once() {
    let (o, fake) = run(
        vec![json(400, r#"{"error":{"message":"bad"}}"#), ok_chat()],
        openai(json!({"attempts": 3})),
        chat(body()),
    )
    .await;
    assert_eq!(
        (o.status.as_u16(), o.retry_count, fake.calls()),
        (400, 0, 1)
    );
    assert!(body_text(o).await.contains("openai error: bad"));
    let (o, _) = run(
        vec![json(429, "{}")],
        openai(json!({"attempts": 2, "on_status_codes": [408]})),
        chat(body()),
    )
    .await;
    assert_eq!(
        (o.status.as_u16(), o.retry_count),
        (429, 0),
        "on_status_codes replaces the defaults"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_within_a_sixty_second_budget() {
    let ra = |secs: &str| Step::Reply {
        status: 429,
        headers: vec![("retry-after", secs.to_owned())],
        body: Bytes::from_static(b"{}"),
        delay: Duration::ZERO,
    };
    let cfg = openai(json!({"attempts": 3, "use_retry_after_header": true}));
    let start = Instant::now();
    let (o, _) = run(vec![ra("7"), ok_chat()], cfg.clone(), chat(body())).await;
    assert_eq!((o.status.as_u16(), o.retry_count), (200, 1));
    assert_eq!(start.elapsed(), Duration::from_secs(7));

    let (o, fake) = run(vec![ra("61"), ok_chat()], cfg.clone(), chat(body())).await;
    assert_eq!(
        (o.status.as_u16(), o.retry_count, fake.calls()),
        (429, -1, 1)
    );

    let (o, fake) = run(vec![ra("40"), ra("30"), ok_chat()], cfg, chat(body())).await;
    assert_eq!(
        (o.status.as_u16(), o.retry_count, fake.calls()),
        (429, -1, 2),
        "the budget is cumulative"
    );
}

#[tokio::test(start_paused = true)]
async fn network_errors_are_always_retried() {
    let (o, fake) = run(
        vec![Step::Refused, ok_chat()],
        openai(json!({"attempts": 1, "on_status_codes": [429]})),
        chat(body()),
    )
    .await;
    assert_eq!(
        (o.status.as_u16(), o.retry_count, fake.calls()),
        (200, 1, 2)
    );
    let (o, _) = run(
        vec![Step::Refused],
        json!({"provider": "openai", "api_key": "k"}),
        chat(body()),
    )
    .await;
    assert_eq!(o.status, 502);
    assert!(body_text(o).await.contains("could not reach openai"));
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_times_out_with_408() {
    let slow = Step::Reply {
        status: 200,
        headers: vec![],
        body: Bytes::from_static(b"{}"),
        delay: Duration::from_secs(10),
    };
    let (o, _) = run(
        vec![slow],
        json!({"provider": "openai", "api_key": "k", "request_timeout": 1500}),
        chat(body()),
    )
    .await;
    assert_eq!(o.status, 408);
    assert_eq!(
        body_text(o).await,
        r#"{"error":{"message":"Request exceeded the timeout sent in the request: 1500ms","type":"timeout_error","param":null,"code":null}}"#
    );
    let slow = Step::Reply {
        status: 200,
        headers: vec![],
        body: Bytes::from_static(b"{}"),
        delay: Duration::from_secs(10),
    };
    let cfg = json!({"provider": "openai", "api_key": "k", "request_timeout": 1000, "retry": {"attempts": 1, "on_status_codes": [408]}});
    let (o, _) = run(vec![slow, ok_chat()], cfg, chat(body())).await;
    assert_eq!((o.status.as_u16(), o.retry_count), (200, 1));
}

#[tokio::test(start_paused = true)]
async fn fallback_moves_on_after_any_failure_and_reports_the_path() {
    let cfg = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "openai", "api_key": "a"},
        {"provider": "groq", "api_key": "b"}]});
    let (o, fake) = run(vec![json(503, "{}"), ok_chat()], cfg, chat(body())).await;
    assert_eq!(o.status, 200);
    assert_eq!(o.option_path, "config.targets[1]");
    assert_eq!(o.provider.as_deref(), Some("groq"));
    assert_eq!(
        fake.urls()[1],
        "https://api.groq.com/openai/v1/chat/completions"
    );
}

#[tokio::test(start_paused = true)]
async fn fallback_on_status_codes_limits_when_to_move_on() {
    let cfg = json!({"strategy": {"mode": "fallback", "on_status_codes": [429]}, "targets": [
        {"provider": "openai", "api_key": "a"}, {"provider": "groq", "api_key": "b"}]});
    let (o, fake) = run(vec![json(401, "{}"), ok_chat()], cfg, chat(body())).await;
    assert_eq!(
        (o.status.as_u16(), o.option_path.as_str(), fake.calls()),
        (401, "config.targets[0]", 1)
    );
}

#[tokio::test(start_paused = true)]
async fn every_target_failing_returns_the_last_one() {
    let cfg = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "openai", "api_key": "a"}, {"provider": "groq", "api_key": "b"}]});
    let (o, _) = run(
        vec![
            json(500, "{}"),
            json(429, r#"{"error":{"message":"slow"}}"#),
        ],
        cfg,
        chat(body()),
    )
    .await;
    assert_eq!(
        (o.status.as_u16(), o.option_path.as_str()),
        (429, "config.targets[1]")
    );
    assert!(body_text(o).await.contains("groq error: slow"));
}

#[tokio::test(start_paused = true)]
async fn a_gateway_exception_stops_the_fallback() {
    let cfg = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "anthropic", "api_key": "a"}, {"provider": "groq", "api_key": "b"}]});
    let (o, fake) = run(
        vec![ok_chat()],
        cfg,
        call(
            Endpoint::Embed,
            json!({"model": "m", "input": "x"}),
            json!({}),
        ),
    )
    .await;
    assert!(o.gateway_exception());
    assert_eq!(fake.calls(), 0);
    assert!(
        body_text(o)
            .await
            .contains("embed is not supported by anthropic")
    );
}

#[tokio::test(start_paused = true)]
async fn messages_clients_are_served_by_chat_providers() {
    let req = json!({"model": "llama", "max_tokens": 50, "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}]});
    let (o, fake) = run(
        vec![ok_chat()],
        json!({"provider": "groq", "api_key": "b"}),
        call(Endpoint::Messages, req.clone(), json!({})),
    )
    .await;
    assert_eq!(
        fake.urls()[0],
        "https://api.groq.com/openai/v1/chat/completions"
    );
    let sent: Value = serde_json::from_slice(&fake.seen.lock().unwrap()[0].1).unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    let v: Value = serde_json::from_str(&body_text(o).await).unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0], json!({"type": "text", "text": "hi"}));
    assert_eq!(v["stop_reason"], "end_turn");

    let mut streamed = req;
    streamed["stream"] = json!(true);
    let chunks = sse(&[
        CHUNK,
        r#"{"id":"1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ]);
    let (o, _) = run(
        vec![Step::Stream { chunks, cut: false }],
        json!({"provider": "groq", "api_key": "b"}),
        call(Endpoint::Messages, streamed, json!({})),
    )
    .await;
    let text = body_text(o).await;
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(text.contains("\"text_delta\""));
    assert!(
        text.trim_end()
            .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn nested_targets_report_nested_paths() {
    let cfg = json!({"strategy": {"mode": "loadbalance"}, "targets": [
        {"provider": "openai", "api_key": "a", "weight": 0},
        {"strategy": {"mode": "fallback"}, "targets": [
            {"provider": "groq", "api_key": "b"},
            {"provider": "mistral-ai", "api_key": "c"}]}]});
    let (o, _) = run(vec![json(500, "{}"), ok_chat()], cfg, chat(body())).await;
    assert_eq!(
        (o.status.as_u16(), o.option_path.as_str()),
        (200, "config.targets[1].targets[1]")
    );
}

#[tokio::test(start_paused = true)]
async fn loadbalance_follows_the_weights() {
    let cfg = json!({"strategy": {"mode": "loadbalance"}, "targets": [
        {"provider": "openai", "api_key": "a", "weight": 0.7},
        {"provider": "groq", "api_key": "b", "weight": 0.3}]});
    let p = plan(cfg);
    let fake = Fake::new((0..1000).map(|_| ok_chat()).collect());
    let engine = Engine::new(fake.clone(), EngineSettings::default());
    for _ in 0..1000 {
        engine.execute(&p, &chat(body())).await;
    }
    let openai = fake
        .urls()
        .iter()
        .filter(|u| u.contains("openai.com"))
        .count();
    assert!((620..=780).contains(&openai), "openai got {openai} of 1000");
}

#[tokio::test(start_paused = true)]
async fn conditional_routes_on_metadata_and_params() {
    let cfg = json!({
        "strategy": {"mode": "conditional", "conditions": [
            {"query": {"metadata.plan": {"$eq": "paid"}}, "then": "premium"},
            {"query": {"params.model": {"$regex": "^fast"}}, "then": "cheap"}],
            "default": "cheap"},
        "targets": [
            {"name": "premium", "provider": "openai", "api_key": "a", "override_params": {"model": "gpt-4o"}},
            {"name": "cheap", "provider": "groq", "api_key": "b"}]});
    let (o, fake) = run(
        vec![ok_chat()],
        cfg.clone(),
        call(Endpoint::ChatComplete, body(), json!({"plan": "paid"})),
    )
    .await;
    assert_eq!(o.option_path, "config.targets[0]");
    assert!(fake.urls()[0].contains("openai.com"));
    let (o, _) = run(
        vec![ok_chat()],
        cfg,
        call(Endpoint::ChatComplete, body(), json!({"plan": "free"})),
    )
    .await;
    assert_eq!(o.option_path, "config.targets[1]", "the default");
}

#[tokio::test(start_paused = true)]
async fn bodies_are_sent_untouched_unless_overridden() {
    let raw = r#"{"model":"gpt-4o",   "messages":[],"custom_param":{"x":1}}"#;
    let mut c = chat(serde_json::from_str(raw).unwrap());
    c.raw = Bytes::from_static(raw.as_bytes());
    let (_, fake) = run(
        vec![ok_chat()],
        json!({"provider": "openai", "api_key": "k"}),
        c,
    )
    .await;
    assert_eq!(
        fake.seen.lock().unwrap()[0].1,
        raw.as_bytes(),
        "unknown parameters reach the provider"
    );
    let cfg = json!({"provider": "openai", "api_key": "k", "override_params": {"model": "gpt-4o-mini", "temperature": 0}});
    let (_, fake) = run(vec![ok_chat()], cfg, chat(body())).await;
    let sent: Value = serde_json::from_slice(&fake.seen.lock().unwrap()[0].1).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], 0);
    assert_eq!(sent["messages"][0]["content"], "hi");
}

fn sse(events: &[&str]) -> Vec<Bytes> {
    events
        .iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect()
}

const CHUNK: &str = r#"{"id":"1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;

#[tokio::test(start_paused = true)]
async fn a_stream_failing_before_its_first_byte_falls_back() {
    let mut b = body();
    b["stream"] = json!(true);
    let steps = vec![
        Step::Stream {
            chunks: vec![],
            cut: true,
        },
        Step::Stream {
            chunks: sse(&[r#"{"error":{"message":"overloaded","type":"rate_limit_error"}}"#]),
            cut: false,
        },
        Step::Stream {
            chunks: sse(&[CHUNK, "[DONE]"]),
            cut: false,
        },
    ];
    let cfg2 = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "openai", "api_key": "a"}, {"provider": "groq", "api_key": "b"}, {"provider": "x-ai", "api_key": "c"}]});
    let (o, fake) = run(steps, cfg2, chat(b)).await;
    assert_eq!(fake.calls(), 3);
    assert_eq!(o.option_path, "config.targets[2]");
    let text = body_text(o).await;
    assert!(text.contains("\"content\":\"hi\""));
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_after_its_first_byte_ends_with_an_error_event() {
    let mut b = body();
    b["stream"] = json!(true);
    let steps = vec![
        Step::Stream {
            chunks: sse(&[CHUNK]),
            cut: true,
        },
        ok_chat(),
    ];
    let cfg = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "openai", "api_key": "a"}, {"provider": "groq", "api_key": "b"}]});
    let (o, fake) = run(steps, cfg, chat(b)).await;
    assert_eq!(o.status, 200);
    assert_eq!(fake.calls(), 1, "no fallback once the client has bytes");
    let text = body_text(o).await;
    assert!(text.starts_with("data: {\"id\":\"1\""));
    assert!(
        text.contains(
            "data: {\"error\":{\"message\":\"the connection to the provider was lost mid-stream"
        ),
        "{text}"
    );
    assert!(!text.contains("[DONE]"));
}

#[tokio::test(start_paused = true)]
async fn a_stream_ending_without_completion_is_an_error_not_success() {
    let mut b = body();
    b["stream"] = json!(true);
    let (o, _) = run(
        vec![Step::Stream {
            chunks: sse(&[CHUNK]),
            cut: false,
        }],
        json!({"provider": "openai", "api_key": "a"}),
        chat(b),
    )
    .await;
    let text = body_text(o).await;
    assert!(
        text.contains("stream ended before the response was complete"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn model_is_filled_in_when_the_provider_omits_it() {
    let (o, _) = run(
        vec![json(
            200,
            r#"{"id":"c","object":"chat.completion","choices":[]}"#,
        )],
        json!({"provider": "together-ai", "api_key": "a"}),
        chat(body()),
    )
    .await;
    let v: Value = serde_json::from_str(&body_text(o).await).unwrap();
    assert_eq!(v["model"], "gpt-4o");
}

/// A catalog whose `@restricted` account may call only `gpt-4o`.
struct Restricted;

impl portcullis_config::Catalog for Restricted {
    fn provider(&self, slug: &str) -> Option<portcullis_providers::Upstream> {
        let mut up =
            portcullis_providers::Upstream::new(portcullis_providers::registry::find("openai")?);
        if slug == "restricted" {
            up.account = Some(Arc::new(portcullis_providers::Account {
                provider_id: "p".into(),
                provider_slug: "restricted".into(),
                integration_id: Some("i".into()),
                integration_slug: Some("openai-prod".into()),
                workspace_id: "w".into(),
                allowed_models: Some(["gpt-4o".to_owned()].into_iter().collect()),
            }));
        }
        Some(up)
    }
    fn saved_config(&self, _: &str) -> Option<Arc<Value>> {
        None
    }
}

#[tokio::test(start_paused = true)]
async fn an_allow_list_refuses_other_models_and_the_fallback_moves_on() {
    let hosts = HostPolicy::default();
    let ctx = BuildCtx {
        hosts: &hosts,
        catalog: &Restricted,
    };
    let cfg = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "@restricted"}, {"provider": "@other"}]});
    let headers = PortkeyHeaders {
        config: Some(cfg.to_string()),
        debug: true,
        ..Default::default()
    };
    let plan = build_plan(&ctx, &headers, None).unwrap();
    let fake = Fake::new(vec![ok_chat()]);
    let engine = Engine::new(fake.clone(), EngineSettings::default());
    let o = engine
        .execute(
            &plan,
            &chat(json!({"model": "gpt-4o-mini", "messages": []})),
        )
        .await;
    assert_eq!(o.status, 200, "fell back to the unrestricted account");
    assert_eq!(o.option_path, "config.targets[1]");
    let single = PortkeyHeaders {
        config: Some(json!({"provider": "@restricted"}).to_string()),
        debug: true,
        ..Default::default()
    };
    let plan = build_plan(&ctx, &single, None).unwrap();
    let o = engine
        .execute(
            &plan,
            &chat(json!({"model": "gpt-4o-mini", "messages": []})),
        )
        .await;
    assert_eq!(o.status, 412);
    let body = body_text(o).await;
    assert!(
        body.contains("model_not_allowed_error")
            && body.contains("Model gpt-4o-mini is not allowed"),
        "{body}"
    );
    assert_eq!(
        fake.calls(),
        1,
        "the refused model never reached the provider"
    );
}
