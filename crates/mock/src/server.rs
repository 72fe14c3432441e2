//! The HTTP server: accept loop, connection handling, and per-request dispatch to the formats.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::answer::Answer;
use crate::body::{self, Out, ResBody};
use crate::directives::{self, percent_decode};
use crate::routes::{self, GeminiAction, Head, Provider, Route};
use crate::script::{Reply, ReplyBody};
use crate::state::{State, WaitGuard};
use crate::{MockOptions, anthropic, control, gemini, openai};

/// The model echoed back when the request names none.
const DEFAULT_MODEL: &str = "mock-model";
/// The 200 body sent for a non-streaming `malformed` reply.
const MALFORMED: &str =
    r#"{"id":"mock-malformed","object":"chat.completion","choices":[{"message":"#;

/// Why a request ends without a response; hyper closes the connection on it.
#[derive(Debug)]
pub(crate) struct Abort(&'static str);

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Abort {}

/// Runs a mock on `opts.addr` until `shutdown` resolves (the CLI's entry point).
pub async fn serve(
    opts: MockOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = bind(opts.addr)?;
    tracing::info!(addr = %listener.local_addr()?, "mock provider listening");
    let token = CancellationToken::new();
    // Dropping this future (or returning) must also stop every connection it spawned.
    let _stop = token.clone().drop_guard();
    let state = Arc::new(State::new(opts, token));
    tokio::select! {
        () = shutdown => {}
        () = accept_loop(listener, state) => {}
    }
    Ok(())
}

/// Binds with a large backlog so benchmark connection bursts are not refused.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    loop {
        let stream = tokio::select! {
            () = state.shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Usually fd exhaustion under load: back off instead of spinning.
                    tracing::warn!(error = %e, "mock: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // Small SSE frames must leave immediately, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, state.clone(), builder.clone()));
    }
}

async fn connection(
    stream: TcpStream,
    state: Arc<State>,
    builder: Arc<auto::Builder<TokioExecutor>>,
) {
    let svc_state = state.clone();
    let service = service_fn(move |req| handle(svc_state.clone(), req));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "mock: connection ended with an error");
            }
        }
        () = state.shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ResBody>, Abort> {
    let (parts, body) = req.into_parts();
    if parts.uri.path().starts_with(control::PREFIX) {
        return Ok(control::handle(&state, &parts.method, parts.uri.path(), body).await);
    }
    let body = body
        .collect()
        .await
        .map_err(|_| Abort("mock: client went away while sending the body"))?
        .to_bytes();
    // Recorded before anything can wait, so a request cancelled later is still visible.
    state.record(&parts, &body);
    respond(&state, &parts, &body).await
}

async fn respond(
    state: &Arc<State>,
    parts: &Parts,
    body: &Bytes,
) -> Result<Response<ResBody>, Abort> {
    let path = parts.uri.path();
    let route = routes::classify(&parts.method, path);
    let provider = route.provider();
    let head: Head<'_> = if route.wants_json() {
        match serde_json::from_slice(body) {
            Ok(h) => h,
            Err(e) => return Ok(error(provider, 400, Some(&invalid_json(provider, &e)))),
        }
    } else {
        Head::default()
    };
    let model_raw: Cow<'_, str> = match (route, &head.model) {
        (Route::Gemini { model, .. }, _) => percent_decode(model),
        (_, Some(model)) => Cow::Borrowed(model.as_ref()),
        (_, None) => {
            routes::azure_deployment(path).map_or(Cow::Borrowed(DEFAULT_MODEL), percent_decode)
        }
    };
    let (model, scripted) = match directives::parse(&model_raw) {
        Ok(parsed) => parsed,
        Err(msg) => return Ok(error(provider, 400, Some(&msg))),
    };
    let mut reply = state.take_reply(path).unwrap_or_default();
    if let Some(s) = scripted {
        reply.overlay(s);
    }
    wait(state, &reply).await?;
    let mut response = render(state, parts, body, route, &head, model, &reply);
    decorate(&mut response, &reply);
    Ok(response)
}

/// Waits out latency, delay or hang before the headers; ends early on shutdown.
async fn wait(state: &State, reply: &Reply) -> Result<(), Abort> {
    let delay = state.opts.latency + reply.delay.unwrap_or_default();
    if !reply.hang && delay.is_zero() {
        return Ok(());
    }
    let guard = WaitGuard::new(state);
    if reply.hang {
        state.shutdown.cancelled().await;
        return Err(Abort("mock: hanging request ended by shutdown"));
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = state.shutdown.cancelled() => return Err(Abort("mock: delayed request ended by shutdown")),
    }
    guard.finish();
    Ok(())
}

fn render(
    state: &Arc<State>,
    parts: &Parts,
    body: &Bytes,
    route: Route<'_>,
    head: &Head<'_>,
    model: &str,
    reply: &Reply,
) -> Response<ResBody> {
    let provider = route.provider();
    let status = reply.status.unwrap_or(200);
    let Ok(code) = StatusCode::from_u16(status) else {
        return error(
            provider,
            500,
            Some("mock: scripted status is not a valid HTTP status"),
        );
    };
    match &reply.body {
        Some(ReplyBody::Json(v)) => return json_response(code, v),
        Some(ReplyBody::Raw(b)) => return bytes_response(code, "application/json", b.clone()),
        None => {}
    }
    if status >= 400 {
        return error(provider, status, None);
    }
    if !code.is_success() {
        let mut r = Response::new(ResBody::empty());
        *r.status_mut() = code;
        return r;
    }
    let streaming = match route {
        Route::Chat | Route::Completions | Route::Messages => head.streaming(),
        Route::Gemini { action, .. } => action == GeminiAction::Stream,
        _ => false,
    };
    if reply.malformed && !streaming {
        return bytes_response(
            code,
            "application/json",
            Bytes::from_static(MALFORMED.as_bytes()),
        );
    }
    let answer = || Answer::new(reply, model, body.len(), state.opts.stream_chunks);
    let out = match route {
        Route::Chat => openai::chat(&answer(), streaming, head.include_usage()),
        Route::Completions => openai::completions(&answer(), streaming, head.include_usage()),
        Route::Embeddings => {
            let base64 = head.encoding_format.as_deref() == Some("base64");
            match openai::embeddings(&answer(), head.input.as_ref(), head.dimensions, base64) {
                Ok(out) => out,
                Err(msg) => return error(provider, 400, Some(&msg)),
            }
        }
        Route::Models => Out::Json(openai::models()),
        Route::Model(id) => Out::Json(openai::model(&percent_decode(id))),
        Route::Messages => anthropic::messages(&answer(), streaming),
        Route::CountTokens => Out::Json(anthropic::count_tokens(&answer())),
        Route::Gemini { action, .. } => {
            let result = match action {
                GeminiAction::Generate => Ok(gemini::generate(&answer())),
                GeminiAction::Stream => {
                    Ok(gemini::stream(&answer(), query_is(parts, "alt", "sse")))
                }
                GeminiAction::Embed => gemini::embed(head),
                GeminiAction::BatchEmbed => gemini::batch_embed(head),
                GeminiAction::CountTokens => Ok(Out::Json(gemini::count_tokens(&answer()))),
            };
            match result {
                Ok(out) => out,
                Err(msg) => return error(provider, 400, Some(&msg)),
            }
        }
        Route::Echo => return echo(parts, body, code),
        Route::Unknown => {
            return json_response(StatusCode::NOT_FOUND, &openai::no_route(parts.uri.path()));
        }
    };
    match out {
        Out::Json(v) => json_response(code, &v),
        Out::Stream(script) => {
            let content_type = script.framing.content_type();
            let mut r = Response::new(body::stream(state.clone(), script, reply));
            *r.status_mut() = code;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            r.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
    }
}

fn query_is(parts: &Parts, key: &str, value: &str) -> bool {
    parts.uri.query().is_some_and(|q| {
        q.split('&').any(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, v)| k == key && v == value)
        })
    })
}

/// Sends the request body back, with the request line in `x-mock-*` headers.
fn echo(parts: &Parts, body: &Bytes, code: StatusCode) -> Response<ResBody> {
    let mut r = Response::new(ResBody::full(body.clone()));
    *r.status_mut() = code;
    let h = r.headers_mut();
    if let Some(ct) = parts.headers.get(CONTENT_TYPE) {
        h.insert(CONTENT_TYPE, ct.clone());
    }
    h.insert(
        "x-mock-method",
        HeaderValue::from_str(parts.method.as_str()).unwrap_or(HeaderValue::from_static("?")),
    );
    // Path and query come from a parsed URI, so they are valid header values.
    let to_value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    h.insert("x-mock-path", to_value(parts.uri.path()));
    h.insert("x-mock-query", to_value(parts.uri.query().unwrap_or("")));
    r
}

/// Adds `Retry-After` and scripted headers; the first scripted value of a name replaces any
/// generated one (so `content-type` can be overridden), later ones append.
fn decorate(r: &mut Response<ResBody>, reply: &Reply) {
    let h = r.headers_mut();
    if let Some(secs) = reply.retry_after {
        h.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    let mut seen: Vec<HeaderName> = Vec::new();
    for (name, value) in &reply.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            tracing::warn!(header = %name, "mock: skipping invalid scripted header");
            continue;
        };
        if seen.contains(&name) {
            h.append(name, value);
        } else {
            h.insert(name.clone(), value);
            seen.push(name);
        }
    }
}

pub(crate) fn json_response(code: StatusCode, v: &Value) -> Response<ResBody> {
    // Serializing a Value into memory cannot fail.
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes_response(code, "application/json", bytes.into())
}

fn bytes_response(code: StatusCode, content_type: &'static str, bytes: Bytes) -> Response<ResBody> {
    let mut r = Response::new(ResBody::full(bytes));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// An error in `provider`'s wire format.
fn error(provider: Provider, status: u16, message: Option<&str>) -> Response<ResBody> {
    let body = match provider {
        Provider::OpenAi => openai::error_body(status, message),
        Provider::Anthropic => anthropic::error_body(status, message),
        Provider::Gemini => gemini::error_body(status, message),
    };
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    )
}

fn invalid_json(provider: Provider, e: &serde_json::Error) -> String {
    match provider {
        Provider::OpenAi => format!(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.) ({e})"
        ),
        Provider::Anthropic => format!("There was an error parsing the body of your request: {e}"),
        Provider::Gemini => format!("Invalid JSON payload received. {e}"),
    }
}
