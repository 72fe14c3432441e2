//! Google Gemini (AI Studio) adapter: chat, embeddings and model lists.
//!
//! Requests are rebuilt from the canonical body (Gemini's wire format shares nothing with
//! OpenAI's); responses, errors and SSE streams are translated back into OpenAI's shapes.

mod config;
mod embed;
mod error;
mod messages;
mod models;
mod parts;
mod request;
mod response;
mod schema;
mod stream;
mod tools;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::{Endpoint, GatewayError, JsonObject};

use crate::adapter::{
    Adapter, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest,
};
use crate::common::invalid_response;

pub use stream::GeminiStream;

pub struct Google;

pub static GOOGLE: Google = Google;

impl Adapter for Google {
    fn request(
        &self,
        endpoint: Endpoint,
        body: &JsonObject,
        _pristine: Option<&Bytes>,
        upstream: &Upstream,
    ) -> Result<UpstreamRequest, GatewayError> {
        request::build(endpoint, body, upstream)
    }

    fn auth_headers(&self, upstream: &Upstream, headers: &mut HeaderMap) {
        request::auth(upstream, headers);
    }

    fn response(&self, body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
        match ctx.endpoint {
            Endpoint::ChatComplete => response::translate(body, ctx),
            Endpoint::Embed => embed::translate(body, ctx),
            Endpoint::Models => models::translate(body, ctx),
            _ => Err(invalid_response(&ctx.provider, body)),
        }
    }

    fn error(
        &self,
        status: StatusCode,
        _headers: &HeaderMap,
        body: &[u8],
        ctx: &ResponseCtx,
    ) -> GatewayError {
        error::translate(status, body, &ctx.provider)
    }

    fn stream(&self, ctx: &ResponseCtx) -> Box<dyn StreamTranslator> {
        Box::new(GeminiStream::new(ctx))
    }
}
