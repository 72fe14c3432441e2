//! OpenAI user content parts (text, images, audio, files) → Gemini `Part`s.

use base64::Engine;
use portcullis_core::GatewayError;
use serde_json::{Value, json};

use super::request::bad_request;

pub(super) fn content_part(p: &Value, path: &str) -> Result<Value, GatewayError> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" | "input_text" => {
            let t = p
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request(format!("{path} needs `text`")))?;
            Ok(json!({ "text": t }))
        }
        "image_url" => {
            let img = p.get("image_url");
            let url = img
                .and_then(|i| i.get("url").or(Some(i)))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request(format!("{path} needs `image_url.url`")))?;
            let mime = img.and_then(|i| i.get("mime_type")).and_then(Value::as_str);
            media(url, mime, "image/jpeg", path)
        }
        "input_audio" => {
            let a = p.get("input_audio");
            let data = a
                .and_then(|a| a.get("data"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request(format!("{path} needs `input_audio.data`")))?;
            let format = a
                .and_then(|a| a.get("format"))
                .and_then(Value::as_str)
                .unwrap_or("wav");
            Ok(json!({"inlineData": {"mimeType": format!("audio/{format}"), "data": data}}))
        }
        "file" => {
            let f = p.get("file").unwrap_or(&Value::Null);
            let mime = f.get("mime_type").and_then(Value::as_str);
            if let Some(data) = f.get("file_data").and_then(Value::as_str) {
                if data.starts_with("data:") {
                    return media(data, mime, "application/pdf", path);
                }
                let mime = mime.unwrap_or("application/pdf");
                return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
            }
            let uri = f
                .get("file_url")
                .or_else(|| f.get("file_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad_request(format!(
                        "{path} needs `file.file_data`, `file_url` or `file_id`"
                    ))
                })?;
            media(uri, mime, "application/pdf", path)
        }
        other => Err(bad_request(format!(
            "{path} has an unsupported type {other:?}"
        ))),
    }
}

/// A data URL becomes `inlineData`; any other URL (https, gs://, a Files API URI) `fileData`.
fn media(
    url: &str,
    mime: Option<&str>,
    default_mime: &str,
    path: &str,
) -> Result<Value, GatewayError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, payload) = rest
            .split_once(',')
            .ok_or_else(|| bad_request(format!("{path} has a malformed data URL")))?;
        let (declared, is_b64) = match meta.strip_suffix(";base64") {
            Some(m) => (m, true),
            None => (meta, false),
        };
        let declared = declared.split(';').next().unwrap_or("");
        let mime = mime
            .or((!declared.is_empty()).then_some(declared))
            .unwrap_or("text/plain");
        let data = if is_b64 {
            payload.to_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(percent_decode(payload))
        };
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    let mime = mime
        .map(str::to_owned)
        .unwrap_or_else(|| mime_for(url, default_mime));
    Ok(json!({"fileData": {"mimeType": mime, "fileUri": url}}))
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The MIME type Gemini needs for a `fileData` URI, from its extension.
fn mime_for(url: &str, default: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.contains("youtube.com/") || path.contains("youtu.be/") {
        return "video/mp4".into();
    }
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let mime = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "json" => "application/json",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "aac" => "audio/aac",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "mov" => "video/mov",
        "mpeg" | "mpg" => "video/mpeg",
        "webm" => "video/webm",
        _ => default,
    };
    mime.into()
}
