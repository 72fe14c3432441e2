//! Anthropic content blocks → OpenAI content parts: text, images, documents.

use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::wire::bad;

/// The block's `type`, or a 400 naming it.
pub(super) fn kind<'b>(b: &'b Value, at: &str) -> Result<&'b str, GatewayError> {
    b.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(at, format!("{at} must be a content block with a 'type'")))
}

pub(super) fn string_field<'b>(b: &'b Value, key: &str, at: &str) -> Result<&'b str, GatewayError> {
    b.get(key).and_then(Value::as_str).ok_or_else(|| {
        bad(
            &format!("{at}.{key}"),
            format!("{at}.{key} must be a string"),
        )
    })
}

pub(super) fn unsupported(k: &str, at: &str, role: &str) -> GatewayError {
    bad(
        at,
        format!("{at}: content block type '{k}' is not supported in {role} messages"),
    )
}

pub(super) fn text_part(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

pub(super) fn image_part(b: &Value, at: &str) -> Result<Value, GatewayError> {
    let src = b
        .get("source")
        .filter(|s| s.is_object())
        .ok_or_else(|| bad(&format!("{at}.source"), format!("{at}.source is required")))?;
    let at = format!("{at}.source");
    let url = match src.get("type").and_then(Value::as_str) {
        Some("base64") => format!(
            "data:{};base64,{}",
            string_field(src, "media_type", &at)?,
            string_field(src, "data", &at)?
        ),
        Some("url") => string_field(src, "url", &at)?.to_owned(),
        other => return Err(source_error(other, &at, "base64 and url")),
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

pub(super) fn source_error(kind: Option<&str>, at: &str, supported: &str) -> GatewayError {
    let why = match kind {
        // Anthropic Files API ids mean nothing to another provider.
        Some("file") => "file ids exist only on Anthropic",
        _ => "unknown source type",
    };
    bad(
        at,
        format!(
            "{at}.type '{}' is not supported for this model ({why}); use {supported}",
            kind.unwrap_or("")
        ),
    )
}

/// A `document`: a base64 PDF becomes a `file` part; plain text and custom content become
/// text parts (and images). PDF URLs have no chat equivalent.
pub(super) fn document_parts(
    b: &Value,
    at: &str,
    parts: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let src = b
        .get("source")
        .filter(|s| s.is_object())
        .ok_or_else(|| bad(&format!("{at}.source"), format!("{at}.source is required")))?;
    let title = b
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let sat = format!("{at}.source");
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = string_field(src, "media_type", &sat)?;
            if media != "application/pdf" {
                return Err(bad(
                    &format!("{sat}.media_type"),
                    format!("{sat}.media_type '{media}' is not supported; use application/pdf"),
                ));
            }
            let data = string_field(src, "data", &sat)?;
            parts.push(json!({"type": "file", "file": {
                "filename": title.unwrap_or("document.pdf"),
                "file_data": format!("data:application/pdf;base64,{data}"),
            }}));
        }
        Some("text") => {
            let data = string_field(src, "data", &sat)?;
            parts.push(text_part(&match title {
                Some(t) => format!("{t}\n\n{data}"),
                None => data.to_owned(),
            }));
        }
        Some("content") => match src.get("content") {
            Some(Value::String(s)) => parts.push(text_part(s)),
            Some(Value::Array(items)) => {
                for (k, item) in items.iter().enumerate() {
                    let iat = format!("{sat}.content[{k}]");
                    match kind(item, &iat)? {
                        "text" => parts.push(text_part(string_field(item, "text", &iat)?)),
                        "image" => parts.push(image_part(item, &iat)?),
                        k => return Err(unsupported(k, &iat, "document")),
                    }
                }
            }
            _ => {
                return Err(bad(
                    &format!("{sat}.content"),
                    format!("{sat}.content must be a string or an array of blocks"),
                ));
            }
        },
        other => return Err(source_error(other, &sat, "base64 PDF, text or content")),
    }
    Ok(())
}
