//! Gemini wire format: generateContent, both streaming framings, embeddings, countTokens, errors.

mod common;

use common::post;
use portcullis_mock::{MockProvider, Reply};
use serde_json::{Value, json};

fn body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
}

fn url(mock: &MockProvider, model: &str, action: &str) -> String {
    format!("{}/v1beta/models/{model}:{action}", mock.url())
}

fn parts_text(chunk: &Value) -> String {
    chunk["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test]
async fn generate_content() {
    let mock = MockProvider::start().await;
    mock.enqueue(
        Reply::ok()
            .usage(50, 30)
            .cached_tokens(20)
            .reasoning_tokens(10),
    );
    let v = post(&url(&mock, "gemini-2.5-flash", "generateContent"), &body())
        .await
        .json();
    let cand = &v["candidates"][0];
    assert_eq!(cand["content"]["role"], "model");
    assert_eq!(cand["finishReason"], "STOP");
    assert_eq!(cand["index"], 0);
    let parts = cand["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thought"], true);
    assert!(parts[1]["text"].as_str().unwrap().starts_with("Hello!"));
    let u = &v["usageMetadata"];
    assert_eq!(u["promptTokenCount"], 50);
    assert_eq!(u["candidatesTokenCount"], 20);
    assert_eq!(u["thoughtsTokenCount"], 10);
    assert_eq!(u["totalTokenCount"], 80);
    assert_eq!(u["cachedContentTokenCount"], 20);
    assert_eq!(v["modelVersion"], "gemini-2.5-flash");
    assert!(!v["responseId"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn function_call_part() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().tool_call("get_weather", r#"{"city":"Rome"}"#));
    let v = post(&url(&mock, "gemini-2.0-flash", "generateContent"), &body())
        .await
        .json();
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(
        parts[0]["functionCall"],
        json!({"name": "get_weather", "args": {"city": "Rome"}})
    );
    let u = &v["usageMetadata"];
    assert!(u.get("thoughtsTokenCount").is_none());
    assert!(u.get("cachedContentTokenCount").is_none());
}

#[tokio::test]
async fn stream_sse() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().content("abcdefgh").chunks(4));
    let r = post(
        &format!(
            "{}?alt=sse",
            url(&mock, "gemini-2.0-flash", "streamGenerateContent")
        ),
        &body(),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    // Gemini frames events with CRLF.
    assert!(r.text().starts_with("data: {"));
    assert!(r.text().ends_with("}\r\n\r\n"));
    let chunks = r.sse_json();
    assert_eq!(chunks.len(), 5);
    let text: String = chunks.iter().map(parts_text).collect();
    assert_eq!(text, "abcdefgh");
    let id = &chunks[0]["responseId"];
    assert!(
        chunks
            .iter()
            .all(|c| &c["responseId"] == id && c["modelVersion"] == "gemini-2.0-flash")
    );
    assert!(
        chunks[..4]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    let last = chunks.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(
        last["usageMetadata"]["candidatesTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn stream_json_array() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().content("hello").chunks(2));
    let r = post(
        &url(&mock, "gemini-2.0-flash", "streamGenerateContent"),
        &body(),
    )
    .await;
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let arr = r.json();
    let arr = arr.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    let text: String = arr.iter().map(parts_text).collect();
    assert_eq!(text, "hello");
}

#[tokio::test]
async fn directives_in_url_path() {
    let mock = MockProvider::start().await;
    let model = "gemini-2.0-flash+content=hi%2520there+no_model";
    let v = post(&url(&mock, model, "generateContent"), &body())
        .await
        .json();
    assert_eq!(parts_text(&v), "hi there");
    assert!(v.get("modelVersion").is_none());

    let encoded = "gemini-2.0-flash%2Bstatus%3D429";
    let r = post(&url(&mock, encoded, "generateContent"), &body()).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()["error"],
        json!({"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"})
    );
}

#[tokio::test]
async fn embeddings_and_count_tokens() {
    let mock = MockProvider::start().await;
    let content = json!({"parts": [{"text": "hello"}]});
    let v = post(
        &url(&mock, "text-embedding-004", "embedContent"),
        &json!({"content": content, "outputDimensionality": 16}),
    )
    .await
    .json();
    assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 16);

    let v = post(
        &url(&mock, "text-embedding-004", "batchEmbedContents"),
        &json!({"requests": [
            {"model": "models/text-embedding-004", "content": content},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "bye"}]}}
        ]}),
    )
    .await
    .json();
    let e = v["embeddings"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_ne!(e[0], e[1]);

    let r = post(&url(&mock, "gemini-2.0-flash", "countTokens"), &body())
        .await
        .json();
    let n = serde_json::to_vec(&body()).unwrap().len().div_ceil(4) as u64;
    assert_eq!(r["totalTokens"], n);

    let bad = post(
        &url(&mock, "text-embedding-004", "embedContent"),
        &json!({}),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn errors_in_gemini_format() {
    let mock = MockProvider::start().await;
    let u = url(&mock, "gemini-2.0-flash", "generateContent");
    for (status, code) in [
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ] {
        mock.enqueue(Reply::status(status));
        let r = post(&u, &body()).await;
        assert_eq!(r.status, status);
        assert_eq!(r.json()["error"]["code"], status);
        assert_eq!(r.json()["error"]["status"], code);
    }
    let r = common::send(http::Method::POST, &u, &[], "{").await;
    assert_eq!(r.json()["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn stream_error_after() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().error_after(2).chunks(4));
    let r = post(
        &format!(
            "{}?alt=sse",
            url(&mock, "gemini-2.0-flash", "streamGenerateContent")
        ),
        &body(),
    )
    .await;
    let chunks = r.sse_json();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["error"]["status"], "UNAVAILABLE");
    assert!(
        chunks
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
}
