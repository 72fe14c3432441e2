//! Anthropic `tools` / `tool_choice` → OpenAI function tools, `tool_choice`, `parallel_tool_calls`.

use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::wire::bad;

/// Custom tools (no `type`, or `custom`) become function tools whose `parameters` are the
/// `input_schema`. Anthropic server tools (`web_search_…`, `bash_…`, `text_editor_…`,
/// `computer_…`, `code_execution_…`, …) run inside Anthropic's API: no other provider can
/// execute them, so they are a 400 naming the tool rather than silently missing.
pub(super) fn tools(v: &Value) -> Result<Vec<Value>, GatewayError> {
    let list = v
        .as_array()
        .ok_or_else(|| bad("tools", "tools must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("tools[{i}]");
            let t = t
                .as_object()
                .ok_or_else(|| bad(&at, format!("{at} must be an object")))?;
            let name = t.get("name").and_then(Value::as_str);
            match t.get("type").and_then(Value::as_str) {
                None | Some("custom") => {}
                Some(kind) => {
                    return Err(bad(
                        &at,
                        format!(
                            "{at}: server tool '{}' (type '{kind}') runs only on Anthropic; \
                             route this request to an Anthropic model or remove the tool",
                            name.unwrap_or("")
                        ),
                    ));
                }
            }
            let name = name
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad(&format!("{at}.name"), format!("{at}.name is required")))?;
            let schema = t
                .get("input_schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    bad(
                        &format!("{at}.input_schema"),
                        format!("{at}.input_schema must be an object"),
                    )
                })?;
            let mut f = json!({"name": name});
            if let Some(d) = t.get("description").and_then(Value::as_str) {
                f["description"] = json!(d);
            }
            f["parameters"] = schema.clone();
            if let Some(s) = t.get("strict").and_then(Value::as_bool) {
                f["strict"] = json!(s);
            }
            Ok(json!({"type": "function", "function": f}))
        })
        .collect()
}

/// `(tool_choice, parallel_tool_calls)`. `disable_parallel_tool_use: true` is
/// `parallel_tool_calls: false` (meaningless, and so omitted, with `none`).
pub(super) fn tool_choice(
    v: Option<&Value>,
) -> Result<(Option<Value>, Option<bool>), GatewayError> {
    let Some(c) = v else { return Ok((None, None)) };
    let c = c
        .as_object()
        .ok_or_else(|| bad("tool_choice", "tool_choice must be an object"))?;
    let choice = match c.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => return Ok((Some(json!("none")), None)),
        Some("tool") => {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    bad(
                        "tool_choice.name",
                        "tool_choice.name is required when type is 'tool'",
                    )
                })?;
            json!({"type": "function", "function": {"name": name}})
        }
        _ => {
            return Err(bad(
                "tool_choice.type",
                "tool_choice.type must be one of auto, any, tool, none",
            ));
        }
    };
    let parallel = match c.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some(false),
        Some(Value::Bool(false)) => None,
        Some(_) => {
            return Err(bad(
                "tool_choice.disable_parallel_tool_use",
                "tool_choice.disable_parallel_tool_use must be a boolean",
            ));
        }
    };
    Ok((Some(choice), parallel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_map_to_openai() {
        let tc = |v: Value| tool_choice(Some(&v)).unwrap();
        assert_eq!(tc(json!({"type": "auto"})), (Some(json!("auto")), None));
        assert_eq!(
            tc(json!({"type": "any", "disable_parallel_tool_use": true})),
            (Some(json!("required")), Some(false))
        );
        assert_eq!(
            tc(json!({"type": "none", "disable_parallel_tool_use": true})),
            (Some(json!("none")), None)
        );
        assert_eq!(
            tc(json!({"type": "tool", "name": "f"})).0,
            Some(json!({"type": "function", "function": {"name": "f"}}))
        );
        assert_eq!(tool_choice(None).unwrap(), (None, None));
    }

    #[test]
    fn bad_tools_and_choices_are_400s_naming_the_field() {
        let msg = |r: Result<Vec<Value>, GatewayError>| r.unwrap_err().message().to_owned();
        assert!(msg(tools(&json!({}))).contains("tools must be an array"));
        assert!(msg(tools(&json!([1]))).contains("tools[0]"));
        assert!(msg(tools(&json!([{"input_schema": {}}]))).contains("tools[0].name"));
        assert!(msg(tools(&json!([{"name": "f"}]))).contains("tools[0].input_schema"));
        let e = msg(tools(
            &json!([{"name": "f", "input_schema": {}}, {"type": "web_search_20250305", "name": "web_search"}]),
        ));
        assert!(
            e.contains("tools[1]") && e.contains("web_search_20250305"),
            "{e}"
        );
        let cm = |v: Value| tool_choice(Some(&v)).unwrap_err().message().to_owned();
        assert!(cm(json!("auto")).contains("tool_choice"));
        assert!(cm(json!({"type": "tool"})).contains("tool_choice.name"));
        assert!(cm(json!({"type": "sometimes"})).contains("tool_choice.type"));
        assert!(
            cm(json!({"type": "auto", "disable_parallel_tool_use": "yes"}))
                .contains("disable_parallel_tool_use")
        );
    }
}
