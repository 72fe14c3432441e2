//! OpenAI sampling, output-format and reasoning parameters → Gemini's `generationConfig`.

use portcullis_core::{GatewayError, JsonObject};
use serde_json::{Map, Value, json};

use super::request::{bad_request, get};
use super::schema;

pub(super) fn generation_config(body: &JsonObject) -> Result<Map<String, Value>, GatewayError> {
    let mut cfg = Map::new();
    let copy = |cfg: &mut Map<String, Value>, from: &str, to: &str| {
        if let Some(v) = get(body, from) {
            cfg.insert(to.to_owned(), v.clone());
        }
    };
    copy(&mut cfg, "temperature", "temperature");
    copy(&mut cfg, "top_p", "topP");
    copy(&mut cfg, "top_k", "topK");
    copy(&mut cfg, "max_tokens", "maxOutputTokens");
    copy(&mut cfg, "max_completion_tokens", "maxOutputTokens");
    copy(&mut cfg, "n", "candidateCount");
    copy(&mut cfg, "presence_penalty", "presencePenalty");
    copy(&mut cfg, "frequency_penalty", "frequencyPenalty");
    copy(&mut cfg, "seed", "seed");
    if get(body, "logprobs").and_then(Value::as_bool) == Some(true) {
        cfg.insert("responseLogprobs".into(), Value::Bool(true));
        copy(&mut cfg, "top_logprobs", "logprobs");
    }
    match get(body, "stop") {
        None => {}
        Some(Value::String(s)) => {
            cfg.insert("stopSequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            cfg.insert("stopSequences".into(), Value::Array(a.clone()));
        }
        Some(_) => {
            return Err(bad_request(
                "`stop` must be a string or an array of strings",
            ));
        }
    }
    response_format(body, &mut cfg)?;
    if let Some(t) = thinking_config(body)? {
        cfg.insert("thinkingConfig".into(), t);
    }
    if let Some(m) = get(body, "modalities") {
        let list = m
            .as_array()
            .filter(|a| a.iter().all(Value::is_string))
            .ok_or_else(|| bad_request("`modalities` must be an array of strings"))?;
        let upper = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_uppercase);
        cfg.insert("responseModalities".into(), upper.collect());
    }
    if let Some(Value::Object(img)) = get(body, "image_config") {
        let camel = img
            .iter()
            .map(|(k, v)| (snake_to_camel(k), v.clone()))
            .collect();
        cfg.insert("imageConfig".into(), Value::Object(camel));
    }
    Ok(cfg)
}

fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `json_schema` goes to `responseJsonSchema`, which Google documents as taking JSON Schema
/// itself ($ref/$defs, anyOf, additionalProperties, type arrays) on all current models, so the
/// schema keeps its full meaning instead of being squeezed into the OpenAPI subset.
fn response_format(body: &JsonObject, cfg: &mut Map<String, Value>) -> Result<(), GatewayError> {
    let Some(rf) = get(body, "response_format") else {
        return Ok(());
    };
    let kind = rf.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => {}
        "json_object" => {
            cfg.insert("responseMimeType".into(), json!("application/json"));
        }
        "json_schema" => {
            cfg.insert("responseMimeType".into(), json!("application/json"));
            let js = rf.get("json_schema");
            if let Some(s) = js.and_then(|j| j.get("schema")).filter(|s| s.is_object()) {
                cfg.insert("responseJsonSchema".into(), schema::for_json_schema(s));
            }
        }
        other => {
            return Err(bad_request(format!(
                "`response_format.type` must be text, json_object or json_schema, not {other:?}"
            )));
        }
    }
    Ok(())
}

/// `reasoning_effort` budgets are the ones Google's own OpenAI-compatible endpoint uses
/// (low 1024, medium 8192, high 24576, none 0); `minimal` is 512, the smallest budget every
/// 2.5 model accepts, and `xhigh` is capped at `high` (24576 is Flash's maximum).
/// Portkey's `thinking: {type: "enabled", budget_tokens}` also asks for thought summaries.
fn thinking_config(body: &JsonObject) -> Result<Option<Value>, GatewayError> {
    if let Some(t) = get(body, "thinking") {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("enabled");
        let budget = t.get("budget_tokens").filter(|b| b.is_number());
        return Ok(Some(match (kind, budget) {
            ("disabled", _) => json!({"thinkingBudget": 0}),
            (_, Some(b)) => json!({"thinkingBudget": b, "includeThoughts": true}),
            (_, None) => json!({"includeThoughts": true}),
        }));
    }
    let Some(effort) = get(body, "reasoning_effort") else {
        return Ok(None);
    };
    let budget = match effort.as_str().unwrap_or("") {
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" => 24576,
        _ => {
            return Err(bad_request(
                "`reasoning_effort` must be one of none, minimal, low, medium, high",
            ));
        }
    };
    Ok(Some(json!({ "thinkingBudget": budget })))
}
