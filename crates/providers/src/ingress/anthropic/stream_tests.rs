//! Edge cases of [`ChatToMessagesStream`] and [`Chained`] that golden fixtures do not show well.

use bytes::Bytes;
use portcullis_core::sse::SseEvent;
use portcullis_core::{Endpoint, ErrorCode, GatewayError, Usage};
use serde_json::{Value, json};

use super::{Chained, ChatToMessagesStream};
use crate::adapter::{ResponseCtx, StreamTranslator};

fn ctx() -> ResponseCtx {
    ResponseCtx {
        endpoint: Endpoint::Messages,
        provider: "openai".into(),
        model: "m".into(),
        strict: true,
        include_usage: true,
        created: 1,
    }
}

fn ev(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: Bytes::copy_from_slice(data.as_bytes()),
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    json!({"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string()
}

/// The `data:` payloads written so far, parsed.
fn payloads(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn run(t: &mut dyn StreamTranslator, events: &[String]) -> (Vec<Value>, Result<(), GatewayError>) {
    let mut out = Vec::new();
    for e in events {
        if let Err(err) = t.event(&ev(e), &mut out) {
            return (payloads(&out), Err(err));
        }
    }
    let r = t.finish(&mut out);
    (payloads(&out), r)
}

#[test]
fn interleaved_and_id_less_tool_calls_keep_their_blocks() {
    let mut t = ChatToMessagesStream::new(&ctx());
    let (out, r) = run(
        &mut t,
        &[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "function": {"name": "g", "arguments": {"y": 1}}}]}),
                None,
            ),
            // Late fragment for call 0, whose block is already closed.
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
                None,
            ),
            // Same index, new id: a provider numbering every call 0.
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "h"}}]}),
                Some("tool_calls"),
            ),
            "[DONE]".into(),
        ],
    );
    r.unwrap();
    let starts: Vec<(u64, &str)> = out
        .iter()
        .filter(|p| p["type"] == "content_block_start")
        .map(|p| {
            (
                p["index"].as_u64().unwrap(),
                p["content_block"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(starts, [(0, "a"), (1, "toolu_1"), (2, "b")]);
    let late: Vec<&Value> = out
        .iter()
        .filter(|p| p["type"] == "content_block_delta" && p["index"] == 0)
        .collect();
    assert_eq!(late.len(), 2);
    assert_eq!(late[1]["delta"]["partial_json"], ":1}");
    let object_args = out
        .iter()
        .find(|p| p["index"] == 1 && p["type"] == "content_block_delta");
    assert_eq!(object_args.unwrap()["delta"]["partial_json"], "{\"y\":1}");
}

#[test]
fn refusals_legacy_calls_and_other_choices() {
    let mut t = ChatToMessagesStream::new(&ctx());
    let other = json!({"id": "c", "choices": [{"index": 1, "delta": {"content": "ignored"}}]});
    let (out, r) = run(
        &mut t,
        &[
            other.to_string(),
            chunk(json!({"refusal": "I can't help with that."}), None),
            chunk(json!({}), Some("stop")),
        ],
    );
    r.unwrap();
    assert!(!out.iter().any(|p| p["delta"]["text"] == "ignored"));
    let delta = out.iter().find(|p| p["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "refusal");

    let mut t = ChatToMessagesStream::new(&ctx());
    let (out, r) = run(
        &mut t,
        &[
            chunk(
                json!({"function_call": {"name": "f", "arguments": "{}"}}),
                None,
            ),
            chunk(json!({}), Some("function_call")),
        ],
    );
    r.unwrap();
    assert_eq!(out[1]["content_block"]["name"], "f");
    let delta = out.iter().find(|p| p["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
}

#[test]
fn garbage_is_an_error_and_nothing_follows_message_stop() {
    for bad in ["{not json", "[1,2]", "\"text\""] {
        let mut t = ChatToMessagesStream::new(&ctx());
        let (_, r) = run(&mut t, &[bad.into()]);
        assert_eq!(
            r.unwrap_err().code(),
            ErrorCode::UpstreamInvalidResponse,
            "{bad}"
        );
    }
    let mut t = ChatToMessagesStream::new(&ctx());
    let (out, r) = run(
        &mut t,
        &[
            chunk(json!({"content": "a"}), Some("stop")),
            "[DONE]".into(),
            chunk(json!({"content": "late"}), None),
            r#"{"error": {"message": "late"}}"#.into(),
        ],
    );
    r.unwrap();
    assert_eq!(out.last().unwrap()["type"], "message_stop");
    assert!(!out.iter().any(|p| p["delta"]["text"] == "late"));
}

#[test]
fn usage_is_reported_and_the_error_frame_is_anthropic() {
    let mut t = ChatToMessagesStream::new(&ctx());
    let usage =
        json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2}});
    let (out, r) = run(
        &mut t,
        &[
            chunk(json!({"content": "a"}), Some("stop")),
            usage.to_string(),
        ],
    );
    r.unwrap();
    assert_eq!(t.usage().unwrap().total_tokens, 12);
    let delta = out.iter().find(|p| p["type"] == "message_delta").unwrap();
    assert_eq!(delta["usage"]["input_tokens"], 10);
    let frame = t.error_frame(&GatewayError::new(ErrorCode::UpstreamStreamError, "cut"));
    assert!(frame.starts_with(b"event: error\ndata: {\"type\":\"error\""));
}

/// An inner translator that writes fixed bytes per event and reports a usage.
struct Fixed(Vec<&'static [u8]>, bool);

impl StreamTranslator for Fixed {
    fn event(&mut self, _: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if !self.0.is_empty() {
            out.extend_from_slice(self.0.remove(0));
        }
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        // Unterminated last event: the decoder must still deliver it at the end.
        out.extend_from_slice(b"data: [DONE]");
        if self.1 {
            Ok(())
        } else {
            Err(GatewayError::new(ErrorCode::UpstreamStreamError, "cut"))
        }
    }
    fn usage(&self) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 1,
            total_tokens: 6,
            ..Usage::default()
        })
    }
}

#[test]
fn chained_flushes_at_finish_and_uses_the_inner_usage() {
    let text = b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n";
    let mut t = Chained::new(
        Box::new(Fixed(vec![&text[..10], &text[10..]], true)),
        ChatToMessagesStream::new(&ctx()),
    );
    let (out, r) = run(&mut t, &["a".into(), "b".into()]);
    r.unwrap();
    assert_eq!(out.last().unwrap()["type"], "message_stop");
    let delta = out.iter().find(|p| p["type"] == "message_delta").unwrap();
    assert_eq!(delta["usage"]["input_tokens"], 5);
    assert_eq!(t.usage().unwrap().total_tokens, 6);

    let mut t = Chained::new(
        Box::new(Fixed(vec![text], false)),
        ChatToMessagesStream::new(&ctx()),
    );
    let (out, r) = run(&mut t, &["a".into()]);
    assert_eq!(r.unwrap_err().message(), "cut");
    assert!(!out.iter().any(|p| p["type"] == "message_stop"));
}
