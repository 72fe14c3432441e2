//! `/v1/*` passthrough to the mock's `/echo` route: methods, paths, queries, headers and bodies
//! arrive intact; limits and upstream errors behave.

mod common;

use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

use common::{Harness, chat};
use http::HeaderMap;
use portcullis_mock::Reply;
use reqwest::Method;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(5);
const ECHO: &str = "/v1/echo?x=1&y=2";

/// A passthrough request to the mock's echo route, as openai with the mock as custom host.
fn echo(h: &Harness, method: Method) -> reqwest::RequestBuilder {
    h.client
        .request(method, h.url(ECHO))
        .header("x-portkey-provider", "openai")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("authorization", "Bearer sk-test")
}

async fn fetch(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, bytes::Bytes) {
    let resp = tokio::time::timeout(LIMIT, rb.send())
        .await
        .expect("answered in time")
        .expect("a response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = tokio::time::timeout(LIMIT, resp.bytes())
        .await
        .expect("body in time")
        .expect("a body");
    (status, headers, body)
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    h.finish()
}

#[tokio::test]
async fn every_method_reaches_the_provider_intact() {
    let h = Harness::start().await;
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        h.mock.clear();
        let has_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let payload = format!(r#"{{"method":"{method}","n":[1,2,3]}}"#);
        let mut rb = echo(&h, method.clone());
        if has_body {
            rb = rb
                .header("content-type", "application/json")
                .body(payload.clone());
        }
        let (status, headers, body) = fetch(rb).await;
        assert_eq!(status, 200, "{method}: {body:?}");
        assert_eq!(headers["x-mock-method"], method.as_str());
        assert_eq!(headers["x-mock-path"], "/v1/echo");
        assert_eq!(headers["x-mock-query"], "x=1&y=2");
        assert_eq!(headers["x-portkey-provider"], "openai");
        if has_body {
            assert_eq!(body.as_ref(), payload.as_bytes(), "{method}");
        } else {
            assert!(body.is_empty(), "{method}: {body:?}");
        }
        let seen = h.mock.requests();
        assert_eq!(seen.len(), 1, "{method}");
        assert_eq!(seen[0].method, method.as_str());
        assert_eq!(seen[0].path, "/v1/echo");
        assert_eq!(seen[0].query.as_deref(), Some("x=1&y=2"));
    }
}

/// `x-portkey-*`, the client's Authorization and `x-api-key` stay at the gateway; the provider's
/// own auth (here the config's key) is set instead; other client headers travel.
#[tokio::test]
async fn gateway_headers_and_client_credentials_are_not_forwarded() {
    let h = Harness::start().await;
    let config = json!({"provider": "openai", "api_key": "sk-config", "custom_host": h.mock_v1()});
    let rb = h
        .client
        .post(h.url(ECHO))
        .header("x-portkey-config", config.to_string())
        .header("x-portkey-trace-id", "trace-1")
        .header("x-portkey-metadata", r#"{"env":"test"}"#)
        .header("authorization", "Bearer sk-client")
        .header("x-api-key", "sk-client-2")
        .header("x-custom", "kept")
        .header("content-type", "application/json")
        .body("{}");
    let (status, headers, body) = fetch(rb).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(headers["x-portkey-trace-id"], "trace-1");
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1);
    let rec = &seen[0];
    let auth: Vec<&str> = rec
        .headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(auth, ["Bearer sk-config"]);
    assert_eq!(rec.header("x-api-key"), None);
    assert_eq!(rec.header("x-custom"), Some("kept"));
    let leaked: Vec<&String> = rec
        .headers
        .iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("x-portkey-"))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    assert_eq!(rec.body.as_ref(), b"{}");
}

#[tokio::test]
async fn twenty_megabytes_stream_through_byte_identical() {
    let h = Harness::start().await;
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 320; // 20 MiB
    let chunk =
        |i: usize| -> Vec<u8> { (0..CHUNK).map(|j| ((i * 31 + j * 7) % 251) as u8).collect() };
    let mut expected = Vec::with_capacity(CHUNK * CHUNKS);
    for i in 0..CHUNKS {
        expected.extend_from_slice(&chunk(i));
    }
    let stream = futures_util::stream::iter(
        (0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk(i)))),
    );
    let rb = echo(&h, Method::POST)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream));
    let (status, headers, body) = fetch(rb).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-mock-method"], "POST");
    assert_eq!(body.len(), expected.len());
    assert_eq!(hash(&body), hash(&expected));
    assert!(body.as_ref() == expected.as_slice(), "bytes differ");
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), expected.len());
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn body_over_the_passthrough_limit_is_413_before_the_provider() {
    let h = Harness::with_settings(|s| s.limits.max_passthrough_body_bytes = 1024).await;
    let rb = echo(&h, Method::POST)
        .header("content-type", "application/octet-stream")
        .body(vec![b'a'; 4096]);
    let (status, headers, body) = fetch(rb).await;
    assert_eq!(status, 413);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"error": {
            "message": "The request body is larger than the gateway's limit of 1024 bytes",
            "type": "invalid_request_error",
            "param": null,
            "code": "payload_too_large"
        }})
    );
    assert_eq!(h.mock.request_count(), 0, "nothing reached the provider");

    // Within the limit still works, and so does the rest of the gateway.
    let (status, _, body) = fetch(
        echo(&h, Method::POST)
            .header("content-type", "application/octet-stream")
            .body(vec![b'b'; 1000]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_ref(), vec![b'b'; 1000].as_slice());
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn client_error_status_passes_through_with_its_body() {
    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::status(404)
            .path("/echo")
            .body_json(json!({"error": {"message": "no such thing", "code": "nope"}})),
    );
    let (status, headers, body) = fetch(echo(&h, Method::GET)).await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-portkey-provider"], "openai");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "no such thing", "code": "nope"}})
    );
}

/// Statuses in the (default) retry list take the retry path even with no retries configured; the
/// upstream's body must still come back as the provider sent it.
#[tokio::test]
async fn server_error_status_passes_through_with_its_body() {
    let h = Harness::start().await;
    for status in [429u16, 500, 503] {
        let upstream =
            json!({"error": {"message": format!("upstream said {status}"), "code": status}});
        h.mock.enqueue(
            Reply::status(status)
                .path("/echo")
                .body_json(upstream.clone()),
        );
        let (got, headers, body) = fetch(echo(&h, Method::POST).body("{}")).await;
        assert_eq!(got, status);
        assert_eq!(headers["x-portkey-provider"], "openai");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, upstream, "{status}");
    }
}

/// A chunked body (no content-length) that outgrows the limit is the client's fault: 413, not a
/// 502 blaming the provider.
#[tokio::test]
async fn streamed_body_over_the_passthrough_limit_is_413() {
    let h = Harness::with_settings(|s| s.limits.max_passthrough_body_bytes = 1024).await;
    let stream = futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'z'; 512]))),
    );
    let rb = echo(&h, Method::POST)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream));
    let (status, _, body) = fetch(rb).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 413, "{v}");
    assert_eq!(
        v,
        json!({"error": {
            "message": "The request body is larger than the gateway's limit of 1024 bytes",
            "type": "invalid_request_error",
            "param": null,
            "code": "payload_too_large"
        }})
    );
}

#[tokio::test]
async fn unsupported_content_type_is_400() {
    let h = Harness::start().await;
    let rb = echo(&h, Method::POST)
        .header("content-type", "image/png")
        .body("x");
    let (status, headers, body) = fetch(rb).await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"status": "failure", "message": "Invalid content type passed: got \"image/png\", send application/json, multipart/form-data or audio/*"})
    );
    assert_eq!(h.mock.request_count(), 0);
    // Content types Portkey accepts on the passthrough route do go through.
    for ct in ["text/plain", "multipart/form-data; boundary=x", "audio/wav"] {
        let (status, headers, _) =
            fetch(echo(&h, Method::POST).header("content-type", ct).body("x")).await;
        assert_eq!(status, 200, "{ct}");
        assert_eq!(headers["content-type"], ct);
    }
}
