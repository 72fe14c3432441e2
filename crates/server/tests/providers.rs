//! Provider coverage through the mock: every OpenAI-compatible slug, Azure, Anthropic (translated
//! and native), Google, `@slug/model` routing, model fill-in and the models list.

mod common;

use std::time::Duration;

use common::{Harness, chat, sse_data};
use http::HeaderMap;
use portcullis_mock::{Recorded, Reply};
use portcullis_providers::Family;
use portcullis_providers::registry::PROVIDERS;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(5);

/// Sends `rb`; returns status, headers and the raw body.
async fn fetch(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
    let resp = tokio::time::timeout(LIMIT, rb.send())
        .await
        .expect("answered in time")
        .expect("a response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = tokio::time::timeout(LIMIT, resp.text())
        .await
        .expect("body in time")
        .expect("a body");
    (status, headers, text)
}

/// Sends `rb`; returns status, headers and the body as JSON.
async fn send(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let (status, headers, text) = fetch(rb).await;
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text:?}"));
    (status, headers, v)
}

/// The single request the mock received.
fn only(h: &Harness) -> Recorded {
    let seen = h.mock.requests();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    seen.into_iter().next().unwrap()
}

/// Parses each SSE data payload except `[DONE]` as JSON; asserts the stream ends with `[DONE]`.
fn chunks(text: &str) -> Vec<Value> {
    let data = sse_data(text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

/// The assistant text of an OpenAI chunk stream.
fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn every_openai_compatible_provider() {
    let h = Harness::start().await;
    let family: Vec<_> = PROVIDERS
        .iter()
        .filter(|p| p.family == Family::OpenAi)
        .collect();
    assert!(family.len() >= 20, "{}", family.len());
    for spec in family {
        let slug = spec.slug;
        let path = format!("/v1{}/chat/completions", spec.path_prefix);
        let mut body = chat("m-1");
        body["custom_param"] = json!({"a": 1});
        body["top_k"] = json!(5);

        h.mock.clear();
        let (status, headers, v) = send(h.post("/v1/chat/completions", slug, &body)).await;
        assert_eq!(status, 200, "{slug}: {v}");
        assert_eq!(headers["x-portkey-provider"], slug);
        assert_eq!(v["object"], "chat.completion", "{slug}");
        assert_eq!(v["model"], "m-1", "{slug}");
        assert!(v["choices"][0]["message"]["content"].is_string(), "{slug}");
        let rec = only(&h);
        assert_eq!(
            (rec.method.as_str(), rec.path.as_str()),
            ("POST", path.as_str()),
            "{slug}"
        );
        assert_eq!(
            rec.header("authorization"),
            Some("Bearer sk-test"),
            "{slug}"
        );
        assert_eq!(
            rec.body,
            serde_json::to_vec(&body).unwrap(),
            "{slug}: body unchanged"
        );
        let sent = rec.json().unwrap();
        assert_eq!(sent["custom_param"], json!({"a": 1}), "{slug}");
        assert_eq!(sent["top_k"], 5, "{slug}");

        h.mock.clear();
        body["stream"] = json!(true);
        let (status, headers, text) = fetch(h.post("/v1/chat/completions", slug, &body)).await;
        assert_eq!(status, 200, "{slug}: {text}");
        assert_eq!(headers["x-portkey-provider"], slug);
        assert_eq!(headers["content-type"], "text/event-stream");
        let cs = chunks(&text);
        assert!(!cs.is_empty(), "{slug}");
        for c in &cs {
            assert_eq!(c["object"], "chat.completion.chunk", "{slug}");
        }
        assert!(!streamed_text(&cs).is_empty(), "{slug}");
        let rec = only(&h);
        assert_eq!(rec.path, path, "{slug}");
        assert_eq!(
            rec.header("authorization"),
            Some("Bearer sk-test"),
            "{slug}"
        );
        assert_eq!(
            rec.json().unwrap()["custom_param"],
            json!({"a": 1}),
            "{slug}"
        );
    }
}

#[tokio::test]
async fn openai_embeddings_and_legacy_completions() {
    let h = Harness::start().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["one", "two"]});
    let (status, headers, v) = send(h.post("/v1/embeddings", "openai", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "openai");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert!(
        v["data"][0]["embedding"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/embeddings");
    assert_eq!(rec.json().unwrap(), body);

    h.mock.clear();
    let body = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "max_tokens": 5});
    let (status, _, v) = send(h.post("/v1/completions", "openai", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "text_completion");
    assert!(v["choices"][0]["text"].is_string());
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/completions");
    assert_eq!(rec.json().unwrap(), body);
}

#[tokio::test]
async fn azure_openai_via_headers() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-provider", "azure-openai")
        .header("x-portkey-custom-host", format!("{}/openai", h.mock.url()))
        .header("x-portkey-azure-resource-name", "my-resource")
        .header("x-portkey-azure-deployment-id", "my-dep")
        .header("x-portkey-azure-api-version", "2024-06-01")
        .header("authorization", "Bearer sk-azure")
        .json(&chat("gpt-4o"));
    let (status, headers, v) = send(rb).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "azure-openai");
    assert_eq!(v["object"], "chat.completion");
    let rec = only(&h);
    assert_eq!(rec.path, "/openai/deployments/my-dep/chat/completions");
    assert_eq!(rec.query.as_deref(), Some("api-version=2024-06-01"));
    assert_eq!(rec.header("api-key"), Some("sk-azure"));
    assert_eq!(rec.header("authorization"), None);
}

fn anthropic_tools_body() -> Value {
    json!({
        "model": "claude-3-5-sonnet",
        "max_tokens": 100,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "Describe this", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}],
        "tool_choice": "required"
    })
}

#[tokio::test]
async fn anthropic_translates_requests_and_tool_calls() {
    let h = Harness::start().await;
    h.mock
        .enqueue(Reply::ok().tool_call("get_weather", r#"{"city":"Paris"}"#));
    let (status, headers, v) =
        send(h.post("/v1/chat/completions", "anthropic", &anthropic_tools_body())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "anthropic");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["provider"], "anthropic");
    assert_eq!(v["model"], "claude-3-5-sonnet");
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));

    let rec = only(&h);
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.header("x-api-key"), Some("sk-test"));
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(rec.header("authorization"), None);
    let sent = rec.json().unwrap();
    assert_eq!(sent["model"], "claude-3-5-sonnet");
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(sent["system"], "You are terse.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "Describe this", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
        ]}])
    );
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        sent["tools"],
        json!([{
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }])
    );
}

#[tokio::test]
async fn anthropic_stream_ends_with_usage_then_done() {
    let h = Harness::start().await;
    h.mock.enqueue(
        Reply::ok()
            .content("Hello from Claude")
            .usage(100, 20)
            .cached_tokens(30)
            .cache_write_tokens(10),
    );
    let mut body = chat("claude-3-5-sonnet");
    body["max_tokens"] = json!(50);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, headers, text) = fetch(h.post("/v1/chat/completions", "anthropic", &body)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let cs = chunks(&text);
    assert_eq!(streamed_text(&cs), "Hello from Claude");
    for c in &cs {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    let last = cs.last().unwrap();
    assert_eq!(last["choices"], json!([]), "{last}");
    let usage = &last["usage"];
    assert_eq!(usage["prompt_tokens"], 100, "{usage}");
    assert_eq!(usage["completion_tokens"], 20, "{usage}");
    assert_eq!(usage["total_tokens"], 120, "{usage}");
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"], 30,
        "{usage}"
    );
    assert_eq!(
        usage["prompt_tokens_details"]["cache_write_tokens"], 10,
        "{usage}"
    );
    // Only the final chunk carries usage.
    assert!(cs[..cs.len() - 1].iter().all(|c| c["usage"].is_null()));
    let sent = only(&h).json().unwrap();
    assert_eq!(sent["stream"], true);
    assert!(sent.get("stream_options").is_none(), "{sent}");
}

#[tokio::test]
async fn anthropic_rate_limit_is_an_openai_error() {
    let h = Harness::start().await;
    let mut body = chat("claude-3-5-sonnet+status=429");
    body["max_tokens"] = json!(10);
    let (status, headers, v) = send(h.post("/v1/chat/completions", "anthropic", &body)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["x-portkey-provider"], "anthropic");
    assert_eq!(
        v,
        json!({
            "error": {
                "message": "anthropic error: Number of request tokens has exceeded your per-minute rate limit.",
                "type": "rate_limit_error",
                "param": null,
                "code": null
            },
            "provider": "anthropic"
        })
    );
}

/// A request as the Anthropic SDK sends it: `x-api-key`, `anthropic-version`, no Authorization.
fn anthropic_native(h: &Harness, path: &str, body: &'static str) -> reqwest::RequestBuilder {
    h.client
        .post(h.url(path))
        .header("x-portkey-provider", "anthropic")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("x-api-key", "sk-ant-native")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body)
}

#[tokio::test]
async fn anthropic_native_messages_pass_through() {
    let h = Harness::start().await;
    const BODY: &str = r#"{"model":"claude-3-5-sonnet",  "max_tokens": 64, "messages":[{"role":"user","content":"Hi"}], "vendor_field": {"keep": true}}"#;
    let (status, headers, v) = send(anthropic_native(&h, "/v1/messages", BODY)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "anthropic");
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-3-5-sonnet");
    assert_eq!(v["content"][0]["type"], "text");
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.body.as_ref(), BODY.as_bytes(), "body untouched");
    assert_eq!(rec.header("x-api-key"), Some("sk-ant-native"));
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(rec.header("authorization"), None);
}

#[tokio::test]
async fn anthropic_native_stream_forwards_named_events() {
    let h = Harness::start().await;
    const BODY: &str = r#"{"model":"claude-3-5-sonnet+chunks=3","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
    let (status, headers, text) = fetch(anthropic_native(&h, "/v1/messages", BODY)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let frames: Vec<(String, Value)> = text
        .split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let event = f
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("frame without event line: {f:?}"));
            let data = f
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("frame without data: {f:?}"));
            (event.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect();
    for (event, data) in &frames {
        assert_eq!(data["type"], event.as_str());
    }
    let names: Vec<&str> = frames.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count(),
        3,
        "{names:?}"
    );
    assert_eq!(only(&h).body.as_ref(), BODY.as_bytes());
}

#[tokio::test]
async fn anthropic_native_count_tokens() {
    let h = Harness::start().await;
    const BODY: &str =
        r#"{"model":"claude-3-5-sonnet","messages":[{"role":"user","content":"Hello there"}]}"#;
    let (status, _, v) = send(anthropic_native(&h, "/v1/messages/count_tokens", BODY)).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["input_tokens"].as_u64().is_some_and(|n| n > 0), "{v}");
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/messages/count_tokens");
    assert_eq!(rec.body.as_ref(), BODY.as_bytes());
    assert_eq!(rec.header("x-api-key"), Some("sk-ant-native"));
}

#[tokio::test]
async fn anthropic_native_overloaded_keeps_anthropic_shape() {
    let h = Harness::start().await;
    const BODY: &str = r#"{"model":"claude-3-5-sonnet+status=529","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}"#;
    let (status, headers, v) = send(anthropic_native(&h, "/v1/messages", BODY)).await;
    assert_eq!(status, 529);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
}

/// `/v1/messages` on a provider without a native Messages API is translated to chat and back.
/// (Before that translation landed this was a 400 gateway exception,
/// `{"status":"failure","message":"messages is not supported by openai"}`.)
#[tokio::test]
async fn messages_on_openai_is_translated_over_chat() {
    let h = Harness::start().await;
    h.mock.enqueue(Reply::ok().content("Hi back").usage(7, 3));
    let rb = h
        .client
        .post(h.url("/v1/messages"))
        .header("x-portkey-provider", "openai")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("x-api-key", "sk-test")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}));
    let (status, headers, v) = send(rb).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "openai");
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["content"], json!([{"type": "text", "text": "Hi back"}]));
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 7, "{v}");
    assert_eq!(v["usage"]["output_tokens"], 3, "{v}");
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/chat/completions");
    assert_eq!(rec.header("authorization"), Some("Bearer sk-test"));
    let sent = rec.json().unwrap();
    assert_eq!(sent["model"], "gpt-4o");
    assert_eq!(sent["max_tokens"], 5);
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "Hi"}]));
}

#[tokio::test]
async fn google_chat_and_stream() {
    let h = Harness::start().await;
    let (status, headers, v) =
        send(h.post("/v1/chat/completions", "google", &chat("gemini-2.0-flash"))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "google");
    assert_eq!(v["object"], "chat.completion");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{v}"
    );
    let rec = only(&h);
    assert_eq!(rec.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(rec.query, None);
    assert_eq!(rec.header("x-goog-api-key"), Some("sk-test"));
    assert_eq!(rec.header("authorization"), None);
    assert_eq!(
        rec.json().unwrap()["contents"],
        json!([{"role": "user", "parts": [{"text": "Hello there"}]}])
    );

    h.mock.clear();
    h.mock
        .enqueue(Reply::ok().content("Streamed Gemini").usage(12, 4));
    let mut body = chat("gemini-2.0-flash");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (status, headers, text) = fetch(h.post("/v1/chat/completions", "google", &body)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let cs = chunks(&text);
    assert_eq!(streamed_text(&cs), "Streamed Gemini");
    let last = cs.last().unwrap();
    assert_eq!(last["usage"]["prompt_tokens"], 12, "{last}");
    assert_eq!(last["usage"]["completion_tokens"], 4, "{last}");
    assert_eq!(last["usage"]["total_tokens"], 16, "{last}");
    let rec = only(&h);
    assert_eq!(
        rec.path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(rec.query.as_deref(), Some("alt=sse"));
    assert_eq!(rec.header("x-goog-api-key"), Some("sk-test"));
}

#[tokio::test]
async fn google_sanitizes_tools_and_maps_options() {
    let h = Harness::start().await;
    let mut body = chat("gemini-2.0-flash");
    body["tools"] = json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
            "additionalProperties": false
        }
    }}]);
    body["response_format"] = json!({"type": "json_object"});
    let safety = json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]);
    body["safety_settings"] = safety.clone();
    let (status, _, v) = send(h.post("/v1/chat/completions", "google", &body)).await;
    assert_eq!(status, 200, "{v}");
    let sent = only(&h).json().unwrap();
    let decl = &sent["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "get_weather", "{sent}");
    assert_eq!(decl["description"], "Weather for a city");
    let params = decl["parameters"].as_object().expect("parameters");
    assert!(!params.contains_key("$schema"), "{params:?}");
    assert!(!params.contains_key("additionalProperties"), "{params:?}");
    assert_eq!(
        params["properties"],
        json!({"city": {"type": "string", "description": "City name"}})
    );
    assert_eq!(params["required"], json!(["city"]));
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(sent["safetySettings"], safety);
    assert!(sent.get("safety_settings").is_none(), "{sent}");
}

#[tokio::test]
async fn google_embeddings_single_and_batch() {
    let h = Harness::start().await;
    let body = json!({"model": "text-embedding-004", "input": "hello"});
    let (status, _, v) = send(h.post("/v1/embeddings", "google", &body)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(
        v["data"][0]["embedding"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let rec = only(&h);
    assert_eq!(rec.path, "/v1beta/models/text-embedding-004:embedContent");
    assert_eq!(rec.header("x-goog-api-key"), Some("sk-test"));

    h.mock.clear();
    let body = json!({"model": "text-embedding-004", "input": ["a", "b", "c"]});
    let (status, _, v) = send(h.post("/v1/embeddings", "google", &body)).await;
    assert_eq!(status, 200, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert!(d["embedding"].as_array().is_some_and(|e| !e.is_empty()));
    }
    let rec = only(&h);
    assert_eq!(
        rec.path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(rec.json().unwrap()["requests"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn at_slug_model_routes_without_a_provider_header() {
    let h = Harness::start().await;
    let rb = h
        .client
        .post(h.url("/v1/chat/completions"))
        .header("x-portkey-custom-host", h.mock_v1())
        .header("authorization", "Bearer sk-groq")
        .json(&chat("@groq/llama-3.3-70b"));
    let (status, headers, v) = send(rb).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "groq");
    assert_eq!(v["model"], "llama-3.3-70b");
    let rec = only(&h);
    assert_eq!(rec.path, "/v1/chat/completions");
    assert_eq!(rec.header("authorization"), Some("Bearer sk-groq"));
    assert_eq!(rec.json().unwrap()["model"], "llama-3.3-70b");
}

#[tokio::test]
async fn model_is_filled_in_when_the_provider_omits_it() {
    let h = Harness::start().await;
    let model = "gpt-4o-mini+no_model";
    let (status, _, v) = send(h.post("/v1/chat/completions", "openai", &chat(model))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], model);

    let mut body = chat(model);
    body["stream"] = json!(true);
    let (status, _, text) = fetch(h.post("/v1/chat/completions", "openai", &body)).await;
    assert_eq!(status, 200, "{text}");
    let cs = chunks(&text);
    assert!(!cs.is_empty());
    for c in &cs {
        assert_eq!(c["model"], model, "{c}");
    }
    // The mock really did leave it out.
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn models_list() {
    let h = Harness::start().await;
    let rb = h
        .client
        .get(h.url("/v1/models"))
        .header("x-portkey-provider", "openai")
        .header("x-portkey-custom-host", h.mock_v1())
        .header("authorization", "Bearer sk-test");
    let (status, headers, v) = send(rb).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(headers["x-portkey-provider"], "openai");
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "o3-mini",
            "text-embedding-3-small"
        ]
    );
    let rec = only(&h);
    assert_eq!(
        (rec.method.as_str(), rec.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(rec.header("authorization"), Some("Bearer sk-test"));

    let (status, _, v) = send(h.client.get(h.url("/v1/models"))).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"object": "list", "data": []}));
    assert_eq!(h.mock.request_count(), 1);
}
