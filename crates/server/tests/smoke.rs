//! The harness works: a chat completion through the gateway reaches the mock and comes back.

mod common;

use common::{Harness, chat};

#[tokio::test]
async fn chat_completion_round_trip() {
    let h = Harness::start().await;
    let resp = h
        .post("/v1/chat/completions", "openai", &chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-portkey-provider"], "openai");
    assert_eq!(resp.headers()["x-portkey-last-used-option-index"], "config");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-test"));
}
