//! Typed views of Anthropic's wire objects: only the fields the gateway reads.

use std::borrow::Cow;

use portcullis_core::Usage;
use serde::Deserialize;
use serde_json::Value;

/// Anthropic's `usage` object. Every field is optional: `message_delta` sends a subset, and
/// cache fields may be `null`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Overwrites the fields `later` carries: `message_delta` counts are cumulative.
    pub fn merge(&mut self, later: &WireUsage) {
        let pick = |a: &mut Option<u64>, b: Option<u64>| {
            if b.is_some() {
                *a = b;
            }
        };
        pick(&mut self.input_tokens, later.input_tokens);
        pick(&mut self.output_tokens, later.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }

    pub fn cache_read(&self) -> u64 {
        self.cache_read_input_tokens.unwrap_or(0)
    }

    pub fn cache_write(&self) -> u64 {
        self.cache_creation_input_tokens.unwrap_or(0)
    }

    /// OpenAI counting: prompt tokens include cache reads and writes (Anthropic's
    /// `input_tokens` excludes both).
    pub fn to_usage(self) -> Usage {
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_read())
            .saturating_add(self.cache_write());
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            cached_tokens: self.cache_read(),
            cache_write_tokens: self.cache_write(),
            reasoning_tokens: 0,
        }
    }
}

/// A `message` object: the non-streamed response, and `message_start.message`.
#[derive(Debug, Deserialize)]
pub(super) struct WireMessage {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    /// Required in a response (its absence means the body is not a message).
    #[serde(default)]
    pub content: Option<Vec<Value>>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// One stream event's data. Blocks and deltas stay `Value`s: non-strict mode re-emits them.
#[derive(Debug, Deserialize)]
pub(super) struct WireEvent<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub message: Option<WireMessage>,
    #[serde(default)]
    pub content_block: Option<Value>,
    #[serde(default)]
    pub delta: Option<Value>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// The `type` of a block or delta, or "".
pub(super) fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A string field of a block or delta, or "".
pub(super) fn str_field<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_cache_tokens_as_prompt_tokens() {
        let u: WireUsage = serde_json::from_str(
            r#"{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":null}"#,
        )
        .unwrap();
        let n = u.to_usage();
        assert_eq!(
            (n.prompt_tokens, n.completion_tokens, n.total_tokens),
            (110, 5, 115)
        );
        assert_eq!((n.cached_tokens, n.cache_write_tokens), (100, 0));
    }

    #[test]
    fn later_usage_overrides_only_present_fields() {
        let mut u: WireUsage = serde_json::from_str(
            r#"{"input_tokens":10,"output_tokens":1,"cache_creation_input_tokens":7}"#,
        )
        .unwrap();
        u.merge(&serde_json::from_str(r#"{"output_tokens":42}"#).unwrap());
        assert_eq!(u.input_tokens, Some(10));
        assert_eq!(u.output_tokens, Some(42));
        assert_eq!(u.cache_write(), 7);
    }
}
