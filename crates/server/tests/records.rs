//! Step 10, record: every request yields exactly one log record with the right fields, whatever
//! its outcome, and streamed and non-streamed usage agree.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_logs::{LogRecord, Outcome};
use portcullis_mock::MockProvider;
use portcullis_server::observe::{Observer, Sink};
use portcullis_server::{AppState, Running, Settings};
use serde_json::{Value, json};

#[derive(Default)]
struct Capture(Mutex<Vec<LogRecord>>);

impl Sink for Capture {
    fn keep(&self, record: LogRecord) {
        self.0.lock().unwrap().push(record);
    }
}

struct Rig {
    mock: MockProvider,
    gw: Running,
    client: reqwest::Client,
    seen: Arc<Capture>,
}

async fn rig() -> Rig {
    rig_with(|_| {}).await
}

async fn rig_with(tune: impl FnOnce(&mut Settings)) -> Rig {
    let mock = MockProvider::start().await;
    let mut settings = Settings::default();
    settings.server.port = 0;
    tune(&mut settings);
    let mut state = AppState::new(settings).unwrap();
    let seen = Arc::new(Capture::default());
    state.observer = Arc::new(Observer::new(4096).with_sink(seen.clone()));
    let gw = portcullis_server::spawn(state).await.unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    Rig {
        mock,
        gw,
        client,
        seen,
    }
}

impl Rig {
    fn chat(&self, body: Value) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/v1/chat/completions", self.gw.url()))
            .header("x-portkey-provider", "openai")
            .header("x-portkey-custom-host", format!("{}/v1", self.mock.url()))
            .header("authorization", "Bearer sk-test-abcdefghijklmnopqrstuvwxyz")
            .json(&body)
    }

    /// Waits (bounded) for exactly `n` records; a streamed body's record comes when it ends.
    async fn records(&self, n: usize) -> Vec<LogRecord> {
        for _ in 0..200 {
            if self.seen.0.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Nothing more may follow.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let got = self.seen.0.lock().unwrap().clone();
        assert_eq!(got.len(), n, "{got:#?}");
        got
    }
}

fn msg(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_success_records_usage_cost_timings_and_masked_payloads() {
    let r = rig().await;
    let resp = r
        .chat(json!({"model": "gpt-4o-mini+usage=1000,200+content=hello", "api_key": "sk-should-not-leak-1234567890",
                     "messages": [{"role": "user", "content": "hi"}]}))
        .header("x-portkey-trace-id", "trace-ok")
        .header("x-portkey-metadata", r#"{"_user":"alice","team":"search"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let timing = resp.headers()["server-timing"].to_str().unwrap().to_owned();
    assert!(
        timing.starts_with("gateway;dur=") && timing.contains("upstream;dur="),
        "{timing}"
    );
    let _ = resp.text().await.unwrap();
    let rec = r.records(1).await.remove(0);
    assert_eq!(rec.outcome, Some(Outcome::Success));
    assert_eq!(rec.status, 200);
    assert_eq!(rec.trace_id, "trace-ok");
    assert_eq!(rec.endpoint, "chat.completions");
    assert_eq!(rec.provider.as_deref(), Some("openai"));
    assert_eq!(
        rec.requested_model.as_deref(),
        Some("gpt-4o-mini+usage=1000,200+content=hello")
    );
    assert_eq!((rec.tokens.prompt, rec.tokens.completion), (1000, 200));
    // gpt-4o-mini: $0.15/M in, $0.60/M out → 150,000 + 120,000 nano-dollars.
    assert_eq!(rec.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(rec.cost_nanos, Some(270_000));
    assert_eq!(rec.metadata["_user"], "alice");
    assert_eq!(rec.user(), Some("alice"));
    assert_eq!(rec.fallback_path.len(), 1);
    assert_eq!(rec.retry_count, 0);
    assert!(rec.timings.total_us >= rec.timings.overhead_us);
    assert!(rec.timings.upstream_us.is_some());
    assert!(rec.timings.ttft_us.is_some());
    let req = rec.request_body.as_deref().unwrap();
    assert!(!req.contains("should-not-leak"), "{req}");
    assert!(rec.response_body.as_deref().unwrap().contains("hello"));
    assert_eq!(rec.w3c_trace_id.len(), 32);
    assert_eq!(rec.span_id.len(), 16);
    assert!(rec.parent_span_id.is_none());
    // The provider received this request's span as its parent.
    let sent = &r.mock.requests()[0];
    assert_eq!(
        sent.header("traceparent"),
        Some(format!("00-{}-{}-01", rec.w3c_trace_id, rec.span_id).as_str())
    );
}

#[tokio::test]
async fn a_callers_trace_context_is_joined() {
    let r = rig().await;
    let resp = r
        .chat(msg("gpt-4o-mini"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    let _ = resp.text().await.unwrap();
    let rec = r.records(1).await.remove(0);
    assert_eq!(rec.w3c_trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(rec.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
    let tp = r.mock.requests()[0]
        .header("traceparent")
        .unwrap()
        .to_owned();
    assert!(
        tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{tp}"
    );
    assert!(
        !tp.contains("00f067aa0ba902b7"),
        "the provider's parent is the gateway's span"
    );
    assert!(
        tp.ends_with("-01"),
        "the caller's sampled flag is kept: {tp}"
    );
}

#[tokio::test]
async fn a_callers_decision_not_to_sample_reaches_the_provider() {
    let r = rig().await;
    let resp = r
        .chat(msg("gpt-4o-mini"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .send()
        .await
        .unwrap();
    let _ = resp.text().await.unwrap();
    let rec = r.records(1).await.remove(0);
    assert_eq!(rec.sampled, Some(false));
    let tp = r.mock.requests()[0]
        .header("traceparent")
        .unwrap()
        .to_owned();
    assert_eq!(
        tp,
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{}-00", rec.span_id)
    );
}

#[tokio::test]
async fn provider_errors_refusals_and_bad_input_each_yield_one_record() {
    let r = rig().await;
    // A provider error (no retries configured).
    let resp = r.chat(msg("m+status=500")).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    let _ = resp.text().await;
    // Malformed JSON.
    let resp = r
        .client
        .post(format!("{}/v1/chat/completions", r.gw.url()))
        .header("x-portkey-provider", "openai")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // An unknown provider.
    let resp = r
        .client
        .post(format!("{}/v1/chat/completions", r.gw.url()))
        .header("x-portkey-provider", "nope")
        .json(&msg("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let recs = r.records(3).await;
    assert_eq!(recs[0].outcome, Some(Outcome::ProviderError));
    assert_eq!(recs[0].status, 500);
    assert!(recs[0].error_code.is_some());
    assert_eq!(recs[1].outcome, Some(Outcome::InvalidRequest));
    assert_eq!(recs[1].status, 400);
    assert!(recs[1].timings.upstream_us.is_none());
    assert_eq!(recs[2].outcome, Some(Outcome::InvalidRequest));
    assert!(recs[2].error_message.as_deref().unwrap().contains("nope"));
}

#[tokio::test]
async fn a_fallback_records_its_path_and_the_target_that_answered() {
    let r = rig().await;
    let host = format!("{}/v1", r.mock.url());
    let config = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "openai", "api_key": "sk-a", "custom_host": host, "override_params": {"model": "m+status=503"}},
        {"provider": "openai", "api_key": "sk-b", "custom_host": host, "override_params": {"model": "m+content=second"}}
    ]});
    let resp = r
        .client
        .post(format!("{}/v1/chat/completions", r.gw.url()))
        .header("x-portkey-config", config.to_string())
        .json(&msg("m"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await;
    let rec = r.records(1).await.remove(0);
    assert_eq!(rec.outcome, Some(Outcome::Success));
    assert_eq!(
        rec.fallback_path,
        vec!["config.targets[0]", "config.targets[1]"]
    );
}

#[tokio::test]
async fn streamed_and_unstreamed_usage_agree_and_debug_false_keeps_no_payloads() {
    let r = rig().await;
    let resp = r.chat(msg("gpt-4o-mini+usage=30,7")).send().await.unwrap();
    let _ = resp.text().await.unwrap();
    let mut body = msg("gpt-4o-mini+usage=30,7+chunks=3");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = r
        .chat(body)
        .header("x-portkey-debug", "false")
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("[DONE]"));
    let recs = r.records(2).await;
    let (plain, streamed) = (&recs[0], &recs[1]);
    assert!(streamed.stream && !plain.stream);
    assert_eq!(streamed.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(streamed.outcome, Some(Outcome::Success));
    assert_eq!(plain.tokens, streamed.tokens);
    assert_eq!(
        plain.cost_nanos, streamed.cost_nanos,
        "{plain:#?} {streamed:#?}"
    );
    assert!(plain.cost_nanos.is_some_and(|c| c > 0));
    assert!(streamed.timings.ttft_us.is_some());
    assert!(streamed.request_body.is_none() && streamed.response_body.is_none());
    assert!(plain.request_body.is_some());
}

/// Sends `body` once as it is and once streamed; returns both records' response payloads.
async fn plain_and_streamed(r: &Rig, path: &str, provider: &str, body: Value) -> (Value, Value) {
    let send = |body: Value| {
        r.client
            .post(format!("{}{path}", r.gw.url()))
            .header("x-portkey-provider", provider)
            .header("x-portkey-custom-host", format!("{}/v1", r.mock.url()))
            .header("authorization", "Bearer sk-test-abcdefghijklmnopqrstuvwxyz")
            .header("x-api-key", "sk-ant-test-abcdefghijklmnopqrstuvwxyz")
            .json(&body)
            .send()
    };
    let plain = send(body.clone()).await.unwrap();
    assert_eq!(plain.status(), 200);
    let _ = plain.text().await.unwrap();
    let mut streamed = body;
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let resp = send(streamed).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.text().await.unwrap();
    let recs = r.records(2).await;
    let payload = |rec: &LogRecord| -> Value {
        serde_json::from_str(rec.response_body.as_deref().expect("a response payload")).unwrap()
    };
    assert!(recs[1].stream);
    (payload(&recs[0]), payload(&recs[1]))
}

#[tokio::test]
async fn a_streamed_response_is_kept_as_the_completion_it_assembles() {
    let r = rig().await;
    let model = "gpt-4o-mini+usage=30,7+chunks=4+content=Hello%20there%2C%20streaming%20world\
                 +tool=get_weather+args=%7B%22city%22%3A%22Paris%22%7D";
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let (plain, streamed) = plain_and_streamed(&r, "/v1/chat/completions", "openai", body).await;
    assert_eq!(streamed["object"], "chat.completion", "{streamed}");
    let (p, s) = (&plain["choices"][0], &streamed["choices"][0]);
    assert_eq!(s["message"]["content"], "Hello there, streaming world");
    assert_eq!(s["message"]["content"], p["message"]["content"]);
    for k in ["name", "arguments"] {
        assert_eq!(
            s["message"]["tool_calls"][0]["function"][k],
            p["message"]["tool_calls"][0]["function"][k],
            "{streamed}"
        );
    }
    assert_eq!(s["finish_reason"], p["finish_reason"]);
    assert_eq!(streamed["usage"]["prompt_tokens"], 30);
    assert_eq!(streamed["usage"]["completion_tokens"], 7);
}

#[tokio::test]
async fn a_streamed_anthropic_message_is_kept_as_the_message_it_assembles() {
    let r = rig().await;
    let model =
        "claude-sonnet-4-5+usage=30,7+chunks=4+content=Hello%20there%2C%20streaming%20world";
    let body =
        json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let (plain, streamed) = plain_and_streamed(&r, "/v1/messages", "anthropic", body).await;
    assert_eq!(streamed["type"], "message", "{streamed}");
    assert_eq!(streamed["content"], plain["content"], "{streamed}");
    assert_eq!(
        streamed["content"][0]["text"],
        "Hello there, streaming world"
    );
    assert_eq!(streamed["stop_reason"], plain["stop_reason"]);
    assert_eq!(streamed["usage"]["output_tokens"], 7);
}

#[tokio::test]
async fn translated_streams_are_kept_in_the_clients_format() {
    // An OpenAI client served by Anthropic, and an Anthropic client served by OpenAI: the
    // record holds what the client would have received without `stream`.
    let r = rig().await;
    let content = "content=Translated%20stream%20text";
    let body = json!({"model": format!("claude-sonnet-4-5+chunks=3+{content}"), "max_tokens": 50,
                      "messages": [{"role": "user", "content": "hi"}]});
    let (plain, streamed) = plain_and_streamed(&r, "/v1/chat/completions", "anthropic", body).await;
    assert_eq!(streamed["object"], "chat.completion", "{streamed}");
    assert_eq!(
        streamed["choices"][0]["message"]["content"],
        "Translated stream text"
    );
    assert_eq!(
        streamed["choices"][0]["message"]["content"],
        plain["choices"][0]["message"]["content"]
    );
    r.seen.0.lock().unwrap().clear();
    let body = json!({"model": format!("gpt-4o-mini+chunks=3+{content}"), "max_tokens": 50,
                      "messages": [{"role": "user", "content": "hi"}]});
    let (plain, streamed) = plain_and_streamed(&r, "/v1/messages", "openai", body).await;
    assert_eq!(streamed["type"], "message", "{streamed}");
    assert_eq!(streamed["content"], plain["content"], "{streamed}");
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_is_recorded_as_such() {
    let r = rig().await;
    let mut body = msg("gpt-4o-mini+chunks=50+chunk_delay_ms=50");
    body["stream"] = json!(true);
    let mut resp = r.chat(body).send().await.unwrap();
    let _first = resp.chunk().await.unwrap();
    drop(resp);
    let rec = r.records(1).await.remove(0);
    assert!(rec.stream);
    assert_eq!(rec.outcome, Some(Outcome::ClientDisconnect));
}

#[tokio::test]
async fn metrics_count_what_the_records_say() {
    let mock = MockProvider::start().await;
    let mut settings = Settings::default();
    settings.server.port = 0;
    let mut state = AppState::new(settings).unwrap();
    let telemetry =
        portcullis_telemetry::Telemetry::start(&portcullis_telemetry::TelemetrySettings::default())
            .unwrap();
    state.observer = Arc::new(Observer::new(0).with_tap(Arc::new(telemetry.clone())));
    state.telemetry = telemetry;
    let gw = portcullis_server::spawn(state).await.unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for model in ["gpt-4o-mini+usage=10,5", "gpt-4o-mini+status=500"] {
        let r = client
            .post(format!("{}/v1/chat/completions", gw.url()))
            .header("x-portkey-provider", "openai")
            .header("x-portkey-custom-host", format!("{}/v1", mock.url()))
            .header("authorization", "Bearer sk-test")
            .json(&msg(model))
            .send()
            .await
            .unwrap();
        let _ = r.text().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let page = client
        .get(format!("{}/metrics", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = page.text().await.unwrap();
    let line = |needle: &[&str]| {
        text.lines()
            .find(|l| needle.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
            .to_owned()
    };
    assert!(line(&["portcullis_requests_total{", "status=\"200\""]).ends_with(" 1"));
    assert!(line(&["portcullis_errors_total{", "status=\"500\""]).ends_with(" 1"));
    assert!(line(&["portcullis_tokens_total{", "type=\"prompt\""]).ends_with(" 10"));
    assert!(text.contains("portcullis_gateway_overhead_seconds_bucket"));
}

#[tokio::test]
async fn a_request_shed_at_the_edge_is_recorded() {
    let r = rig_with(|s| s.limits.max_concurrent_requests = 1).await;
    let slow = r.chat(msg("m+delay_ms=1000"));
    let first = tokio::spawn(async move { slow.send().await.unwrap().status() });
    for _ in 0..200 {
        if r.mock.request_count() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resp = r
        .chat(msg("m"))
        .header("x-portkey-trace-id", "shed-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    // Not an inference route: refused, but not a request log.
    let health = r
        .client
        .get(format!("{}/v1/models", r.gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(first.await.unwrap(), 200);
    let recs = r.records(2).await;
    let shed = recs
        .iter()
        .find(|x| x.status == 503)
        .expect("the refusal's record");
    assert_eq!(shed.outcome, Some(Outcome::GatewayError));
    assert_eq!(shed.trace_id, "shed-1");
    assert_eq!(shed.endpoint, "chat.completions");
    assert_eq!(shed.error_code.as_deref(), Some("overloaded"));
    assert!(recs.iter().any(|x| x.status == 200));
}

/// Sends `bytes` on a raw connection and closes its sending side, then reads the answer to the
/// end: hyper answers a head it refuses and closes. Writing may fail once the gateway has
/// answered and closed (the rest of an oversized head is then unread); what was answered is
/// still read.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    if s.write_all(bytes).await.is_ok() {
        let _ = s.shutdown().await;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 5 s: {:?}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn heads_refused_before_routing_are_recorded_and_counted() {
    let mut settings = Settings::default();
    settings.server.port = 0;
    let mut state = AppState::new(settings).unwrap();
    let telemetry =
        portcullis_telemetry::Telemetry::start(&portcullis_telemetry::TelemetrySettings::default())
            .unwrap();
    let seen = Arc::new(Capture::default());
    state.observer = Arc::new(
        Observer::new(4096)
            .with_sink(seen.clone())
            .with_tap(Arc::new(telemetry.clone())),
    );
    state.telemetry = telemetry;
    let gw = portcullis_server::spawn(state).await.unwrap();
    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..500 {
                if seen.0.lock().unwrap().len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen.0.lock().unwrap().clone()
        }
    };

    // A 100 KiB header: past limits.max_header_bytes (64 KiB).
    let mut big = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nx-big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100 * 1024));
    big.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
    let answer = raw_exchange(gw.addr, &big).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    let recs = wait_for(1).await;
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(r.status, 431);
    assert_eq!(r.outcome, Some(Outcome::InvalidRequest));
    assert_eq!(r.error_code.as_deref(), Some("request_head_too_large"));
    assert_eq!(r.error_type.as_deref(), Some("invalid_request_error"));
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("limits.max_header_bytes")
    );
    assert_eq!(
        (r.endpoint.as_str(), r.method.as_str(), r.path.as_str()),
        ("unknown", "", "")
    );
    assert!(!r.trace_id.is_empty() && !r.id.is_empty());

    // A request line that is not HTTP.
    let answer = raw_exchange(gw.addr, b"THIS IS NOT HTTP\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    let recs = wait_for(2).await;
    assert_eq!(recs.len(), 2, "{recs:#?}");
    let r = &recs[1];
    assert_eq!(r.status, 400);
    assert_eq!(r.outcome, Some(Outcome::InvalidRequest));
    assert_eq!(r.error_code.as_deref(), Some("malformed_request_head"));
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .starts_with("The request head could not be parsed: invalid HTTP"),
        "{r:?}"
    );

    // A client that connects and goes away without a word (or half a head) is not a request.
    drop(tokio::net::TcpStream::connect(gw.addr).await.unwrap());
    assert_eq!(raw_exchange(gw.addr, b"").await, "");
    assert_eq!(raw_exchange(gw.addr, b"GET /v1/models HTT").await, "");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.0.lock().unwrap().len(), 2);

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let text = client
        .get(format!("{}/metrics", gw.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for status in ["431", "400"] {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("portcullis_requests_total{")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .unwrap_or_else(|| panic!("no {status} request series in\n{text}"));
        assert!(line.contains("outcome=\"invalid_request\""), "{line}");
        assert!(line.contains("endpoint=\"unknown\""), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }
}

#[tokio::test]
async fn an_overlong_uri_refused_before_routing_is_recorded_as_414() {
    // Heads up to 128 KiB pass the buffer limit, so hyper's own URI limit (64 KiB) refuses it.
    let r = rig_with(|s| s.limits.max_header_bytes = 128 * 1024).await;
    let head = format!(
        "GET /v1/models?q={} HTTP/1.1\r\nhost: gw\r\n\r\n",
        "a".repeat(70_000)
    );
    let answer = raw_exchange(r.gw.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414 "), "{answer:?}");
    let rec = r.records(1).await.remove(0);
    assert_eq!(rec.status, 414);
    assert_eq!(rec.outcome, Some(Outcome::InvalidRequest));
    assert_eq!(rec.error_code.as_deref(), Some("uri_too_long"));
}
