//! Request lifecycle: client disconnects cancel the upstream, bursts of concurrent requests,
//! graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, chat, sse_data};
use serde_json::{Value, json};

/// Polls `cond` every 10 ms until it holds or `within` has passed; returns whether it held.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn stream_body(model: &str) -> Value {
    let mut body = chat(model);
    body["stream"] = json!(true);
    body
}

#[tokio::test]
async fn client_disconnect_mid_stream_cancels_the_upstream() {
    let h = Harness::start().await;
    let mut resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &stream_body("gpt-4o-mini+stall_after=2"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(2), resp.chunk())
        .await
        .expect("first chunk in time")
        .unwrap()
        .expect("a chunk");
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert_eq!(h.mock.open_streams(), 1);
    assert_eq!(h.mock.cancelled_streams(), 0);
    drop(resp);
    assert!(
        eventually(Duration::from_secs(2), || h.mock.cancelled_streams() == 1).await,
        "upstream stream still open: open={} cancelled={}",
        h.mock.open_streams(),
        h.mock.cancelled_streams()
    );
    assert!(eventually(Duration::from_secs(1), || h.mock.open_streams() == 0).await);
    // And the gateway is fine.
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_hundred_concurrent_requests_all_succeed() {
    let h = Harness::start().await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..100usize {
        let stream = i % 2 == 0;
        let model = format!("gpt-4o-mini+content=answer-{i}+chunks=4");
        let body = if stream {
            stream_body(&model)
        } else {
            chat(&model)
        };
        let rb = h.post("/v1/chat/completions", "openai", &body);
        set.spawn(async move {
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (i, stream, status, text)
        });
    }
    let results = tokio::time::timeout(Duration::from_secs(5), set.join_all())
        .await
        .expect("all 100 answered in time");
    assert_eq!(results.len(), 100);
    for (i, stream, status, text) in results {
        assert_eq!(status, 200, "#{i}: {text}");
        let expected = format!("answer-{i}");
        if stream {
            let data = sse_data(&text);
            assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "#{i}");
            let content: String = data[..data.len() - 1]
                .iter()
                .map(|d| serde_json::from_str::<Value>(d).unwrap())
                .filter_map(|c| {
                    c["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect();
            assert_eq!(content, expected, "#{i}");
        } else {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["choices"][0]["message"]["content"], expected, "#{i}");
        }
    }
    assert_eq!(h.mock.request_count(), 100);
}

#[tokio::test]
async fn graceful_shutdown_finishes_streams_and_refuses_new_connections() {
    let h = Harness::start().await;
    let addr = h.gw.addr;
    let mut resp = h
        .post(
            "/v1/chat/completions",
            "openai",
            &stream_body("gpt-4o-mini+chunks=5+chunk_delay_ms=100"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut text = String::new();
    let first = tokio::time::timeout(Duration::from_secs(2), resp.chunk())
        .await
        .expect("first chunk in time")
        .unwrap()
        .expect("a chunk");
    text.push_str(std::str::from_utf8(&first).unwrap());

    // Take the gateway out of the harness and stop it while the stream is in flight.
    let Harness {
        mock,
        gw,
        client: _,
    } = h;
    let stopping = tokio::spawn(gw.stop());
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted after stop"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!stopping.is_finished(), "stop waits for the open stream");

    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(2), resp.chunk())
        .await
        .expect("stream kept flowing during shutdown")
        .expect("stream not cut")
    {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    let pieces = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert_eq!(pieces, 5, "{text}");

    let stopped = tokio::time::timeout(Duration::from_secs(2), stopping)
        .await
        .expect("stop completes once the stream is done")
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");
    assert_eq!(
        mock.cancelled_streams(),
        0,
        "the upstream stream ran to its end"
    );
}
