//! Gemini `models.list` → OpenAI's model list.

use portcullis_core::GatewayError;
use serde_json::{Value, json};

use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, to_bytes};

/// `{"models": [{"name": "models/<id>", …}]}` → `{"object": "list", "data": [{"id": "<id>", …}]}`.
/// Gemini gives no creation time; `created` is the gateway's, as for other translated bodies.
pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    if !v.is_object() {
        return Err(invalid_response(&ctx.provider, body));
    }
    let models = v
        .get("models")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let data: Vec<Value> = models
        .iter()
        .filter_map(|m| m.get("name").and_then(Value::as_str))
        .map(|name| {
            let id = name.strip_prefix("models/").unwrap_or(name);
            json!({"id": id, "object": "model", "created": ctx.created, "owned_by": "google"})
        })
        .collect();
    Ok(Translated {
        body: to_bytes(&json!({"object": "list", "data": data})),
        usage: None,
        model: None,
    })
}
