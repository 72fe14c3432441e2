//! Two translators in a row: a provider's stream → OpenAI chunks → Anthropic events.

use bytes::Bytes;
use portcullis_core::sse::{SseDecoder, SseEvent};
use portcullis_core::{ErrorCode, GatewayError, Usage};

use super::stream::ChatToMessagesStream;
use crate::adapter::StreamTranslator;

/// Feeds `inner`'s OpenAI chunk output, re-decoded, into `outer`. Used for providers whose
/// adapter translates a native stream to OpenAI chunks (Google): the inner translator keeps
/// all its provider knowledge, and the outer one only ever sees OpenAI chunks.
///
/// Inner errors (in-band or a cut stream) are returned as they are, after any chunks the inner
/// translator wrote before failing were passed on. Give the inner translator a context with
/// `include_usage: true`, so its final usage chunk reaches `message_delta`; its `usage()` is
/// also consulted as a fallback.
pub struct Chained {
    inner: Box<dyn StreamTranslator>,
    outer: ChatToMessagesStream,
    decoder: SseDecoder,
    buf: Vec<u8>,
    events: Vec<SseEvent>,
}

impl Chained {
    pub fn new(inner: Box<dyn StreamTranslator>, outer: ChatToMessagesStream) -> Self {
        Chained {
            inner,
            outer,
            decoder: SseDecoder::default(),
            buf: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Passes the inner output written so far through the outer translator.
    fn pump(&mut self, out: &mut Vec<u8>, end: bool) -> Result<(), GatewayError> {
        let fed = self.decoder.feed(&self.buf, &mut self.events);
        self.buf.clear();
        fed.and_then(|()| {
            if end {
                self.decoder.finish(&mut self.events)
            } else {
                Ok(())
            }
        })
        .map_err(|e| {
            GatewayError::new(
                ErrorCode::UpstreamInvalidResponse,
                format!("translated stream event too large: {e}"),
            )
        })?;
        self.outer.set_usage_hint(self.inner.usage());
        let events = std::mem::take(&mut self.events);
        let mut result = Ok(());
        for ev in &events {
            result = self.outer.event(ev, out);
            if result.is_err() {
                break;
            }
        }
        self.events = events;
        self.events.clear();
        result
    }
}

impl StreamTranslator for Chained {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        let inner = self.inner.event(ev, &mut self.buf);
        self.pump(out, false)?;
        inner
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        let inner = self.inner.finish(&mut self.buf);
        self.pump(out, inner.is_ok())?;
        inner?;
        self.outer.finish(out)
    }

    fn usage(&self) -> Option<Usage> {
        self.outer.usage().or_else(|| self.inner.usage())
    }

    fn served_model(&self) -> Option<String> {
        self.inner.served_model()
    }

    fn error_frame(&self, err: &GatewayError) -> Bytes {
        self.outer.error_frame(err)
    }
}
