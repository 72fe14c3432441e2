//! OpenAI chunks (chat and legacy completions) folded into the response they stand for.

use portcullis_core::sse::SseEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Budget, Notes};
use crate::text::Text;

/// One OpenAI-format chunk, borrowed from its event (the passthrough translator reads its
/// checks from the same parse).
#[derive(Deserialize)]
pub struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(default)]
    created: Option<Value>,
    #[serde(borrow, default)]
    pub model: Option<Text<'a>>,
    #[serde(borrow, default)]
    system_fingerprint: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub choices: Option<Vec<ChoiceDelta<'a>>>,
    #[serde(default)]
    pub usage: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Deserialize)]
pub struct ChoiceDelta<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    /// Legacy completions carry text here instead of in a delta.
    #[serde(borrow, default)]
    text: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    role: Option<Text<'a>>,
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Text<'a>>,
    /// A string on most servers; anything else is left out.
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(borrow, default)]
    refusal: Option<Text<'a>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    arguments: Option<Text<'a>>,
}

#[derive(Default)]
struct Choice {
    index: u32,
    role: Option<String>,
    content: Option<String>,
    reasoning: Option<String>,
    /// The name the stream gave its reasoning (`reasoning_content` or `reasoning`).
    reasoning_key: &'static str,
    refusal: Option<String>,
    tools: Vec<Tool>,
    finish_reason: Option<String>,
}

struct Tool {
    index: u32,
    id: Option<String>,
    kind: Option<String>,
    name: String,
    arguments: String,
}

/// What the chunks said so far.
#[derive(Default)]
pub(super) struct Chunks {
    text: bool,
    id: Option<String>,
    created: Option<Value>,
    model: Option<String>,
    fingerprint: Option<String>,
    choices: Vec<Choice>,
    usage: Option<Value>,
    error: Option<Value>,
}

fn set_once(slot: &mut Option<String>, v: Option<Text<'_>>) {
    if slot.is_none()
        && let Some(v) = v
    {
        *slot = Some(v.into_owned());
    }
}

fn append(slot: &mut Option<String>, s: &str, budget: &mut Budget) {
    budget.push(slot.get_or_insert_with(String::new), s);
}

/// The entry with `index` (a choice, a tool call), added when new; `None` when the cap has no
/// room for another.
fn at_index<'v, T>(
    entries: &'v mut Vec<T>,
    index: u32,
    budget: &mut Budget,
    index_of: impl Fn(&T) -> u32,
    new: impl FnOnce() -> T,
) -> Option<&'v mut T> {
    let at = match entries.iter().position(|e| index_of(e) == index) {
        Some(at) => at,
        None if budget.entry() => {
            entries.push(new());
            entries.len() - 1
        }
        None => return None,
    };
    entries.get_mut(at)
}

impl Chunks {
    pub(super) fn new(text: bool) -> Chunks {
        Chunks {
            text,
            ..Chunks::default()
        }
    }

    /// Folds one event in; false when it does not parse as a chunk.
    pub(super) fn event(&mut self, ev: &SseEvent, budget: &mut Budget) -> bool {
        if ev.is_done() {
            return true;
        }
        let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(&ev.data) else {
            return false;
        };
        self.fold(chunk, budget);
        true
    }

    pub(super) fn fold(&mut self, chunk: Chunk<'_>, budget: &mut Budget) {
        set_once(&mut self.id, chunk.id);
        set_once(&mut self.model, chunk.model);
        set_once(&mut self.fingerprint, chunk.system_fingerprint);
        if self.created.is_none() {
            self.created = chunk.created;
        }
        if let Some(u) = chunk.usage.filter(|u| !u.is_null()) {
            self.usage = Some(u);
        }
        if let Some(e) = chunk.error.filter(|e| !e.is_null()) {
            self.error = Some(e);
        }
        for c in chunk.choices.unwrap_or_default() {
            let Some(choice) = at_index(
                &mut self.choices,
                c.index,
                budget,
                |c| c.index,
                || Choice {
                    index: c.index,
                    ..Choice::default()
                },
            ) else {
                continue;
            };
            if let Some(t) = c.text {
                append(&mut choice.content, &t, budget);
            }
            if let Some(d) = c.delta {
                choice.delta(d, budget);
            }
            if let Some(f) = c.finish_reason {
                choice.finish_reason = Some(f.into_owned());
            }
        }
    }

    /// The response a non-streamed request would have had, as JSON text (written straight from
    /// the parts: no JSON tree is built).
    pub(super) fn into_json(mut self, notes: &Notes) -> Option<Vec<u8>> {
        self.choices.sort_by_key(|c| c.index);
        for c in &mut self.choices {
            c.tools.sort_by_key(|t| t.index);
        }
        let text = self.text;
        let out = Completion {
            id: self.id.as_deref(),
            object: if text {
                "text_completion"
            } else {
                "chat.completion"
            },
            created: &self.created,
            model: self.model.as_deref(),
            system_fingerprint: self.fingerprint.as_deref(),
            choices: self.choices.iter().map(|c| c.out(text)).collect(),
            usage: self.usage.as_ref(),
            error: self.error.as_ref(),
            notes,
        };
        serde_json::to_vec(&out).ok()
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: Option<&'a str>,
    object: &'static str,
    created: &'a Option<Value>,
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
    choices: Vec<ChoiceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Value>,
    #[serde(flatten)]
    notes: &'a Notes,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ChoiceOut<'a> {
    Message {
        index: u32,
        message: MessageOut<'a>,
        finish_reason: Option<&'a str>,
    },
    Text {
        index: u32,
        text: &'a str,
        finish_reason: Option<&'a str>,
    },
}

#[derive(Serialize)]
struct MessageOut<'a> {
    role: &'a str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tool_calls: Vec<ToolOut<'a>>,
}

#[derive(Serialize)]
struct ToolOut<'a> {
    id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl Choice {
    fn delta(&mut self, d: Delta<'_>, budget: &mut Budget) {
        set_once(&mut self.role, d.role);
        if let Some(t) = d.content {
            append(&mut self.content, &t, budget);
        }
        if let Some(t) = d.reasoning_content {
            self.reasoning_key = "reasoning_content";
            append(&mut self.reasoning, &t, budget);
        } else if let Some(Value::String(t)) = d.reasoning {
            if self.reasoning_key.is_empty() {
                self.reasoning_key = "reasoning";
            }
            append(&mut self.reasoning, &t, budget);
        }
        if let Some(t) = d.refusal {
            append(&mut self.refusal, &t, budget);
        }
        for t in d.tool_calls.unwrap_or_default() {
            let new = || Tool {
                index: t.index,
                id: None,
                kind: None,
                name: String::new(),
                arguments: String::new(),
            };
            let Some(tool) = at_index(&mut self.tools, t.index, budget, |x| x.index, new) else {
                continue;
            };
            set_once(&mut tool.id, t.id);
            set_once(&mut tool.kind, t.kind);
            if let Some(f) = t.function {
                if let Some(n) = f.name {
                    budget.push(&mut tool.name, &n);
                }
                if let Some(a) = f.arguments {
                    budget.push(&mut tool.arguments, &a);
                }
            }
        }
    }

    fn out(&self, text: bool) -> ChoiceOut<'_> {
        if text {
            return ChoiceOut::Text {
                index: self.index,
                text: self.content.as_deref().unwrap_or(""),
                finish_reason: self.finish_reason.as_deref(),
            };
        }
        let reasoning = self.reasoning.as_deref();
        let named = |key: &str| reasoning.filter(|_| self.reasoning_key == key);
        ChoiceOut::Message {
            index: self.index,
            message: MessageOut {
                role: self.role.as_deref().unwrap_or("assistant"),
                content: self.content.as_deref(),
                reasoning_content: named("reasoning_content"),
                reasoning: named("reasoning"),
                refusal: self.refusal.as_deref(),
                tool_calls: self
                    .tools
                    .iter()
                    .map(|t| ToolOut {
                        id: t.id.as_deref(),
                        kind: t.kind.as_deref().unwrap_or("function"),
                        function: FunctionOut {
                            name: &t.name,
                            arguments: &t.arguments,
                        },
                    })
                    .collect(),
            },
            finish_reason: self.finish_reason.as_deref(),
        }
    }
}
