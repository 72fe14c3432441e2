//! The response side of a record: what the provider answered, when the first byte went out, and
//! when the last did (or the client went away).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use http_body::{Body as HttpBody, Frame, SizeHint};
use portcullis_engine::{Outcome, OutcomeBody};
use portcullis_logs::Outcome as LogOutcome;

use super::draft::Draft;
use super::mask;

/// The standard header for server-side timings (browsers' devtools show it): the gateway's own
/// time and the provider's, in milliseconds, up to the response head.
pub const SERVER_TIMING: http::HeaderName = http::HeaderName::from_static("server-timing");

impl Draft {
    /// Takes what the record needs from an executed plan, before it becomes a response.
    pub fn outcome(&mut self, o: &Outcome, requested_model: &str) {
        self.answered_at = Some(Instant::now());
        self.rec.status = o.status.as_u16();
        self.rec.retry_count = o.retry_count;
        self.rec.provider = o.provider.clone();
        self.rec.model = o
            .model
            .clone()
            .or_else(|| Some(requested_model.to_owned()).filter(|m| !m.is_empty()));
        if let (Some(u), Some(p)) = (&o.usage, o.provider.as_deref()) {
            let model = self.rec.model.clone().unwrap_or_default();
            self.usage(p, &model, u);
        }
        match &o.body {
            OutcomeBody::Error(e) => self.error(e),
            OutcomeBody::Full(b) if self.payloads => {
                self.rec.response_body = Some(mask::bytes_payload(b, self.observer.payload_cap));
            }
            _ => {}
        }
        if !o.status.is_success() && self.rec.outcome.is_none() {
            self.rec.outcome = Some(LogOutcome::ProviderError);
        }
    }

    /// The response, with its `server-timing` header and a body that emits the record when it
    /// ends (or is dropped: a client that went away).
    pub fn wrap(mut self, mut resp: Response) -> Response {
        let now = Instant::now();
        let upstream = self.journal.entries().upstream;
        self.upstream_before = upstream;
        let answered = self.answered_at.get_or_insert(now);
        let gateway = answered
            .saturating_duration_since(self.started)
            .saturating_sub(upstream);
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        if let Ok(v) = HeaderValue::from_str(&format!(
            "gateway;dur={:.3}, upstream;dur={:.3}",
            ms(gateway),
            ms(upstream)
        )) {
            resp.headers_mut().insert(SERVER_TIMING, v);
        }
        if !self.observer.enabled() {
            return resp;
        }
        let (parts, body) = resp.into_parts();
        // A stream's response comes assembled with its end; other bodies are kept as sent.
        let capture = self.payloads && self.rec.response_body.is_none() && self.stream.is_none();
        let recorded = Recorded {
            inner: Some(body),
            draft: Some(self),
            first: None,
            bytes: 0,
            capture: capture.then(Vec::new),
        };
        Response::from_parts(parts, Body::new(recorded))
    }
}

/// A response body that emits its request's record at its end.
pub struct Recorded {
    inner: Option<Body>,
    draft: Option<Draft>,
    first: Option<Instant>,
    bytes: u64,
    /// The body as sent, up to the payload cap (passthrough).
    capture: Option<Vec<u8>>,
}

impl Recorded {
    fn finish(&mut self, completed: bool) {
        // The inner body goes first: dropping a stream reports its end to the stream slot.
        self.inner = None;
        let Some(mut d) = self.draft.take() else {
            return;
        };
        if let Some(c) = self.capture.take()
            && !c.is_empty()
        {
            d.rec.response_body = Some(mask::owned_payload(c, d.observer.payload_cap));
        }
        let summary = d
            .stream
            .as_ref()
            .and_then(|s| s.lock().ok().and_then(|mut g| g.take()));
        if let Some(mut s) = summary {
            if let Some(r) = s.response.take().filter(|_| d.payloads) {
                d.rec.response_body = Some(mask::owned_payload(r, d.observer.payload_cap));
            }
            if !s.model.is_empty() {
                d.rec.model = Some(s.model.clone());
            }
            if let Some(u) = &s.usage {
                let model = if s.model.is_empty() {
                    d.rec.model.clone().unwrap_or_default()
                } else {
                    s.model.clone()
                };
                d.usage(&s.provider, &model, u);
            }
            if let Some(e) = &s.error {
                d.error(e);
            } else if !s.completed {
                d.rec.outcome = Some(LogOutcome::ClientDisconnect);
            }
        } else if !completed && d.rec.outcome.is_none_or(|o| !o.is_error()) {
            d.rec.outcome = Some(LogOutcome::ClientDisconnect);
        }
        let first = self.first;
        let bytes = self.bytes;
        d.emit(first, bytes);
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl HttpBody for Recorded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if this.first.is_none() && !data.is_empty() {
                        this.first = Some(Instant::now());
                    }
                    this.bytes += data.len() as u64;
                    if let Some(c) = this.capture.as_mut() {
                        let cap = this
                            .draft
                            .as_ref()
                            .map_or(0, |d| d.observer.payload_cap)
                            .saturating_add(1);
                        let room = cap.saturating_sub(c.len()).min(data.len());
                        c.extend_from_slice(&data[..room]);
                    }
                }
                // Hyper stops polling a body that says it is done: finish now, not at drop.
                if this.inner.as_ref().is_some_and(HttpBody::is_end_stream) {
                    this.finish(true);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}
