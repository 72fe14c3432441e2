//! Anthropic Messages API adapter (being written).

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::{Endpoint, ErrorCode, GatewayError, JsonObject};

use crate::adapter::{Adapter, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest};

pub struct Anthropic;
pub static ANTHROPIC: Anthropic = Anthropic;

impl Adapter for Anthropic {
    fn request(&self, e: Endpoint, _: &JsonObject, _: Option<&Bytes>, _: &Upstream) -> Result<UpstreamRequest, GatewayError> {
        Err(GatewayError::new(ErrorCode::UnsupportedEndpoint, format!("{e} is not supported by anthropic")))
    }
    fn auth_headers(&self, _: &Upstream, _: &mut HeaderMap) {}
    fn response(&self, b: &[u8], c: &ResponseCtx) -> Result<Translated, GatewayError> {
        Err(crate::common::invalid_response(&c.provider, b))
    }
    fn error(&self, s: StatusCode, _: &HeaderMap, b: &[u8], c: &ResponseCtx) -> GatewayError {
        crate::common::provider_error(&c.provider, s, &String::from_utf8_lossy(b), None, None, None)
    }
    fn stream(&self, _: &ResponseCtx) -> Box<dyn StreamTranslator> {
        unimplemented!("anthropic streams")
    }
}
