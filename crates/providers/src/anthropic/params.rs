//! Generation parameters: `max_tokens`, thinking (`reasoning_effort`) and `response_format`.

use portcullis_core::{GatewayError, JsonObject};
use serde_json::{Value, json};

use super::messages::bad;

/// Anthropic requires `max_tokens`; OpenAI does not (absent means "up to the model's limit").
/// 4096 is the largest output every Claude model accepts (Claude 3 Haiku and Opus stop there),
/// so a request without a limit works on any model instead of failing with a 400.
pub(super) const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// `max_completion_tokens` (OpenAI's current name) or `max_tokens`, if given.
pub(super) fn max_tokens(body: &JsonObject) -> Result<Option<u64>, GatewayError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                return match v.as_u64().filter(|n| *n > 0) {
                    Some(n) => Ok(Some(n)),
                    None => Err(bad(format!("{key} must be a positive integer"))),
                };
            }
        }
    }
    Ok(None)
}

/// The thinking budget for OpenAI's `reasoning_effort`.
fn effort_budget(effort: &Value) -> Result<Option<u64>, GatewayError> {
    match effort.as_str() {
        Some("none") => Ok(None),
        Some("minimal" | "low") => Ok(Some(MIN_THINKING_BUDGET)),
        Some("medium") => Ok(Some(4096)),
        Some("high") => Ok(Some(16384)),
        _ => Err(bad(
            "reasoning_effort must be one of none, minimal, low, medium, high",
        )),
    }
}

/// `(max_tokens, synthesised thinking)`. Thinking tokens count against `max_tokens` and the
/// budget must stay below it: without an explicit limit the default is added on top of the
/// budget; with one, the budget shrinks to fit (and thinking is left off if it cannot).
pub(super) fn thinking(
    body: &JsonObject,
    explicit: Option<u64>,
) -> Result<(u64, Option<Value>), GatewayError> {
    if let Some(t) = body.get("thinking").filter(|t| !t.is_null()) {
        // The client's own `thinking` passes through (see NATIVE); only the default limit adapts.
        let budget = t.get("budget_tokens").and_then(Value::as_u64).unwrap_or(0);
        return Ok((explicit.unwrap_or(budget + DEFAULT_MAX_TOKENS), None));
    }
    let budget = match body.get("reasoning_effort").filter(|e| !e.is_null()) {
        Some(e) => effort_budget(e)?,
        None => None,
    };
    let Some(budget) = budget else {
        return Ok((explicit.unwrap_or(DEFAULT_MAX_TOKENS), None));
    };
    match explicit {
        None => Ok((budget + DEFAULT_MAX_TOKENS, Some(enabled(budget)))),
        Some(max) if max > budget => Ok((max, Some(enabled(budget)))),
        Some(max) if max > MIN_THINKING_BUDGET => Ok((max, Some(enabled(max - 1)))),
        Some(max) => Ok((max, None)),
    }
}

fn enabled(budget: u64) -> Value {
    json!({"type": "enabled", "budget_tokens": budget})
}

/// `response_format`: `json_schema` → `output_config.format` (Anthropic structured outputs,
/// generally available, no beta header). `json_object` has no Anthropic equivalent (structured
/// outputs need a closed schema), so a system instruction asks for a JSON object instead.
pub(super) fn response_format(
    body: &JsonObject,
    system: &mut Vec<Value>,
) -> Result<Option<Value>, GatewayError> {
    let Some(rf) = body.get("response_format").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => {
            system.push(json!({"type": "text", "text": JSON_OBJECT_INSTRUCTION}));
            Ok(None)
        }
        Some("json_schema") => {
            let schema = rf
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| bad("response_format.json_schema.schema must be an object"))?;
            Ok(Some(json!({"type": "json_schema", "schema": schema})))
        }
        other => Err(bad(format!(
            "response_format type '{}' is not supported by anthropic",
            other.unwrap_or("")
        ))),
    }
}

const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object only, with no text before or after it.";
