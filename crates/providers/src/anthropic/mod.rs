//! Anthropic Messages API: OpenAI chat translated both ways, `/v1/messages` passed through.
//!
//! Layout: `request` (addressing, auth, body assembly) with `messages`, `parts`, `tools` and
//! `params` for the body; `response` and `models` for bodies; `stream` (OpenAI chunks) and `passthrough`
//! (Anthropic events) for streams; `error` for classification; `wire` for serde views.

mod error;
mod messages;
mod models;
mod params;
mod parts;
mod passthrough;
mod request;
mod response;
mod stream;
mod tools;
mod wire;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::{Endpoint, GatewayError, JsonObject};

use crate::adapter::{
    Adapter, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest,
};

pub use error::{error_body, error_event};
pub use passthrough::MessagesStream;
pub use stream::AnthropicStream;

pub struct Anthropic;

pub static ANTHROPIC: Anthropic = Anthropic;

/// Endpoints whose client speaks Anthropic's format (errors and streams stay Anthropic-shaped).
fn native(endpoint: Endpoint) -> bool {
    matches!(endpoint, Endpoint::Messages | Endpoint::MessagesCountTokens)
}

impl Adapter for Anthropic {
    fn request(
        &self,
        endpoint: Endpoint,
        body: &JsonObject,
        pristine: Option<&Bytes>,
        upstream: &Upstream,
    ) -> Result<UpstreamRequest, GatewayError> {
        request::build(endpoint, body, pristine, upstream)
    }

    fn auth_headers(&self, upstream: &Upstream, headers: &mut HeaderMap) {
        request::auth(upstream, headers);
    }

    fn response(&self, body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
        response::translate(body, ctx)
    }

    fn error(
        &self,
        status: StatusCode,
        _headers: &HeaderMap,
        body: &[u8],
        ctx: &ResponseCtx,
    ) -> GatewayError {
        if native(ctx.endpoint) {
            error::translate_native(status, body, &ctx.provider)
        } else {
            error::translate(status, body, &ctx.provider)
        }
    }

    fn stream(&self, ctx: &ResponseCtx) -> Box<dyn StreamTranslator> {
        if native(ctx.endpoint) {
            Box::new(MessagesStream::new(ctx))
        } else {
            Box::new(AnthropicStream::new(ctx))
        }
    }
}
