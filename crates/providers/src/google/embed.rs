//! OpenAI embeddings ↔ Gemini `embedContent` / `batchEmbedContents`.

use portcullis_core::{GatewayError, JsonObject, Usage};
use serde_json::{Map, Value, json};

use super::request::{bad_request, get};
use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, to_bytes};

/// The method and body for an embeddings request: one string → `embedContent`, an array of
/// strings → `batchEmbedContents` (each request naming `model_path`, as Gemini requires).
pub(super) fn request_body(
    body: &JsonObject,
    model_path: &str,
) -> Result<(&'static str, Value), GatewayError> {
    let mut options = Map::new();
    if let Some(d) = get(body, "dimensions") {
        options.insert("outputDimensionality".into(), d.clone());
    }
    for (from, to) in [
        ("task_type", "taskType"),
        ("taskType", "taskType"),
        ("title", "title"),
    ] {
        if let Some(v) = get(body, from) {
            options.insert(to.into(), v.clone());
        }
    }
    let request = |model: Option<&str>, text: &str| {
        let mut r = Map::new();
        if let Some(m) = model {
            r.insert("model".into(), json!(m));
        }
        r.insert("content".into(), json!({"parts": [{"text": text}]}));
        r.extend(options.clone());
        Value::Object(r)
    };
    match get(body, "input") {
        Some(Value::String(s)) => Ok(("embedContent", request(None, s))),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut requests = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let text = item.as_str().ok_or_else(|| {
                    bad_request(format!(
                        "input[{i}] must be a string: google embeds text, not token arrays"
                    ))
                })?;
                requests.push(request(Some(model_path), text));
            }
            Ok(("batchEmbedContents", json!({ "requests": requests })))
        }
        _ => Err(bad_request(
            "`input` must be a string or a non-empty array of strings",
        )),
    }
}

/// `{"embedding": {"values"}}` or `{"embeddings": [{"values"}]}` → OpenAI's embedding list.
/// Vectors are always floats: OpenAI's SDKs decode either floats or base64.
pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let invalid = || invalid_response(&ctx.provider, body);
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    let vectors: Vec<&Value> = match (v.get("embedding"), v.get("embeddings")) {
        (Some(e), _) => vec![e],
        (None, Some(Value::Array(es))) => es.iter().collect(),
        _ => return Err(invalid()),
    };
    let mut data = Vec::with_capacity(vectors.len());
    for (i, e) in vectors.into_iter().enumerate() {
        let values = e
            .get("values")
            .filter(|v| v.is_array())
            .ok_or_else(invalid)?;
        data.push(json!({"object": "embedding", "index": i, "embedding": values}));
    }
    // Gemini reports no token counts for embeddings (newer versions may add `usageMetadata`).
    let prompt = v
        .pointer("/usageMetadata/promptTokenCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let usage = Usage {
        prompt_tokens: prompt,
        total_tokens: prompt,
        ..Usage::default()
    };
    let out = json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    });
    Ok(Translated {
        body: to_bytes(&out),
        usage: Some(usage),
        model: Some(ctx.model.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_token_arrays_and_empty_input() {
        for input in [
            json!([[1, 2, 3]]),
            json!([1, 2]),
            json!([]),
            json!(null),
            json!(5),
        ] {
            let body = json!({"model": "text-embedding-004", "input": input});
            let e = request_body(body.as_object().unwrap(), "models/x").unwrap_err();
            assert_eq!(e.status().as_u16(), 400);
            assert!(e.message().contains("input"));
        }
    }
}
