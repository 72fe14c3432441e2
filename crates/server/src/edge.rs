//! Generic HTTP concerns at the edge, outermost first: panic catch, load shedding (a request
//! holds its slot until its response body, stream included, is finished or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
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

pub async fn shed(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let Some(permit) = gate.enter() else {
        let ingress = if req.uri().path().starts_with("/v1/messages") {
            Ingress::Anthropic
        } else {
            Ingress::OpenAi
        };
        return respond::error(
            GatewayError::new(
                ErrorCode::Overloaded,
                "The gateway is at its concurrent request limit; retry shortly",
            ),
            ingress,
            None,
        );
    };
    let resp = next.run(req).await;
    resp.map(|inner| {
        Body::new(Held {
            inner,
            permit: Some(permit),
        })
    })
}

/// The response for a handler that panicked: logged, and a 500 the client can read.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    respond::error(
        GatewayError::new(ErrorCode::Internal, "Something went wrong"),
        Ingress::OpenAi,
        None,
    )
}
