//! Reading request bodies at the edge: content type, size limit, JSON object.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use portcullis_core::{ErrorCode, GatewayError, JsonObject};

/// Content types Portkey's gateway accepts on any route.
pub fn check_content_type(headers: &HeaderMap, json_only: bool) -> Result<(), GatewayError> {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("").trim().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    let ok = if json_only {
        essence == "application/json" || essence.is_empty()
    } else {
        essence == "application/json"
            || essence == "multipart/form-data"
            || essence.starts_with("audio/")
            || essence == "application/octet-stream"
            || essence == "application/x-www-form-urlencoded"
            || essence == "application/jsonl"
            || essence.starts_with("text/")
    };
    if ok {
        Ok(())
    } else {
        let want = if json_only {
            "application/json"
        } else {
            "application/json, multipart/form-data or audio/*"
        };
        Err(GatewayError::new(
            ErrorCode::InvalidContentType,
            format!("Invalid content type passed: got {essence:?}, send {want}"),
        ))
    }
}

/// Reads the whole body, refusing more than `limit` bytes with a 413.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit as u64)),
        Err(e) => Err(GatewayError::new(
            ErrorCode::InvalidRequestBody,
            format!("reading the request body failed: {e}"),
        )),
    }
}

pub fn too_large(limit: u64) -> GatewayError {
    GatewayError::new(
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than the gateway's limit of {limit} bytes"),
    )
}

/// Parses the body as a JSON object, with an error that says where it broke.
pub fn json_object(raw: &[u8]) -> Result<JsonObject, GatewayError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::new(
            ErrorCode::InvalidRequestBody,
            "The request body is empty: send a JSON object",
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(GatewayError::new(
            ErrorCode::InvalidRequestBody,
            "The request body must be a JSON object",
        )),
        Err(e) => Err(GatewayError::new(
            ErrorCode::InvalidRequestBody,
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_say_where() {
        let e = json_object(b"{\"model\": }").unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.message().contains("line 1 column"), "{}", e.message());
        assert!(
            json_object(b"[1]")
                .unwrap_err()
                .message()
                .contains("JSON object")
        );
        assert!(json_object(b"  ").unwrap_err().message().contains("empty"));
        assert_eq!(json_object(b"{\"a\":1}").unwrap()["a"], 1);
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h, true).is_ok());
        h.insert(
            CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(check_content_type(&h, true).is_ok());
        h.insert(CONTENT_TYPE, "text/xml".parse().unwrap());
        let e = check_content_type(&h, true).unwrap_err();
        assert!(e.message().starts_with("Invalid content type passed"));
        h.insert(
            CONTENT_TYPE,
            "multipart/form-data; boundary=x".parse().unwrap(),
        );
        assert!(check_content_type(&h, false).is_ok());
        assert!(check_content_type(&h, true).is_err());
    }
}
