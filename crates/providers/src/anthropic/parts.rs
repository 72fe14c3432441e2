//! OpenAI content parts → Anthropic content blocks (text, images, documents).

use base64::Engine as _;
use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::messages::bad;

/// Anthropic block types a client may already send inside OpenAI messages: passed untouched.
pub(super) const NATIVE_BLOCKS: &[&str] = &[
    "image",
    "document",
    "search_result",
    "tool_result",
    "tool_use",
    "thinking",
    "redacted_thinking",
    "server_tool_use",
    "web_search_tool_result",
    "container_upload",
];

pub(super) fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// A text part: `{type, text}` plus its `cache_control`.
pub(super) fn text_part(p: &Value, at: &str) -> Result<Value, GatewayError> {
    let text = p
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}: text parts need a string 'text'")))?;
    let mut b = text_block(text);
    if let Some(cc) = p.get("cache_control") {
        b["cache_control"] = cc.clone();
    }
    Ok(b)
}

/// A user (or tool result) content part.
pub(super) fn user_part(p: &Value, at: &str) -> Result<Value, GatewayError> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    let mut block = match kind {
        "text" => return text_part(p, at),
        "image_url" => {
            let url = p
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str);
            image_block(
                url.ok_or_else(|| bad(format!("{at}: image_url parts need a url")))?,
                at,
            )?
        }
        "file" => file_block(p.get("file").unwrap_or(&Value::Null), at)?,
        k if NATIVE_BLOCKS.contains(&k) => return Ok(p.clone()),
        "" => return Err(bad(format!("{at}: content parts need a 'type'"))),
        other => {
            return Err(bad(format!(
                "{at}: content part type '{other}' is not supported by anthropic"
            )));
        }
    };
    if let Some(cc) = p.get("cache_control") {
        block["cache_control"] = cc.clone();
    }
    Ok(block)
}

/// `data:<media>;base64,<data>` → `(media, data)`.
fn data_url<'a>(url: &'a str, at: &str) -> Result<(&'a str, &'a str), GatewayError> {
    let rest = &url["data:".len()..];
    let (header, data) = rest
        .split_once(',')
        .ok_or_else(|| bad(format!("{at}: malformed data URL")))?;
    if !header.ends_with(";base64") {
        return Err(bad(format!("{at}: only base64 data URLs are supported")));
    }
    let media = header.split(';').next().unwrap_or("");
    Ok((media, data))
}

fn base64_source(media: &str, data: &str) -> Value {
    json!({"type": "base64", "media_type": media, "data": data})
}

/// An image (or PDF, when a data URL says so) from an OpenAI `image_url`.
fn image_block(url: &str, at: &str) -> Result<Value, GatewayError> {
    if url.starts_with("data:") {
        let (media, data) = data_url(url, at)?;
        let kind = if media == "application/pdf" {
            "document"
        } else {
            "image"
        };
        return Ok(json!({"type": kind, "source": base64_source(media, data)}));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(bad(format!(
        "{at}: image_url must be an http(s) or base64 data URL"
    )))
}

/// An OpenAI `file` part: inline data (PDF, plain text or image) or an uploaded file id.
fn file_block(file: &Value, at: &str) -> Result<Value, GatewayError> {
    if let Some(data) = file.get("file_data").and_then(Value::as_str) {
        // OpenAI's chat file input is PDF; a bare base64 string is read as one.
        let (media, data) = if data.starts_with("data:") {
            data_url(data, at)?
        } else {
            ("application/pdf", data)
        };
        return match media {
            "application/pdf" => {
                Ok(json!({"type": "document", "source": base64_source(media, data)}))
            }
            "text/plain" => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|_| bad(format!("{at}: file_data is not valid base64")))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| bad(format!("{at}: text/plain file_data is not UTF-8")))?;
                Ok(
                    json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}),
                )
            }
            m if m.starts_with("image/") => {
                Ok(json!({"type": "image", "source": base64_source(m, data)}))
            }
            other => Err(bad(format!(
                "{at}: file type '{other}' is not supported by anthropic"
            ))),
        };
    }
    if let Some(id) = file.get("file_id").and_then(Value::as_str) {
        return Ok(json!({"type": "document", "source": {"type": "file", "file_id": id}}));
    }
    Err(bad(format!("{at}: file parts need file_data or file_id")))
}
