//! Golden fixtures for the Anthropic Messages ingress: requests, responses and streams.
//!
//! Files in `tests/fixtures/ingress_anthropic/`, paired by case name:
//! - `<case>.anthropic.json` → `<case>.openai.json`: Messages request → chat request
//!   (`keep_thinking` in the name sets `RequestOptions::keep_thinking`).
//! - `<case>.chat.json` → `<case>.message.json`: chat completion → Messages response.
//! - `<case>.sse` → `<case>.expected.sse`: OpenAI chunk stream → Anthropic events; an error
//!   ends the output with `: error status=<n>` and the translator's error frame. A
//!   `chained_gemini_` prefix feeds Gemini SSE through the Google adapter first (`nonstrict`
//!   in the name turns its strict mode off).
//!
//! Every emitted stream is also checked against the Messages event-order rules, and replayed
//! split at random byte boundaries. `UPDATE_GOLDEN=1 cargo test -p portcullis-providers --test
//! ingress_anthropic_golden` rewrites the expected files.

use std::fs;
use std::path::{Path, PathBuf};

use portcullis_core::sse::SseDecoder;
use portcullis_core::{Endpoint, JsonObject};
use portcullis_providers::ResponseCtx;
use portcullis_providers::adapter::{Adapter, StreamTranslator};
use portcullis_providers::google::GOOGLE;
use portcullis_providers::ingress::anthropic::{
    Chained, ChatToMessagesStream, RequestOptions, chat_to_message, messages_to_chat_with,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingress_anthropic")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Case names of every file ending in `suffix`, sorted.
fn cases(suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(suffix).map(str::to_owned))
        .filter(|n| !n.contains('.'))
        .collect();
    names.sort();
    names
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_json(path: &Path, actual: &Value) {
    if updating() {
        let mut text = serde_json::to_string_pretty(actual).unwrap();
        text.push('\n');
        fs::write(path, text).unwrap();
        return;
    }
    let expected = read_json(path);
    assert!(
        &expected == actual,
        "{} differs.\nexpected: {}\nactual:   {}",
        path.display(),
        serde_json::to_string_pretty(&expected).unwrap(),
        serde_json::to_string_pretty(actual).unwrap()
    );
}

#[test]
fn request_fixtures() {
    let names = cases(".anthropic.json");
    assert!(names.len() >= 12, "only {} request cases", names.len());
    for case in names {
        let body: JsonObject = match read_json(&dir().join(format!("{case}.anthropic.json"))) {
            Value::Object(o) => o,
            _ => panic!("{case}: request must be an object"),
        };
        let opts = RequestOptions {
            keep_thinking: case.contains("keep_thinking"),
        };
        let chat = messages_to_chat_with(&body, opts).unwrap_or_else(|e| panic!("{case}: {e}"));
        check_json(
            &dir().join(format!("{case}.openai.json")),
            &Value::Object(chat),
        );
    }
}

#[test]
fn response_fixtures() {
    let names = cases(".chat.json");
    assert!(names.len() >= 6, "only {} response cases", names.len());
    for case in names {
        let raw = read(&dir().join(format!("{case}.chat.json")));
        let t = chat_to_message(&raw, "fallback-model").unwrap_or_else(|e| panic!("{case}: {e}"));
        let actual: Value = serde_json::from_slice(&t.body).unwrap();
        // The returned usage is the normalised form of the body's (OpenAI counting).
        let chat: Value = serde_json::from_slice(&raw).unwrap();
        if let Some(u) = chat.get("usage") {
            let usage = t.usage.unwrap_or_else(|| panic!("{case}: usage lost"));
            assert_eq!(
                Some(usage.prompt_tokens),
                u["prompt_tokens"].as_u64(),
                "{case}"
            );
        }
        assert_eq!(t.model.as_deref(), actual["model"].as_str(), "{case}");
        check_json(&dir().join(format!("{case}.message.json")), &actual);
    }
}

#[test]
fn cached_usage_is_split_out_of_input_tokens() {
    let raw = read(&dir().join("cached_usage.chat.json"));
    let t = chat_to_message(&raw, "m").unwrap();
    let u = t.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens), (2006, 1920));
    let v: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(v["usage"]["input_tokens"], 86);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 1920);
}

fn ctx(case: &str) -> ResponseCtx {
    ResponseCtx {
        endpoint: Endpoint::Messages,
        provider: if case.starts_with("chained_gemini") {
            "google".into()
        } else {
            "openai".into()
        },
        model: "fallback-model".into(),
        strict: true,
        include_usage: true,
        created: 1_716_200_000,
    }
}

fn translator(case: &str) -> Box<dyn StreamTranslator> {
    let outer = ChatToMessagesStream::new(&ctx(case));
    if !case.starts_with("chained_gemini") {
        return Box::new(outer);
    }
    let inner_ctx = ResponseCtx {
        endpoint: Endpoint::ChatComplete,
        strict: !case.contains("nonstrict"),
        ..ctx(case)
    };
    Box::new(Chained::new(GOOGLE.stream(&inner_ctx), outer))
}

/// Decodes `chunks` and runs them through a fresh translator, as the engine would.
fn run_stream(case: &str, chunks: &[&[u8]]) -> String {
    let mut decoder = SseDecoder::default();
    let mut events = Vec::new();
    for c in chunks {
        decoder.feed(c, &mut events).unwrap();
    }
    decoder.finish(&mut events).unwrap();
    let mut t = translator(case);
    let mut out = Vec::new();
    let mut result = Ok(());
    for ev in &events {
        result = t.event(ev, &mut out);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = t.finish(&mut out);
    }
    if let Err(e) = result {
        out.extend_from_slice(format!(": error status={}\n\n", e.status().as_u16()).as_bytes());
        out.extend_from_slice(&t.error_frame(&e));
    }
    String::from_utf8(out).unwrap()
}

/// Frames as comparable values: each line, with `data:` payloads parsed as JSON when they are.
fn frames(s: &str) -> Vec<Vec<Value>> {
    s.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.lines()
                .map(
                    |l| match l.strip_prefix("data: ").map(serde_json::from_str::<Value>) {
                        Some(Ok(v)) => json!({"data": v}),
                        _ => json!(l),
                    },
                )
                .collect()
        })
        .collect()
}

/// Checks Anthropic's stream grammar: `message_start` first; blocks numbered 0, 1, … each
/// started, given deltas of its own kind, and stopped before the next starts; then one
/// `message_delta` and `message_stop` last. An error (`: error` comment) must be followed by
/// exactly one `event: error` frame and nothing else. Tool input fragments must join to an
/// object.
fn validate(case: &str, s: &str) {
    let mut started = false;
    let mut open: Option<(u64, String, String)> = None;
    let mut next = 0;
    let mut delta_seen = false;
    let mut stopped = false;
    let mut frames = s.split("\n\n").filter(|f| !f.is_empty()).peekable();
    while let Some(f) = frames.next() {
        if f.starts_with(": error") {
            let last = frames
                .next()
                .unwrap_or_else(|| panic!("{case}: no error frame"));
            assert!(last.starts_with("event: error\ndata: "), "{case}: {last}");
            assert!(frames.next().is_none(), "{case}: frames after the error");
            return;
        }
        assert!(!stopped, "{case}: frame after message_stop: {f}");
        let (name, data) = f
            .strip_prefix("event: ")
            .and_then(|r| r.split_once("\ndata: "))
            .unwrap_or_else(|| panic!("{case}: not an Anthropic frame: {f}"));
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], name, "{case}: event name and type differ");
        assert!(started || name == "message_start", "{case}: {name} first");
        let index = v["index"].as_u64();
        match name {
            "message_start" => {
                assert!(!started, "{case}: second message_start");
                assert!(v["message"]["id"].as_str().unwrap().starts_with("msg_"));
                started = true;
            }
            "content_block_start" => {
                assert!(open.is_none() && !delta_seen, "{case}: start while open");
                assert_eq!(index, Some(next), "{case}: block numbering");
                next += 1;
                let kind = v["content_block"]["type"].as_str().unwrap().to_owned();
                open = Some((next - 1, kind, String::new()));
            }
            "content_block_delta" => {
                let (i, kind, json) = open.as_mut().expect("delta without open block");
                assert_eq!(index, Some(*i), "{case}: delta for another block");
                let dt = v["delta"]["type"].as_str().unwrap();
                let ok = matches!(
                    (kind.as_str(), dt),
                    ("text", "text_delta")
                        | ("tool_use", "input_json_delta")
                        | ("thinking", "thinking_delta" | "signature_delta")
                );
                assert!(ok, "{case}: {dt} in a {kind} block");
                json.push_str(v["delta"]["partial_json"].as_str().unwrap_or(""));
            }
            "content_block_stop" => {
                let (i, kind, json) = open.take().expect("stop without open block");
                assert_eq!(index, Some(i), "{case}: stop for another block");
                if kind == "tool_use" && !json.is_empty() {
                    let input: Value = serde_json::from_str(&json).unwrap();
                    assert!(input.is_object(), "{case}: tool input {json}");
                }
            }
            "message_delta" => {
                assert!(
                    open.is_none() && !delta_seen,
                    "{case}: message_delta misplaced"
                );
                assert!(v["delta"]["stop_reason"].is_string());
                assert!(v["usage"]["output_tokens"].is_u64());
                delta_seen = true;
            }
            "message_stop" => {
                assert!(delta_seen, "{case}: message_stop before message_delta");
                stopped = true;
            }
            other => panic!("{case}: unexpected event {other}"),
        }
    }
    assert!(
        stopped,
        "{case}: a successful stream must end with message_stop"
    );
}

fn stream_cases() -> Vec<(String, Vec<u8>)> {
    cases(".sse")
        .into_iter()
        .filter(|c| !c.ends_with(".expected"))
        .map(|c| {
            let raw = read(&dir().join(format!("{c}.sse")));
            (c, raw)
        })
        .collect()
}

#[test]
fn stream_fixtures() {
    let all = stream_cases();
    assert!(all.len() >= 10, "only {} stream cases", all.len());
    for (case, raw) in all {
        let actual = run_stream(&case, &[&raw]);
        validate(&case, &actual);
        let path = dir().join(format!("{case}.expected.sse"));
        if updating() {
            fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = String::from_utf8(read(&path)).unwrap();
        assert!(
            frames(&expected) == frames(&actual),
            "{} differs.\nexpected:\n{expected}\nactual:\n{actual}",
            path.display()
        );
    }
}

#[test]
fn every_fixture_has_its_pair() {
    for entry in fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let pair = [
            (".anthropic.json", ".openai.json"),
            (".openai.json", ".anthropic.json"),
            (".chat.json", ".message.json"),
            (".message.json", ".chat.json"),
            (".expected.sse", ".sse"),
            (".sse", ".expected.sse"),
        ]
        .iter()
        .find_map(|(from, to)| name.strip_suffix(from).map(|case| format!("{case}{to}")))
        .unwrap_or_else(|| panic!("{name}: unknown fixture kind"));
        assert!(
            dir().join(&pair).exists() || updating(),
            "{name} has no {pair}"
        );
    }
}

proptest! {
    /// Any byte split of a transcript yields exactly the output of the unsplit transcript.
    #[test]
    fn streams_survive_any_byte_split(cuts in proptest::collection::vec(0usize..100_000, 0..16)) {
        for (case, raw) in stream_cases() {
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in at {
                chunks.push(&raw[prev..c]);
                prev = c;
            }
            chunks.push(&raw[prev..]);
            prop_assert_eq!(run_stream(&case, &chunks), run_stream(&case, &[&raw]), "{}", case);
        }
    }
}
