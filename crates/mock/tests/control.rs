//! The `/__mock/*` control API and the `serve` entry point used by the CLI.

mod common;

use std::time::Duration;

use common::{get, post, send};
use http::Method;
use portcullis_mock::{MockOptions, MockProvider, serve};
use serde_json::json;

#[tokio::test]
async fn health_and_stats() {
    let mock = MockProvider::start().await;
    let r = get(&format!("{}/__mock/health", mock.url())).await;
    assert_eq!(r.status, 200);
    let stats = get(&format!("{}/__mock/stats", mock.url())).await.json();
    assert_eq!(stats["requests"], 0);
    assert_eq!(stats["open_streams"], 0);
    assert_eq!(stats["cancelled_streams"], 0);
    // Control requests are not recorded.
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn scripted_replies_over_http() {
    let mock = MockProvider::start().await;
    let ctl = format!("{}/__mock/replies", mock.url());
    let r = post(
        &ctl,
        &json!({"status": 429, "retry_after": 2, "path": "/chat/completions", "headers": {"x-a": "b"}}),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = post(&ctl, &json!([{"content": "second", "usage": [3, 4]}, {"tool_call": {"name": "f", "arguments": {"x": 1}}}])).await;
    assert_eq!(r.status, 204);
    assert_eq!(mock.queued_replies(), 3);

    let url = format!("{}/v1/chat/completions", mock.url());
    let body = json!({"model": "m", "messages": []});
    let r = post(&url, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.header("x-a"), Some("b"));
    let v = post(&url, &body).await.json();
    assert_eq!(v["choices"][0]["message"]["content"], "second");
    assert_eq!(v["usage"]["total_tokens"], 7);
    let v = post(&url, &body).await.json();
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"x":1}"#
    );

    // DELETE /__mock/replies drops anything still queued.
    post(&ctl, &json!({"status": 500})).await;
    assert_eq!(send(Method::DELETE, &ctl, &[], "").await.status, 204);
    assert_eq!(mock.queued_replies(), 0);
}

#[tokio::test]
async fn bad_specs_are_rejected_naming_the_field() {
    let mock = MockProvider::start().await;
    let ctl = format!("{}/__mock/replies", mock.url());
    for (spec, field) in [
        (json!({"status": "slow"}), "status"),
        (json!({"delay_ms": -1}), "delay_ms"),
        (json!({"colour": "red"}), "colour"),
        (json!({"hang": "yes"}), "hang"),
    ] {
        let r = post(&ctl, &spec).await;
        assert_eq!(r.status, 400, "{spec}");
        let e = r.json();
        assert_eq!(e["error"]["field"], field);
        assert!(e["error"]["message"].as_str().unwrap().contains(field));
    }
    // An array with one bad spec queues nothing.
    let r = post(&ctl, &json!([{"content": "ok"}, {"chunks": 0}])).await;
    assert_eq!(r.status, 400);
    assert_eq!(mock.queued_replies(), 0);
    let r = send(Method::POST, &ctl, &[], "{").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn recorded_requests_over_http() {
    let mock = MockProvider::start().await;
    send(
        Method::POST,
        &format!("{}/v1/messages?beta=true", mock.url()),
        &[("x-api-key", "k"), ("content-type", "application/json")],
        r#"{"model":"claude","messages":[]}"#,
    )
    .await;
    send(
        Method::POST,
        &format!("{}/bin/echo", mock.url()),
        &[],
        vec![0xff, 0xfe, 0x00],
    )
    .await;
    let reqs = get(&format!("{}/__mock/requests", mock.url())).await.json();
    let reqs = reqs.as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/v1/messages");
    assert_eq!(reqs[0]["query"], "beta=true");
    assert_eq!(reqs[0]["headers"]["x-api-key"], "k");
    assert_eq!(reqs[0]["body"], r#"{"model":"claude","messages":[]}"#);
    assert_eq!(reqs[0]["body_base64"], false);
    assert_eq!(reqs[1]["body"], "//4A");
    assert_eq!(reqs[1]["body_base64"], true);

    let r = send(
        Method::DELETE,
        &format!("{}/__mock/requests", mock.url()),
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        get(&format!("{}/__mock/requests", mock.url())).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn serve_runs_until_shutdown() {
    // Pick a free port, then hand it to `serve` (the CLI path).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        MockOptions {
            addr,
            ..MockOptions::default()
        },
        async move {
            let _ = rx.await;
        },
    ));
    let health = format!("http://{addr}/__mock/health");
    let mut up = false;
    for _ in 0..100 {
        if common::try_send(Method::GET, &health, &[], "")
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "serve() came up");
    let _ = tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok());
}
