//! Token usage as reported by a provider, normalised to OpenAI's counting rules.

use serde::{Deserialize, Serialize};
use serde_json::Number;

/// Normalised usage. `prompt_tokens` includes cached and cache-write tokens, as OpenAI counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic cache creation).
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning (already inside `completion_tokens`).
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Reads an OpenAI-shaped `usage` object; absent fields count as zero.
    pub fn from_openai(usage: &serde_json::Value) -> Option<Usage> {
        let obj = usage.as_object()?;
        let n = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_u64).unwrap_or(0);
        let prompt = n(obj.get("prompt_tokens"));
        let completion = n(obj.get("completion_tokens"));
        let details = obj.get("prompt_tokens_details");
        let cached = n(details.and_then(|d| d.get("cached_tokens")));
        let cache_write = n(details.and_then(|d| d.get("cache_write_tokens")))
            .max(n(obj.get("cache_creation_input_tokens")));
        let reasoning = n(obj
            .get("completion_tokens_details")
            .and_then(|d| d.get("reasoning_tokens")));
        let total = obj
            .get("total_tokens")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(prompt.saturating_add(completion));
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            cached_tokens: cached,
            cache_write_tokens: cache_write,
            reasoning_tokens: reasoning,
        })
    }
}

/// OpenAI's `usage` object as it arrives, read without building a JSON tree. Counts are taken
/// leniently (a float or null counts as its integer part or zero), never as a parse failure.
#[derive(Debug, Default, Deserialize)]
pub struct OpenAiUsageWire {
    #[serde(default)]
    prompt_tokens: Option<Number>,
    #[serde(default)]
    completion_tokens: Option<Number>,
    #[serde(default)]
    total_tokens: Option<Number>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetailsWire>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetailsWire>,
    #[serde(default)]
    cache_creation_input_tokens: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetailsWire {
    #[serde(default)]
    cached_tokens: Option<Number>,
    #[serde(default)]
    cache_write_tokens: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
struct CompletionDetailsWire {
    #[serde(default)]
    reasoning_tokens: Option<Number>,
}

fn count(n: Option<&Number>) -> u64 {
    n.and_then(|n| {
        n.as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    })
    .unwrap_or(0)
}

impl From<&OpenAiUsageWire> for Usage {
    fn from(w: &OpenAiUsageWire) -> Usage {
        let prompt = count(w.prompt_tokens.as_ref());
        let completion = count(w.completion_tokens.as_ref());
        let details = w.prompt_tokens_details.as_ref();
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: w
                .total_tokens
                .as_ref()
                .map_or(prompt.saturating_add(completion), |t| count(Some(t))),
            cached_tokens: count(details.and_then(|d| d.cached_tokens.as_ref())),
            cache_write_tokens: count(details.and_then(|d| d.cache_write_tokens.as_ref()))
                .max(count(w.cache_creation_input_tokens.as_ref())),
            reasoning_tokens: count(
                w.completion_tokens_details
                    .as_ref()
                    .and_then(|d| d.reasoning_tokens.as_ref()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_usage_matches_the_value_reader() {
        let v = json!({
            "prompt_tokens": 100, "completion_tokens": 20.0, "total_tokens": null,
            "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 12}
        });
        let wire: OpenAiUsageWire = serde_json::from_value(v.clone()).unwrap();
        let u = Usage::from(&wire);
        assert_eq!(u.prompt_tokens, 100);
        assert_eq!(u.completion_tokens, 20);
        assert_eq!(u.total_tokens, 120);
        assert_eq!(u.cached_tokens, 64);
        assert_eq!(u.cache_write_tokens, 3);
        assert_eq!(u.reasoning_tokens, 12);
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn reads_openai_usage_with_details() {
        let u = Usage::from_openai(&json!({
            "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 12}
        }))
        .unwrap();
        assert_eq!(u.prompt_tokens, 100);
        assert_eq!(u.cached_tokens, 64);
        assert_eq!(u.reasoning_tokens, 12);
        assert_eq!(u.total_tokens, 120);
    }

    #[test]
    fn total_defaults_to_sum() {
        let u = Usage::from_openai(&json!({"prompt_tokens": 3, "completion_tokens": 4})).unwrap();
        assert_eq!(u.total_tokens, 7);
    }
}
