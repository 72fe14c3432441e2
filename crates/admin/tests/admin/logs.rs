//! The logs, export, feedback and analytics routes over a real SQLite log store.

use std::sync::Arc;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use portcullis_logs::{
    Aggregates, Bucket, Feedback, FeedbackUpdate, Group, GroupBy, LogError, LogFilter, LogRecord,
    LogStore, Outcome, Page, PageRequest, SqlLogStore, Timings, Tokens,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{BARE, H, ORG, W1, W1_READ, W2};

/// 2026-03-02T00:00:00Z: a UTC midnight, so hours and days line up with the buckets.
pub(crate) const T0: i64 = 1_772_409_600_000;
pub(crate) const MIN: i64 = 60_000;

pub(crate) fn rec(id: &str, at_min: i64, ws: Option<&str>) -> LogRecord {
    LogRecord {
        id: id.into(),
        trace_id: format!("trace-{id}"),
        w3c_trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        span_id: "b7ad6b7169203331".into(),
        created_at: T0 + at_min * MIN,
        workspace_id: ws.map(str::to_owned),
        endpoint: "chat.completions".into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        status: 200,
        outcome: Some(Outcome::Success),
        cache_status: "DISABLED".into(),
        timings: Timings {
            total_us: 100_000,
            upstream_us: Some(90_000),
            ttft_us: None,
            overhead_us: 10_000,
        },
        fallback_path: vec!["config.targets[0]".into()],
        ..LogRecord::default()
    }
}

fn meta(pairs: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn served(
    mut r: LogRecord,
    key: &str,
    provider: &str,
    provider_id: &str,
    model: &str,
    tokens: (u64, u64),
    cost: Option<i64>,
    metadata: &[(&str, &str)],
) -> LogRecord {
    r.api_key_id = Some(key.into());
    r.provider = Some(provider.into());
    r.provider_id = Some(provider_id.into());
    r.model = Some(model.into());
    r.requested_model = Some(model.into());
    r.tokens = Tokens {
        prompt: tokens.0,
        completion: tokens.1,
        ..Tokens::default()
    };
    r.cost_nanos = cost;
    r.metadata = meta(metadata);
    r
}

fn fail(mut r: LogRecord, status: u16, outcome: Outcome) -> LogRecord {
    r.status = status;
    r.outcome = Some(outcome);
    r.error_code = Some("AB01".into());
    r.error_type = Some(outcome.as_str().into());
    r.error_message = Some(format!("failed with {status}"));
    r
}

/// Nine records: six in workspace 1, two in workspace 2, one without a workspace.
pub(crate) fn seed_records(h: &H) -> Vec<LogRecord> {
    let w1 = Some(h.ws1.id.as_str());
    let w2 = Some(h.ws2.id.as_str());
    let mut r01 = served(
        rec("r01", 1, w1),
        "k1",
        "openai",
        "@openai-prod",
        "gpt-4o",
        (100, 50),
        Some(1_000_000),
        &[("_user", "alice"), ("team", "red")],
    );
    r01.trace_id = "t-1".into();
    r01.cache_status = "MISS".into();
    r01.request_body = Some(r#"{"messages":[{"role":"user","content":"hi"}]}"#.into());
    r01.response_body = Some(r#"{"choices":[]}"#.into());
    let mut r02 = fail(
        served(
            rec("r02", 2, w1),
            "k1",
            "openai",
            "@openai-prod",
            "gpt-4o",
            (0, 0),
            None,
            &[("_user", "bob")],
        ),
        429,
        Outcome::RateLimited,
    );
    r02.retry_count = -1;
    let mut r03 = served(
        rec("r03", 3, w1),
        "k2",
        "anthropic",
        "@anthropic",
        "claude-3-5",
        (200, 100),
        Some(5_000_000),
        &[("_user", "alice"), ("team", "blue")],
    );
    r03.tokens.cached = 50;
    r03.tokens.reasoning = 20;
    r03.retry_count = 1;
    r03.fallback_path = vec!["config.targets[0]".into(), "config.targets[1]".into()];
    r03.stream = true;
    r03.timings.ttft_us = Some(40_000);
    let mut r04 = served(
        rec("r04", 70, w1),
        "k1",
        "openai",
        "@openai-prod",
        "gpt-4o",
        (100, 50),
        Some(0),
        &[("_user", "carol")],
    );
    r04.outcome = Some(Outcome::CacheHit);
    r04.cache_status = "HIT".into();
    let r05 = fail(
        served(
            rec("r05", 130, w1),
            "k2",
            "anthropic",
            "@anthropic",
            "claude-3-5",
            (0, 0),
            None,
            &[],
        ),
        502,
        Outcome::ProviderError,
    );
    let mut r06 = served(
        rec("r06", 131, w1),
        "k1",
        "openai",
        "@openai-prod",
        "gpt-4o-mini",
        (1000, 500),
        Some(20_000_000),
        &[("note", "=cmd|' /C calc'!A0")],
    );
    r06.request_body = Some("hello, \"world\"\nline two".into());
    let mut r07 = served(
        rec("r07", 5, w2),
        "k3",
        "openai",
        "@openai-ws2",
        "gpt-4o",
        (10, 5),
        Some(2_000_000),
        &[("_user", "alice")],
    );
    r07.trace_id = "t-ws2".into();
    let r08 = fail(
        served(
            rec("r08", 6, w2),
            "k3",
            "openai",
            "@openai-ws2",
            "gpt-4o",
            (0, 0),
            None,
            &[],
        ),
        500,
        Outcome::GatewayError,
    );
    let r09 = fail(rec("r09", 7, None), 401, Outcome::Unauthorized);
    vec![r01, r02, r03, r04, r05, r06, r07, r08, r09]
}

pub(crate) async fn seeded() -> H {
    let h = H::new().await;
    let records = seed_records(&h);
    assert_eq!(h.logs.insert_batch(&records).await.unwrap(), 9);
    h
}

pub(crate) fn ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {v}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strs(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// `GET`, asserting 400 naming `param`.
pub(crate) async fn bad(h: &H, path: &str, param: &str) {
    let (s, v) = h.get(path, ORG).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
    assert_eq!(v["error"]["param"], param, "{path}: {v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(param),
        "{path}: the message names {param}: {v}"
    );
}

/// A raw `GET` (exports are not JSON).
async fn download(h: &H, path: &str, key: &str) -> (StatusCode, http::HeaderMap, String) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("x-portkey-api-key", key)
        .body(Body::empty())
        .unwrap();
    let (s, headers, bytes) = h.raw(req).await;
    (s, headers, String::from_utf8(bytes).unwrap())
}

/// A small RFC 4180 reader, to parse exports back.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[tokio::test]
async fn logging_off_is_a_clear_404() {
    let h = H::without_logs().await;
    for path in [
        "/v1/logs",
        "/v1/logs/r01",
        "/v1/logs/export",
        "/v1/analytics/summary",
        "/v1/analytics/graphs",
        "/v1/analytics/groups/model",
        "/v1/feedback?trace_id=t",
    ] {
        let (s, v) = h.get(path, ORG).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("logging is disabled"),
            "{path}: {v}"
        );
    }
    let (s, _) = h
        .post("/v1/feedback", W1, json!({"trace_id": "t", "value": 1}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_route_checks_its_scope() {
    let h = seeded().await;
    for path in [
        "/v1/logs",
        "/v1/logs/r01",
        "/v1/logs/export",
        "/v1/analytics/summary",
        "/v1/analytics/graphs?bucket=1h",
        "/v1/analytics/groups/model",
        "/v1/feedback?trace_id=t-1",
    ] {
        let (s, v) = h.get(path, BARE).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["error"]["code"], "AB03");
        let (s, _) = h.call(Method::GET, path, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (s, v) = h
        .post("/v1/feedback", BARE, json!({"trace_id": "t-1", "value": 1}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // Organisation keys cannot hold the data-plane scopes: they need feedbacks.write.
    let (s, _) = h
        .post("/v1/feedback", ORG, json!({"trace_id": "t-1", "value": 1}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A read-only key may list (logs.list) but not view, export or read analytics.
    h.ok_get("/v1/logs", W1_READ).await;
    for path in ["/v1/logs/r01", "/v1/logs/export", "/v1/analytics/summary"] {
        let (s, v) = h.get(path, W1_READ).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("logs.") || path.contains("analytics")
        );
    }
    let (s, v) = h.get("/v1/logs/export", W1_READ).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("logs.export")
    );
}

#[tokio::test]
async fn workspace_keys_only_ever_see_their_workspace() {
    let h = seeded().await;
    let mine = strs(&["r01", "r02", "r03", "r04", "r05", "r06"]);
    let v = h.ok_get("/v1/logs", W1).await;
    assert_eq!(sorted(ids(&v)), mine);
    // Naming another workspace is a 404, never its records.
    let (s, v) = h
        .get(&format!("/v1/logs?workspace_id={}", h.ws2.id), W1)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains("r07"));
    let (s, _) = h
        .get(
            &format!("/v1/analytics/summary?workspace_id={}", h.ws2.id),
            W1,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = h
        .get(&format!("/v1/logs/export?workspace_id={}", h.ws2.slug), W1)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Its own workspace, by id or slug, is fine.
    let v = h
        .ok_get(&format!("/v1/logs?workspace_id={}", h.ws1.slug), W1)
        .await;
    assert_eq!(sorted(ids(&v)), mine);
    // Records of other workspaces (and of none) are not found.
    for id in ["r07", "r09"] {
        let (s, _) = h.get(&format!("/v1/logs/{id}"), W1).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}");
    }
    let (s, _) = h.get("/v1/logs/r01", W2).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Filters cannot widen the view: a trace of workspace 2 stays invisible.
    let v = h.ok_get("/v1/logs?trace_id=t-ws2", W1).await;
    assert!(ids(&v).is_empty());
    let v = h.ok_get("/v1/logs", W2).await;
    assert_eq!(sorted(ids(&v)), strs(&["r07", "r08"]));
    let v = h.ok_get("/v1/analytics/summary", W1).await;
    assert_eq!(v["data"]["requests"], 6);
    let v = h.ok_get("/v1/analytics/groups/workspace", W1).await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["data"][0]["key"], h.ws1.id.as_str());
    let (_, _, body) = download(&h, "/v1/logs/export", W2).await;
    let exported: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported.len(), 2);
    assert!(
        exported
            .iter()
            .all(|r| r["workspace_id"] == h.ws2.id.as_str())
    );
    // An organisation key sees everything, or the workspace it names.
    let v = h.ok_get("/v1/logs", ORG).await;
    assert_eq!(ids(&v).len(), 9);
    let v = h
        .ok_get(&format!("/v1/logs?workspace_id={}", h.ws2.slug), ORG)
        .await;
    assert_eq!(sorted(ids(&v)), strs(&["r07", "r08"]));
    let v = h
        .ok_get("/v1/logs?workspace_id=ws-deleted-long-ago", ORG)
        .await;
    assert!(ids(&v).is_empty());
    h.ok_get("/v1/logs/r09", ORG).await;
}

#[tokio::test]
async fn each_filter_narrows_the_listing() {
    let h = seeded().await;
    let ws1 = h.ws1.id.clone();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("from={}&to={}", T0 + 2 * MIN, T0 + 6 * MIN),
            vec!["r02", "r03", "r07"],
        ),
        (
            "from=2026-03-02T01:00:00Z&to=2026-03-02T03:00:00%2B00:00".into(),
            vec!["r04", "r05", "r06"],
        ),
        ("api_key_id=k2".into(), vec!["r03", "r05"]),
        ("provider_id=@anthropic".into(), vec!["r03", "r05"]),
        (
            "provider=openai".into(),
            vec!["r01", "r02", "r04", "r06", "r07", "r08"],
        ),
        (
            "model=gpt-4o".into(),
            vec!["r01", "r02", "r04", "r07", "r08"],
        ),
        ("status=429".into(), vec!["r02"]),
        ("status_class=5xx".into(), vec!["r05", "r08"]),
        ("status=4xx".into(), vec!["r02", "r09"]),
        ("outcome=cache_hit".into(), vec!["r04"]),
        ("outcome=unauthorized".into(), vec!["r09"]),
        ("trace_id=t-1".into(), vec!["r01"]),
        ("min_cost=0.002".into(), vec!["r03", "r06", "r07"]),
        ("max_cost=0.002".into(), vec!["r01", "r04", "r07"]),
        (
            "min_cost=0.001&max_cost=.005".into(),
            vec!["r01", "r03", "r07"],
        ),
        ("min_cost_nanos=5000000".into(), vec!["r03", "r06"]),
        ("metadata._user=alice".into(), vec!["r01", "r03", "r07"]),
        ("metadata.team=red".into(), vec!["r01"]),
        (
            "metadata._user=alice&metadata.team=blue".into(),
            vec!["r03"],
        ),
        ("metadata=%7B%22team%22%3A%22blue%22%7D".into(), vec!["r03"]),
        (
            format!("provider=openai&status_class=2xx&workspace_id={ws1}"),
            vec!["r01", "r04", "r06"],
        ),
        // Portkey's spellings.
        (
            format!(
                "time_of_generation_min={}&time_of_generation_max={}&ai_org_model=gpt-4o&status_code=200",
                T0,
                T0 + 3 * 60 * MIN
            ),
            vec!["r01", "r04", "r07"],
        ),
        ("cost_min=0.01".into(), vec!["r06"]),
        (
            "model=None&trace_id=".into(),
            vec![
                "r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09",
            ],
        ),
    ];
    for (q, want) in cases {
        let v = h.ok_get(&format!("/v1/logs?{q}"), ORG).await;
        assert_eq!(sorted(ids(&v)), strs(&want), "{q}");
    }
}

#[tokio::test]
async fn listing_pages_by_cursor_newest_first() {
    let h = seeded().await;
    // Two more records at the same instant as r06: ids break the tie.
    let w1 = Some(h.ws1.id.as_str());
    h.logs
        .insert_batch(&[rec("r06a", 131, w1), rec("r06b", 131, w1)])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/logs?workspace_id={}&limit=3", h.ws1.id);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let v = h.ok_get(&path, ORG).await;
        pages += 1;
        assert_eq!(v["limit"], 3);
        let page = ids(&v);
        assert!(page.len() <= 3);
        seen.extend(page);
        assert_eq!(v["has_more"], v["next_cursor"].is_string());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        strs(&["r06b", "r06a", "r06", "r05", "r04", "r03", "r02", "r01"])
    );
    // Items carry no payloads; money both ways.
    let v = h.ok_get("/v1/logs?trace_id=t-1", ORG).await;
    let item = &v["data"][0];
    assert!(item.get("request_body").is_none());
    assert_eq!(item["cost_nanos"], 1_000_000);
    assert_eq!(item["cost"], 0.001);
    assert_eq!(item["object"], "log");
    // The default page and the page_size spelling.
    let v = h.ok_get("/v1/logs?page_size=2", ORG).await;
    assert_eq!(ids(&v).len(), 2);
    assert_eq!(h.ok_get("/v1/logs", ORG).await["limit"], 100);
}

#[tokio::test]
async fn one_log_with_its_payloads() {
    let h = seeded().await;
    let v = h.ok_get("/v1/logs/r01", W1).await;
    assert_eq!(v["id"], "r01");
    assert_eq!(v["trace_id"], "t-1");
    assert_eq!(v["created_at"], "2026-03-02T00:01:00.000Z");
    assert_eq!(v["created_at_ms"], T0 + MIN);
    assert_eq!(
        v["request_body"],
        r#"{"messages":[{"role":"user","content":"hi"}]}"#
    );
    assert_eq!(v["response_body"], r#"{"choices":[]}"#);
    assert_eq!(v["tokens"]["total"], 150);
    assert_eq!(v["cost"], 0.001);
    assert_eq!(v["metadata"]["_user"], "alice");
    assert_eq!(v["outcome"], "success");
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["timings"]["total_us"], 100_000);
    let v = h.ok_get("/v1/logs/r02", W1).await;
    assert_eq!(v["outcome"], "rate_limited");
    assert_eq!(v["error"]["message"], "failed with 429");
    assert_eq!(v["cost"], Value::Null);
    assert_eq!(v["request_body"], Value::Null);
    let (s, v) = h.get("/v1/logs/nope", ORG).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "AB08");
}

#[tokio::test]
async fn exports_stream_jsonl_and_csv_that_parse_back() {
    let h = seeded().await;
    // Enough records for several store pages.
    let w1 = Some(h.ws1.id.as_str());
    let bulk: Vec<LogRecord> = (0..450)
        .map(|i| {
            let mut r = rec(&format!("b{i:04}"), 1000 + i, w1);
            r.model = Some("bulk-model".into());
            r.cost_nanos = Some(i * 1000);
            r
        })
        .collect();
    h.logs.insert_batch(&bulk).await.unwrap();

    let (s, headers, body) = download(&h, "/v1/logs/export?model=bulk-model", W1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"portcullis-logs-"));
    assert!(disposition.ends_with(".jsonl\""));
    assert!(
        headers.get("content-length").is_none(),
        "streamed, not buffered"
    );
    let rows: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 450);
    let exported: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..450).rev().map(|i| format!("b{i:04}")).collect();
    assert_eq!(exported, want, "every record once, newest first");
    assert_eq!(rows[0]["cost_nanos"], 449_000);
    assert!(
        rows[0].get("request_body").is_some(),
        "exports carry payloads"
    );

    let (_, _, body) = download(&h, "/v1/logs/export?format=jsonl&limit=7", W1).await;
    assert_eq!(body.lines().count(), 7);

    let (s, headers, body) = download(&h, "/v1/logs/export?format=csv", W1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".csv\"")
    );
    let table = parse_csv(&body);
    let header = &table[0];
    assert_eq!(header[0], "id");
    assert!(header.iter().any(|c| c == "cost_usd"));
    assert_eq!(table.len(), 1 + 456, "header plus workspace 1's records");
    let col = |name: &str| header.iter().position(|c| c == name).unwrap();
    assert!(table.iter().all(|r| r.len() == header.len()));
    let r06 = table.iter().find(|r| r[0] == "r06").unwrap();
    assert_eq!(r06[col("request_body")], "hello, \"world\"\nline two");
    assert_eq!(r06[col("cost_nanos")], "20000000");
    assert_eq!(r06[col("cost_usd")], "0.02");
    assert_eq!(r06[col("model")], "gpt-4o-mini");
    let m: Value = serde_json::from_str(&r06[col("metadata")]).unwrap();
    assert_eq!(
        m["note"], "=cmd|' /C calc'!A0",
        "JSON columns are not altered"
    );
    assert_eq!(
        r06[col("provider_id")],
        "@openai-prod",
        "catalog references are not formulas"
    );
    let r02 = table.iter().find(|r| r[0] == "r02").unwrap();
    assert_eq!(r02[col("status")], "429");
    assert_eq!(r02[col("cost_usd")], "", "no price: empty");
    assert_eq!(r02[col("created_at")], "2026-03-02T00:02:00.000Z");
    // Free text a spreadsheet would run as a formula is defused.
    let mut evil = rec("evil", 2000, Some(h.ws1.id.as_str()));
    evil.error_message = Some("=HYPERLINK(\"http://x\")".into());
    evil.requested_model = Some("@SUM(1+1)*cmd|' /C calc'!A0".into());
    evil.model = Some("@openai-prod/gpt-4o".into());
    h.logs.insert_batch(&[evil]).await.unwrap();
    let (_, _, body) = download(&h, "/v1/logs/export?format=csv&trace_id=trace-evil", W1).await;
    let table = parse_csv(&body);
    assert_eq!(table.len(), 2);
    assert_eq!(table[1][col("error_message")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(
        table[1][col("requested_model")],
        "'@SUM(1+1)*cmd|' /C calc'!A0"
    );
    assert_eq!(table[1][col("model")], "@openai-prod/gpt-4o");
    // An empty export is just the header.
    let (_, _, body) = download(&h, "/v1/logs/export?format=csv&model=none", W1).await;
    assert_eq!(parse_csv(&body).len(), 1);
    let (s, _, body) = download(&h, "/v1/logs/export?model=none", W1).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.is_empty());
}

#[tokio::test]
async fn feedback_create_update_list_and_validation() {
    let h = seeded().await;
    let v = h
        .ok_post(
            "/v1/feedback",
            W1,
            json!({"trace_id": "t-1", "value": 5, "weight": 0.5, "metadata": {"_user": "alice"}}),
        )
        .await;
    assert_eq!(v["status"], "success");
    assert!(v["message"].is_string());
    let first = v["feedback_ids"][0].as_str().unwrap().to_owned();
    assert_eq!(v["feedback_ids"].as_array().unwrap().len(), 1);
    // The SDK's bulk_create posts a list; some SDK examples send the value as text.
    let v = h
        .ok_post(
            "/v1/feedback",
            W1,
            json!([{"trace_id": "t-1", "value": "-3"}, {"trace_id": "t-1", "value": 1, "metadata": "{\"why\":\"ok\"}"}]),
        )
        .await;
    assert_eq!(v["feedback_ids"].as_array().unwrap().len(), 2);
    // The Python SDK's update sends every field, unset ones as null.
    let v = h
        .ok_put(
            &format!("/v1/feedback/{first}"),
            W1,
            json!({"value": 7, "weight": null, "metadata": null}),
        )
        .await;
    assert_eq!(v["status"], "success");
    assert_eq!(v["feedback_ids"], json!([first]));
    assert_eq!(v["data"]["value"], 7);
    assert_eq!(v["data"]["weight"], 0.5);
    assert_eq!(v["data"]["metadata"]["_user"], "alice");
    let v = h.ok_get(&format!("/v1/feedback/{first}"), W1).await;
    assert_eq!(v["value"], 7);
    assert_eq!(v["workspace_id"], h.ws1.id.as_str());
    let v = h.ok_get("/v1/feedback?trace_id=t-1", W1).await;
    assert_eq!(v["total"], 3);
    let values: Vec<i64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_i64().unwrap())
        .collect();
    assert_eq!(values.iter().sum::<i64>(), 7 - 3 + 1);
    for f in v["data"].as_array().unwrap() {
        let want = if f["id"] == first.as_str() { 0.5 } else { 1.0 };
        assert_eq!(f["weight"], want, "weight defaults to 1: {f}");
    }
    // Workspace 2 sees none of it and cannot change it.
    assert_eq!(h.ok_get("/v1/feedback?trace_id=t-1", W2).await["total"], 0);
    let (s, _) = h
        .put(&format!("/v1/feedback/{first}"), W2, json!({"value": 1}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = h.get(&format!("/v1/feedback/{first}"), W2).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The organisation sees every workspace's feedback.
    assert_eq!(h.ok_get("/v1/feedback?trace_id=t-1", ORG).await["total"], 3);

    let invalid = [
        (json!({"trace_id": "t-1", "value": 11}), "value"),
        (json!({"trace_id": "t-1", "value": -11}), "value"),
        (json!({"trace_id": "t-1", "value": 1.5}), "value"),
        (json!({"trace_id": "t-1"}), "value"),
        (
            json!({"trace_id": "t-1", "value": 1, "weight": 2}),
            "weight",
        ),
        (
            json!({"trace_id": "t-1", "value": 1, "weight": -0.1}),
            "weight",
        ),
        (json!({"value": 1}), "trace_id"),
        (json!({"trace_id": 5, "value": 1}), "trace_id"),
        (
            json!({"trace_id": "t-1", "value": 1, "metadata": "x"}),
            "metadata",
        ),
        (
            json!([{"trace_id": "t-1", "value": 1}, {"trace_id": "t-1", "value": 99}]),
            "[1].value",
        ),
    ];
    for (body, param) in invalid {
        let (s, v) = h.post("/v1/feedback", W1, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["error"]["param"], param, "{body}: {v}");
    }
    assert_eq!(
        h.ok_get("/v1/feedback?trace_id=t-1", W1).await["total"],
        3,
        "a bad bulk item stores none of the list"
    );
    let (s, v) = h
        .put(&format!("/v1/feedback/{first}"), W1, json!({"weight": 1.5}))
        .await;
    assert_eq!(
        (s, v["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("weight"))
    );
    let (s, v) = h
        .put(
            &format!("/v1/feedback/{first}"),
            W1,
            json!({"value": "ten"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("value"))
    );
    let (s, _) = h.put(&format!("/v1/feedback/{first}"), W1, json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = h.put("/v1/feedback/unknown", W1, json!({"value": 1})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = h.get("/v1/feedback", W1).await;
    assert_eq!(
        (s, v["error"]["param"].clone()),
        (StatusCode::BAD_REQUEST, json!("trace_id"))
    );
    let (s, _) = h.post("/v1/feedback", W1, json!([])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn analytics_summary_counts_every_metric() {
    let h = seeded().await;
    let v = h.ok_get("/v1/analytics/summary", ORG).await;
    assert_eq!(v["object"], "analytics-summary");
    let d = &v["data"];
    assert_eq!(d["requests"], 9);
    assert_eq!(d["successes"], 5);
    assert_eq!(d["errors"], 4);
    assert_eq!(d["error_rate"], 0.444444);
    assert_eq!(d["errors_by_outcome"]["rate_limited"], 1);
    assert_eq!(d["errors_by_outcome"]["provider_error"], 1);
    assert_eq!(d["errors_by_outcome"]["gateway_error"], 1);
    assert_eq!(d["errors_by_outcome"]["unauthorized"], 1);
    assert_eq!(d["errors_by_outcome"]["budget_exhausted"], 0);
    assert_eq!(
        d["errors_by_status"],
        json!({"401": 1, "429": 1, "500": 1, "502": 1})
    );
    assert_eq!(d["client_errors"], 2);
    assert_eq!(d["server_errors"], 2);
    assert_eq!(d["prompt_tokens"], 1410);
    assert_eq!(d["completion_tokens"], 705);
    assert_eq!(d["total_tokens"], 2115);
    assert_eq!(d["cached_tokens"], 50);
    assert_eq!(d["reasoning_tokens"], 20);
    assert_eq!(d["cost_nanos"], 28_000_000);
    assert_eq!(d["cost"], 0.028);
    assert_eq!(d["cost_per_request_nanos"], 28_000_000 / 9);
    assert_eq!(d["cache_hits"], 1);
    assert_eq!(d["cache_misses"], 1);
    assert_eq!(d["cache_hit_rate"], 0.5);
    assert_eq!(d["retried"], 2);
    assert_eq!(d["rescued_by_retry"], 1);
    assert_eq!(d["fell_back"], 1);
    assert_eq!(d["rescued_by_fallback"], 1);
    assert_eq!(d["streams"], 1);
    assert_eq!(d["unique_users"], 3);
    assert_eq!(d["unique_models"], 3);
    assert_eq!(d["unique_keys"], 3);
    assert_eq!(d["latency_avg_us"], 100_000);
    let p50 = d["latency_p50_us"].as_u64().unwrap();
    assert!((95_000..=105_000).contains(&p50), "{p50}");
    assert_eq!(d["ttft_avg_us"], 40_000);
    assert_eq!(d["upstream_avg_us"], 90_000);
    assert_eq!(d["overhead_avg_us"], 10_000);
    assert_eq!(d["overhead_share"], 0.1);
    let metrics =
        d.as_object().unwrap().len() + d["errors_by_outcome"].as_object().unwrap().len() - 1;
    assert!(metrics >= 60, "{metrics} metrics");
    // Filters apply, metadata._user included; a bounded range adds the request rate.
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/summary?metadata._user=alice&from={T0}&to={}",
                T0 + 60 * MIN
            ),
            ORG,
        )
        .await;
    assert_eq!(v["data"]["requests"], 3);
    assert_eq!(v["data"]["unique_users"], 1);
    assert_eq!(v["data"]["requests_per_minute"], 0.05);
    assert_eq!(v["range"]["from_ms"], T0);
    let v = h
        .ok_get("/v1/analytics/summary?model=gpt-4o-mini", W1)
        .await;
    assert_eq!(
        v["data"]["cost_per_1k_tokens_nanos"],
        20_000_000_i64 * 1000 / 1500
    );
}

#[tokio::test]
async fn analytics_graphs_fill_every_bucket() {
    let h = seeded().await;
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs?bucket=1h&from={T0}&to={}",
                T0 + 180 * MIN
            ),
            ORG,
        )
        .await;
    assert_eq!(v["object"], "analytics-graph");
    assert_eq!(v["bucket"], "1h");
    assert_eq!(v["bucket_ms"], 3_600_000);
    let data = v["data"].as_array().unwrap();
    let counts: Vec<u64> = data
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![6, 1, 2]);
    assert_eq!(data[0]["timestamp"], "2026-03-02T00:00:00.000Z");
    assert_eq!(data[1]["timestamp_ms"], T0 + 60 * MIN);
    assert_eq!(data[2]["errors"], 1);
    assert_eq!(data[2]["cost_nanos"], 20_000_000);
    assert_eq!(data[0]["requests_per_second"], 0.001667);
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs?bucket=5m&from={T0}&to={}",
                T0 + 15 * MIN
            ),
            ORG,
        )
        .await;
    let counts: Vec<u64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![3, 3, 0]);
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs?bucket=1d&from={T0}&to={}&metadata._user=alice",
                T0 + 2 * 24 * 60 * MIN
            ),
            W1,
        )
        .await;
    let counts: Vec<u64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 0]);
    // Without a range: the last day, every bucket.
    let v = h.ok_get("/v1/analytics/graphs?bucket=1h", ORG).await;
    let n = v["data"].as_array().unwrap().len();
    assert!((24..=25).contains(&n), "{n}");
    // Too many buckets is refused before any work.
    bad(
        &h,
        &format!(
            "/v1/analytics/graphs?bucket=5m&from={T0}&to={}",
            T0 + 40 * 24 * 60 * MIN
        ),
        "bucket",
    )
    .await;
    bad(&h, "/v1/analytics/graphs?bucket=7m", "bucket").await;
}

#[tokio::test]
async fn analytics_groups_by_every_dimension() {
    let h = seeded().await;
    let v = h.ok_get("/v1/analytics/groups/model", ORG).await;
    assert_eq!(v["dimension"], "model");
    let groups: Vec<(Value, u64)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].clone(), g["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (json!("gpt-4o"), 5),
            (json!("claude-3-5"), 2),
            (Value::Null, 1),
            (json!("gpt-4o-mini"), 1),
        ]
    );
    let v = h.ok_get("/v1/analytics/groups/model?limit=2", ORG).await;
    assert_eq!(v["total"], 2);
    let users = h.ok_get("/v1/analytics/groups/metadata._user", ORG).await;
    let groups: Vec<(Value, u64)> = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].clone(), g["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (Value::Null, 4),
            (json!("alice"), 3),
            (json!("bob"), 1),
            (json!("carol"), 1),
        ]
    );
    let alice = &users["data"][1];
    assert_eq!(alice["cost_nanos"], 8_000_000);
    assert_eq!(alice["unique_models"], 2);
    // Portkey's paths for the same groups, in Portkey's shape with every metric beside it.
    for (path, field) in [
        ("/v1/analytics/groups/users", "user"),
        ("/v1/analytics/groups/metadata/_user", "metadata_value"),
    ] {
        let v = h.ok_get(path, ORG).await;
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), 4, "{path}");
        for (ours, theirs) in users["data"].as_array().unwrap().iter().zip(data) {
            assert_eq!(theirs[field], ours["key"], "{path}");
            assert_eq!(theirs["requests"], ours["requests"], "{path}");
            assert_eq!(theirs["object"], "analytics-group", "{path}");
            assert_eq!(
                theirs["metrics"]["cost_nanos"], ours["cost_nanos"],
                "{path}"
            );
        }
    }
    let v = h
        .ok_get(
            "/v1/analytics/groups/metadata.team?workspace_id=ws-team-one",
            ORG,
        )
        .await;
    assert_eq!(v["data"][0]["key"], Value::Null);
    assert_eq!(v["data"][0]["requests"], 4);
    let v = h.ok_get("/v1/analytics/groups/status", ORG).await;
    assert_eq!(v["data"][0]["key"], 200);
    assert_eq!(v["data"][0]["requests"], 5);
    for dim in [
        "provider",
        "provider_id",
        "api_key",
        "workspace",
        "outcome",
        "endpoint",
        "ai-models",
    ] {
        let v = h.ok_get(&format!("/v1/analytics/groups/{dim}"), ORG).await;
        let total: u64 = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 9, "{dim}");
    }
    let v = h
        .ok_get("/v1/analytics/groups/outcome?status_class=5xx", ORG)
        .await;
    assert_eq!(v["total"], 2);
    bad(&h, "/v1/analytics/groups/colour", "dimension").await;
    bad(&h, "/v1/analytics/groups/model?limit=0", "limit").await;
    bad(&h, "/v1/analytics/groups/model?limit=10001", "limit").await;
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_parameter() {
    let h = seeded().await;
    let backwards = format!("/v1/logs?from={}&to={T0}", T0 + 1);
    let cases = [
        ("/v1/logs?from=yesterday", "from"),
        ("/v1/logs?to=2026-13-01", "to"),
        (backwards.as_str(), "to"),
        ("/v1/logs?status=600", "status"),
        ("/v1/logs?status=ok", "status"),
        ("/v1/logs?status_code=200,429", "status_code"),
        ("/v1/logs?status_class=7xx", "status_class"),
        ("/v1/logs?outcome=meh", "outcome"),
        ("/v1/logs?min_cost=-1", "min_cost"),
        ("/v1/logs?max_cost=1e5", "max_cost"),
        ("/v1/logs?min_cost=0.0000000001", "min_cost"),
        ("/v1/logs?min_cost=0.5&max_cost=0.1", "max_cost"),
        ("/v1/logs?min_cost_nanos=lots", "min_cost_nanos"),
        ("/v1/logs?limit=0", "limit"),
        ("/v1/logs?limit=1001", "limit"),
        ("/v1/logs?limit=ten", "limit"),
        ("/v1/logs?cursor=zz", "cursor"),
        ("/v1/logs?metadata.=x", "metadata."),
        ("/v1/logs?metadata=notjson", "metadata"),
        ("/v1/logs?configs=pc-1", "configs"),
        ("/v1/logs?api_key_ids=a,b", "api_key_ids"),
        ("/v1/logs/export?format=xml", "format"),
        ("/v1/logs/export?outcome=nope", "outcome"),
        ("/v1/logs/export?limit=-5", "limit"),
        ("/v1/analytics/summary?from=soon", "from"),
        ("/v1/analytics/summary?virtual_keys=vk-1", "virtual_keys"),
        ("/v1/analytics/graphs?bucket=1w", "bucket"),
        ("/v1/analytics/groups/model?max_cost=x", "max_cost"),
    ];
    for (path, param) in cases {
        bad(&h, path, param).await;
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_logs_route() {
    let h = H::new().await;
    let doc = h.ok_get("/v1/admin/openapi.json", ORG).await;
    for (path, method, scope) in [
        ("/v1/logs", "get", "logs.list"),
        ("/v1/logs/export", "get", "logs.export"),
        ("/v1/logs/{id}", "get", "logs.view"),
        (
            "/v1/feedback",
            "post",
            "feedbacks.write | logs.write | completions.write",
        ),
        ("/v1/feedback", "get", "feedbacks.read | logs.view"),
        (
            "/v1/feedback/{id}",
            "put",
            "feedbacks.write | logs.write | completions.write",
        ),
        ("/v1/analytics/summary", "get", "analytics.view"),
        ("/v1/analytics/graphs", "get", "analytics.view"),
        ("/v1/analytics/groups/{dimension}", "get", "analytics.view"),
        (
            "/v1/analytics/groups/metadata/{key}",
            "get",
            "analytics.view",
        ),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["x-portkey-scope"], scope, "{method} {path}");
    }
    let params: Vec<&str> = doc["paths"]["/v1/logs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "cursor",
        "limit",
        "from",
        "to",
        "metadata.<key>",
        "min_cost",
        "status_class",
    ] {
        assert!(params.contains(&p), "{p}");
    }
    assert!(
        doc["components"]["schemas"]["AnalyticsMetrics"]["properties"]["cache_hit_rate"]
            .is_object()
    );
}

/// The SQLite store, except that exports fail: on the first page for `model=explode`, and on
/// every later page otherwise.
struct FailingExports(SqlLogStore);

#[async_trait::async_trait]
impl LogStore for FailingExports {
    async fn insert_batch(&self, records: &[LogRecord]) -> Result<u64, LogError> {
        self.0.insert_batch(records).await
    }
    async fn get(&self, id: &str) -> Result<Option<LogRecord>, LogError> {
        self.0.get(id).await
    }
    async fn list(&self, f: &LogFilter, p: &PageRequest) -> Result<Page<LogRecord>, LogError> {
        self.0.list(f, p).await
    }
    async fn export_page(
        &self,
        f: &LogFilter,
        p: &PageRequest,
    ) -> Result<Page<LogRecord>, LogError> {
        if p.cursor.is_some() || f.model.as_deref() == Some("explode") {
            return Err(LogError::Backend {
                op: "list logs",
                reason: "disk on fire at /var/secret".into(),
            });
        }
        self.0.export_page(f, p).await
    }
    async fn summary(&self, f: &LogFilter) -> Result<Aggregates, LogError> {
        self.0.summary(f).await
    }
    async fn series(&self, f: &LogFilter, bucket_ms: i64) -> Result<Vec<Bucket>, LogError> {
        self.0.series(f, bucket_ms).await
    }
    async fn group_by(
        &self,
        f: &LogFilter,
        by: &GroupBy,
        limit: u32,
    ) -> Result<Vec<Group>, LogError> {
        self.0.group_by(f, by, limit).await
    }
    async fn delete_older_than(&self, cutoff_ms: i64, batch: u32) -> Result<u64, LogError> {
        self.0.delete_older_than(cutoff_ms, batch).await
    }
    async fn add_feedback(&self, fb: &Feedback) -> Result<(), LogError> {
        self.0.add_feedback(fb).await
    }
    async fn update_feedback(
        &self,
        id: &str,
        u: &FeedbackUpdate,
    ) -> Result<Option<Feedback>, LogError> {
        self.0.update_feedback(id, u).await
    }
    async fn get_feedback(&self, id: &str) -> Result<Option<Feedback>, LogError> {
        self.0.get_feedback(id).await
    }
    async fn feedback_for_trace(&self, trace_id: &str) -> Result<Vec<Feedback>, LogError> {
        self.0.feedback_for_trace(trace_id).await
    }
    async fn close(&self) {
        self.0.close().await
    }
}

#[tokio::test]
async fn a_failing_export_is_an_error_never_a_short_file() {
    let h = H::with_log_store(|s| Arc::new(FailingExports(s))).await;
    let w1 = Some(h.ws1.id.as_str());
    let records: Vec<LogRecord> = (0..300).map(|i| rec(&format!("x{i:03}"), i, w1)).collect();
    h.logs.insert_batch(&records).await.unwrap();
    // Before the first byte: a proper error response, the cause kept out of it.
    h.forbid("disk on fire");
    let (s, v) = h.get("/v1/logs/export?model=explode", W1).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    assert_eq!(v["error"]["code"], "AB04");
    // After it: the first page went out, then the transfer breaks instead of ending cleanly.
    let req = Request::builder()
        .uri("/v1/logs/export")
        .header("x-portkey-api-key", W1)
        .body(Body::empty())
        .unwrap();
    let resp = h.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut lines = 0;
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    lines += d.iter().filter(|b| **b == b'\n').count();
                }
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body ends with an error");
    assert_eq!(lines, 200, "the first page was sent");
}
