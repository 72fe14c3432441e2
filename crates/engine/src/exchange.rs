//! One HTTP exchange with a provider: send, classify, translate. No retries here.

use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_core::{ErrorCode, GatewayError};
use portcullis_providers::UpstreamRequest;
use portcullis_providers::assemble::StreamFormat;

use crate::Engine;
use crate::body::{self, collect_limited};
use crate::call::Call;
use crate::gate::Pass;
use crate::leg::Leg;
use crate::outcome::{Outcome, OutcomeBody, sanitize_translated};
use crate::stream::{OnStreamEnd, StreamEnd, TranslatedStream};

/// A failed attempt, kept until the retry loop decides what to do with it.
pub(crate) struct Failure {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub error: GatewayError,
    pub retry_after: Option<Duration>,
    /// The provider was never reached (or the connection broke): always worth retrying.
    pub network: bool,
}

impl Failure {
    pub fn new(error: GatewayError, network: bool) -> Failure {
        Failure {
            status: error.status(),
            headers: HeaderMap::new(),
            error,
            retry_after: None,
            network,
        }
    }

    pub fn into_outcome(self, path: &str, retry_count: i32, provider: &str) -> Outcome {
        Outcome {
            status: self.status,
            headers: self.headers,
            body: OutcomeBody::Error(self.error),
            option_path: path.to_owned(),
            retry_count,
            provider: Some(provider.to_owned()),
            usage: None,
            model: None,
        }
    }
}

pub(crate) enum Exchange {
    Done(Outcome),
    Failed(Failure),
}

/// A failed connection. A host the SSRF policy refused after DNS is the client's mistake (400,
/// not retried); anything else is an unreachable provider (502, retried).
pub(crate) fn unreachable(provider: &str, e: &(dyn std::error::Error + 'static)) -> Failure {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            let e = GatewayError::new(
                ErrorCode::InvalidCustomHost,
                format!("Invalid custom host: {io}"),
            );
            return Failure::new(e, false);
        }
        cur = err.source();
    }
    let err = GatewayError::new(
        ErrorCode::UpstreamUnreachable,
        format!("could not reach {provider}: {e}"),
    )
    .with_provider(provider);
    Failure::new(err, true)
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

impl Engine {
    fn watch_stream_end(
        &self,
        stream: &mut TranslatedStream,
        ctx: &portcullis_providers::ResponseCtx,
        pass: Option<Pass>,
        callback: Option<OnStreamEnd>,
    ) {
        if pass.is_none() && callback.is_none() {
            return;
        }
        let gate = self.gate.clone();
        stream.on_end(
            &ctx.provider,
            &ctx.model,
            Box::new(move |end: StreamEnd| {
                if let (Some(gate), Some(pass)) = (gate, pass) {
                    // No usage (client gone, cut stream): the estimate stays charged.
                    gate.settle(pass, &end.provider, &end.model, end.usage, true);
                }
                if let Some(cb) = callback {
                    cb(end);
                }
            }),
        );
    }

    /// One exchange. A committed stream takes the target's gate `pass` and the call's
    /// stream-end callback, to settle and report when the stream ends.
    pub(crate) async fn exchange(
        &self,
        req: &UpstreamRequest,
        leg: &Leg,
        pass: &mut Option<Pass>,
        call: &Call,
    ) -> Exchange {
        let ctx = &leg.ctx;
        let mut builder = Request::builder().method(req.method.clone()).uri(&req.url);
        if let Some(h) = builder.headers_mut() {
            h.clone_from(&req.headers);
        }
        let http_req = match builder.body(body::full(req.body.clone())) {
            Ok(r) => r,
            Err(e) => {
                let err = GatewayError::new(
                    ErrorCode::InvalidCustomHost,
                    format!("Invalid custom host: the upstream URL is not valid ({e})"),
                );
                return Exchange::Failed(Failure::new(err, false));
            }
        };
        let resp = match self.transport.send(http_req).await {
            Ok(r) => r,
            Err(e) => return Exchange::Failed(unreachable(&ctx.provider, &*e)),
        };
        let (parts, upstream) = resp.into_parts();
        let status = parts.status;
        if !status.is_success() {
            let bytes = collect_limited(upstream, self.settings.max_error_bytes)
                .await
                .unwrap_or_default();
            let error = leg.error(status, &parts.headers, &bytes);
            return Exchange::Failed(Failure {
                status,
                retry_after: crate::retry::retry_after(&parts.headers),
                headers: sanitize_translated(parts.headers),
                error,
                network: false,
            });
        }
        let upstream_sse = is_event_stream(&parts.headers);
        let mut headers = sanitize_translated(parts.headers);
        if req.stream && upstream_sse {
            let mut stream = TranslatedStream::new(
                upstream,
                leg.stream(),
                self.settings.stream_idle_timeout,
                self.settings.max_stream_event_bytes,
            );
            if let (Some(cap), Some(format)) =
                (call.record_response, StreamFormat::of(call.endpoint))
            {
                stream.record_response(format, cap);
            }
            if let Err(e) = stream.first_output().await {
                return Exchange::Failed(Failure::new(
                    e.with_provider(ctx.provider.clone()),
                    false,
                ));
            }
            self.watch_stream_end(&mut stream, ctx, pass.take(), call.take_on_stream_end());
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert("cache-control", HeaderValue::from_static("no-cache"));
            // Tell buffering reverse proxies (nginx) to flush every event.
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            return Exchange::Done(Outcome {
                status,
                headers,
                body: OutcomeBody::Stream(stream.boxed_unsync()),
                option_path: String::new(),
                retry_count: 0,
                provider: Some(ctx.provider.clone()),
                usage: None,
                model: None,
            });
        }
        let bytes = match collect_limited(upstream, self.settings.max_response_bytes).await {
            Ok(b) => b,
            Err(e) => {
                let err = GatewayError::new(
                    ErrorCode::UpstreamInvalidResponse,
                    format!("reading the response from {} failed: {e}", ctx.provider),
                )
                .with_provider(ctx.provider.clone());
                return Exchange::Failed(Failure::new(err, true));
            }
        };
        if req.stream && leg.replays_chat() {
            // The provider ignored `stream`: the client still gets the stream it asked for.
            let replayed = leg.chat_body(&bytes).map(|t| (leg.replay(&t.body), t));
            return match replayed {
                Ok((Some(sse), t)) => {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                    Exchange::Done(Outcome {
                        status,
                        headers,
                        body: OutcomeBody::Stream(body::full(sse)),
                        option_path: String::new(),
                        retry_count: 0,
                        provider: Some(ctx.provider.clone()),
                        usage: t.usage,
                        model: t.model,
                    })
                }
                Ok((None, _)) => Exchange::Failed(Failure::new(
                    portcullis_providers::common::invalid_response(&ctx.provider, &bytes),
                    false,
                )),
                Err(e) => Exchange::Failed(Failure::new(e, false)),
            };
        }
        match leg.response(&bytes) {
            Ok(t) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Exchange::Done(Outcome {
                    status,
                    headers,
                    body: OutcomeBody::Full(t.body),
                    option_path: String::new(),
                    retry_count: 0,
                    provider: Some(ctx.provider.clone()),
                    usage: t.usage,
                    model: t.model,
                })
            }
            Err(e) => Exchange::Failed(Failure::new(e, false)),
        }
    }
}
