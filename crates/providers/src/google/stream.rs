//! `streamGenerateContent?alt=sse` events → OpenAI `chat.completion.chunk` frames.
//!
//! Every Gemini event is a whole `GenerateContentResponse` holding the next parts; usage is
//! cumulative (the latest wins) and the last event carries `finishReason`. Gemini sends no
//! terminal marker, so the stream is complete only if a finish reason (or a blocked prompt) was
//! seen when the upstream closes.

use portcullis_core::sse::{DONE_FRAME, SseEvent, push_data_frame};
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde_json::{Map, Value, json};

use super::error::in_band;
use super::response::{
    finish_reason, is_thought, model_version, parts, response_id, tool_call, tool_call_id, usage,
};
use crate::adapter::{ResponseCtx, StreamTranslator};
use crate::common::ChunkWriter;

/// Per-candidate state (Gemini streams one candidate unless `candidateCount` asks for more).
#[derive(Default)]
struct Candidate {
    role_sent: bool,
    tool_calls: usize,
    /// The open `content_blocks` entry (index, kind) for non-strict deltas.
    block: Option<(usize, &'static str)>,
    next_block: usize,
    finished: bool,
}

/// Per-stream state for Gemini SSE upstreams.
pub struct GeminiStream {
    ctx: ResponseCtx,
    writer: Option<ChunkWriter>,
    candidates: Vec<Candidate>,
    usage: Option<Usage>,
    blocked: bool,
    done: bool,
}

impl GeminiStream {
    pub fn new(ctx: &ResponseCtx) -> Self {
        GeminiStream {
            ctx: ctx.clone(),
            writer: None,
            candidates: Vec::new(),
            usage: None,
            blocked: false,
            done: false,
        }
    }

    fn invalid(&self, data: &[u8]) -> GatewayError {
        let shown = String::from_utf8_lossy(&data[..data.len().min(256)]).into_owned();
        GatewayError::new(
            ErrorCode::UpstreamInvalidResponse,
            format!(
                "Invalid stream event received from {}: {shown}",
                self.ctx.provider
            ),
        )
        .with_provider(self.ctx.provider.clone())
    }

    fn chunk(&mut self, v: &Value, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(in_band(&self.ctx.provider, err));
        }
        if !v.is_object() {
            return Err(self.invalid(v.to_string().as_bytes()));
        }
        // Id and model are fixed by the first frame written; events before it (usage-only,
        // say) may still supply them.
        let emitted = self.blocked || self.candidates.iter().any(|c| c.role_sent);
        let writer = match self.writer.take() {
            Some(w) if emitted => w,
            Some(mut w) => {
                if v.get("responseId")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                {
                    w.id = response_id(v, self.ctx.created);
                }
                if v.get("modelVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
                {
                    w.model = model_version(v, &self.ctx);
                }
                w
            }
            None => ChunkWriter {
                id: response_id(v, self.ctx.created),
                created: self.ctx.created,
                model: model_version(v, &self.ctx),
                provider: self.ctx.provider.clone(),
            },
        };
        if let Some(u) = v.get("usageMetadata").and_then(usage) {
            self.usage = Some(u);
        }
        let candidates = v
            .get("candidates")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (pos, c) in candidates.iter().enumerate() {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
            self.candidate(&writer, index, c, out);
        }
        if candidates.is_empty()
            && let Some(reason) = v
                .pointer("/promptFeedback/blockReason")
                .and_then(Value::as_str)
        {
            // A blocked prompt: one closing chunk, nothing else will come.
            let finish = if self.ctx.strict {
                "content_filter"
            } else {
                reason
            };
            let state = self.state(0);
            let delta = role_delta(state, json!({"content": null}));
            self.blocked = true;
            emit(&writer, out, 0, delta, Some(finish));
        }
        self.writer = Some(writer);
        Ok(())
    }

    fn state(&mut self, index: u64) -> &mut Candidate {
        let i = usize::try_from(index).unwrap_or(usize::MAX).min(255);
        if self.candidates.len() <= i {
            self.candidates.resize_with(i + 1, Candidate::default);
        }
        &mut self.candidates[i]
    }

    fn candidate(&mut self, writer: &ChunkWriter, index: u64, c: &Value, out: &mut Vec<u8>) {
        let strict = self.ctx.strict;
        for part in parts(c) {
            let state = self.state(index);
            let delta = if part.get("functionCall").is_some_and(Value::is_object) {
                let n = state.tool_calls;
                state.tool_calls += 1;
                let call = tool_call(part, tool_call_id(part, &writer.id, index, n), strict);
                let mut entry = Map::new();
                entry.insert("index".into(), json!(n));
                if let Value::Object(fields) = call {
                    entry.extend(fields);
                }
                json!({"tool_calls": [entry]})
            } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                let signature = part.get("thoughtSignature").filter(|_| !strict);
                if is_thought(part) {
                    if strict {
                        continue;
                    }
                    let mut d = json!({ "thinking": text });
                    if let Some(sig) = signature {
                        d["signature"] = sig.clone();
                    }
                    json!({"content_blocks": [block(state, "thinking", d)]})
                } else if strict {
                    if text.is_empty() {
                        continue;
                    }
                    json!({ "content": text })
                } else {
                    if text.is_empty() && signature.is_none() {
                        continue;
                    }
                    let mut d = json!({ "text": text });
                    if let Some(sig) = signature {
                        d["signature"] = sig.clone();
                    }
                    let blocks = json!([block(state, "text", d)]);
                    if text.is_empty() {
                        json!({ "content_blocks": blocks })
                    } else {
                        json!({"content": text, "content_blocks": blocks})
                    }
                }
            } else if let (false, Some(data)) = (strict, part.get("inlineData")) {
                let mime = data
                    .get("mimeType")
                    .and_then(Value::as_str)
                    .unwrap_or("application/octet-stream");
                let payload = data.get("data").and_then(Value::as_str).unwrap_or("");
                let d = json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{payload}")}});
                json!({"content_blocks": [block(state, "image", d)]})
            } else {
                continue;
            };
            let delta = role_delta(state, delta);
            emit(writer, out, index, delta, None);
        }
        if let Some(reason) = c.get("finishReason").and_then(Value::as_str) {
            let state = self.state(index);
            let finish = finish_reason(reason, state.tool_calls > 0, strict);
            state.finished = true;
            let delta = role_delta(state, json!({}));
            emit(writer, out, index, delta, Some(&finish));
        }
    }
}

/// Puts `role: "assistant"` first in a candidate's first delta.
fn role_delta(state: &mut Candidate, delta: Value) -> Value {
    if state.role_sent {
        return delta;
    }
    state.role_sent = true;
    let mut m = Map::new();
    m.insert("role".into(), json!("assistant"));
    if let Value::Object(rest) = delta {
        m.extend(rest);
    }
    Value::Object(m)
}

/// A `content_blocks` delta entry; a new block opens whenever the kind changes.
fn block(state: &mut Candidate, kind: &'static str, delta: Value) -> Value {
    let index = match state.block {
        Some((i, k)) if k == kind => i,
        _ => {
            let i = state.next_block;
            state.next_block += 1;
            state.block = Some((i, kind));
            i
        }
    };
    json!({"index": index, "delta": delta})
}

/// One chunk for candidate `index` (`ChunkWriter` writes choice 0; other choices mirror it).
fn emit(w: &ChunkWriter, out: &mut Vec<u8>, index: u64, delta: Value, finish: Option<&str>) {
    if index == 0 {
        return w.delta(out, delta, finish);
    }
    let chunk = json!({
        "id": w.id, "object": "chat.completion.chunk", "created": w.created, "model": w.model,
        "provider": w.provider,
        "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}],
    });
    push_data_frame(out, &serde_json::to_vec(&chunk).unwrap_or_default());
}

impl StreamTranslator for GeminiStream {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        let data = ev.data.as_ref();
        if self.done || ev.is_done() || data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let v: Value = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
        match &v {
            // The non-SSE stream format (a JSON array of responses) also appears for errors.
            Value::Array(items) => items.iter().try_for_each(|item| self.chunk(item, out)),
            _ => self.chunk(&v, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        let seen: Vec<&Candidate> = self
            .candidates
            .iter()
            .filter(|c| c.role_sent || c.finished)
            .collect();
        let complete = self.blocked || (!seen.is_empty() && seen.iter().all(|c| c.finished));
        let Some(writer) = self.writer.as_ref().filter(|_| complete) else {
            return Err(GatewayError::new(
                ErrorCode::UpstreamStreamError,
                format!(
                    "{} stream ended before the response was complete",
                    self.ctx.provider
                ),
            )
            .with_provider(self.ctx.provider.clone()));
        };
        if self.ctx.include_usage {
            writer.usage(out, &self.usage.unwrap_or_default());
        }
        out.extend_from_slice(DONE_FRAME);
        self.done = true;
        Ok(())
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn served_model(&self) -> Option<String> {
        self.writer
            .as_ref()
            .map(|w| w.model.clone())
            .filter(|m| !m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use portcullis_core::Endpoint;

    fn ctx() -> ResponseCtx {
        ResponseCtx {
            endpoint: Endpoint::ChatComplete,
            provider: "google".into(),
            model: "gemini-2.5-flash".into(),
            strict: true,
            include_usage: false,
            created: 1,
        }
    }

    fn ev(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: Bytes::copy_from_slice(data.as_bytes()),
        }
    }

    #[test]
    fn chunks_without_content_or_parts_are_tolerated() {
        let mut t = GeminiStream::new(&ctx());
        let mut out = Vec::new();
        for data in [
            r#"{"candidates":[{"safetyRatings":[]}],"usageMetadata":{"promptTokenCount":3}}"#,
            r#"{"candidates":[{"content":{"role":"model"}}]}"#,
            r#"{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#,
            r#"{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}]}"#,
        ] {
            t.event(&ev(data), &mut out).unwrap();
        }
        t.finish(&mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.matches("data: ").count(), 3, "{s}");
        assert_eq!(t.usage().unwrap().total_tokens, 4);
    }

    #[test]
    fn every_candidate_gets_its_own_choice_and_must_finish() {
        let mut t = GeminiStream::new(&ctx());
        let mut out = Vec::new();
        let two = r#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"index":0,"finishReason":"STOP"},{"content":{"parts":[{"text":"b"}]},"index":1}]}"#;
        t.event(&ev(two), &mut out).unwrap();
        let s = String::from_utf8(out.clone()).unwrap();
        assert!(
            s.contains(r#""choices":[{"index":1,"delta":{"role":"assistant","content":"b"}"#),
            "{s}"
        );
        // Candidate 1 never finished: the stream is incomplete.
        assert_eq!(
            t.finish(&mut out).unwrap_err().code(),
            ErrorCode::UpstreamStreamError
        );
        let last =
            r#"{"candidates":[{"content":{"parts":[]},"index":1,"finishReason":"MAX_TOKENS"}]}"#;
        t.event(&ev(last), &mut out).unwrap();
        t.finish(&mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains(r#""index":1,"delta":{},"logprobs":null,"finish_reason":"length""#));
        assert!(s.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn garbage_is_an_invalid_response_and_an_empty_stream_is_cut() {
        let mut t = GeminiStream::new(&ctx());
        let e = t.event(&ev("{nope"), &mut Vec::new()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::UpstreamInvalidResponse);
        let mut t = GeminiStream::new(&ctx());
        assert_eq!(
            t.finish(&mut Vec::new()).unwrap_err().code(),
            ErrorCode::UpstreamStreamError
        );
    }
}
