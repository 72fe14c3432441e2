//! One target's response side: its adapter plus, when the client's API differs from what the
//! provider speaks, the ingress translation layered on top (Anthropic Messages over chat).

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use portcullis_core::sse::SseDecoder;
use portcullis_core::{Endpoint, GatewayError, JsonObject};
use portcullis_providers::common::{model_of, wants_usage};
use portcullis_providers::ingress::anthropic::{
    Chained, ChatToMessagesStream, RequestOptions, chat_to_message, messages_to_chat_with,
};
use portcullis_providers::{
    Adapter, Family, ResponseCtx, StreamTranslator, Translated, Upstream, UpstreamRequest,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The provider speaks the client's API (after its adapter's translation).
    Native,
    /// An Anthropic Messages client served by a chat provider.
    MessagesOverChat { openai_family: bool },
}

pub(crate) struct Leg {
    pub adapter: &'static dyn Adapter,
    pub ctx: ResponseCtx,
    shape: Shape,
}

impl Leg {
    /// Builds the upstream request and the response-side plan for `body` on `upstream`.
    pub fn prepare(
        endpoint: Endpoint,
        body: &JsonObject,
        pristine: Option<&Bytes>,
        upstream: &Upstream,
        strict: bool,
        created: u64,
    ) -> Result<(Leg, UpstreamRequest), GatewayError> {
        let family = upstream.spec.family;
        let adapter = portcullis_providers::adapter_for(family);
        if endpoint == Endpoint::Messages && family != Family::Anthropic {
            let chat = messages_to_chat_with(
                body,
                RequestOptions {
                    keep_thinking: family == Family::Google,
                },
            )?;
            let req = adapter.request(Endpoint::ChatComplete, &chat, None, upstream)?;
            let openai_family = matches!(family, Family::OpenAi | Family::AzureOpenAi);
            let ctx = ResponseCtx {
                endpoint: Endpoint::ChatComplete,
                provider: upstream.slug.clone(),
                model: model_of(&chat).to_owned(),
                // Thoughts become Anthropic thinking blocks, which Messages clients expect.
                strict: openai_family && strict,
                include_usage: true,
                created,
            };
            return Ok((
                Leg {
                    adapter,
                    ctx,
                    shape: Shape::MessagesOverChat { openai_family },
                },
                req,
            ));
        }
        let req = adapter.request(endpoint, body, pristine, upstream)?;
        let ctx = ResponseCtx {
            endpoint,
            provider: upstream.slug.clone(),
            model: model_of(body).to_owned(),
            strict,
            include_usage: wants_usage(body),
            created,
        };
        Ok((
            Leg {
                adapter,
                ctx,
                shape: Shape::Native,
            },
            req,
        ))
    }

    pub fn error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GatewayError {
        self.adapter.error(status, headers, body, &self.ctx)
    }

    pub fn response(&self, body: &[u8]) -> Result<Translated, GatewayError> {
        let t = self.adapter.response(body, &self.ctx)?;
        match self.shape {
            Shape::Native => Ok(t),
            Shape::MessagesOverChat { .. } => chat_to_message(&t.body, &self.ctx.model),
        }
    }

    pub fn stream(&self) -> Box<dyn StreamTranslator> {
        match self.shape {
            Shape::Native => self.adapter.stream(&self.ctx),
            Shape::MessagesOverChat {
                openai_family: true,
            } => Box::new(ChatToMessagesStream::new(&self.ctx)),
            Shape::MessagesOverChat {
                openai_family: false,
            } => Box::new(Chained::new(
                self.adapter.stream(&self.ctx),
                ChatToMessagesStream::new(&self.ctx),
            )),
        }
    }

    /// Whether a plain JSON answer to a stream request can be replayed as a stream.
    pub fn replays_chat(&self) -> bool {
        self.ctx.endpoint == Endpoint::ChatComplete
    }

    /// A chat completion (already translated to OpenAI's format) as the client's stream.
    pub fn replay(&self, chat: &[u8]) -> Option<Bytes> {
        let sse = crate::replay::chat_completion_to_sse(chat, self.ctx.include_usage)?;
        if self.shape == Shape::Native {
            return Some(sse);
        }
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        decoder.feed(&sse, &mut events).ok()?;
        let mut t = ChatToMessagesStream::new(&self.ctx);
        let mut out = Vec::new();
        for ev in &events {
            t.event(ev, &mut out).ok()?;
        }
        t.finish(&mut out).ok()?;
        Some(Bytes::from(out))
    }

    /// The client-facing chat body for replay: Messages-over-chat keeps OpenAI's form here.
    pub fn chat_body(&self, body: &[u8]) -> Result<Translated, GatewayError> {
        self.adapter.response(body, &self.ctx)
    }
}
