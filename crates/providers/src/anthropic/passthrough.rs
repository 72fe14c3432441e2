//! `/v1/messages` streams: Anthropic events forwarded verbatim, usage and errors read on the way.

use bytes::Bytes;
use portcullis_core::sse::{SseEvent, push_event_frame};
use portcullis_core::{ErrorCode, GatewayError, Usage};

use super::error::{error_event, in_band};
use super::wire::{WireEvent, WireUsage};
use crate::adapter::{ResponseCtx, StreamTranslator};

/// Per-stream state for an Anthropic-format client.
pub struct MessagesStream {
    provider: String,
    usage: Option<WireUsage>,
    done: bool,
}

impl MessagesStream {
    pub fn new(ctx: &ResponseCtx) -> Self {
        MessagesStream {
            provider: ctx.provider.clone(),
            usage: None,
            done: false,
        }
    }
}

impl StreamTranslator for MessagesStream {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        let data = ev.data.as_ref();
        if ev.event.as_deref() == Some("error") {
            return Err(in_band(data, &self.provider, true));
        }
        let e: WireEvent<'_> = serde_json::from_slice(data).map_err(|_| {
            let shown = String::from_utf8_lossy(&data[..data.len().min(256)]).into_owned();
            GatewayError::new(
                ErrorCode::UpstreamInvalidResponse,
                format!(
                    "Invalid stream event received from {}: {shown}",
                    self.provider
                ),
            )
            .with_provider(self.provider.clone())
        })?;
        match e.kind.as_ref() {
            "message_start" => {
                self.usage = Some(e.message.and_then(|m| m.usage).unwrap_or_default());
            }
            "message_delta" => {
                if let Some(u) = &e.usage {
                    self.usage.get_or_insert_with(WireUsage::default).merge(u);
                }
            }
            "message_stop" => self.done = true,
            "error" => return Err(in_band(data, &self.provider, true)),
            _ => {}
        }
        // Anthropic always names its events; the data's `type` is the same name.
        let name = ev.event.as_deref().unwrap_or(e.kind.as_ref());
        push_event_frame(out, name, data);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        Err(GatewayError::new(
            ErrorCode::UpstreamStreamError,
            format!("{} stream ended before message_stop", self.provider),
        )
        .with_provider(self.provider.clone()))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.map(WireUsage::to_usage)
    }

    fn error_frame(&self, err: &GatewayError) -> Bytes {
        error_event(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Endpoint;

    fn ev(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: name.map(str::to_owned),
            data: Bytes::from(data.to_owned()),
        }
    }

    #[test]
    fn names_unnamed_events_from_their_type_and_rejects_garbage() {
        let ctx = ResponseCtx {
            endpoint: Endpoint::Messages,
            provider: "anthropic".into(),
            model: "m".into(),
            strict: true,
            include_usage: false,
            created: 0,
        };
        let mut s = MessagesStream::new(&ctx);
        let mut out = Vec::new();
        s.event(&ev(None, r#"{"type":"ping"}"#), &mut out).unwrap();
        assert_eq!(out, b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        let e = s
            .event(&ev(Some("content_block_delta"), "{oops"), &mut out)
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::UpstreamInvalidResponse);
        let e = s.event(&ev(None, r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#), &mut out).unwrap_err();
        assert_eq!(e.status().as_u16(), 529);
        let frame = s.error_frame(&e);
        assert_eq!(
            frame.as_ref(),
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        );
        assert!(s.usage().is_none());
    }
}
