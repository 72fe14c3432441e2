//! Anthropic stream events → OpenAI `chat.completion.chunk` frames.
//!
//! Tool calls are numbered among tool calls only (OpenAI's `tool_calls[].index`), not among
//! content blocks. In non-strict mode every non-tool delta also carries Portkey's
//! `content_blocks: [{index, delta}]` (the Anthropic delta without its `type`), so clients can
//! rebuild thinking blocks with their signatures.

use portcullis_core::sse::{DONE_FRAME, SseEvent};
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde_json::{Map, Value, json};

use super::error::in_band;
use super::response::finish_reason;
use super::wire::{WireEvent, WireUsage, str_field, type_of};
use crate::adapter::{ResponseCtx, StreamTranslator};
use crate::common::ChunkWriter;

/// What a content block turned into on the OpenAI side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// A function call, with its OpenAI tool-call index.
    Tool(u64),
    /// Thinking, server tools and anything newer: visible only in non-strict mode.
    Other,
}

/// Per-stream state for an OpenAI-format client of an Anthropic upstream.
pub struct AnthropicStream {
    w: ChunkWriter,
    strict: bool,
    include_usage: bool,
    /// Content block index → kind (a handful per message: a linear scan is fine).
    blocks: Vec<(u64, Block)>,
    tools: u64,
    usage: Option<WireUsage>,
    done: bool,
}

impl AnthropicStream {
    pub fn new(ctx: &ResponseCtx) -> Self {
        AnthropicStream {
            w: ChunkWriter {
                id: String::new(),
                created: ctx.created,
                model: ctx.model.clone(),
                provider: ctx.provider.clone(),
            },
            strict: ctx.strict,
            include_usage: ctx.include_usage,
            blocks: Vec::new(),
            tools: 0,
            usage: None,
            done: false,
        }
    }

    fn block(&self, index: u64) -> Block {
        self.blocks
            .iter()
            .rev()
            .find(|(i, _)| *i == index)
            .map_or(Block::Other, |(_, b)| *b)
    }

    /// Portkey's non-strict `content_blocks` entry: the payload without its `type`.
    fn content_block(index: u64, payload: &Value) -> Value {
        let delta: Map<String, Value> = payload
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "type")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        json!([{"index": index, "delta": delta}])
    }

    fn block_start(&mut self, index: u64, block: &Value, out: &mut Vec<u8>) {
        match type_of(block) {
            "text" => {
                self.blocks.push((index, Block::Text));
                let text = str_field(block, "text");
                if !text.is_empty() {
                    self.text(index, text, out);
                }
            }
            "tool_use" => {
                let n = self.tools;
                self.tools += 1;
                self.blocks.push((index, Block::Tool(n)));
                let call = json!({
                    "index": n,
                    "id": str_field(block, "id"),
                    "type": "function",
                    "function": {"name": str_field(block, "name"), "arguments": ""},
                });
                self.w.delta(out, json!({"tool_calls": [call]}), None);
            }
            _ => {
                self.blocks.push((index, Block::Other));
                if !self.strict {
                    let cb = Self::content_block(index, block);
                    self.w.delta(out, json!({"content_blocks": cb}), None);
                }
            }
        }
    }

    fn text(&self, index: u64, text: &str, out: &mut Vec<u8>) {
        let mut delta = json!({"content": text});
        if !self.strict {
            delta["content_blocks"] = json!([{"index": index, "delta": {"text": text}}]);
        }
        self.w.delta(out, delta, None);
    }

    fn block_delta(&mut self, index: u64, delta: &Value, out: &mut Vec<u8>) {
        match (type_of(delta), self.block(index)) {
            ("text_delta", _) => self.text(index, str_field(delta, "text"), out),
            ("input_json_delta", Block::Tool(n)) => {
                let partial = str_field(delta, "partial_json");
                if !partial.is_empty() {
                    let call = json!({"index": n, "function": {"arguments": partial}});
                    self.w.delta(out, json!({"tool_calls": [call]}), None);
                }
            }
            // thinking_delta, signature_delta, citations_delta, server-tool input, …
            _ if !self.strict => {
                let cb = Self::content_block(index, delta);
                self.w.delta(out, json!({"content_blocks": cb}), None);
            }
            _ => {}
        }
    }

    fn invalid(&self, data: &[u8]) -> GatewayError {
        let shown = String::from_utf8_lossy(&data[..data.len().min(256)]).into_owned();
        GatewayError::new(
            ErrorCode::UpstreamInvalidResponse,
            format!(
                "Invalid stream event received from {}: {shown}",
                self.w.provider
            ),
        )
        .with_provider(self.w.provider.clone())
    }
}

impl StreamTranslator for AnthropicStream {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        let data = ev.data.as_ref();
        if ev.event.as_deref() == Some("error") {
            return Err(in_band(data, &self.w.provider, false));
        }
        let e: WireEvent<'_> = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
        let index = e.index.unwrap_or(0);
        match e.kind.as_ref() {
            "message_start" => {
                let m = e.message.ok_or_else(|| self.invalid(data))?;
                if !m.id.is_empty() {
                    self.w.id = m.id;
                }
                if !m.model.is_empty() {
                    self.w.model = m.model;
                }
                self.usage = Some(m.usage.unwrap_or_default());
                self.w
                    .delta(out, json!({"role": "assistant", "content": ""}), None);
            }
            "content_block_start" => {
                let block = e.content_block.ok_or_else(|| self.invalid(data))?;
                self.block_start(index, &block, out);
            }
            "content_block_delta" => {
                let delta = e.delta.ok_or_else(|| self.invalid(data))?;
                self.block_delta(index, &delta, out);
            }
            "message_delta" => {
                if let Some(u) = &e.usage {
                    self.usage.get_or_insert_with(WireUsage::default).merge(u);
                }
                let stop = e
                    .delta
                    .as_ref()
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                if let Some(stop) = stop {
                    let reason = finish_reason(Some(stop), self.strict);
                    self.w.delta(out, json!({}), Some(&reason));
                }
            }
            "message_stop" => {
                self.done = true;
                if self.include_usage {
                    self.w
                        .usage(out, &self.usage.unwrap_or_default().to_usage());
                }
                out.extend_from_slice(DONE_FRAME);
            }
            "error" => return Err(in_band(data, &self.w.provider, false)),
            // ping, content_block_stop, and event types added later.
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        Err(GatewayError::new(
            ErrorCode::UpstreamStreamError,
            format!("{} stream ended before message_stop", self.w.provider),
        )
        .with_provider(self.w.provider.clone()))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(WireUsage::to_usage)
    }

    fn served_model(&self) -> Option<String> {
        Some(self.w.model.clone()).filter(|m| !m.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Endpoint;
    use portcullis_core::sse::SseDecoder;

    fn run(strict: bool, transcript: &[u8]) -> (String, Result<(), GatewayError>) {
        let ctx = ResponseCtx {
            endpoint: Endpoint::ChatComplete,
            provider: "anthropic".into(),
            model: "claude".into(),
            strict,
            include_usage: false,
            created: 1,
        };
        let mut d = SseDecoder::default();
        let mut evs = Vec::new();
        d.feed(transcript, &mut evs).unwrap();
        d.finish(&mut evs).unwrap();
        let mut t = AnthropicStream::new(&ctx);
        let mut out = Vec::new();
        let mut r = Ok(());
        for ev in &evs {
            r = t.event(ev, &mut out);
            if r.is_err() {
                break;
            }
        }
        if r.is_ok() {
            r = t.finish(&mut out);
        }
        (String::from_utf8(out).unwrap(), r)
    }

    #[test]
    fn malformed_events_are_errors_not_panics() {
        for bad in [
            &b"event: content_block_delta\ndata: {not json\n\n"[..],
            b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
            b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0}\n\n",
            b"data: {\"no\":\"type\"}\n\n",
        ] {
            let (_, r) = run(true, bad);
            assert_eq!(r.unwrap_err().code(), ErrorCode::UpstreamInvalidResponse);
        }
    }

    #[test]
    fn thinking_is_hidden_when_strict_and_shown_otherwise() {
        let t = b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hm\"}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let (strict, r) = run(true, t);
        r.unwrap();
        assert_eq!(strict, "data: [DONE]\n\n");
        let (loose, r) = run(false, t);
        r.unwrap();
        assert!(
            loose.contains(r#""content_blocks":[{"index":0,"delta":{"thinking":"hm"}}]"#),
            "{loose}"
        );
    }

    #[test]
    fn events_after_message_stop_are_ignored() {
        let (out, r) = run(
            true,
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\nevent: error\ndata: {}\n\n",
        );
        r.unwrap();
        assert_eq!(out, "data: [DONE]\n\n");
    }
}
