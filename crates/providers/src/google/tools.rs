//! OpenAI `tools`/`functions` and `tool_choice` → Gemini `tools` and `toolConfig`.

use portcullis_core::{GatewayError, JsonObject};
use serde_json::{Map, Value, json};

use super::request::{bad_request, get};
use super::schema;

/// Gemini's built-in tools, accepted as `{"type": "<name>", ...}` entries.
const BUILT_IN_TOOLS: &[&str] = &[
    "google_search",
    "googleSearch",
    "google_search_retrieval",
    "googleSearchRetrieval",
    "code_execution",
    "codeExecution",
    "url_context",
    "urlContext",
    "google_maps",
    "googleMaps",
    "file_search",
    "fileSearch",
    "computer_use",
    "computerUse",
];

pub(super) fn tools(body: &JsonObject) -> Result<Vec<Value>, GatewayError> {
    let mut declarations = Vec::new();
    let mut others = Vec::new();
    if let Some(list) = get(body, "tools") {
        let list = list
            .as_array()
            .ok_or_else(|| bad_request("`tools` must be an array"))?;
        for (i, tool) in list.iter().enumerate() {
            let obj = tool
                .as_object()
                .ok_or_else(|| bad_request(format!("tools[{i}] must be an object")))?;
            match obj.get("type").and_then(Value::as_str) {
                Some("function") => {
                    let f = obj.get("function").ok_or_else(|| {
                        bad_request(format!("tools[{i}] has type function but no `function`"))
                    })?;
                    declarations.push(declaration(f, &format!("tools[{i}].function"))?);
                }
                Some(t) if BUILT_IN_TOOLS.contains(&t) => {
                    let config = obj.get(t).cloned().unwrap_or_else(|| json!({}));
                    others.push(json!({ t: config }));
                }
                Some(t) => {
                    return Err(bad_request(format!(
                        "tools[{i}]: type {t:?} is not supported by google"
                    )));
                }
                // Already in Gemini's shape (`{"googleSearch": {}}`, `{"functionDeclarations": …}`).
                None => others.push(tool.clone()),
            }
        }
    }
    // Legacy OpenAI `functions`.
    if let Some(list) = get(body, "functions").and_then(Value::as_array) {
        for (i, f) in list.iter().enumerate() {
            declarations.push(declaration(f, &format!("functions[{i}]"))?);
        }
    }
    let mut out = Vec::with_capacity(others.len() + 1);
    if !declarations.is_empty() {
        out.push(json!({ "functionDeclarations": declarations }));
    }
    out.extend(others);
    Ok(out)
}

fn declaration(f: &Value, path: &str) -> Result<Value, GatewayError> {
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad_request(format!("{path} needs a `name`")))?;
    let mut d = Map::new();
    d.insert("name".into(), json!(name));
    if let Some(desc) = f.get("description").and_then(Value::as_str) {
        d.insert("description".into(), json!(desc));
    }
    if let Some(params) = f
        .get("parameters")
        .filter(|p| p.is_object())
        .and_then(schema::for_parameters)
    {
        d.insert("parameters".into(), params);
    }
    Ok(Value::Object(d))
}

pub(super) fn tool_config(body: &JsonObject) -> Result<Option<Value>, GatewayError> {
    let Some(choice) = get(body, "tool_choice").or_else(|| get(body, "function_call")) else {
        return Ok(None);
    };
    let invalid = || bad_request("`tool_choice` must be auto, none, required or a function");
    let (mode, names): (&str, Vec<Value>) = match choice {
        Value::String(s) => match s.as_str() {
            "auto" => ("AUTO", vec![]),
            "none" => ("NONE", vec![]),
            "required" | "any" => ("ANY", vec![]),
            _ => return Err(invalid()),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("allowed_tools") => {
                let at = o.get("allowed_tools").ok_or_else(invalid)?;
                let names = at
                    .get("tools")
                    .and_then(Value::as_array)
                    .map(|ts| {
                        ts.iter()
                            .filter_map(|t| t.pointer("/function/name").cloned())
                            .collect()
                    })
                    .unwrap_or_default();
                match at.get("mode").and_then(Value::as_str) {
                    // Gemini restricts names only in ANY mode; AUTO keeps every tool callable.
                    Some("required") => ("ANY", names),
                    _ => ("AUTO", vec![]),
                }
            }
            // `{type: function, function: {name}}`, or the legacy `function_call: {name}`.
            _ => {
                let name = o
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .or_else(|| o.get("name"))
                    .filter(|n| n.is_string())
                    .ok_or_else(invalid)?;
                ("ANY", vec![name.clone()])
            }
        },
        _ => return Err(invalid()),
    };
    let mut cfg = json!({ "mode": mode });
    if !names.is_empty() {
        cfg["allowedFunctionNames"] = Value::Array(names);
    }
    Ok(Some(json!({ "functionCallingConfig": cfg })))
}
