//! Config key spelling: Portkey validates snake_case but honours camelCase at runtime.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Node keys with a meaning of their own; every other key is a provider option.
pub const RESERVED: &[&str] = &[
    "after_request_hooks",
    "api_key",
    "before_request_hooks",
    "cache",
    "custom_host",
    "default_input_guardrails",
    "default_output_guardrails",
    "forward_headers",
    "id",
    "input_guardrails",
    "input_mutators",
    "name",
    "on_status_codes",
    "output_guardrails",
    "output_mutators",
    "override_params",
    "provider",
    "request_timeout",
    "retry",
    "strategy",
    "strict_open_ai_compliance",
    "targets",
    "weight",
];

/// `overrideParams` → `override_params`; snake_case keys are returned unchanged.
pub fn snake(key: &str) -> Cow<'_, str> {
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A copy of one object level with snake_case keys; a snake_case key wins over its camelCase twin.
pub fn normalize(obj: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        match snake(k) {
            Cow::Borrowed(_) => {
                out.insert(k.clone(), v.clone());
            }
            Cow::Owned(s) => {
                if !obj.contains_key(&s) {
                    out.insert(s, v.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_camel_case() {
        assert_eq!(snake("overrideParams"), "override_params");
        assert_eq!(snake("strictOpenAiCompliance"), "strict_open_ai_compliance");
        assert_eq!(snake("api_key"), "api_key");
        assert_eq!(snake("useRetryAfterHeader"), "use_retry_after_header");
    }

    #[test]
    fn snake_case_wins() {
        let m = serde_json::json!({"apiKey": "camel", "api_key": "snake"});
        let n = normalize(m.as_object().unwrap());
        assert_eq!(n["api_key"], "snake");
        assert_eq!(n.len(), 1);
    }
}
