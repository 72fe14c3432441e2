//! Spans exported over OTLP/HTTP to a fake collector on loopback that decodes the protobuf.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatusCode;
use portcullis_logs::LogRecord;
use portcullis_telemetry::{
    OtlpSettings, Telemetry, TelemetryError, TelemetrySettings, Tracing, parse_traceparent,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

struct Received {
    headers: HeaderMap,
    request: ExportTraceServiceRequest,
}

#[derive(Clone)]
struct Collector {
    tx: mpsc::UnboundedSender<Received>,
    /// The HTTP status to answer with.
    status: Arc<AtomicU16>,
}

async fn export(State(c): State<Collector>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let request = ExportTraceServiceRequest::decode(body.as_ref()).expect("valid OTLP protobuf");
    let status = StatusCode::from_u16(c.status.load(Ordering::Relaxed)).unwrap();
    let _ = c.tx.send(Received { headers, request });
    (
        status,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

/// A collector on 127.0.0.1:<random> accepting `POST /v1/traces`.
async fn collector(
    status: u16,
) -> (
    SocketAddr,
    mpsc::UnboundedReceiver<Received>,
    Arc<AtomicU16>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let status = Arc::new(AtomicU16::new(status));
    let app = Router::new()
        .route("/v1/traces", post(export))
        .with_state(Collector {
            tx,
            status: status.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, rx, status)
}

/// Collects spans from the collector until `n` have arrived (bounded by [`WAIT`]).
async fn spans(rx: &mut mpsc::UnboundedReceiver<Received>, n: usize) -> (Vec<Received>, Vec<Span>) {
    let mut requests = Vec::new();
    let mut spans = Vec::new();
    while spans.len() < n {
        let r = timeout(WAIT, rx.recv())
            .await
            .expect("collector got spans in time")
            .expect("collector alive");
        for rs in &r.request.resource_spans {
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().cloned());
            }
        }
        requests.push(r);
    }
    (requests, spans)
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn s<'a>(span: &'a Span, key: &str) -> &'a str {
    match attr(&span.attributes, key) {
        Some(Value::StringValue(v)) => v,
        other => panic!("{key}: expected a string, got {other:?}"),
    }
}

fn i(span: &Span, key: &str) -> i64 {
    match attr(&span.attributes, key) {
        Some(Value::IntValue(v)) => *v,
        other => panic!("{key}: expected an int, got {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn settings(addr: SocketAddr) -> OtlpSettings {
    let mut s = OtlpSettings::new(format!("http://{addr}/v1/traces"));
    s.headers
        .insert("x-api-key".into(), "collector-secret".into());
    s.service_name = "portcullis-test".into();
    s.timeout_ms = 3000;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_ids_times_names_and_genai_attributes() {
    let (addr, mut rx, _) = collector(200).await;
    let tracing = Tracing::start(Some(&settings(addr))).unwrap();
    assert!(tracing.is_enabled());

    let ok = common::success();
    let failed = common::provider_error();
    tracing.record(&ok);
    tracing.record(&failed);
    timeout(WAIT, tracing.flush()).await.unwrap().unwrap();

    let (requests, got) = spans(&mut rx, 2).await;
    let h = &requests[0].headers;
    assert_eq!(h["x-api-key"], "collector-secret");
    assert_eq!(h[header::CONTENT_TYPE], "application/x-protobuf");

    // Resource and scope.
    let rs = &requests[0].request.resource_spans[0];
    let resource = rs.resource.as_ref().unwrap();
    assert!(matches!(
        attr(&resource.attributes, "service.name"),
        Some(Value::StringValue(v)) if v == "portcullis-test"
    ));
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "portcullis");

    let span = got
        .iter()
        .find(|sp| hex(&sp.span_id) == common::SPAN_ID)
        .expect("the success span");
    // W3C ids, as the record has them.
    assert_eq!(hex(&span.trace_id), common::TRACE_ID);
    assert_eq!(hex(&span.parent_span_id), common::PARENT_SPAN_ID);
    // Real times: created_at, plus the total latency.
    let start_ns = common::CREATED_AT_MS as u64 * 1_000_000;
    assert_eq!(span.start_time_unix_nano, start_ns);
    assert_eq!(span.end_time_unix_nano, start_ns + 1_250_000 * 1_000);
    // GenAI naming: "{operation} {request model}", a server span.
    assert_eq!(span.name, "chat gpt-4o");
    assert_eq!(span.kind, SpanKind::Server as i32);
    let status = span.status.as_ref().map_or(0, |st| st.code);
    assert_eq!(status, SpanStatusCode::Unset as i32);

    assert_eq!(s(span, "gen_ai.operation.name"), "chat");
    assert_eq!(s(span, "gen_ai.provider.name"), "openai");
    assert_eq!(s(span, "gen_ai.system"), "openai");
    assert_eq!(s(span, "gen_ai.request.model"), "gpt-4o");
    assert_eq!(s(span, "gen_ai.response.model"), "gpt-4o-2024-08-06");
    assert_eq!(i(span, "gen_ai.usage.input_tokens"), 100);
    assert_eq!(i(span, "gen_ai.usage.output_tokens"), 20);
    assert_eq!(i(span, "gen_ai.usage.cache_read.input_tokens"), 64);
    assert_eq!(i(span, "gen_ai.usage.reasoning.output_tokens"), 5);
    assert!(attr(&span.attributes, "gen_ai.usage.cache_creation.input_tokens").is_none());
    assert_eq!(i(span, "http.response.status_code"), 200);
    assert_eq!(s(span, "http.request.method"), "POST");
    assert_eq!(s(span, "url.path"), "/v1/chat/completions");
    assert!(attr(&span.attributes, "error.type").is_none());
    assert_eq!(s(span, "portcullis.trace_id"), "client-trace-42");
    assert_eq!(s(span, "portcullis.workspace_id"), "ws_1");
    assert_eq!(s(span, "portcullis.api_key_id"), "key_1");
    assert_eq!(s(span, "portcullis.cache_status"), "MISS");
    assert_eq!(s(span, "portcullis.outcome"), "success");
    assert_eq!(i(span, "portcullis.retry_count"), 0);
    assert_eq!(i(span, "portcullis.overhead_us"), 42);
    match attr(&span.attributes, "portcullis.cost_usd") {
        Some(Value::DoubleValue(v)) => assert!((v - 0.0015).abs() < 1e-12),
        other => panic!("cost: {other:?}"),
    }
    // The end user stays out of the span.
    assert!(
        !span
            .attributes
            .iter()
            .any(|kv| format!("{kv:?}").contains("user-7f3a"))
    );

    // The failure: error status and error.type, its own trace, no parent.
    let bad = got
        .iter()
        .find(|sp| hex(&sp.span_id) == failed.span_id)
        .expect("the error span");
    assert_eq!(hex(&bad.trace_id), failed.w3c_trace_id);
    assert!(bad.parent_span_id.is_empty());
    assert_eq!(bad.name, "chat claude-sonnet-4");
    let st = bad.status.as_ref().unwrap();
    assert_eq!(st.code, SpanStatusCode::Error as i32);
    assert_eq!(st.message, "upstream overloaded");
    assert_eq!(s(bad, "error.type"), "api_error");
    assert_eq!(s(bad, "gen_ai.provider.name"), "anthropic");
    assert_eq!(i(bad, "http.response.status_code"), 500);
    assert_eq!(i(bad, "portcullis.retry_count"), -1);
    assert_eq!(i(bad, "portcullis.fallback_count"), 1);
    assert_eq!(s(bad, "portcullis.error_code"), "AB05");

    assert_eq!(tracing.stats().exported, 2);
    assert_eq!(tracing.stats().failed, 0);
    timeout(WAIT, tracing.shutdown()).await.unwrap().unwrap();
}

/// A round trip through the helpers the pipeline uses: the incoming header's ids become the
/// span's trace and parent.
#[tokio::test]
async fn traceparent_ids_reach_the_collector_on_a_current_thread_runtime() {
    let (addr, mut rx, _) = collector(200).await;
    let tracing = Tracing::start(Some(&settings(addr))).unwrap();
    let incoming =
        parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
    let span_id = portcullis_telemetry::new_span_id();
    let record = LogRecord {
        w3c_trace_id: incoming.trace_id.clone(),
        span_id: span_id.clone(),
        parent_span_id: Some(incoming.parent_span_id.clone()),
        endpoint: "embeddings".into(),
        requested_model: Some("text-embedding-3-small".into()),
        model: Some("text-embedding-3-small".into()),
        ..common::success()
    };
    tracing.record(&record);
    // Shutdown alone flushes what is queued.
    timeout(WAIT, tracing.shutdown()).await.unwrap().unwrap();
    let (_, got) = spans(&mut rx, 1).await;
    assert_eq!(hex(&got[0].trace_id), incoming.trace_id);
    assert_eq!(hex(&got[0].parent_span_id), incoming.parent_span_id);
    assert_eq!(hex(&got[0].span_id), span_id);
    assert_eq!(got[0].name, "embeddings text-embedding-3-small");
    // After shutdown spans are dropped, not queued.
    tracing.record(&record);
    assert_eq!(tracing.stats().dropped, 1);
    assert!(tracing.shutdown().await.is_ok());
}

/// Parent-based sampling: a caller that decided not to sample gets no span; one that decided
/// to, or sent no trace context, does.
#[tokio::test]
async fn a_callers_decision_not_to_sample_is_followed() {
    let (addr, mut rx, _) = collector(200).await;
    let tracing = Tracing::start(Some(&settings(addr))).unwrap();
    for (k, sampled) in [(1, Some(false)), (2, Some(true)), (3, None)] {
        let mut r = common::success();
        r.span_id = format!("{k:016x}");
        r.sampled = sampled;
        tracing.record(&r);
    }
    timeout(WAIT, tracing.flush()).await.unwrap().unwrap();
    let (_, got) = spans(&mut rx, 2).await;
    let mut ids: Vec<String> = got.iter().map(|s| hex(&s.span_id)).collect();
    ids.sort();
    assert_eq!(ids, [format!("{:016x}", 2), format!("{:016x}", 3)]);
    assert_eq!(tracing.stats().exported, 2);
    timeout(WAIT, tracing.shutdown()).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_spans_are_batched() {
    let (addr, mut rx, _) = collector(200).await;
    let tracing = Tracing::start(Some(&settings(addr))).unwrap();
    let n = 1200;
    for k in 0..n {
        let mut r = common::success();
        r.span_id = format!("{:016x}", k + 1);
        tracing.record(&r);
    }
    timeout(WAIT, tracing.flush()).await.unwrap().unwrap();
    let (requests, got) = spans(&mut rx, n).await;
    assert_eq!(got.len(), n);
    assert!(requests.len() >= 3, "{} requests", requests.len());
    assert!(
        requests
            .iter()
            .all(|r| r.request.resource_spans[0].scope_spans[0].spans.len() <= 512)
    );
    assert_eq!(tracing.stats().exported, n as u64);
    timeout(WAIT, tracing.shutdown()).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_exports_are_dropped_without_blocking() {
    // A collector that answers 400 (not retryable).
    let (addr, mut rx, status) = collector(400).await;
    let tracing = Tracing::start(Some(&settings(addr))).unwrap();
    tracing.record(&common::success());
    timeout(WAIT, tracing.flush()).await.unwrap().unwrap();
    let _ = spans(&mut rx, 1).await;
    assert_eq!(tracing.stats().failed, 1);
    assert_eq!(tracing.stats().exported, 0);
    // It recovers: later spans go through.
    status.store(200, Ordering::Relaxed);
    tracing.record(&common::cache_hit());
    timeout(WAIT, tracing.flush()).await.unwrap().unwrap();
    let (_, got) = spans(&mut rx, 1).await;
    assert_eq!(hex(&got[0].span_id), common::cache_hit().span_id);
    assert_eq!(tracing.stats().exported, 1);

    // Nobody listening: the export fails within its timeout and flush returns.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut s = settings(closed);
    s.timeout_ms = 500;
    let unreachable = Tracing::start(Some(&s)).unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        unreachable.record(&common::success());
    }
    timeout(WAIT, unreachable.flush()).await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(unreachable.stats().failed, 3);
    timeout(WAIT, unreachable.shutdown())
        .await
        .unwrap()
        .unwrap();
    timeout(WAIT, tracing.shutdown()).await.unwrap().unwrap();
}

#[tokio::test]
async fn record_never_waits_on_a_stuck_collector() {
    // Accepts connections and never answers: the exporter is stuck for its whole timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    let mut s = settings(addr);
    s.timeout_ms = 1000;
    let tracing = Tracing::start(Some(&s)).unwrap();
    let r = common::success();
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        tracing.record(&r);
    }
    // 10k records are queued or dropped without waiting for the exporter.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(tracing.stats().dropped > 0);
    hold.abort();
    let _ = timeout(WAIT, tracing.shutdown()).await;
}

#[tokio::test]
async fn disabled_unless_configured() {
    let t = Tracing::start(None).unwrap();
    assert!(!t.is_enabled());
    t.record(&common::success());
    t.flush().await.unwrap();
    t.shutdown().await.unwrap();
    assert_eq!(t.stats(), Default::default());

    let telemetry = Telemetry::start(&TelemetrySettings::default()).unwrap();
    assert!(telemetry.metrics().is_some());
    assert!(!telemetry.tracing().is_enabled());
    telemetry.observe(&common::success());
    assert!(
        telemetry
            .metrics()
            .unwrap()
            .render()
            .contains("portcullis_requests_total{")
    );
    telemetry.shutdown().await;
}

#[test]
fn starting_needs_a_runtime_and_valid_settings() {
    let s = OtlpSettings::new("http://127.0.0.1:4318/v1/traces");
    assert!(matches!(
        Tracing::start(Some(&s)),
        Err(TelemetryError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bad = OtlpSettings::new("collector:4318");
        assert!(matches!(
            Tracing::start(Some(&bad)),
            Err(TelemetryError::InvalidSettings(_))
        ));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_feeds_metrics_and_spans() {
    let (addr, mut rx, _) = collector(200).await;
    let telemetry = Telemetry::start(&TelemetrySettings {
        metrics: true,
        otlp: Some(settings(addr)),
    })
    .unwrap();
    telemetry.observe(&common::rate_limited());
    telemetry.shutdown().await;
    let (_, got) = spans(&mut rx, 1).await;
    assert_eq!(got[0].name, "chat gpt-4o");
    assert_eq!(s(&got[0], "error.type"), "rate_limit_error");
    assert!(attr(&got[0].attributes, "gen_ai.provider.name").is_none());
    assert!(
        telemetry
            .metrics()
            .unwrap()
            .render()
            .contains("outcome=\"rate_limited\"")
    );
}
