//! Generic HTTP concerns at the edge, outermost first: panic catch, load shedding (a request
//! holds its slot until its response body, stream included, is finished or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use std::convert::Infallible;
use std::future::Future;
use std::task::ready;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use portcullis_core::{ErrorCode, GatewayError};

use crate::observe::Draft;
use crate::pipeline::endpoint_label;
use crate::respond::{self, Ingress};
use crate::state::AppState;
use portcullis_core::Endpoint;

/// Counts requests in flight and refuses new ones past the limit.
pub struct Gate {
    in_flight: AtomicUsize,
    max: usize,
}

pub struct Permit(Arc<Gate>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn new(max: usize) -> Arc<Gate> {
        Arc::new(Gate {
            in_flight: AtomicUsize::new(0),
            max,
        })
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn enter(self: &Arc<Self>) -> Option<Permit> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit(self.clone()))
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request's slot until it is done.
    struct Held {
        #[pin]
        inner: Body,
        permit: Option<Permit>,
    }
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let r = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = r {
            this.permit.take();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The load-shedding layer: a tower layer rather than `from_fn`, so the hot path pays for no
/// boxed future.
/// `state` is where refused inference requests are recorded (every inference request gets
/// one log record, refusals at the edge included).
#[derive(Clone)]
pub struct ShedLayer {
    pub gate: Arc<Gate>,
    pub state: Arc<AppState>,
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            gate: self.gate.clone(),
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    gate: Arc<Gate>,
    state: Arc<AppState>,
}

/// The inference endpoint a path names, if any (what gets a log record when refused here).
fn inference_endpoint(path: &str) -> Option<Endpoint> {
    Some(match path.trim_end_matches('/') {
        "/v1/chat/completions" | "/chat/completions" => Endpoint::ChatComplete,
        "/v1/completions" | "/completions" => Endpoint::Complete,
        "/v1/embeddings" | "/embeddings" => Endpoint::Embed,
        "/v1/messages" => Endpoint::Messages,
        "/v1/messages/count_tokens" => Endpoint::MessagesCountTokens,
        _ => return None,
    })
}

fn overloaded(state: &Arc<AppState>, req: &Request) -> Response {
    let ingress = if req.uri().path().starts_with("/v1/messages") {
        Ingress::Anthropic
    } else {
        Ingress::OpenAi
    };
    let err = GatewayError::new(
        ErrorCode::Overloaded,
        "The gateway is at its concurrent request limit; retry shortly",
    );
    if let Some(endpoint) = inference_endpoint(req.uri().path())
        && state.observer.enabled()
    {
        let mut draft = Draft::begin(
            &state.observer,
            state.prices,
            endpoint_label(endpoint),
            req.method(),
            req.uri().path(),
            req.headers(),
        );
        if let Ok(h) = portcullis_config::headers::parse(req.headers()) {
            draft.trace(h.trace_id.as_deref(), false);
        }
        draft.fail(&err);
    }
    respond::error(err, ingress, None)
}

impl<S> tower::Service<Request> for Shed<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.gate.enter() {
            Some(permit) => ShedFuture::Running {
                fut: self.inner.call(req),
                permit: Some(permit),
            },
            None => ShedFuture::Refused {
                resp: Some(overloaded(&self.state, &req)),
            },
        }
    }
}

pin_project_lite::pin_project! {
    #[project = ShedProj]
    pub enum ShedFuture<F> {
        Running { #[pin] fut: F, permit: Option<Permit> },
        Refused { resp: Option<Response> },
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for ShedFuture<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ShedProj::Running { fut, permit } => {
                let Ok(resp) = ready!(fut.poll(cx));
                let permit = permit.take();
                Poll::Ready(Ok(resp.map(|inner| Body::new(Held { inner, permit }))))
            }
            ShedProj::Refused { resp } => Poll::Ready(Ok(resp.take().unwrap_or_default())),
        }
    }
}

/// The response for a handler that panicked: logged, and a 500 the client can read.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    respond::error(
        GatewayError::new(ErrorCode::Internal, "Something went wrong"),
        Ingress::OpenAi,
        None,
    )
}
