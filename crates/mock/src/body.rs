//! Response bodies: a plain buffer, or a paced event stream with injected faults.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::script::{Fault, Reply};
use crate::state::{State, StreamGuard};

/// The body of every mock response. An enum rather than a boxed body so the hot
/// non-streaming path allocates nothing extra and keeps an exact content length.
pub(crate) enum ResBody {
    Full(Option<Bytes>),
    Stream(Box<EventStream>),
}

impl ResBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Stream(s) => s.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Stream(_) => SizeHint::default(),
        }
    }
}

/// What a stream does once its frames run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Finish the body normally.
    Clean,
    /// Fail the body, which makes hyper cut the connection (HTTP/1) or reset the stream (h2).
    Abort,
    /// Send nothing more until the client leaves or the server shuts down.
    Stall,
}

/// A streaming body: pre-rendered frames sent one by one, `delay` apart.
pub(crate) struct EventStream {
    frames: VecDeque<Bytes>,
    end: End,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    stall: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// Whether output was given a chance to flush before a scripted abort.
    flushed: bool,
    guard: StreamGuard,
}

impl EventStream {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        if let Some(frame) = self.frames.pop_front() {
            let last = self.frames.is_empty() && self.end == End::Clean;
            if !self.delay.is_zero() && !last {
                self.sleep = Some(Box::pin(tokio::time::sleep(self.delay)));
            }
            if last {
                self.guard.finish();
            }
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        match self.end {
            End::Clean => {
                self.guard.finish();
                Poll::Ready(None)
            }
            End::Abort if !self.flushed => {
                // hyper discards unflushed output when a body fails, so yield once: it
                // flushes the events already produced before polling us again.
                self.flushed = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            End::Abort => {
                // A scripted cut is not a client cancellation.
                self.guard.finish();
                self.end = End::Clean;
                Poll::Ready(Some(Err(std::io::Error::other(
                    "mock: scripted drop_after",
                ))))
            }
            End::Stall => {
                if self.stall.is_none() {
                    let token = self.guard.state().shutdown.clone();
                    self.stall = Some(Box::pin(token.cancelled_owned()));
                }
                if let Some(stall) = self.stall.as_mut()
                    && stall.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Some(Err(std::io::Error::other("mock: shutting down"))));
                }
                Poll::Pending
            }
        }
    }
}

/// How events are framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `data: X\n\n` (OpenAI).
    Sse,
    /// `event: NAME\ndata: X\n\n` (Anthropic).
    NamedSse,
    /// `data: X\r\n\r\n` (Gemini `alt=sse`).
    CrlfSse,
    /// One JSON array whose elements arrive over time (Gemini without `alt=sse`).
    JsonArray,
}

impl Framing {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Sse | Self::NamedSse => "text/event-stream; charset=utf-8",
            Self::CrlfSse => "text/event-stream",
            Self::JsonArray => "application/json; charset=UTF-8",
        }
    }
}

/// What a provider handler produces: a JSON document or a stream script.
pub(crate) enum Out {
    Json(Value),
    Stream(Script),
}

/// Where an event sits in the stream; faults count `Content` events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Meta,
    Content,
    Tail,
}

pub(crate) enum Payload {
    Json(Value),
    /// Data that is sent as is (OpenAI's `[DONE]`, malformed events).
    Raw(&'static str),
}

pub(crate) struct Event {
    pub kind: Kind,
    /// SSE event name (used by `Framing::NamedSse`).
    pub name: &'static str,
    pub payload: Payload,
}

impl Event {
    pub fn meta(name: &'static str, v: Value) -> Self {
        Self {
            kind: Kind::Meta,
            name,
            payload: Payload::Json(v),
        }
    }
    pub fn content(name: &'static str, v: Value) -> Self {
        Self {
            kind: Kind::Content,
            name,
            payload: Payload::Json(v),
        }
    }
    pub fn tail(name: &'static str, v: Value) -> Self {
        Self {
            kind: Kind::Tail,
            name,
            payload: Payload::Json(v),
        }
    }
}

/// A provider's stream before faults: its events plus the bodies used to inject faults.
pub(crate) struct Script {
    pub framing: Framing,
    pub events: Vec<Event>,
    /// The in-band error event for `error_after`.
    pub error: Event,
    /// Replaces the first content event when `malformed` is set.
    pub malformed: Event,
}

/// Applies the reply's faults and pacing to `script` and returns the streaming body.
pub(crate) fn stream(state: Arc<State>, script: Script, reply: &Reply) -> ResBody {
    let Script {
        framing,
        mut events,
        error,
        malformed,
    } = script;
    if reply.malformed
        && let Some(first) = events.iter_mut().find(|e| e.kind == Kind::Content)
    {
        *first = malformed;
    }
    let mut end = End::Clean;
    if let Some((n, fault)) = reply.stream_fault() {
        let cut = cut_after_content(&events, n);
        events.truncate(cut);
        match fault {
            Fault::Drop => end = End::Abort,
            Fault::Error => events.push(error),
            Fault::Stall => end = End::Stall,
        }
    }
    let frames = render(framing, &events, end == End::Clean);
    let delay = reply.chunk_delay.unwrap_or(state.opts.chunk_delay);
    ResBody::Stream(Box::new(EventStream {
        frames,
        end,
        delay,
        sleep: None,
        stall: None,
        flushed: false,
        guard: StreamGuard::new(state),
    }))
}

/// Index just past the `n`-th content event, or of the first non-content tail when the stream
/// has fewer than `n` content events (so a fault always lands before the terminal events).
fn cut_after_content(events: &[Event], n: usize) -> usize {
    let mut seen = 0;
    for (i, e) in events.iter().enumerate() {
        match e.kind {
            Kind::Content if seen == n => return i,
            Kind::Content => seen += 1,
            Kind::Tail => return i,
            Kind::Meta => {}
        }
    }
    events.len()
}

fn render(framing: Framing, events: &[Event], close: bool) -> VecDeque<Bytes> {
    let mut frames = VecDeque::with_capacity(events.len() + 1);
    for (i, e) in events.iter().enumerate() {
        let mut buf = BytesMut::with_capacity(128).writer();
        let prefix: &[u8] = match framing {
            Framing::Sse | Framing::CrlfSse => b"data: ",
            Framing::NamedSse => b"",
            Framing::JsonArray if i == 0 => b"[",
            Framing::JsonArray => b",\r\n",
        };
        buf.get_mut().put_slice(prefix);
        if framing == Framing::NamedSse {
            let b = buf.get_mut();
            b.put_slice(b"event: ");
            b.put_slice(e.name.as_bytes());
            b.put_slice(b"\ndata: ");
        }
        match &e.payload {
            Payload::Json(v) => {
                // Serializing a Value into memory cannot fail.
                let _ = serde_json::to_writer(&mut buf, v);
            }
            Payload::Raw(s) => buf.get_mut().put_slice(s.as_bytes()),
        }
        let suffix: &[u8] = match framing {
            Framing::Sse | Framing::NamedSse => b"\n\n",
            Framing::CrlfSse => b"\r\n\r\n",
            Framing::JsonArray => b"",
        };
        buf.get_mut().put_slice(suffix);
        frames.push_back(buf.into_inner().freeze());
    }
    if framing == Framing::JsonArray && close {
        frames.push_back(Bytes::from_static(if events.is_empty() {
            b"[]"
        } else {
            b"]"
        }));
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: Kind) -> Event {
        Event {
            kind,
            name: "x",
            payload: Payload::Json(json!({})),
        }
    }

    #[test]
    fn cut_positions() {
        let events = vec![
            ev(Kind::Meta),
            ev(Kind::Content),
            ev(Kind::Meta),
            ev(Kind::Content),
            ev(Kind::Tail),
        ];
        assert_eq!(cut_after_content(&events, 0), 1);
        assert_eq!(cut_after_content(&events, 1), 3);
        assert_eq!(cut_after_content(&events, 2), 4);
        assert_eq!(cut_after_content(&events, 9), 4);
    }

    #[test]
    fn json_array_framing() {
        let frames = render(
            Framing::JsonArray,
            &[ev(Kind::Content), ev(Kind::Tail)],
            true,
        );
        let all: Vec<u8> = frames.iter().flat_map(|b| b.to_vec()).collect();
        let v: Value = serde_json::from_slice(&all).unwrap();
        assert_eq!(v, json!([{}, {}]));
    }
}
