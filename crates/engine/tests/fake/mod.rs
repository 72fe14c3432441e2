//! A scripted transport for engine tests: replies in order, records requests, honours paused time.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use portcullis_engine::body::{Body, BoxError};
use portcullis_engine::transport::{SendFuture, Transport};

pub enum Step {
    /// A full response after `delay`.
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Bytes,
        delay: Duration,
    },
    /// An SSE response whose chunks arrive one by one; `cut` ends it with a transport error.
    Stream { chunks: Vec<Bytes>, cut: bool },
    /// The connection fails.
    Refused,
}

pub fn json(status: u16, body: &str) -> Step {
    Step::Reply {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: Bytes::from(body.to_owned()),
        delay: Duration::ZERO,
    }
}

pub fn ok_chat() -> Step {
    json(
        200,
        r#"{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
    )
}

#[derive(Default)]
pub struct Fake {
    steps: Mutex<VecDeque<Step>>,
    pub seen: Arc<Mutex<Vec<(String, Bytes)>>>,
}

impl Fake {
    pub fn new(steps: Vec<Step>) -> Arc<Fake> {
        Arc::new(Fake {
            steps: Mutex::new(steps.into()),
            seen: Arc::default(),
        })
    }
    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
    pub fn urls(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(u, _)| u.clone())
            .collect()
    }
}

impl Transport for Fake {
    fn send(&self, req: Request<Body>) -> SendFuture {
        let step = self.steps.lock().unwrap().pop_front();
        let url = req.uri().to_string();
        let seen = self.seen.clone();
        let body = req.into_body();
        Box::pin(async move {
            let bytes = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            seen.lock().unwrap().push((url, bytes));
            match step {
                None | Some(Step::Refused) => Err(
                    Box::<dyn std::error::Error + Send + Sync>::from("connection refused"),
                ),
                Some(Step::Reply {
                    status,
                    headers,
                    body,
                    delay,
                }) => {
                    tokio::time::sleep(delay).await;
                    let mut r = Response::builder().status(StatusCode::from_u16(status).unwrap());
                    for (k, v) in headers {
                        r = r.header(k, v);
                    }
                    Ok(r.body(portcullis_engine::body::full(body)).unwrap())
                }
                Some(Step::Stream { chunks, cut }) => {
                    let mut items: Vec<Result<http_body::Frame<Bytes>, BoxError>> = chunks
                        .into_iter()
                        .map(|c| Ok(http_body::Frame::data(c)))
                        .collect();
                    if cut {
                        items.push(Err("connection reset".into()));
                    }
                    let body = StreamBody::new(stream::iter(items)).boxed_unsync();
                    Ok(Response::builder()
                        .status(200)
                        .header("content-type", "text/event-stream")
                        .body(body)
                        .unwrap())
                }
            }
        })
    }
}
