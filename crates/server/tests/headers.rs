//! Portkey's response headers (compat reference §4.1) for every kind of outcome, and what the
//! gateway does with upstream response headers (framing and cookies never leak through).

mod common;

use common::{Harness, chat};
use portcullis_mock::Reply;
use reqwest::Response;
use serde_json::{Value, json};

fn header<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing response header {name}"))
        .to_str()
        .unwrap()
}

/// The headers every executed request reports.
fn assert_portkey_headers(resp: &Response, index: &str, provider: &str, retries: &str) {
    assert_eq!(header(resp, "x-portkey-last-used-option-index"), index);
    assert_eq!(header(resp, "x-portkey-provider"), provider);
    assert_eq!(header(resp, "x-portkey-retry-attempt-count"), retries);
    assert_eq!(header(resp, "x-portkey-cache-status"), "DISABLED");
    for name in [
        "x-portkey-last-used-option-index",
        "x-portkey-provider",
        "x-portkey-retry-attempt-count",
        "x-portkey-cache-status",
        "x-portkey-trace-id",
    ] {
        assert_eq!(
            resp.headers().get_all(name).iter().count(),
            1,
            "{name} appears once"
        );
    }
}

/// Reads the body and checks `content-length` is present once and true.
async fn body_with_one_content_length(resp: Response) -> Value {
    let lengths: Vec<String> = resp
        .headers()
        .get_all("content-length")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(
        lengths,
        [bytes.len().to_string()],
        "one true content-length"
    );
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_header_only_success_reports_config_and_echoes_the_trace_id() {
    let h = Harness::start().await;
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
        .header("x-portkey-trace-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_portkey_headers(&resp, "config", "openai", "0");
    assert_eq!(header(&resp, "x-portkey-trace-id"), "trace-abc-123");
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert!(resp.headers().get("x-portkey-gateway-exception").is_none());
    let v = body_with_one_content_length(resp).await;
    assert_eq!(v["object"], "chat.completion");
}

#[tokio::test]
async fn a_trace_id_is_generated_when_the_client_sends_none() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = h
            .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let id = header(&resp, "x-portkey-trace-id").to_owned();
        assert!(!id.trim().is_empty());
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "each request gets its own trace id");
}

#[tokio::test]
async fn config_requests_report_the_leaf_and_its_provider() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [h.target("anthropic", "claude-sonnet-4")],
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &chat("gpt-4o"))
        .header("x-portkey-trace-id", "t-config")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_portkey_headers(&resp, "config.targets[0]", "anthropic", "0");
    assert_eq!(header(&resp, "x-portkey-trace-id"), "t-config");
    body_with_one_content_length(resp).await;
}

#[tokio::test]
async fn provider_errors_carry_the_portkey_headers_but_no_gateway_exception() {
    let h = Harness::start().await;
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o+status=500"))
        .header("x-portkey-trace-id", "t-500")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_portkey_headers(&resp, "config", "openai", "0");
    assert_eq!(header(&resp, "x-portkey-trace-id"), "t-500");
    assert!(resp.headers().get("x-portkey-gateway-exception").is_none());
    let v = body_with_one_content_length(resp).await;
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["error"]["type"], "server_error");
}

#[tokio::test]
async fn exhausted_retries_and_timeouts_report_their_counts() {
    let h = Harness::start().await;
    let mut t = h.target("openai", "gpt-4o+status=503+retry_after=0");
    t["retry"] = json!({"attempts": 1, "on_status_codes": [503], "use_retry_after_header": true});
    // 503 is not a 429, so the 1 s backoff applies (once).
    let resp = h
        .post_config("/v1/chat/completions", &t, &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_portkey_headers(&resp, "config", "openai", "-1");
    assert_eq!(h.mock.request_count(), 2);

    let resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &chat("gpt-4o+delay_ms=2000"),
        )
        .header("x-portkey-request-timeout", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert_portkey_headers(&resp, "config", "openai", "0");
    assert!(resp.headers().get("x-portkey-gateway-exception").is_none());
}

#[tokio::test]
async fn gateway_generated_target_errors_are_gateway_exceptions() {
    let h = Harness::start().await;
    // Anthropic has no embeddings.
    let resp = h
        .post(
            "/v1/embeddings",
            "anthropic",
            &json!({"model": "claude", "input": "hello"}),
        )
        .header("x-portkey-trace-id", "t-exc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-portkey-gateway-exception"), "true");
    assert_eq!(header(&resp, "x-portkey-last-used-option-index"), "config");
    assert_eq!(header(&resp, "x-portkey-provider"), "anthropic");
    assert_eq!(header(&resp, "x-portkey-trace-id"), "t-exc");
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "failure", "message": "embed is not supported by anthropic"})
    );

    // Nor legacy completions.
    let resp = h
        .post(
            "/v1/completions",
            "anthropic",
            &json!({"model": "claude", "prompt": "hello"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-portkey-gateway-exception"), "true");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "failure", "message": "complete is not supported by anthropic"})
    );
    assert_eq!(h.mock.request_count(), 0, "nothing reached a provider");
}

#[tokio::test]
async fn retry_after_and_rate_limit_headers_pass_through_on_a_429() {
    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::status(429)
            .retry_after(7)
            .header("x-ratelimit-remaining-requests", "0")
            .path("/chat/completions"),
    );
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "7");
    assert_eq!(header(&resp, "x-ratelimit-remaining-requests"), "0");
    assert_portkey_headers(&resp, "config", "openai", "0");
    let v = body_with_one_content_length(resp).await;
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");

    // Anthropic's 429 too (a translated provider).
    h.mock
        .enqueue(Reply::status(429).retry_after(4).path("/messages"));
    let resp = h
        .post(
            "/v1/chat/completions",
            "anthropic",
            &chat("claude-sonnet-4"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "4");
    assert_portkey_headers(&resp, "config", "anthropic", "0");
}

/// Upstream headers the gateway must not pass on, each scripted on the mock's reply.
const DROPPED: &[(&str, &str)] = &[
    ("set-cookie", "session=secret; Path=/"),
    ("keep-alive", "timeout=5"),
    ("proxy-connection", "keep-alive"),
    ("alt-svc", "h3=\":443\""),
];

fn scripted(reply: Reply) -> Reply {
    DROPPED
        .iter()
        .fold(reply, |r, (k, v)| r.header(*k, *v))
        .header("x-upstream-extra", "dropped")
        .header("x-request-id", "req-kept")
        .header("x-ratelimit-remaining-requests", "41")
        .header("set-cookie", "second=cookie")
}

fn assert_sanitized(resp: &Response) {
    for (name, _) in DROPPED {
        assert!(
            resp.headers().get(*name).is_none(),
            "{name} leaked: {:?}",
            resp.headers().get(*name)
        );
    }
    // Translated answers relay only what a client can use: request ids, rate-limit state.
    assert_eq!(header(resp, "x-request-id"), "req-kept");
    assert_eq!(header(resp, "x-ratelimit-remaining-requests"), "41");
    assert!(
        resp.headers().get("x-upstream-extra").is_none(),
        "not on the allow-list"
    );
}

#[tokio::test]
async fn upstream_cookies_and_framing_headers_are_not_forwarded() {
    let h = Harness::start().await;
    h.mock
        .enqueue(scripted(Reply::ok().path("/chat/completions")));
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_sanitized(&resp);
    // The body was re-serialized: the upstream's content-length must not survive next to ours.
    body_with_one_content_length(resp).await;

    // Error outcomes too.
    h.mock
        .enqueue(scripted(Reply::status(429).path("/chat/completions")));
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_sanitized(&resp);
    body_with_one_content_length(resp).await;

    // And streams.
    h.mock
        .enqueue(scripted(Reply::ok().path("/chat/completions")));
    let mut body = chat("gpt-4o");
    body["stream"] = json!(true);
    let resp = h
        .post("/v1/chat/completions", "openai", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_sanitized(&resp);
    assert!(resp.headers().get("content-length").is_none());
    assert!(resp.text().await.unwrap().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn a_translated_body_gets_its_own_content_length() {
    // Anthropic's body is rewritten to OpenAI's shape, so its length changes.
    let h = Harness::start().await;
    h.mock.enqueue(scripted(Reply::ok().path("/messages")));
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
    assert_sanitized(&resp);
    let v = body_with_one_content_length(resp).await;
    assert_eq!(v["object"], "chat.completion");
}

#[tokio::test]
async fn a_failed_attempts_headers_do_not_leak_into_the_final_response() {
    let h = Harness::start().await;
    // Fallback: the 429's Retry-After belongs to the first target only.
    h.mock.enqueue(
        Reply::status(429)
            .retry_after(9)
            .header("x-from-first", "yes")
            .path("/chat/completions"),
    );
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [h.target("openai", "first"), h.target("openai", "second")],
    });
    let resp = h
        .post_config("/v1/chat/completions", &config, &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_portkey_headers(&resp, "config.targets[1]", "openai", "0");
    assert!(resp.headers().get("retry-after").is_none());
    assert!(resp.headers().get("x-from-first").is_none());

    // Retry: the same for an earlier attempt of the same target.
    h.mock.enqueue(
        Reply::status(429)
            .retry_after(0)
            .header("x-from-first", "yes")
            .path("/chat/completions"),
    );
    let mut t = h.target("openai", "gpt-4o");
    t["retry"] = json!({"attempts": 1, "use_retry_after_header": true});
    let resp = h
        .post_config("/v1/chat/completions", &t, &chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_portkey_headers(&resp, "config", "openai", "1");
    assert!(resp.headers().get("retry-after").is_none());
    assert!(resp.headers().get("x-from-first").is_none());
}
