//! Anthropic Messages events folded into the message they stand for.

use portcullis_core::sse::SseEvent;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Budget, ENTRY_COST};
use crate::text::Text;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    message: Option<Map<String, Value>>,
    #[serde(default)]
    content_block: Option<Map<String, Value>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    usage: Option<Map<String, Value>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    text: Option<Text<'a>>,
    #[serde(borrow, default)]
    partial_json: Option<Text<'a>>,
    #[serde(borrow, default)]
    thinking: Option<Text<'a>>,
    #[serde(borrow, default)]
    signature: Option<Text<'a>>,
    #[serde(default)]
    citation: Option<Value>,
    #[serde(default)]
    stop_reason: Option<Value>,
    #[serde(default)]
    stop_sequence: Option<Value>,
}

struct Block {
    index: u32,
    /// As `content_block_start` gave it.
    start: Map<String, Value>,
    text: String,
    thinking: String,
    signature: String,
    json: String,
    citations: Vec<Value>,
}

/// What the events said so far.
#[derive(Default)]
pub(super) struct Events {
    message: Option<Map<String, Value>>,
    blocks: Vec<Block>,
    stop_reason: Option<Value>,
    stop_sequence: Option<Value>,
    usage: Map<String, Value>,
    error: Option<Value>,
}

impl Events {
    /// Folds one event in; false when it does not parse as a Messages event.
    pub(super) fn event(&mut self, ev: &SseEvent, budget: &mut Budget) -> bool {
        let Ok(e) = serde_json::from_slice::<Event<'_>>(&ev.data) else {
            return false;
        };
        let kind = e.kind.as_deref().or(ev.event.as_deref()).unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(mut m) = e.message {
                    if let Some(Value::Object(u)) = m.remove("usage") {
                        self.usage.extend(u);
                    }
                    self.message = Some(m);
                }
            }
            "content_block_start" => {
                let index = e.index.unwrap_or(0);
                // A block's opening value is kept whole: its event's size is charged.
                if self.blocks.iter().any(|b| b.index == index)
                    || !budget.charge(ev.data.len().max(ENTRY_COST))
                {
                    return true;
                }
                self.blocks.push(Block {
                    index,
                    start: e.content_block.unwrap_or_default(),
                    text: String::new(),
                    thinking: String::new(),
                    signature: String::new(),
                    json: String::new(),
                    citations: Vec::new(),
                });
            }
            "content_block_delta" => {
                let index = e.index.unwrap_or(0);
                let (Some(d), Some(b)) =
                    (e.delta, self.blocks.iter_mut().find(|b| b.index == index))
                else {
                    return true;
                };
                for (out, s) in [
                    (&mut b.text, d.text),
                    (&mut b.thinking, d.thinking),
                    (&mut b.signature, d.signature),
                    (&mut b.json, d.partial_json),
                ] {
                    if let Some(s) = s {
                        budget.push(out, &s);
                    }
                }
                if let Some(c) = d.citation
                    && budget.charge(ev.data.len().max(ENTRY_COST))
                {
                    b.citations.push(c);
                }
            }
            "message_delta" => {
                if let Some(d) = e.delta {
                    if d.stop_reason.is_some() {
                        self.stop_reason = d.stop_reason;
                    }
                    if d.stop_sequence.is_some() {
                        self.stop_sequence = d.stop_sequence;
                    }
                }
                if let Some(u) = e.usage {
                    self.usage.extend(u);
                }
            }
            "error" => self.error = e.error,
            _ => {}
        }
        true
    }

    /// The message a non-streamed request would have had.
    pub(super) fn response(mut self) -> Map<String, Value> {
        let mut out = self.message.take().unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("type".into(), "message".into());
            m.insert("role".into(), "assistant".into());
            m
        });
        self.blocks.sort_by_key(|b| b.index);
        let content = self.blocks.into_iter().map(Block::into_value).collect();
        out.insert("content".into(), Value::Array(content));
        if let Some(r) = self.stop_reason {
            out.insert("stop_reason".into(), r);
        }
        if let Some(s) = self.stop_sequence {
            out.insert("stop_sequence".into(), s);
        }
        if !self.usage.is_empty() {
            out.insert("usage".into(), Value::Object(self.usage));
        }
        if let Some(e) = self.error {
            out.insert("error".into(), e);
        }
        out
    }
}

impl Block {
    fn into_value(self) -> Value {
        let mut b = self.start;
        for (key, more) in [
            ("text", self.text),
            ("thinking", self.thinking),
            ("signature", self.signature),
        ] {
            if !more.is_empty() {
                let before = b.get(key).and_then(Value::as_str).unwrap_or("");
                b.insert(key.into(), Value::String(format!("{before}{more}")));
            }
        }
        if !self.json.is_empty() {
            // The input as the client rebuilt it; a cut or broken one stays text.
            let input = serde_json::from_str(&self.json).unwrap_or(Value::String(self.json));
            b.insert("input".into(), input);
        }
        if !self.citations.is_empty() {
            let mut all = match b.remove("citations") {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            all.extend(self.citations);
            b.insert("citations".into(), Value::Array(all));
        }
        Value::Object(b)
    }
}
