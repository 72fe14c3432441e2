use serde_json::{Value, json};

use super::{Assembler, StreamFormat};

/// Feeds `frames` in pieces of `step` bytes (every split must give the same result).
fn assemble(format: StreamFormat, cap: usize, frames: &str, step: usize) -> Value {
    let mut a = Assembler::new(format, cap);
    for piece in frames.as_bytes().chunks(step) {
        a.feed(piece);
    }
    serde_json::from_slice(&a.finish().expect("something was sent")).unwrap()
}

fn all_splits(format: StreamFormat, frames: &str) -> Value {
    let whole = assemble(format, 1 << 20, frames, frames.len());
    for step in [1, 2, 3, 7, 64] {
        assert_eq!(
            assemble(format, 1 << 20, frames, step),
            whole,
            "step {step}"
        );
    }
    whole
}

fn data(v: Value) -> String {
    format!("data: {v}\n\n")
}

/// A named event (Anthropic's framing).
fn ev(name: &str, v: Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

#[test]
fn openai_chat_chunks_become_one_completion() {
    let head = json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o", "system_fingerprint": "fp"});
    let chunk = |choices: Value| {
        let mut c = head.clone();
        c["choices"] = choices;
        data(c)
    };
    let mut frames = String::new();
    frames += &chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
    );
    frames += ": keep-alive\n\n";
    frames += &chunk(json!([{"index": 0, "delta": {"reasoning_content": "think "}}]));
    frames += &chunk(json!([{"index": 0, "delta": {"content": "Hé \"quoted\" "}}]));
    frames += &chunk(json!([{"index": 0, "delta": {"content": "world"}}]));
    frames += &chunk(json!([{"index": 0, "delta": {"tool_calls": [
        {"index": 1, "id": "t2", "type": "function", "function": {"name": "b", "arguments": ""}},
        {"index": 0, "id": "t1", "type": "function", "function": {"name": "a", "arguments": "{\"x\""}}]}}]));
    frames += &chunk(json!([{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": ":1}"}},
        {"index": 1, "function": {"arguments": "{}"}}]}}]));
    frames += &chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]));
    frames += &chunk(json!([]));
    let mut usage = head.clone();
    usage["choices"] = json!([]);
    usage["usage"] = json!({"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8});
    frames += &data(usage);
    frames += "data: [DONE]\n\n";
    let got = all_splits(StreamFormat::OpenAiChat, &frames);
    assert_eq!(
        got,
        json!({
            "id": "c1", "object": "chat.completion", "created": 7, "model": "gpt-4o",
            "system_fingerprint": "fp",
            "choices": [{"index": 0, "message": {
                "role": "assistant", "content": "Hé \"quoted\" world",
                "reasoning_content": "think ",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                    {"id": "t2", "type": "function", "function": {"name": "b", "arguments": "{}"}}
                ]}, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
        })
    );
}

#[test]
fn several_choices_and_legacy_completions_keep_their_order() {
    let mut frames = String::new();
    for (i, t) in [(1, "b1"), (0, "a1"), (1, "b2"), (0, "a2")] {
        frames += &data(json!({"id": "x", "model": "m", "choices": [{"index": i, "text": t}]}));
    }
    frames +=
        &data(json!({"id": "x", "choices": [{"index": 0, "text": "", "finish_reason": "length"}]}));
    let got = all_splits(StreamFormat::OpenAiText, &frames);
    assert_eq!(got["object"], "text_completion");
    assert_eq!(
        got["choices"],
        json!([
            {"index": 0, "text": "a1a2", "finish_reason": "length"},
            {"index": 1, "text": "b1b2", "finish_reason": null}
        ])
    );
}

#[test]
fn anthropic_events_become_one_message() {
    let mut frames = String::new();
    frames += &ev(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 4}}}),
    );
    frames += &ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "thinking", "thinking": ""}}),
    );
    frames += &ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
    );
    frames += &ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0,
        "delta": {"type": "signature_delta", "signature": "sig"}}),
    );
    frames += &ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    frames += &ev("ping", json!({"type": "ping"}));
    frames += &ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 1,
        "content_block": {"type": "text", "text": ""}}),
    );
    for t in ["Hello", ", ", "world"] {
        frames += &ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": t}}),
        );
    }
    frames += &ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 2,
        "content_block": {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {}}}),
    );
    for j in ["{\"city\":", "\"Paris\"}"] {
        frames += &ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": j}}),
        );
    }
    frames += &ev(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 12}}),
    );
    frames += &ev("message_stop", json!({"type": "message_stop"}));
    let got = all_splits(StreamFormat::Anthropic, &frames);
    assert_eq!(
        got,
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Hello, world"},
                {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 12, "cache_read_input_tokens": 4}
        })
    );
}

#[test]
fn text_past_the_cap_is_cut_and_said_so() {
    let mut frames = String::new();
    for _ in 0..1000 {
        frames +=
            &data(json!({"id": "x", "choices": [{"index": 0, "delta": {"content": "ééééé"}}]}));
    }
    // Many distinct choices and tool calls cannot grow the record past the cap either.
    for i in 0..1000 {
        frames += &data(
            json!({"id": "x", "choices": [{"index": i, "delta": {"tool_calls": [{"index": i}]}}]}),
        );
    }
    frames += &data(json!({"id": "x", "choices": [], "usage": {"total_tokens": 9}}));
    let got = assemble(StreamFormat::OpenAiChat, 1000, &frames, 100);
    assert_eq!(got["portcullis_truncated"], true);
    let content = got["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.len() <= 1000 && content.chars().all(|c| c == 'é'),
        "{content}"
    );
    assert!(got.to_string().len() < 4000, "{got}");
    // What comes after the cut (usage, finish) is still read.
    assert_eq!(got["usage"]["total_tokens"], 9);
}

#[test]
fn errors_and_unparsed_events_are_kept() {
    let mut frames =
        data(json!({"id": "x", "choices": [{"index": 0, "delta": {"content": "par"}}]}));
    frames += "data: {not json\n\n";
    frames += &data(json!({"error": {"message": "the provider went away", "type": "api_error"}}));
    let got = all_splits(StreamFormat::OpenAiChat, &frames);
    assert_eq!(got["choices"][0]["message"]["content"], "par");
    assert_eq!(got["error"]["message"], "the provider went away");
    assert_eq!(got["portcullis_unparsed_events"], json!(["{not json"]));

    let frames = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n";
    let got = all_splits(StreamFormat::Anthropic, frames);
    assert_eq!(got["error"]["type"], "overloaded_error");
    assert_eq!(got["content"], json!([]));
}

#[test]
fn nothing_sent_is_no_payload_and_an_oversized_event_ends_the_copy() {
    assert!(
        Assembler::new(StreamFormat::OpenAiChat, 100)
            .finish()
            .is_none()
    );
    let mut a = Assembler::new(StreamFormat::OpenAiChat, 100);
    a.feed(b": comment only\n\n");
    assert!(a.finish().is_none());

    let mut a = Assembler::new(StreamFormat::OpenAiChat, 1000);
    a.feed(
        data(json!({"id": "x", "choices": [{"index": 0, "delta": {"content": "ok"}}]})).as_bytes(),
    );
    a.feed(b"data: ");
    a.feed(&vec![b'x'; super::MAX_EVENT + 10]);
    a.feed(b"\n\n");
    let got: Value = serde_json::from_slice(&a.finish().unwrap()).unwrap();
    assert_eq!(got["choices"][0]["message"]["content"], "ok");
    assert!(
        got["portcullis_note"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
}

#[test]
fn anthropic_blocks_and_citations_count_against_the_cap() {
    let mut frames = ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "m", "content": []}}),
    );
    let big = "c".repeat(2000);
    for i in 0..200 {
        frames += &ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": i,
            "content_block": {"type": "text", "text": "", "citations": [{"cited_text": big}]}}),
        );
        frames += &ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": i,
            "delta": {"type": "citations_delta", "citation": {"cited_text": big}}}),
        );
    }
    let got = assemble(StreamFormat::Anthropic, 20_000, &frames, 4096);
    assert_eq!(got["portcullis_truncated"], true);
    assert!(got.to_string().len() < 30_000, "{}", got.to_string().len());
}
