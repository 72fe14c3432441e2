//! Stream faults and waits: drop_after, stall_after, malformed, hang, delay, pacing, cancellation.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, post, raw_exchange, raw_post, try_send};
use http::Method;
use portcullis_mock::{MockOptions, MockProvider, Reply};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn drop_after_cuts_the_connection_without_terminal_event() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().drop_after(2).chunks(5));
    let raw = raw_exchange(
        mock.addr(),
        &raw_post("/v1/chat/completions", &chat(true), false),
    )
    .await;
    let text = String::from_utf8(raw).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"));
    assert!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    // role chunk + 2 content chunks, then the socket closes: no [DONE], no last-chunk marker.
    assert_eq!(text.matches("data: ").count(), 3);
    assert!(!text.contains("[DONE]"));
    assert!(!text.contains("finish_reason\":\"stop"));
    assert!(!text.ends_with("0\r\n\r\n"));

    // A real client sees a body error, not a clean end.
    mock.enqueue(Reply::ok().drop_after(1));
    let url = format!("{}/v1/messages", mock.url());
    let body =
        serde_json::to_vec(&json!({"model": "claude", "stream": true, "messages": []})).unwrap();
    let err = try_send(Method::POST, &url, &[], body)
        .await
        .err()
        .expect("body must fail");
    assert!(err.starts_with("body:"), "{err}");
    // A scripted cut is not a client cancellation.
    assert_eq!(mock.cancelled_streams(), 0);
    assert!(eventually(|| mock.open_streams() == 0).await);
}

#[tokio::test]
async fn drop_after_via_directive() {
    let mock = MockProvider::start().await;
    let body = json!({"model": "gpt-4o+drop_after=0", "stream": true, "messages": []});
    let raw = raw_exchange(mock.addr(), &raw_post("/v1/chat/completions", &body, false)).await;
    let text = String::from_utf8(raw).unwrap();
    assert_eq!(text.matches("data: ").count(), 1);
}

#[tokio::test]
async fn malformed_bodies_and_events() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    mock.enqueue(Reply::ok().malformed());
    let r = post(&url, &chat(false)).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    mock.enqueue(Reply::ok().malformed().chunks(2));
    let r = post(&url, &chat(true)).await;
    let events = r.sse();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let bad: Vec<_> = events
        .iter()
        .filter(|(_, d)| d != "[DONE]" && serde_json::from_str::<Value>(d).is_err())
        .collect();
    assert_eq!(bad.len(), 1);
}

#[tokio::test]
async fn stall_then_client_disconnect_cancels_the_stream() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().stall_after(1));
    let mut s = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(&raw_post("/v1/chat/completions", &chat(true), false))
        .await
        .unwrap();
    assert!(eventually(|| mock.open_streams() == 1).await);
    assert_eq!(mock.cancelled_streams(), 0);
    assert_eq!(mock.request_count(), 1);
    drop(s);
    assert!(eventually(|| mock.cancelled_streams() == 1).await);
    assert!(eventually(|| mock.open_streams() == 0).await);
}

#[tokio::test]
async fn slow_stream_cancelled_mid_way() {
    let mock = MockProvider::start().await;
    mock.enqueue(
        Reply::ok()
            .chunks(50)
            .chunk_delay(Duration::from_millis(20)),
    );
    let mut s = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(&raw_post("/v1/chat/completions", &chat(true), false))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(mock.open_streams(), 1);
    drop(s);
    assert!(eventually(|| mock.cancelled_streams() == 1 && mock.open_streams() == 0).await);
}

#[tokio::test]
async fn hang_ends_when_the_client_disconnects() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().hang());
    let mut s = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    s.write_all(&raw_post("/v1/chat/completions", &chat(false), false))
        .await
        .unwrap();
    // Recorded as soon as the body is read, although no response ever comes.
    assert!(eventually(|| mock.request_count() == 1).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(mock.cancelled_requests(), 0);
    drop(s);
    assert!(eventually(|| mock.cancelled_requests() == 1).await);
}

#[tokio::test]
async fn hang_ends_on_shutdown() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions?x", mock.url());
    let body = serde_json::to_vec(&json!({"model": "m+hang", "messages": []})).unwrap();
    let pending = tokio::spawn(async move { try_send(Method::POST, &url, &[], body).await });
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!pending.is_finished());
    mock.shutdown().await;
    let result = tokio::time::timeout(Duration::from_secs(3), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_err(), "a hung request gets no response");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn delay_and_latency_wait_before_headers() {
    let mock = MockProvider::start_with(MockOptions {
        latency: Duration::from_millis(30),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let url = format!("{}/v1/chat/completions", mock.url());
    let t = Instant::now();
    post(&url, &chat(false)).await;
    assert!(t.elapsed() >= Duration::from_millis(30));

    mock.enqueue(Reply::ok().delay(Duration::from_millis(60)));
    let t = Instant::now();
    post(&url, &chat(false)).await;
    assert!(t.elapsed() >= Duration::from_millis(90));

    let t = Instant::now();
    post(&url, &json!({"model": "m+delay_ms=50", "messages": []})).await;
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(mock.cancelled_requests(), 0);
}

#[tokio::test]
async fn delayed_request_abandoned_by_client_counts_as_cancelled() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().delay(Duration::from_secs(30)));
    let url = format!("{}/v1/chat/completions", mock.url());
    let body = serde_json::to_vec(&chat(false)).unwrap();
    let r = tokio::time::timeout(
        Duration::from_millis(100),
        try_send(Method::POST, &url, &[], body),
    )
    .await;
    assert!(r.is_err(), "client timed out");
    assert!(eventually(|| mock.cancelled_requests() == 1).await);
}

#[tokio::test]
async fn chunk_delay_paces_the_stream() {
    let mock = MockProvider::start_with(MockOptions {
        chunk_delay: Duration::from_millis(10),
        stream_chunks: 4,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let t = Instant::now();
    let r = post(&format!("{}/v1/chat/completions", mock.url()), &chat(true)).await;
    // 7 events (role, 4 content, finish, [DONE]) => at least 6 pauses.
    assert_eq!(r.sse().len(), 7);
    assert!(
        t.elapsed() >= Duration::from_millis(60),
        "{:?}",
        t.elapsed()
    );
}
