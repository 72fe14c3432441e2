//! OpenAI and every OpenAI-compatible provider (one registry row each), plus Azure OpenAI.
//!
//! The canonical format is OpenAI's, so this adapter mostly passes bytes through: it only
//! addresses the request, fills `model` when a provider omits it, reads usage and re-shapes
//! errors.

mod error;
mod request;
mod response;
mod stream;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::{Endpoint, GatewayError, JsonObject};

use crate::adapter::{
    Adapter, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest,
};

pub use stream::OpenAiStream;

/// Which URL and auth scheme the OpenAI wire format is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Standard,
    Azure,
}

pub struct OpenAi {
    flavor: Flavor,
}

pub static OPENAI: OpenAi = OpenAi {
    flavor: Flavor::Standard,
};
pub static AZURE_OPENAI: OpenAi = OpenAi {
    flavor: Flavor::Azure,
};

impl Adapter for OpenAi {
    fn request(
        &self,
        endpoint: Endpoint,
        body: &JsonObject,
        pristine: Option<&Bytes>,
        upstream: &Upstream,
    ) -> Result<UpstreamRequest, GatewayError> {
        request::build(self.flavor, endpoint, body, pristine, upstream)
    }

    fn auth_headers(&self, upstream: &Upstream, headers: &mut HeaderMap) {
        request::auth(self.flavor, upstream, headers);
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
        error::translate(status, body, &ctx.provider)
    }

    fn stream(&self, ctx: &ResponseCtx) -> Box<dyn StreamTranslator> {
        Box::new(OpenAiStream::new(ctx))
    }
}
