//! OpenAI-format streams: events are forwarded as they are, checked on the way through.
//!
//! The translator reads just enough of each chunk to see usage, in-band errors, the finish
//! reason and a missing `model`; everything else is re-framed byte for byte.

use std::borrow::Cow;

use portcullis_core::sse::{DONE_FRAME, SseEvent, push_data_frame};
use portcullis_core::usage::OpenAiUsageWire;
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde::Deserialize;
use serde_json::Value;

use crate::adapter::{ResponseCtx, StreamTranslator};

#[derive(Deserialize)]
struct ChunkPeek<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<OpenAiUsageWire>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(borrow, default)]
    choices: Option<Vec<ChoicePeek<'a>>>,
}

#[derive(Deserialize)]
struct ChoicePeek<'a> {
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

/// Per-stream state for OpenAI-format upstreams.
pub struct OpenAiStream {
    provider: String,
    model: String,
    usage: Option<Usage>,
    served: Option<String>,
    saw_finish: bool,
    done: bool,
}

impl OpenAiStream {
    pub fn new(ctx: &ResponseCtx) -> Self {
        OpenAiStream {
            provider: ctx.provider.clone(),
            model: ctx.model.clone(),
            usage: None,
            served: None,
            saw_finish: false,
            done: false,
        }
    }

    fn invalid(&self, data: &[u8]) -> GatewayError {
        let shown = String::from_utf8_lossy(&data[..data.len().min(256)]).into_owned();
        GatewayError::new(
            ErrorCode::UpstreamInvalidResponse,
            format!(
                "Invalid stream event received from {}: {shown}",
                self.provider
            ),
        )
        .with_provider(self.provider.clone())
    }
}

impl StreamTranslator for OpenAiStream {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        if ev.is_done() {
            self.done = true;
            out.extend_from_slice(DONE_FRAME);
            return Ok(());
        }
        let data = ev.data.as_ref();
        if ev.event.as_deref() == Some("error") {
            let v: Value =
                serde_json::from_slice(data).unwrap_or(Value::String(ev.data_str().into()));
            let err = v.get("error").cloned().unwrap_or(v);
            return Err(super::error::in_band(&self.provider, &err));
        }
        let peek: ChunkPeek<'_> = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
        if let Some(err) = peek.error.as_ref().filter(|e| !e.is_null()) {
            return Err(super::error::in_band(&self.provider, err));
        }
        if let Some(u) = peek.usage.as_ref().map(Usage::from) {
            self.usage = Some(u);
        }
        if let Some(choices) = &peek.choices
            && choices.iter().any(|c| c.finish_reason.is_some())
        {
            self.saw_finish = true;
        }
        match peek.model.as_deref() {
            Some(m) if !m.is_empty() => {
                if self.served.is_none() {
                    self.served = Some(m.to_owned());
                }
                push_data_frame(out, data)
            }
            _ => {
                let mut v: Value = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("model".into(), Value::String(self.model.clone()));
                }
                push_data_frame(out, &serde_json::to_vec(&v).unwrap_or_default());
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        if self.done {
            return Ok(());
        }
        if self.saw_finish {
            // Some compatible servers end after the finish chunk without `[DONE]`: complete it.
            self.done = true;
            out.extend_from_slice(DONE_FRAME);
            return Ok(());
        }
        Err(GatewayError::new(
            ErrorCode::UpstreamStreamError,
            format!(
                "{} stream ended before the response was complete",
                self.provider
            ),
        )
        .with_provider(self.provider.clone()))
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn served_model(&self) -> Option<String> {
        self.served.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use portcullis_core::Endpoint;
    use portcullis_core::sse::SseDecoder;

    fn ctx() -> ResponseCtx {
        ResponseCtx {
            endpoint: Endpoint::ChatComplete,
            provider: "openai".into(),
            model: "gpt-4o".into(),
            strict: true,
            include_usage: true,
            created: 1,
        }
    }

    fn run(transcript: &[u8]) -> (Vec<u8>, Result<(), GatewayError>, Option<Usage>) {
        let mut d = SseDecoder::default();
        let mut evs = Vec::new();
        d.feed(transcript, &mut evs).unwrap();
        d.finish(&mut evs).unwrap();
        let mut t = OpenAiStream::new(&ctx());
        let mut out = Vec::new();
        for ev in &evs {
            if let Err(e) = t.event(ev, &mut out) {
                return (out, Err(e), t.usage());
            }
        }
        let r = t.finish(&mut out);
        (out, r, t.usage())
    }

    #[test]
    fn forwards_events_and_reads_usage_only_chunks() {
        let transcript = b"data: {\"id\":\"1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n\
: keep-alive\n\n\
data: {\"id\":\"1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"1\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n\
data: [DONE]\n\n";
        let (out, r, usage) = run(transcript);
        r.unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.matches("data: ").count(), 4);
        assert!(s.ends_with("data: [DONE]\n\n"));
        assert_eq!(usage.unwrap().total_tokens, 4);
    }

    #[test]
    fn fills_missing_model_in_chunks() {
        let (out, r, _) = run(b"data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n");
        r.unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\"model\":\"gpt-4o\""));
        assert!(
            s.ends_with("data: [DONE]\n\n"),
            "a finished stream without [DONE] is completed"
        );
    }

    #[test]
    fn in_band_errors_are_errors() {
        let (_, r, _) = run(
            b"data: {\"error\":{\"message\":\"overloaded\",\"type\":\"rate_limit_error\"}}\n\n",
        );
        let e = r.unwrap_err();
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(e.message().contains("overloaded"));
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_clean_end() {
        let (_, r, _) = run(b"data: {\"id\":\"1\",\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}\n\n");
        assert_eq!(r.unwrap_err().code(), ErrorCode::UpstreamStreamError);
    }

    #[test]
    fn malformed_events_are_errors() {
        let (_, r, _) = run(b"data: {not json\n\n");
        assert_eq!(r.unwrap_err().code(), ErrorCode::UpstreamInvalidResponse);
    }
}
