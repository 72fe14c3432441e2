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

use crate::respond::{self, Ingress};

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
#[derive(Clone)]
pub struct ShedLayer(pub Arc<Gate>);

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            gate: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    gate: Arc<Gate>,
}

fn overloaded(req: &Request) -> Response {
    let ingress = if req.uri().path().starts_with("/v1/messages") {
        Ingress::Anthropic
    } else {
        Ingress::OpenAi
    };
    respond::error(
        GatewayError::new(
            ErrorCode::Overloaded,
            "The gateway is at its concurrent request limit; retry shortly",
        ),
        ingress,
        None,
    )
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
                resp: Some(overloaded(&req)),
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
