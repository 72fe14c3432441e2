//! The stream contract end to end: events flow through in order and unbuffered, a stream ends
//! with exactly one `[DONE]` or with an error event (never a silent clean end), failures before
//! the first byte fall back, and idle upstreams are cut (compat reference §4.3, §9.4).

mod common;

use std::time::{Duration, Instant};

use common::{Harness, sse_data, sse_events};
use futures_util::StreamExt;
use portcullis_mock::Reply;
use reqwest::Response;
use serde_json::{Value, json};

const DEFAULT_CONTENT: &str =
    "Hello! This is a deterministic reply from the Portcullis mock provider.";

fn stream_body(model: &str) -> Value {
    json!({
        "model": model,
        "stream": true,
        "messages": [{"role": "user", "content": "Hello there"}],
    })
}

fn with_usage(mut body: Value) -> Value {
    body["stream_options"] = json!({"include_usage": true});
    body
}

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing response header {name}"))
        .to_str()
        .unwrap()
}

/// The `data:` payloads of an OpenAI-format stream, parsed; `[DONE]` becomes `Value::Null`.
fn chunks(text: &str) -> Vec<Value> {
    sse_data(text)
        .iter()
        .map(|d| {
            if d == "[DONE]" {
                Value::Null
            } else {
                serde_json::from_str(d).unwrap_or_else(|e| panic!("bad event ({e}): {d}"))
            }
        })
        .collect()
}

/// The content text a chunk carries (empty when none).
fn content(chunk: &Value) -> &str {
    chunk["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or("")
}

fn content_chunks(events: &[Value]) -> usize {
    events.iter().filter(|c| !content(c).is_empty()).count()
}

fn done_count(text: &str) -> usize {
    sse_data(text).iter().filter(|d| *d == "[DONE]").count()
}

/// Asserts a stream that ended with an error event: `[DONE]` never appears.
fn assert_error_ending(text: &str) -> Value {
    assert_eq!(done_count(text), 0, "an error stream has no [DONE]: {text}");
    let events = chunks(text);
    let last = events.last().cloned().unwrap_or(Value::Null);
    assert!(last["error"].is_object(), "last event is an error: {text}");
    assert_eq!(
        events.iter().filter(|e| e.get("error").is_some()).count(),
        1,
        "exactly one error event: {text}"
    );
    last
}

async fn send(h: &Harness, provider: &str, body: &Value) -> Response {
    h.post("/v1/chat/completions", provider, body)
        .send()
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// clean streams

#[tokio::test]
async fn openai_streams_pass_through_in_order_and_end_with_one_done() {
    let h = Harness::start().await;
    let resp = send(&h, "openai", &stream_body("gpt-4o+chunks=4")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(done_count(&text), 1);
    let events = chunks(&text);
    // role, 4 content pieces, the finish chunk, [DONE]
    assert_eq!(events.len(), 7, "{text}");
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let joined: String = events.iter().map(content).collect();
    assert_eq!(joined, DEFAULT_CONTENT);
    assert_eq!(content_chunks(&events), 4);
    assert_eq!(events[5]["choices"][0]["finish_reason"], "stop");
    assert!(events[6].is_null());
    let id = &events[0]["id"];
    assert!(
        events[..6]
            .iter()
            .all(|e| &e["id"] == id && e["model"] == "gpt-4o")
    );
    assert!(
        events[..6].iter().all(|e| e.get("usage").is_none()),
        "no usage without include_usage"
    );
    assert_eq!(h.mock.request_count(), 1);
    assert_eq!(h.mock.requests()[0].json().unwrap()["stream"], true);
}

#[tokio::test]
async fn include_usage_adds_a_final_usage_chunk_for_every_provider() {
    for (provider, model) in [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4"),
        ("google", "gemini-2.0-flash"),
    ] {
        let h = Harness::start().await;
        let resp = send(&h, provider, &with_usage(stream_body(model))).await;
        assert_eq!(resp.status(), 200, "{provider}");
        assert_eq!(header(&resp, "x-portkey-provider"), provider);
        let text = resp.text().await.unwrap();
        assert_eq!(done_count(&text), 1, "{provider}: {text}");
        let events = chunks(&text);
        let n = events.len();
        assert!(events[n - 1].is_null(), "{provider}: [DONE] last");
        let usage_chunk = &events[n - 2];
        assert_eq!(usage_chunk["choices"], json!([]), "{provider}: {text}");
        let u = &usage_chunk["usage"];
        let (p, c, t) = (
            u["prompt_tokens"].as_u64().unwrap(),
            u["completion_tokens"].as_u64().unwrap(),
            u["total_tokens"].as_u64().unwrap(),
        );
        assert!(p > 0 && c > 0 && t == p + c, "{provider}: {u}");
        let usage_only = events.iter().filter(|e| e["choices"] == json!([])).count();
        assert_eq!(usage_only, 1, "{provider}: one usage chunk");
        let joined: String = events.iter().map(content).collect();
        assert_eq!(joined, DEFAULT_CONTENT, "{provider}");
    }
}

#[tokio::test]
async fn without_include_usage_translated_streams_send_no_usage_chunk() {
    for (provider, model) in [
        ("anthropic", "claude-sonnet-4"),
        ("google", "gemini-2.0-flash"),
    ] {
        let h = Harness::start().await;
        let resp = send(&h, provider, &stream_body(model)).await;
        assert_eq!(resp.status(), 200, "{provider}");
        let text = resp.text().await.unwrap();
        assert_eq!(done_count(&text), 1, "{provider}: {text}");
        let events = chunks(&text);
        assert!(events.last().unwrap().is_null());
        assert!(
            events
                .iter()
                .all(|e| e.is_null() || e["choices"] != json!([])),
            "{provider}: {text}"
        );
        let finish: Vec<&Value> = events
            .iter()
            .filter(|e| !e["choices"][0]["finish_reason"].is_null())
            .collect();
        assert_eq!(finish.len(), 1, "{provider}: one finish chunk");
        assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
        let joined: String = events.iter().map(content).collect();
        assert_eq!(joined, DEFAULT_CONTENT, "{provider}");
    }
}

// ---------------------------------------------------------------------------------------------
// failures after the first byte

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    for (provider, model) in [
        ("openai", "gpt-4o+chunks=5+drop_after=2"),
        ("anthropic", "claude-sonnet-4+chunks=5+drop_after=2"),
        ("google", "gemini-2.0-flash+chunks=5+drop_after=2"),
    ] {
        let h = Harness::start().await;
        let resp = send(&h, provider, &stream_body(model)).await;
        assert_eq!(resp.status(), 200, "{provider}: committed before the cut");
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("{provider}: the client stream must end cleanly: {e}"));
        let err = assert_error_ending(&text);
        let events = chunks(&text);
        assert_eq!(content_chunks(&events), 2, "{provider}: {text}");
        assert_eq!(err["error"]["type"], "api_error", "{provider}: {err}");
        assert_eq!(
            err["error"]["code"], "upstream_stream_error",
            "{provider}: {err}"
        );
        assert!(err["error"]["message"].as_str().unwrap().len() > 5);
    }
}

#[tokio::test]
async fn an_in_band_upstream_error_is_forwarded_as_an_error_event() {
    let h = Harness::start().await;
    let resp = send(&h, "openai", &stream_body("gpt-4o+chunks=5+error_after=1")).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let err = assert_error_ending(&text);
    assert_eq!(content_chunks(&chunks(&text)), 1);
    assert_eq!(
        err,
        json!({"error": {
            "message": "openai error: The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": null,
            "code": null
        }, "provider": "openai"})
    );

    // Translated upstreams too: Anthropic's `event: error` becomes an OpenAI error chunk.
    let h = Harness::start().await;
    let resp = send(
        &h,
        "anthropic",
        &stream_body("claude-sonnet-4+chunks=5+error_after=1"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let err = assert_error_ending(&text);
    assert_eq!(content_chunks(&chunks(&text)), 1);
    assert_eq!(err["provider"], "anthropic");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Overloaded"),
        "{err}"
    );
}

fn messages_body(model: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 64,
        "stream": true,
        "messages": [{"role": "user", "content": "Hello there"}],
    })
}

#[tokio::test]
async fn anthropic_native_streams_end_with_an_anthropic_error_event() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/messages",
            "anthropic",
            &messages_body("claude-sonnet-4+chunks=5+error_after=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let events = sse_events(&text);
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ],
        "{text}"
    );
    let (_, data) = events.last().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(data).unwrap(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    assert!(!text.contains("message_stop"));

    // A cut connection is reported the same way.
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/messages",
            "anthropic",
            &messages_body("claude-sonnet-4+chunks=5+drop_after=2"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let events = sse_events(&text);
    let deltas = events
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_delta"))
        .count();
    assert_eq!(deltas, 2, "{text}");
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"), "{text}");
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "api_error", "{v}");
    assert!(v["error"]["message"].is_string());
    assert!(!text.contains("message_stop"));
}

// ---------------------------------------------------------------------------------------------
// failures before the first byte

async fn assert_falls_back(h: &Harness, first: Value) {
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [first, h.target("openai", "gpt-second")],
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &stream_body("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!(header(&resp, "x-portkey-provider"), "openai");
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let text = resp.text().await.unwrap();
    assert_eq!(done_count(&text), 1, "{text}");
    let events = chunks(&text);
    assert!(events.iter().all(|e| e.get("error").is_none()), "{text}");
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e["model"] == "gpt-second")
    );
    let joined: String = events.iter().map(content).collect();
    assert_eq!(joined, DEFAULT_CONTENT);
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_503_before_the_stream_falls_back() {
    let h = Harness::start().await;
    assert_falls_back(&h, h.target("openai", "gpt-first+status=503")).await;
}

#[tokio::test]
async fn a_stream_cut_before_its_first_event_falls_back() {
    let h = Harness::start().await;
    // Gemini streams have no preamble: `drop_after=0` sends nothing before cutting.
    assert_falls_back(&h, h.target("google", "gemini-2.0-flash+drop_after=0")).await;
}

#[tokio::test]
async fn an_in_band_error_as_the_first_event_falls_back() {
    let h = Harness::start().await;
    assert_falls_back(&h, h.target("google", "gemini-2.0-flash+error_after=0")).await;

    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::ok()
            .header("content-type", "text/event-stream")
            .body_raw(
                r#"data: {"error":{"message":"busy","type":"server_error","code":null}}

"#,
            )
            .path("/chat/completions"),
    );
    assert_falls_back(&h, h.target("openai", "gpt-first")).await;
}

#[tokio::test]
async fn an_empty_stream_falls_back() {
    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::ok()
            .header("content-type", "text/event-stream")
            .body_raw("")
            .path("/chat/completions"),
    );
    assert_falls_back(&h, h.target("openai", "gpt-first")).await;
}

#[tokio::test]
async fn a_stream_retries_before_its_first_byte() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::status(429).retry_after(0).path("/chat/completions"));
    let mut t = h.target("openai", "gpt-4o");
    t["retry"] = json!({"attempts": 1, "use_retry_after_header": true});
    let resp = h
        .post_config("/v1/chat/completions", &t, &stream_body("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "1");
    let text = resp.text().await.unwrap();
    assert_eq!(done_count(&text), 1);
    assert_eq!(h.mock.request_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// timing

/// Reads a response body, timing each piece relative to when the headers arrived.
async fn read_timed(resp: Response) -> (Vec<(Duration, String)>, Duration) {
    let start = Instant::now();
    let mut pieces = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.expect("body");
        pieces.push((
            start.elapsed(),
            String::from_utf8_lossy(&piece).into_owned(),
        ));
    }
    (pieces, start.elapsed())
}

#[tokio::test]
async fn an_idle_stream_is_ended_with_an_error_event() {
    let h = Harness::with_settings(|s| s.upstream.stream_idle_timeout_secs = 1).await;
    let start = Instant::now();
    let resp = send(&h, "openai", &stream_body("gpt-4o+chunks=5+stall_after=1")).await;
    assert_eq!(resp.status(), 200);
    let (pieces, took) = read_timed(resp).await;
    let text: String = pieces.iter().map(|(_, s)| s.as_str()).collect();
    assert!(
        took >= Duration::from_millis(900) && start.elapsed() < Duration::from_millis(2500),
        "cut after ~1 s of silence, took {took:?}"
    );
    let err = assert_error_ending(&text);
    assert_eq!(content_chunks(&chunks(&text)), 1);
    assert_eq!(err["error"]["code"], "upstream_stream_error", "{err}");
    // The stalled upstream stream is abandoned, not leaked.
    let deadline = Instant::now() + Duration::from_secs(2);
    while h.mock.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.mock.open_streams(), 0);
}

#[tokio::test]
async fn a_stream_idle_before_its_first_event_falls_back() {
    let h = Harness::with_settings(|s| s.upstream.stream_idle_timeout_secs = 1).await;
    let start = Instant::now();
    // Gemini sends no preamble, so `stall_after=0` means silence right after the headers.
    assert_falls_back(&h, h.target("google", "gemini-2.0-flash+stall_after=0")).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn the_first_chunk_is_not_held_back() {
    let h = Harness::start().await;
    let resp = send(
        &h,
        "openai",
        &stream_body("gpt-4o+chunks=3+chunk_delay_ms=300"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (pieces, took) = read_timed(resp).await;
    let (first_at, first) = &pieces[0];
    assert!(first.starts_with("data: "), "{first}");
    assert!(
        *first_at < Duration::from_millis(250),
        "first chunk after {first_at:?}"
    );
    assert!(
        took >= Duration::from_millis(600),
        "whole stream took {took:?}"
    );
    // Content keeps arriving over time: the last content piece well after the first byte.
    let last_content = pieces
        .iter()
        .filter(|(_, s)| s.contains("\"content\":\"") && !s.contains("\"content\":\"\""))
        .map(|(t, _)| *t)
        .max()
        .unwrap();
    assert!(
        last_content >= Duration::from_millis(600),
        "{last_content:?}"
    );
    let text: String = pieces.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(done_count(&text), 1);
    let joined: String = chunks(&text).iter().map(content).collect();
    assert_eq!(joined, DEFAULT_CONTENT);
}

#[tokio::test]
async fn request_timeout_does_not_cut_a_stream_that_already_started() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &stream_body("gpt-4o+chunks=3+chunk_delay_ms=300"),
        )
        .header("x-portkey-request-timeout", "500")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (pieces, took) = read_timed(resp).await;
    assert!(took >= Duration::from_millis(600), "{took:?}");
    let text: String = pieces.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(done_count(&text), 1, "{text}");
    assert!(
        chunks(&text).iter().all(|e| e.get("error").is_none()),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_stream_start_is_a_408() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &stream_body("gpt-4o+delay_ms=3000"),
        )
        .header("x-portkey-request-timeout", "200")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": {
            "message": "Request exceeded the timeout sent in the request: 200ms",
            "type": "timeout_error",
            "param": null,
            "code": null
        }})
    );
}

#[tokio::test]
async fn strict_compliance_shapes_anthropic_stream_deltas() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::ok().reasoning_tokens(20).path("/messages"));
    let resp = send(&h, "anthropic", &stream_body("claude-sonnet-4")).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains("content_blocks"), "{text}");
    let events = chunks(&text);
    let finish: Vec<&Value> = events
        .iter()
        .map(|e| &e["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);

    h.mock
        .enqueue(Reply::ok().reasoning_tokens(20).path("/messages"));
    let resp = h
        .post(
            "/v1/chat/completions",
            "anthropic",
            &stream_body("claude-sonnet-4"),
        )
        .header("x-portkey-strict-open-ai-compliance", "false")
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let events = chunks(&text);
    let thinking: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content_blocks"][0]["delta"]["thinking"].as_str())
        .collect();
    assert_eq!(
        thinking,
        "The user wants a short answer. Let me think it through step by step."
    );
    let finish: Vec<&Value> = events
        .iter()
        .map(|e| &e["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("end_turn")]);
    assert_eq!(done_count(&text), 1);
}

// ---------------------------------------------------------------------------------------------
// headers and error statuses

#[tokio::test]
async fn stream_responses_carry_sse_and_portkey_headers() {
    let h = Harness::start().await;
    let resp = h
        .post("/v1/chat/completions", "openai", &stream_body("gpt-4o"))
        .header("x-portkey-trace-id", "trace-stream-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    assert_eq!(header(&resp, "x-accel-buffering"), "no");
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_eq!(header(&resp, "x-portkey-provider"), "openai");
    assert_eq!(header(&resp, "x-portkey-last-used-option-index"), "config");
    assert_eq!(header(&resp, "x-portkey-retry-attempt-count"), "0");
    assert_eq!(header(&resp, "x-portkey-cache-status"), "DISABLED");
    assert_eq!(header(&resp, "x-portkey-trace-id"), "trace-stream-1");
    assert!(resp.headers().get("content-length").is_none());
    let text = resp.text().await.unwrap();
    assert_eq!(done_count(&text), 1);
}

#[tokio::test]
async fn a_provider_error_status_on_a_stream_request_is_a_json_error() {
    let h = Harness::start().await;
    let resp = send(
        &h,
        "openai",
        &stream_body("gpt-4o+status=429+retry_after=3"),
    )
    .await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert_eq!(header(&resp, "retry-after"), "3");
    assert_eq!(header(&resp, "x-portkey-provider"), "openai");
    assert!(resp.headers().get("x-accel-buffering").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {
            "message": "openai error: Rate limit reached for requests. Please try again later.",
            "type": "requests",
            "param": null,
            "code": "rate_limit_exceeded"
        }, "provider": "openai"})
    );

    // Same for a translated provider.
    let h = Harness::start().await;
    let resp = send(&h, "anthropic", &stream_body("claude-sonnet-4+status=429")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "content-type"), "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["provider"], "anthropic");
    assert_eq!(
        v["error"]["message"],
        "anthropic error: Number of request tokens has exceeded your per-minute rate limit."
    );
}

#[tokio::test]
async fn messages_streams_from_an_openai_provider_end_with_an_anthropic_error_event() {
    let h = Harness::start().await;
    let resp = h
        .post(
            "/v1/messages",
            "openai",
            &messages_body("gpt-4o+chunks=5+drop_after=2"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(
        events.first().and_then(|(n, _)| n.as_deref()),
        Some("message_start"),
        "{text}"
    );
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| {
            let v: Value = serde_json::from_str(d).unwrap();
            v["delta"]["text"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert!(
        !deltas.is_empty() && DEFAULT_CONTENT.starts_with(&deltas),
        "{text}"
    );
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"), "{text}");
    let v: Value = serde_json::from_str(data).unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["error"]["type"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    assert!(!text.contains("message_stop"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
}
