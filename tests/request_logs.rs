//! Request logs end to end, through `portcullis serve` on SQLite and on PostgreSQL: every
//! outcome yields exactly one stored record with the right fields, read back through
//! `/v1/logs`; streamed and non-streamed usage and cost agree.

// Shared with `replicas.rs`, which uses the parts this file does not.
#[allow(dead_code, unused_imports)]
mod common_replicas;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common_replicas::http::request;
use common_replicas::*;
use serde_json::{Value, json};

#[test]
fn every_outcome_yields_one_record_on_sqlite() {
    outcomes_each_yield_one_record(Cluster::sqlite("logs_sqlite", 2));
}

#[test]
fn every_outcome_yields_one_record_on_postgres() {
    let Some(svc) = services() else { return };
    outcomes_each_yield_one_record(Cluster::new(svc, "logs_pg", 2));
}

/// One request as sent, and what its record must say.
struct Sent {
    trace: String,
    /// The gateway chose the trace id (the client sent none): the record's own id.
    own_trace: bool,
    status: u16,
    outcome: &'static str,
    stream: bool,
}

struct Client<'a> {
    c: &'a Cluster,
    /// The replica answering both the requests and the admin API.
    at: usize,
    sent: Vec<Sent>,
}

impl Client<'_> {
    /// Sends a chat completion with its own trace id; returns the answer's status.
    fn chat(
        &mut self,
        key: &str,
        body: Value,
        extra: &[(&str, &str)],
        outcome: &'static str,
    ) -> u16 {
        self.send(key, body, extra, outcome, Some(unique("trace")))
    }

    /// Sends a chat completion without a trace id; the answer's trace id is the record's id.
    fn chat_untraced(&mut self, key: &str, body: Value, outcome: &'static str) -> u16 {
        self.send(key, body, &[], outcome, None)
    }

    fn send(
        &mut self,
        key: &str,
        body: Value,
        extra: &[(&str, &str)],
        outcome: &'static str,
        trace: Option<String>,
    ) -> u16 {
        let mut headers = vec![("authorization", format!("Bearer {key}"))];
        headers.extend(trace.iter().map(|t| ("x-portkey-trace-id", t.clone())));
        headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = request(
            self.c.port(self.at),
            "POST",
            "/v1/chat/completions",
            &h,
            Some(&body),
        )
        .expect("chat");
        let own_trace = trace.is_none();
        let trace = trace.unwrap_or_else(|| {
            r.header("x-portkey-trace-id")
                .expect("a trace id")
                .to_owned()
        });
        self.sent.push(Sent {
            trace,
            own_trace,
            status: r.status,
            outcome,
            stream: body["stream"] == json!(true),
        });
        r.status
    }

    /// The stored records of one trace, through the admin API.
    fn records(&self, trace: &str) -> Vec<Value> {
        let r = self.c.admin(
            self.at,
            "GET",
            &format!("/v1/logs?trace_id={trace}&limit=10"),
            None,
        );
        r["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits (bounded) until every trace sent has a record, then checks there is exactly one
    /// each, with the status and outcome its answer had.
    fn check_all(&self) -> Vec<(Value, &Sent)> {
        wait_until(Duration::from_secs(10), "every request is logged", || {
            self.sent.iter().all(|s| !self.records(&s.trace).is_empty())
        });
        // Anything written twice would be there by now too.
        std::thread::sleep(Duration::from_millis(300));
        self.sent
            .iter()
            .map(|s| {
                let recs = self.records(&s.trace);
                assert_eq!(
                    recs.len(),
                    1,
                    "trace {} ({}): {recs:#?}",
                    s.trace,
                    s.outcome
                );
                let r = recs.into_iter().next().unwrap();
                assert_eq!(r["trace_id"], json!(s.trace));
                if s.own_trace {
                    assert_eq!(r["id"], json!(s.trace), "{r:#}");
                }
                assert_eq!(r["status"], json!(s.status), "{r:#}");
                assert_eq!(r["outcome"], json!(s.outcome), "{r:#}");
                assert_eq!(r["stream"], json!(s.stream), "{r:#}");
                assert_eq!(r["endpoint"], json!("chat.completions"), "{r:#}");
                (r, s)
            })
            .collect()
    }
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn workspace_key(c: &Cluster, at: usize, workspace_id: &str, extra: Value) -> (String, String) {
    let mut body =
        json!({"name": unique("k"), "workspace_id": workspace_id, "scopes": ["completions.write"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let k = c.admin(at, "POST", "/v1/api-keys/workspace/service", Some(body));
    (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    )
}

/// Starts a stream that lasts ~5 s, reads its first bytes and hangs up.
fn hang_up_mid_stream(port: u16, key: &str, trace: &str) {
    let body = chat_body(
        &format!("@{PROVIDER}/gpt-4o-mini+chunks=50+chunk_delay_ms=100"),
        true,
    )
    .to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n\
         x-portkey-trace-id: {trace}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send");
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("data: ") {
        let n = s.read(&mut buf).expect("first bytes");
        assert!(n > 0, "the stream ended before its first event");
        got.extend_from_slice(&buf[..n]);
    }
    drop(s);
}

fn outcomes_each_yield_one_record(mut c: Cluster) {
    let a = c.start_replica("a");
    let s = c.setup(a, json!({}), json!({}));
    let (_, limited) = workspace_key(
        &c,
        a,
        &s.workspace_id,
        json!({"rate_limits": [{"type": "requests", "unit": "rpm", "value": 1}]}),
    );
    let (_, budgeted) = workspace_key(
        &c,
        a,
        &s.workspace_id,
        json!({"usage_limits": {"type": "tokens", "credit_limit": 10}}),
    );
    let mut cl = Client {
        c: &c,
        at: a,
        sent: Vec::new(),
    };
    let usage_model = format!("@{PROVIDER}/gpt-4o-mini+usage=40,20");

    // Successes, streamed and not, with the same usage.
    assert_eq!(
        cl.chat(&s.key, chat_body(&usage_model, false), &[], "success"),
        200
    );
    let stream_body = json!({"model": usage_model, "stream": true,
        "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(cl.chat(&s.key, stream_body, &[], "success"), 200);
    // Without a trace id: found by the one the answer gave.
    assert_eq!(
        cl.chat_untraced(&s.key, chat_body(&usage_model, false), "success"),
        200
    );
    // The provider answers 500 (no retries configured).
    let failing = format!("@{PROVIDER}/gpt-4o-mini+status=500");
    assert_eq!(
        cl.chat(&s.key, chat_body(&failing, false), &[], "provider_error"),
        500
    );
    // The gateway gives up: the provider is slower than the config's request timeout.
    let slow = format!("@{PROVIDER}/gpt-4o-mini+delay_ms=3000");
    let timeout = [("x-portkey-config", r#"{"request_timeout": 200}"#)];
    assert_eq!(
        cl.chat(&s.key, chat_body(&slow, false), &timeout, "gateway_error"),
        408
    );
    // Bad input: a provider that does not exist.
    let unknown = chat_body("@pcrt-no-such-provider/m", false);
    assert_eq!(cl.chat(&s.key, unknown, &[], "invalid_request"), 400);
    // No such key.
    let wrong = "pcl_not-a-key-of-this-gateway-0123456789abcdef";
    assert_eq!(
        cl.chat(wrong, chat_body(&usage_model, false), &[], "unauthorized"),
        401
    );
    // A rate limit of one request per minute: the second is refused.
    assert_eq!(
        cl.chat(&limited, chat_body(&usage_model, false), &[], "success"),
        200
    );
    assert_eq!(
        cl.chat(
            &limited,
            chat_body(&usage_model, false),
            &[],
            "rate_limited"
        ),
        429
    );
    // A budget of 10 tokens: the first call spends 60, the next is refused.
    assert_eq!(
        cl.chat(&budgeted, chat_body(&usage_model, false), &[], "success"),
        200
    );
    assert_eq!(
        cl.chat(
            &budgeted,
            chat_body(&usage_model, false),
            &[],
            "budget_exhausted"
        ),
        412
    );
    // The client hangs up mid-stream.
    let trace = unique("trace");
    hang_up_mid_stream(c.port(a), &s.key, &trace);
    cl.sent.push(Sent {
        trace,
        own_trace: false,
        status: 200,
        outcome: "client_disconnect",
        stream: true,
    });

    let checked = cl.check_all();
    let by_outcome = |o: &str| {
        checked
            .iter()
            .filter(|(_, s)| s.outcome == o)
            .map(|(r, _)| r)
            .collect::<Vec<_>>()
    };

    // Successes carry who, where, usage, cost and timings; stream and non-stream agree.
    let ok = by_outcome("success");
    let (plain, streamed) = (ok[0], ok[1]);
    for r in [plain, streamed] {
        assert_eq!(r["workspace_id"], json!(s.workspace_id), "{r:#}");
        assert_eq!(r["api_key_id"], json!(s.key_id), "{r:#}");
        assert_eq!(r["provider"], json!("openai"), "{r:#}");
        assert_eq!(r["model"], json!("gpt-4o-mini"), "{r:#}");
        assert_eq!(r["tokens"]["prompt"], json!(40), "{r:#}");
        assert_eq!(r["tokens"]["completion"], json!(20), "{r:#}");
        assert!(r["cost_nanos"].as_i64().unwrap_or(0) > 0, "priced: {r:#}");
        assert!(r["timings"]["upstream_us"].as_u64().is_some(), "{r:#}");
        assert!(r["timings"]["overhead_us"].as_u64().is_some(), "{r:#}");
    }
    assert_eq!(plain["cost_nanos"], streamed["cost_nanos"]);
    assert_eq!(plain["tokens"], streamed["tokens"]);
    assert!(
        streamed["timings"]["ttft_us"].as_u64().is_some(),
        "{streamed:#}"
    );

    // Refusals name the key that was refused; errors carry a code.
    for o in [
        "rate_limited",
        "budget_exhausted",
        "provider_error",
        "gateway_error",
        "invalid_request",
    ] {
        let r = by_outcome(o)[0];
        assert_eq!(r["workspace_id"], json!(s.workspace_id), "{o}: {r:#}");
        assert!(r["api_key_id"].is_string(), "{o}: {r:#}");
        assert!(r["error"].is_object(), "{o}: {r:#}");
    }
    let unauthorized = by_outcome("unauthorized")[0];
    assert!(unauthorized["api_key_id"].is_null(), "{unauthorized:#}");

    // One record with payloads, masked: the secret key never appears.
    let id = plain["id"].as_str().unwrap();
    let full = c.admin(a, "GET", &format!("/v1/logs/{id}"), None);
    assert!(
        full["request_body"]
            .as_str()
            .unwrap_or_default()
            .contains("gpt-4o-mini"),
        "{full:#}"
    );
    assert!(
        !full.to_string().contains(&s.key),
        "the gateway key leaked into a record"
    );
    // A stream's record keeps the response it added up to, written and read back.
    let id = streamed["id"].as_str().unwrap();
    let full = c.admin(a, "GET", &format!("/v1/logs/{id}"), None);
    let kept: Value = serde_json::from_str(full["response_body"].as_str().unwrap_or("null"))
        .unwrap_or(Value::Null);
    assert_eq!(kept["object"], json!("chat.completion"), "{full:#}");
    assert_eq!(kept["usage"]["prompt_tokens"], json!(40), "{full:#}");
    assert!(
        kept["choices"][0]["message"]["content"].is_string(),
        "{full:#}"
    );

    // On PostgreSQL, a replica started after this one exits reads the same records: what was
    // accepted was written by the exit.
    let sent = cl.sent;
    if c.svc.is_some() {
        let code = c.replicas[a].proc.terminate(Duration::from_secs(15));
        assert!(code.success(), "exit status {code:?}");
        let b = c.start_replica("b");
        Client { c: &c, at: b, sent }.check_all();
    }
}
