//! OpenAI `tools` / `tool_choice` / `parallel_tool_calls` → Anthropic's tool fields.

use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::messages::bad;

/// Function tools become `{name, description, input_schema}`; anything else that already names
/// a `type` (Anthropic server tools such as `web_search_20250305`, `bash_20250124`) or is an
/// Anthropic custom tool (`name` + `input_schema`) passes through untouched.
pub(super) fn tools(v: &Value) -> Result<Vec<Value>, GatewayError> {
    let list = v.as_array().ok_or_else(|| bad("tools must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let kind = t.get("type").and_then(Value::as_str);
            let function = t.get("function");
            match (kind, function) {
                (Some("function"), _) | (None, Some(_)) => function_tool(t, i),
                (Some(_), _) => Ok(t.clone()),
                (None, None) if t.get("name").is_some() && t.get("input_schema").is_some() => {
                    Ok(t.clone())
                }
                (None, None) => Err(bad(format!("tools[{i}] needs a type"))),
            }
        })
        .collect()
}

fn function_tool(t: &Value, i: usize) -> Result<Value, GatewayError> {
    let f = t
        .get("function")
        .filter(|f| f.is_object())
        .ok_or_else(|| bad(format!("tools[{i}].function must be an object")))?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("tools[{i}].function needs a name")))?;
    let mut out = json!({"name": name});
    if let Some(d) = f.get("description").filter(|d| !d.is_null()) {
        out["description"] = d.clone();
    }
    // The schema is sent whole (Portkey rebuilt it from type/properties/required only, losing
    // `$defs`, `additionalProperties`, …). OpenAI allows omitting it; Anthropic does not.
    out["input_schema"] = match f.get("parameters") {
        Some(p) if !p.is_null() => p.clone(),
        _ => json!({"type": "object", "properties": {}}),
    };
    // `strict` is not forwarded: Anthropic only honours it on recent models and rejects
    // schemas OpenAI accepts, so forwarding it would break requests that work today.
    if let Some(cc) = t.get("cache_control").or_else(|| f.get("cache_control")) {
        out["cache_control"] = cc.clone();
    }
    Ok(out)
}

/// The Anthropic `tool_choice`, if any. `parallel_tool_calls: false` becomes
/// `disable_parallel_tool_use: true` (on `auto` when the client named no choice).
pub(super) fn tool_choice(
    choice: Option<&Value>,
    parallel: Option<&Value>,
) -> Result<Option<Value>, GatewayError> {
    let mut out = match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            other => {
                return Err(bad(format!(
                    "tool_choice '{other}' is not one of auto, none, required"
                )));
            }
        }),
        Some(obj @ Value::Object(_)) => Some(match obj.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = obj
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("tool_choice.function needs a name"))?;
                json!({"type": "tool", "name": name})
            }
            Some("auto" | "any" | "tool" | "none") => obj.clone(),
            other => {
                return Err(bad(format!(
                    "tool_choice type '{}' is not supported by anthropic",
                    other.unwrap_or("")
                )));
            }
        }),
        Some(_) => return Err(bad("tool_choice must be a string or an object")),
    };
    if parallel.and_then(Value::as_bool) == Some(false) {
        let c = out.get_or_insert_with(|| json!({"type": "auto"}));
        // `none` takes no options: there is nothing to parallelise.
        if c.get("type").and_then(Value::as_str) != Some("none") {
            c["disable_parallel_tool_use"] = json!(true);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_tool_choice_form() {
        let tc = |c: Value| tool_choice(Some(&c), None).unwrap().unwrap();
        assert_eq!(tc(json!("auto")), json!({"type":"auto"}));
        assert_eq!(tc(json!("none")), json!({"type":"none"}));
        assert_eq!(tc(json!("required")), json!({"type":"any"}));
        assert_eq!(
            tc(json!({"type":"function","function":{"name":"f"}})),
            json!({"type":"tool","name":"f"})
        );
        assert_eq!(tc(json!({"type":"any"})), json!({"type":"any"}));
        let no_par = Some(json!(false));
        assert_eq!(
            tool_choice(None, no_par.as_ref()).unwrap(),
            Some(json!({"type":"auto","disable_parallel_tool_use":true}))
        );
        assert_eq!(
            tool_choice(Some(&json!("none")), no_par.as_ref()).unwrap(),
            Some(json!({"type":"none"}))
        );
        assert_eq!(tool_choice(None, Some(&json!(true))).unwrap(), None);
    }

    #[test]
    fn rejects_malformed_tools_and_choices() {
        assert!(
            tool_choice(Some(&json!("sometimes")), None)
                .unwrap_err()
                .message()
                .contains("sometimes")
        );
        assert!(
            tool_choice(Some(&json!({"type":"function"})), None)
                .unwrap_err()
                .message()
                .contains("name")
        );
        assert!(tool_choice(Some(&json!({"type":"allowed_tools"})), None).is_err());
        assert!(tool_choice(Some(&json!(3)), None).is_err());
        assert!(tools(&json!({})).is_err());
        assert!(
            tools(&json!([{"type":"function","function":{}}]))
                .unwrap_err()
                .message()
                .contains("tools[0]")
        );
        assert!(tools(&json!([{"description":"x"}])).is_err());
    }

    #[test]
    fn function_tools_get_a_schema_even_without_parameters() {
        let t =
            tools(&json!([{"type":"function","function":{"name":"now","strict":true}}])).unwrap();
        assert_eq!(
            t[0],
            json!({"name":"now","input_schema":{"type":"object","properties":{}}})
        );
    }
}
