//! OpenAI-format streams: events are forwarded as they are, checked on the way through.
//!
//! The translator reads just enough of each chunk to see usage, in-band errors, the finish
//! reason and a missing `model`; everything else is re-framed byte for byte. When the log record
//! keeps the response, one richer parse of each chunk serves those checks and folds the chunk
//! into the record's copy.

use std::borrow::Cow;

use portcullis_core::sse::{DONE_FRAME, SseEvent, push_data_frame};
use portcullis_core::usage::OpenAiUsageWire;
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde::Deserialize;
use serde_json::Value;

use crate::adapter::{ResponseCtx, StreamTranslator};
use crate::assemble::{Assembler, OpenAiChunk, StreamFormat};
use crate::text::Text;

/// What the checks read of a chunk when no record keeps the response (a lighter parse than
/// [`OpenAiChunk`]).
#[derive(Deserialize)]
struct ChunkPeek<'a> {
    #[serde(borrow, default)]
    model: Option<Text<'a>>,
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
    finish_reason: Option<Text<'a>>,
}

/// Per-stream state for OpenAI-format upstreams.
pub struct OpenAiStream {
    provider: String,
    model: String,
    usage: Option<Usage>,
    served: Option<String>,
    saw_finish: bool,
    done: bool,
    /// The response kept for the log record, when it asked for one.
    record: Option<Assembler>,
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
            record: None,
        }
    }

    /// What every chunk is checked for (in-band errors, usage, the finish, a missing `model`),
    /// and its frame out; returns whether the chunk named its model.
    fn check(
        &mut self,
        error: Option<&Value>,
        usage: Option<OpenAiUsageWire>,
        finished: bool,
        model: Option<&str>,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<bool, GatewayError> {
        if let Some(err) = error.filter(|e| !e.is_null()) {
            return Err(super::error::in_band(&self.provider, err));
        }
        if let Some(u) = usage {
            self.usage = Some(Usage::from(&u));
        }
        self.saw_finish |= finished;
        match model {
            Some(m) if !m.is_empty() => {
                if self.served.is_none() {
                    self.served = Some(m.to_owned());
                }
                push_data_frame(out, data);
                Ok(true)
            }
            _ => {
                let mut v: Value = serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("model".into(), Value::String(self.model.clone()));
                }
                push_data_frame(out, &serde_json::to_vec(&v).unwrap_or_default());
                Ok(false)
            }
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
        if self.record.is_none() {
            let peek: ChunkPeek<'_> =
                serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
            let finished = peek
                .choices
                .is_some_and(|c| c.iter().any(|c| c.finish_reason.is_some()));
            self.check(
                peek.error.as_ref(),
                peek.usage,
                finished,
                peek.model.as_deref(),
                data,
                out,
            )?;
            return Ok(());
        }
        // The record keeps the response: one richer parse serves the checks and the record.
        let mut chunk: OpenAiChunk<'_> =
            serde_json::from_slice(data).map_err(|_| self.invalid(data))?;
        let usage = match chunk.usage.as_ref().filter(|u| !u.is_null()) {
            Some(u) => Some(OpenAiUsageWire::deserialize(u).map_err(|_| self.invalid(data))?),
            None => None,
        };
        let finished = chunk
            .choices
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c.finish_reason.is_some()));
        let named = self.check(
            chunk.error.as_ref(),
            usage,
            finished,
            chunk.model.as_deref(),
            data,
            out,
        )?;
        if !named {
            chunk.model = Some(Text(Cow::Owned(self.model.clone())));
        }
        if let Some(r) = self.record.as_mut() {
            r.openai_chunk(chunk);
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

    fn record_response(&mut self, format: StreamFormat, cap: usize) -> bool {
        if !format.is_openai() {
            return false;
        }
        self.record = Some(Assembler::new(format, cap));
        true
    }

    fn recorded_response(&mut self) -> Option<Vec<u8>> {
        self.record.take().and_then(Assembler::finish)
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
    fn keeping_the_response_changes_nothing_sent() {
        let transcript = b"data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"he\"}}]}\n\n\
data: {\"id\":\"1\",\"model\":\"gpt-4o-2024\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"llo\"},\"finish_reason\":\"stop\"}]}\n\n\
data: {\"id\":\"1\",\"model\":\"gpt-4o-2024\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n\
data: [DONE]\n\n";
        let (plain, r, usage) = run(transcript);
        r.unwrap();
        let mut d = SseDecoder::default();
        let mut evs = Vec::new();
        d.feed(transcript, &mut evs).unwrap();
        let mut t = OpenAiStream::new(&ctx());
        assert!(t.record_response(StreamFormat::OpenAiChat, 1000));
        assert!(!t.record_response(StreamFormat::Anthropic, 1000));
        assert!(t.record_response(StreamFormat::OpenAiChat, 1000));
        let mut out = Vec::new();
        for ev in &evs {
            t.event(ev, &mut out).unwrap();
        }
        t.finish(&mut out).unwrap();
        assert_eq!(out, plain);
        assert_eq!(t.usage(), usage);
        let kept: Value = serde_json::from_slice(&t.recorded_response().unwrap()).unwrap();
        assert_eq!(kept["choices"][0]["message"]["content"], "hello");
        assert_eq!(kept["choices"][0]["finish_reason"], "stop");
        // The first chunk named no model: the record has the one the client was sent.
        assert_eq!(kept["model"], "gpt-4o");
        assert_eq!(kept["usage"]["total_tokens"], 5);
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
