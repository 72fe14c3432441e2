//! A translated response stream: upstream bytes → SSE events → client frames, flushed as they
//! arrive.
//!
//! Before the stream is committed (headers not yet sent) failures are returned to the attempt
//! loop so it can retry or fall back. After that every failure becomes one error frame in the
//! client's format and the stream ends: never a silent clean end.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use portcullis_core::sse::{SseDecoder, SseEvent};
use portcullis_core::{ErrorCode, GatewayError, Usage};
use portcullis_providers::StreamTranslator;
use portcullis_providers::assemble::{Assembler, StreamFormat};
use tokio::time::{Instant, Sleep};

use crate::body::{Body, BoxError};

/// How a stream ended, reported once (to logging and metrics).
#[derive(Debug, Clone)]
pub struct StreamEnd {
    /// The provider and model the stream came from (for pricing).
    pub provider: String,
    pub model: String,
    pub usage: Option<Usage>,
    pub error: Option<GatewayError>,
    /// False when the client went away before the end.
    pub completed: bool,
    /// The response the stream added up to (JSON text), when the record asked for it.
    pub response: Option<Vec<u8>>,
}

/// How a stream's response is kept for its record.
enum Record {
    /// The translator folds in what it parses.
    ByTranslator,
    /// The client-facing frames are read back.
    Frames(Box<Assembler>),
}

pub type OnStreamEnd = Box<dyn FnOnce(StreamEnd) + Send>;

pub struct TranslatedStream {
    upstream: Body,
    decoder: SseDecoder,
    translator: Box<dyn StreamTranslator>,
    events: Vec<SseEvent>,
    out: Vec<u8>,
    pending: Option<Bytes>,
    /// A failure found after the last bytes were produced: sent as the final frame.
    pending_error: Option<GatewayError>,
    finished: bool,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    on_end: Option<OnStreamEnd>,
    provider: String,
    model: String,
    record: Option<Record>,
}

impl TranslatedStream {
    pub fn new(
        upstream: Body,
        translator: Box<dyn StreamTranslator>,
        idle: Duration,
        max_event: usize,
    ) -> Self {
        TranslatedStream {
            upstream,
            decoder: SseDecoder::new(max_event),
            translator,
            events: Vec::new(),
            out: Vec::new(),
            pending: None,
            pending_error: None,
            finished: false,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            on_end: None,
            provider: String::new(),
            model: String::new(),
            record: None,
        }
    }

    /// Keeps the response this stream adds up to (at most `cap` bytes of text), reported with
    /// its end: for the log record.
    pub fn record_response(&mut self, format: StreamFormat, cap: usize) {
        self.record = Some(if self.translator.record_response(format, cap) {
            Record::ByTranslator
        } else {
            Record::Frames(Box::new(Assembler::new(format, cap)))
        });
    }

    /// What goes to the client, as the record's assembler sees it.
    fn sent(&mut self, frame: &[u8]) {
        if let Some(Record::Frames(a)) = self.record.as_mut() {
            a.feed(frame);
        }
    }

    /// Registers the callback told how the stream ended, and what to call its source.
    pub fn on_end(&mut self, provider: &str, model: &str, f: OnStreamEnd) {
        self.provider = provider.to_owned();
        self.model = model.to_owned();
        self.on_end = Some(f);
    }

    pub fn usage(&self) -> Option<Usage> {
        self.translator.usage()
    }

    /// Reads until the first client-facing bytes exist. Errors here are the attempt's failure.
    pub async fn first_output(&mut self) -> Result<(), GatewayError> {
        let first = std::future::poll_fn(|cx| self.poll_output(cx)).await;
        match first {
            Some(Ok(bytes)) => {
                self.pending = Some(bytes);
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => Err(GatewayError::new(
                ErrorCode::UpstreamStreamError,
                "the provider's stream ended without sending anything",
            )),
        }
    }

    fn report(&mut self, error: Option<GatewayError>, completed: bool) {
        if let Some(f) = self.on_end.take() {
            let response = match self.record.take() {
                Some(Record::ByTranslator) => self.translator.recorded_response(),
                Some(Record::Frames(a)) => a.finish(),
                None => None,
            };
            f(StreamEnd {
                provider: std::mem::take(&mut self.provider),
                model: self
                    .translator
                    .served_model()
                    .unwrap_or_else(|| std::mem::take(&mut self.model)),
                usage: self.translator.usage(),
                error,
                completed,
                response,
            });
        }
    }

    fn translate(&mut self) -> Result<(), GatewayError> {
        let events = std::mem::take(&mut self.events);
        let mut result = Ok(());
        for ev in &events {
            if let Err(e) = self.translator.event(ev, &mut self.out) {
                result = Err(e);
                break;
            }
        }
        self.events = events;
        self.events.clear();
        result
    }

    fn take_out(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.out)))
    }

    /// The next client-facing bytes; `Err` on any failure; `None` after a clean end.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, GatewayError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut self.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    self.sleep.as_mut().reset(Instant::now() + self.idle);
                    if let Err(e) = self.decoder.feed(&data, &mut self.events) {
                        self.finished = true;
                        return Poll::Ready(Some(Err(GatewayError::new(
                            ErrorCode::UpstreamInvalidResponse,
                            format!("the provider's stream is malformed: {e}"),
                        ))));
                    }
                    if let Err(e) = self.translate() {
                        self.finished = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    if let Some(b) = self.take_out() {
                        return Poll::Ready(Some(Ok(b)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(lost(&*e))));
                }
                Poll::Ready(None) => {
                    self.finished = true;
                    let ended = self
                        .decoder
                        .finish(&mut self.events)
                        .map_err(|e| {
                            GatewayError::new(ErrorCode::UpstreamInvalidResponse, e.to_string())
                        })
                        .and_then(|()| self.translate())
                        .and_then(|()| self.translator.finish(&mut self.out));
                    return match (ended, self.take_out()) {
                        (Ok(()), Some(b)) => Poll::Ready(Some(Ok(b))),
                        (Ok(()), None) => Poll::Ready(None),
                        (Err(e), Some(b)) => {
                            // Deliver what was translated, then the error.
                            self.pending_error = Some(e);
                            Poll::Ready(Some(Ok(b)))
                        }
                        (Err(e), None) => Poll::Ready(Some(Err(e))),
                    };
                }
                Poll::Pending => {
                    ready!(self.sleep.as_mut().poll(cx));
                    self.finished = true;
                    return Poll::Ready(Some(Err(GatewayError::new(
                        ErrorCode::UpstreamStreamError,
                        format!("the provider sent nothing for {} s", self.idle.as_secs()),
                    ))));
                }
            }
        }
    }
}

fn lost(e: &(dyn std::error::Error + Send + Sync)) -> GatewayError {
    GatewayError::new(
        ErrorCode::UpstreamStreamError,
        format!("the connection to the provider was lost mid-stream: {e}"),
    )
}

impl HttpBody for TranslatedStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(b) = this.pending.take() {
            this.sent(&b);
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(e) = this.pending_error.take() {
            let frame = this.translator.error_frame(&e);
            this.sent(&frame);
            this.report(Some(e), true);
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        match ready!(this.poll_output(cx)) {
            Some(Ok(b)) => {
                this.sent(&b);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Some(Err(e)) => {
                let frame = this.translator.error_frame(&e);
                this.sent(&frame);
                this.report(Some(e), true);
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
            None => {
                this.report(None, true);
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for TranslatedStream {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            let completed = self.finished && self.pending.is_none();
            self.report(None, completed);
        }
    }
}
