//! The body type every part of the gateway passes around: boxed, streaming, `Send`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming HTTP body (request or response).
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Reads a body to the end, refusing more than `limit` bytes.
pub async fn collect_limited(mut body: Body, limit: usize) -> Result<Bytes, CollectError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(CollectError::Body)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(CollectError::TooLarge(limit));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

#[derive(Debug)]
pub enum CollectError {
    Body(BoxError),
    TooLarge(usize),
}

impl std::fmt::Display for CollectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectError::Body(e) => write!(f, "{e}"),
            CollectError::TooLarge(n) => write!(f, "body larger than {n} bytes"),
        }
    }
}
