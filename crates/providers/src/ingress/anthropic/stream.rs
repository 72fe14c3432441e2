//! OpenAI `chat.completion.chunk` events → Anthropic Messages stream events.
//!
//! Claude streams one content block at a time, so a block is closed whenever a delta of another
//! kind arrives: reasoning (`reasoning_content` / `reasoning`, or a non-strict inner
//! translator's Portkey `content_blocks`) → `thinking`, `content` → `text`, each tool call →
//! `tool_use` with its argument fragments as `input_json_delta`. Only choice 0 is translated.
//!
//! Usage: chat streams report usage last (OpenAI sends a usage-only chunk after the finish
//! chunk), so `message_start` carries whatever is known then (usually zeros) and
//! `message_delta` is held until that usage chunk, `[DONE]` or the end of the stream; Anthropic
//! clients read the final counts from `message_delta`.

use bytes::Bytes;
use portcullis_core::sse::{SseEvent, push_event_frame};
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde_json::{Value, json};

use super::wire::{
    final_stop, in_band, matched_stop, message_id, read_usage, stop_reason, text_of, usage_json,
};
use crate::adapter::{ResponseCtx, StreamTranslator};
use crate::anthropic::error_event;

/// The content block being streamed, by its Anthropic index.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u64),
    Thinking(u64),
    Tool(u64),
}

impl Open {
    fn index(self) -> u64 {
        match self {
            Open::Text(i) | Open::Thinking(i) | Open::Tool(i) => i,
        }
    }
}

/// A tool call seen so far: OpenAI `index` and id → Anthropic block.
struct Tool {
    key: u64,
    id: String,
    block: u64,
}

/// Per-stream state for an Anthropic-format client of an OpenAI-format stream.
pub struct ChatToMessagesStream {
    provider: String,
    model: String,
    created: u64,
    started: bool,
    open: Option<Open>,
    next_block: u64,
    tools: Vec<Tool>,
    refused: bool,
    /// Set by the finish chunk: no more content, only usage may follow.
    finish: Option<&'static str>,
    stop_sequence: Option<String>,
    usage: Option<Usage>,
    /// Usage known outside the chunks (an inner translator's), used when no chunk had any.
    hint: Option<Usage>,
    done: bool,
}

impl ChatToMessagesStream {
    /// `ctx.model` is used when chunks name no model; `ctx.created` names a message whose
    /// chunks carry no id.
    pub fn new(ctx: &ResponseCtx) -> Self {
        ChatToMessagesStream {
            provider: ctx.provider.clone(),
            model: ctx.model.clone(),
            created: ctx.created,
            started: false,
            open: None,
            next_block: 0,
            tools: Vec::new(),
            refused: false,
            finish: None,
            stop_sequence: None,
            usage: None,
            hint: None,
            done: false,
        }
    }

    pub(super) fn set_usage_hint(&mut self, usage: Option<Usage>) {
        if usage.is_some() {
            self.hint = usage;
        }
    }

    fn invalid(&self, data: &[u8]) -> GatewayError {
        let shown = String::from_utf8_lossy(&data[..data.len().min(256)]).into_owned();
        GatewayError::new(
            ErrorCode::UpstreamInvalidResponse,
            format!(
                "Invalid stream event received from {}: {shown}",
                self.provider
            ),
        )
        .with_provider(self.provider.clone())
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        self.started = true;
        if let Some(m) = text_of(chunk, "model") {
            self.model = m.to_owned();
        }
        let id = message_id(
            chunk.get("id").and_then(Value::as_str),
            &self.created.to_string(),
        );
        let usage = usage_json(&self.usage.or(self.hint).unwrap_or_default());
        emit(
            out,
            "message_start",
            json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        );
    }

    /// Closes the open block and starts `block` as the next one.
    fn begin(&mut self, kind: fn(u64) -> Open, block: Value, out: &mut Vec<u8>) -> u64 {
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        emit(
            out,
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        self.open = Some(kind(index));
        index
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            emit(
                out,
                "content_block_stop",
                json!({"type": "content_block_stop", "index": open.index()}),
            );
        }
    }

    fn block_delta(out: &mut Vec<u8>, index: u64, delta: Value) {
        emit(
            out,
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn thinking_block(&mut self, out: &mut Vec<u8>) -> u64 {
        match self.open {
            Some(Open::Thinking(i)) => i,
            _ => self.begin(
                Open::Thinking,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                out,
            ),
        }
    }

    fn thinking(&mut self, text: &str, out: &mut Vec<u8>) {
        let i = self.thinking_block(out);
        Self::block_delta(out, i, json!({"type": "thinking_delta", "thinking": text}));
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        let i = match self.open {
            Some(Open::Text(i)) => i,
            _ => self.begin(Open::Text, json!({"type": "text", "text": ""}), out),
        };
        Self::block_delta(out, i, json!({"type": "text_delta", "text": text}));
    }

    /// One tool-call fragment. A fragment continues the call with the same `index` (and id,
    /// when it repeats one); a new index or id starts a new `tool_use` block. A fragment for a
    /// call whose block was already closed (upstreams that interleave calls) is still sent
    /// at that block's index: SDK accumulators apply deltas by index.
    fn tool(&mut self, call: &Value, pos: usize, out: &mut Vec<u8>) {
        let key = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(pos as u64);
        let f = call.get("function").unwrap_or(call);
        let id = text_of(call, "id");
        let known = self
            .tools
            .iter()
            .rev()
            .find(|t| t.key == key && id.is_none_or(|id| id == t.id))
            .map(|t| t.block);
        let block = match known {
            Some(b) => b,
            None => {
                let id = id.map_or_else(|| format!("toolu_{}", self.next_block), str::to_owned);
                let name = text_of(f, "name").unwrap_or("");
                let tool_use = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                let block = self.begin(Open::Tool, tool_use, out);
                self.tools.push(Tool { key, id, block });
                block
            }
        };
        let args = match f.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            // A few servers send parsed arguments in one piece.
            Some(v @ Value::Object(_)) => v.to_string(),
            _ => String::new(),
        };
        if !args.is_empty() {
            Self::block_delta(
                out,
                block,
                json!({"type": "input_json_delta", "partial_json": args}),
            );
        }
    }

    fn delta(&mut self, d: &Value, out: &mut Vec<u8>) {
        if let Some(r) = text_of(d, "reasoning_content").or_else(|| text_of(d, "reasoning")) {
            self.thinking(r, out);
        } else if let Some(blocks) = d.get("content_blocks").and_then(Value::as_array) {
            // Portkey's non-strict thinking deltas; text entries repeat `content` and are skipped.
            for b in blocks {
                let b = b.get("delta").unwrap_or(b);
                if b.get("thinking").is_none() {
                    continue;
                }
                if let Some(t) = text_of(b, "thinking") {
                    self.thinking(t, out);
                }
                if let Some(sig) = text_of(b, "signature") {
                    let i = self.thinking_block(out);
                    let delta = json!({"type": "signature_delta", "signature": sig});
                    Self::block_delta(out, i, delta);
                }
            }
        }
        if let Some(t) = text_of(d, "content") {
            self.text(t, out);
        }
        if let Some(r) = text_of(d, "refusal") {
            self.refused = true;
            self.text(r, out);
        }
        let calls = d.get("tool_calls").and_then(Value::as_array);
        for (pos, call) in calls.into_iter().flatten().enumerate() {
            self.tool(call, pos, out);
        }
        if let Some(fc) = d.get("function_call").filter(|f| f.is_object()) {
            // The legacy single call: one tool under an index no tool_calls entry uses.
            let call = json!({"index": u64::MAX, "function": fc});
            self.tool(&call, 0, out);
        }
    }

    /// Ends the message: closes the open block, then `message_delta` and `message_stop`.
    fn close(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start(&Value::Null, out);
        }
        self.close_block(out);
        let mapped = self.finish.unwrap_or("end_turn");
        let mut stop = final_stop(mapped, !self.tools.is_empty(), self.refused);
        let sequence = self.stop_sequence.take().filter(|_| stop == "end_turn");
        if sequence.is_some() {
            stop = "stop_sequence";
        }
        let usage = match self.usage.or(self.hint) {
            Some(u) => usage_json(&u),
            None => json!({"output_tokens": 0}),
        };
        emit(
            out,
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": sequence}, "usage": usage}),
        );
        emit(out, "message_stop", json!({"type": "message_stop"}));
        self.done = true;
    }
}

fn emit(out: &mut Vec<u8>, name: &str, payload: Value) {
    push_event_frame(out, name, &serde_json::to_vec(&payload).unwrap_or_default());
}

impl StreamTranslator for ChatToMessagesStream {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        let data = ev.data.as_ref();
        if ev.event.as_deref() == Some("error") {
            let v: Value = serde_json::from_slice(data).unwrap_or_else(|_| json!(ev.data_str()));
            let err = v.get("error").cloned().unwrap_or(v);
            return Err(in_band(&self.provider, &err));
        }
        if ev.is_done() {
            self.close(out);
            return Ok(());
        }
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let v: Value = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(in_band(&self.provider, err));
        }
        if !v.is_object() {
            return Err(self.invalid(data));
        }
        let usage = read_usage(v.get("usage"));
        if usage.is_some() {
            self.usage = usage;
        }
        if !self.started {
            self.start(&v, out);
        }
        if self.finish.is_some() {
            // Usage after the finish chunk is the final count: the message can end now.
            if usage.is_some() {
                self.close(out);
            }
            return Ok(());
        }
        let choices = v.get("choices").and_then(Value::as_array);
        for c in choices.into_iter().flatten() {
            if c.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(d) = c.get("delta") {
                self.delta(d, out);
            }
            if let Some(f) = text_of(c, "finish_reason") {
                self.close_block(out);
                self.finish = Some(stop_reason(f));
                self.stop_sequence = matched_stop(c);
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        if self.finish.is_some() {
            // Finished without `[DONE]` (some compatible servers): the message is complete.
            self.close(out);
            return Ok(());
        }
        Err(GatewayError::new(
            ErrorCode::UpstreamStreamError,
            format!(
                "{} stream ended before the response was complete",
                self.provider
            ),
        )
        .with_provider(self.provider.clone()))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.or(self.hint)
    }

    fn error_frame(&self, err: &GatewayError) -> Bytes {
        error_event(err)
    }
}
