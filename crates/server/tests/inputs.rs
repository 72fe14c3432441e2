//! Bad input of every kind gets a clear JSON error in Portkey's format (never a panic or a hang),
//! and the gateway keeps serving afterwards.

mod common;

use std::time::Duration;

use common::{Harness, chat};
use http::HeaderMap;
use serde_json::{Value, json};

/// No single request in these tests may take longer than this.
const LIMIT: Duration = Duration::from_secs(5);

/// Sends `rb` and returns status, headers and the body parsed as JSON (panics if it is not JSON,
/// or if the gateway does not answer within [`LIMIT`]).
async fn send(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let resp = tokio::time::timeout(LIMIT, rb.send())
        .await
        .expect("the gateway answered in time")
        .expect("a response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = tokio::time::timeout(LIMIT, resp.bytes())
        .await
        .expect("the body arrived in time")
        .expect("a body");
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "status {status}: body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, headers, v)
}

/// Like [`send`], and asserts the error was served as JSON.
async fn send_error(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let (status, headers, v) = send(rb).await;
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "status {status}: {v}"
    );
    (status, headers, v)
}

/// A good chat request still succeeds.
async fn still_serves(h: &Harness) {
    let (status, _, v) = send(h.post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "chat.completion");
}

/// A chat request naming openai with the mock as custom host; body and content type left to the caller.
fn raw(h: &Harness) -> reqwest::RequestBuilder {
    h.client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-provider", "openai")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("authorization", "Bearer sk-test")
}

fn failure(message: &str) -> Value {
    json!({"status": "failure", "message": message})
}

fn invalid_config(errors: &[&str]) -> Value {
    json!({"status": "failure", "message": "Invalid config passed", "errors": errors})
}

fn openai_error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[tokio::test]
async fn missing_provider_and_config() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("authorization", "Bearer sk-test")
        .json(&chat("gpt-4o-mini"));
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure("Either x-portkey-config or x-portkey-provider header is required")
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

/// Portkey's "Invalid provider passed", with the offending value named.
#[tokio::test]
async fn unknown_provider_header() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-provider", "nope")
        .header("authorization", "Bearer sk-test")
        .json(&chat("gpt-4o-mini"));
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(v["status"], "failure");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Invalid provider passed: \"nope\""),
        "{msg}"
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn invalid_content_type() {
    let h = Harness::start().await;
    let rb = raw(&h).header("content-type", "text/xml").body("<chat/>");
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure("Invalid content type passed: got \"text/xml\", send application/json")
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn malformed_array_and_empty_bodies() {
    let h = Harness::start().await;
    let cases: [(&str, &str); 4] = [
        (r#"{"model": }"#, "The request body is not valid JSON: "),
        (
            r#"[{"model":"gpt-4o"}]"#,
            "The request body must be a JSON object",
        ),
        ("", "The request body is empty: send a JSON object"),
        ("  \n ", "The request body is empty: send a JSON object"),
    ];
    for (body, message) in cases {
        let rb = raw(&h)
            .header("content-type", "application/json")
            .body(body);
        let (status, _, v) = send_error(rb).await;
        assert_eq!(status, 400, "{body:?}: {v}");
        let got = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if message.ends_with(": ") {
            assert!(got.starts_with(message), "{body:?}: {got}");
            assert!(got.contains("line 1 column"), "says where: {got}");
        } else {
            assert_eq!(got, message, "{body:?}");
        }
        assert_eq!(
            v,
            openai_error(&got, "invalid_request_error", Some("invalid_request_body"))
        );
        still_serves(&h).await;
    }
    assert_eq!(h.mock.request_count(), 4, "only the good requests went out");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let h = Harness::with_settings(|s| s.limits.max_body_bytes = 2048).await;
    let mut body = chat("gpt-4o-mini");
    body["padding"] = json!("x".repeat(4096));
    let (status, _, v) = send_error(h.post("/v1/chat/completions", "openai", &body)).await;
    assert_eq!(status, 413);
    assert_eq!(
        v,
        openai_error(
            "The request body is larger than the gateway's limit of 2048 bytes",
            "invalid_request_error",
            Some("payload_too_large")
        )
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn headers_over_the_limit_are_431() {
    let h = Harness::with_settings(|s| s.limits.max_header_bytes = 16384).await;
    let resp = tokio::time::timeout(
        LIMIT,
        h.post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
            .header("x-big", "a".repeat(40 * 1024))
            .send(),
    )
    .await
    .expect("answered in time")
    .expect("a response");
    assert_eq!(resp.status().as_u16(), 431);
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn config_that_is_not_json() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-config", "{\"provider\": openai")
        .json(&chat("gpt-4o-mini"));
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure("Invalid config passed. You need to pass a valid json")
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn schema_errors_are_all_listed_with_their_paths() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {"mode": "roundrobin"},
        "retry": {"on_status_codes": [429]},
        "targets": [
            {"provider": "openai"},
            {"provider": "openai", "custom_host": "ftp://example.com"}
        ]
    });
    let (status, _, v) =
        send_error(h.post_config("/v1/chat/completions", &config, &chat("m"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        invalid_config(&[
            "path: retry,attempts, message: Required",
            "path: strategy,mode, message: Invalid 'mode' value. Must be one of: single, loadbalance, fallback, conditional",
            "path: targets,1,custom_host, message: Invalid custom host: custom_host must use http or https, not ftp:",
        ])
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn config_without_provider_or_targets() {
    let h = Harness::start().await;
    let config = json!({"retry": {"attempts": 2}});
    let (status, _, v) =
        send_error(h.post_config("/v1/chat/completions", &config, &chat("m"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure(
            "Either x-portkey-provider needs to be passed. Or the x-portkey-config header should have a valid config with provider details in it."
        )
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn legacy_options_config() {
    let h = Harness::start().await;
    let config = json!({"mode": "single", "options": [{"provider": "openai", "api_key": "sk"}]});
    let (status, _, v) =
        send_error(h.post_config("/v1/chat/completions", &config, &chat("m"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure(
            "This version of config is not supported in this route. Please migrate to the latest version"
        )
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn forward_headers_must_not_name_themselves() {
    let h = Harness::start().await;
    let rb = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
        .header(
            "x-portkey-forward-headers",
            "x-a, x-portkey-forward-headers",
        );
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure("forward_headers must not contain the 'x-portkey-forward-headers' header")
    );
    still_serves(&h).await;

    let config = json!({
        "provider": "openai",
        "custom_host": h.mock_v1(),
        "forward_headers": ["x-a", "x-portkey-forward-headers"]
    });
    let (status, _, v) =
        send_error(h.post_config("/v1/chat/completions", &config, &chat("m"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        invalid_config(&[
            "path: forward_headers,1, message: forward_headers must not contain the 'x-portkey-forward-headers' header"
        ])
    );
    assert_eq!(h.mock.request_count(), 1);
    still_serves(&h).await;
}

/// Portkey reports this at routing time as `{"status":"failure","message":"Invalid target name
/// found in the query router: missing"}`; Portcullis rejects the config up front, so the router
/// message is the config error's itemised entry.
#[tokio::test]
async fn conditional_then_naming_a_missing_target() {
    let h = Harness::start().await;
    let config = json!({
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.tier": "pro"}, "then": "missing"}],
            "default": "a"
        },
        "targets": [{"name": "a", "provider": "openai", "custom_host": h.mock_v1()}]
    });
    let (status, _, v) =
        send_error(h.post_config("/v1/chat/completions", &config, &chat("m"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        invalid_config(&[
            "path: strategy,conditions,0,then, message: Invalid target name found in the query router: missing"
        ])
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}

#[tokio::test]
async fn bad_timeout_and_metadata_headers_name_the_header() {
    let h = Harness::start().await;
    let cases = [
        (
            "x-portkey-request-timeout",
            "soon",
            "x-portkey-request-timeout must be a positive number of milliseconds (at most one day), got \"soon\"",
        ),
        (
            "x-portkey-request-timeout",
            "-5",
            "x-portkey-request-timeout must be a positive number of milliseconds (at most one day), got \"-5\"",
        ),
        (
            "x-portkey-metadata",
            "[1,2]",
            "x-portkey-metadata must be a JSON object, e.g. {\"_user\":\"u1\",\"env\":\"prod\"}",
        ),
        (
            "x-portkey-metadata",
            "{oops",
            "x-portkey-metadata must be a JSON object, e.g. {\"_user\":\"u1\",\"env\":\"prod\"}",
        ),
    ];
    for (name, value, message) in cases {
        let rb = h
            .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
            .header(name, value);
        let (status, _, v) = send_error(rb).await;
        assert_eq!(status, 400, "{name}: {value}");
        assert_eq!(v, failure(message));
        still_serves(&h).await;
    }
    assert_eq!(h.mock.request_count(), 4);
}

#[tokio::test]
async fn custom_host_to_metadata_or_private_addresses() {
    let h = Harness::start().await;
    let cases = [
        (
            "http://169.254.169.254",
            "Invalid custom host: custom_host 169.254.169.254 is a cloud metadata address and is never allowed",
        ),
        (
            "http://169.254.169.254/latest/meta-data",
            "Invalid custom host: custom_host 169.254.169.254 is a cloud metadata address and is never allowed",
        ),
        (
            "http://10.0.0.1",
            "Invalid custom host: custom_host 10.0.0.1 is a private or reserved address; add it to trusted_custom_hosts to allow it",
        ),
    ];
    for (host, message) in cases {
        let rb = h
            .client
            .post(h.url("/v1/chat/completions"))
            .header("x-portkey-provider", "openai")
            .header("x-portkey-custom-host", host)
            .header("authorization", "Bearer sk-test")
            .json(&chat("gpt-4o-mini"));
        let (status, _, v) = send_error(rb).await;
        assert_eq!(status, 400, "{host}");
        assert_eq!(v, failure(message), "{host}");
        still_serves(&h).await;
    }
}

#[tokio::test]
async fn unreachable_upstream_is_502() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-provider", "openai")
        .header("x-portkey-custom-host", "http://127.0.0.1:1")
        .header("authorization", "Bearer sk-test")
        .json(&chat("gpt-4o-mini"));
    let (status, headers, v) = send_error(rb).await;
    assert_eq!(status, 502, "{v}");
    assert_eq!(headers["x-portkey-provider"], "openai");
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.starts_with("could not reach openai: "), "{message}");
    assert_eq!(
        v,
        json!({
            "error": {"message": message, "type": "api_error", "param": null, "code": "upstream_unreachable"},
            "provider": "openai"
        })
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn malformed_upstream_json_is_502() {
    let h = Harness::start().await;
    let (status, _, v) = send_error(h.post(
        "/v1/chat/completions",
        "openai",
        &chat("gpt-4o-mini+malformed"),
    ))
    .await;
    assert_eq!(status, 502);
    assert_eq!(
        v,
        json!({
            "error": {
                "message": "Invalid response received from openai: {\"id\":\"mock-malformed\",\"object\":\"chat.completion\",\"choices\":[{\"message\":",
                "type": "api_error",
                "param": null,
                "code": "upstream_invalid_response"
            },
            "provider": "openai"
        })
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn hanging_upstream_times_out_with_408() {
    let h = Harness::start().await;
    let started = std::time::Instant::now();
    let rb = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini+hang"))
        .header("x-portkey-request-timeout", "300");
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        v,
        openai_error(
            "Request exceeded the timeout sent in the request: 300ms",
            "timeout_error",
            None
        )
    );
    // The abandoned upstream request is closed, not leaked.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while h.mock.cancelled_requests() < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.mock.cancelled_requests(), 1);
    still_serves(&h).await;
}

#[tokio::test]
async fn wrong_method_is_405() {
    let h = Harness::start().await;
    let rb = h
        .client
        .get(h.url("/v1/chat/completions"))
        .header("x-portkey-provider", "openai");
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 405);
    assert_eq!(
        v,
        openai_error(
            "GET is not allowed on /v1/chat/completions",
            "invalid_request_error",
            Some("method_not_allowed")
        )
    );
    still_serves(&h).await;
}

#[tokio::test]
async fn unknown_route_is_404() {
    let h = Harness::start().await;
    for path in ["/nope", "/v2/chat/completions"] {
        let (status, _, v) = send_error(h.client.get(h.url(path))).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(v, json!({"message": "Not Found", "ok": false}));
        let (status, _, v) = send_error(h.client.post(h.url(path)).body("{}")).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(v, json!({"message": "Not Found", "ok": false}));
    }
    still_serves(&h).await;
}

#[tokio::test]
async fn root_and_health() {
    let h = Harness::start().await;
    let resp = h.client.get(h.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "AI Gateway says hey!");
    let (status, _, v) = send(h.client.get(h.url("/v1/health"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"status": "success", "message": "Server is healthy", "version": env!("CARGO_PKG_VERSION")})
    );
}

#[tokio::test]
async fn load_shedding_refuses_past_the_limit_then_recovers() {
    let h = Harness::with_settings(|s| s.limits.max_concurrent_requests = 1).await;
    let slow = h.post(
        "/v1/chat/completions",
        "openai",
        &chat("gpt-4o-mini+delay_ms=1000"),
    );
    let first = tokio::spawn(async move { send(slow).await });
    // Wait until the slow request holds the only slot (it has reached the mock).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while h.mock.request_count() < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(h.mock.request_count(), 1);

    let (status, _, v) =
        send_error(h.post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))).await;
    assert_eq!(status, 503);
    assert_eq!(
        v,
        openai_error(
            "The gateway is at its concurrent request limit; retry shortly",
            "api_error",
            Some("gateway_overloaded")
        )
    );
    // Anthropic clients get the same refusal in Anthropic's shape.
    let rb = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-portkey-provider", "anthropic")
        .json(&json!({"model": "claude", "max_tokens": 5, "messages": []}));
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 503);
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "api_error", "message": "The gateway is at its concurrent request limit; retry shortly"}})
    );
    assert_eq!(h.mock.request_count(), 1, "refused requests never went out");

    let (status, _, v) = first.await.unwrap();
    assert_eq!(status, 200, "{v}");
    still_serves(&h).await;
    still_serves(&h).await;
}

#[tokio::test]
async fn non_ascii_gateway_header_names_the_header() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header(
            "x-portkey-provider",
            http::HeaderValue::from_bytes(b"op\xe9nai").unwrap(),
        )
        .json(&chat("gpt-4o-mini"));
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        failure("Header x-portkey-provider must be visible ASCII text")
    );
    still_serves(&h).await;
}

/// Anthropic-format clients get body errors in Anthropic's error shape.
#[tokio::test]
async fn messages_bad_json_is_an_anthropic_error() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-portkey-provider", "anthropic")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("content-type", "application/json")
        .body("{oops");
    let (status, _, v) = send_error(rb).await;
    assert_eq!(status, 400);
    assert_eq!(
        v,
        json!({"type": "error", "error": {
            "type": "invalid_request_error",
            "message": "The request body is not valid JSON: key must be a string at line 1 column 2"
        }})
    );
    assert_eq!(h.mock.request_count(), 0);
    still_serves(&h).await;
}
