//! Portkey's per-metric analytics paths: every graph, the cache summary and the group paths,
//! in Portkey's shapes and units, over the seeded records.

use portcullis_logs::{Feedback, LogStore};
use serde_json::{Value, json};

use crate::logs::{MIN, T0, bad, seeded};
use crate::support::{BARE, H, ORG, W1, assert_err};

/// The seeded records' first three hours, as the SDK sends it.
fn range() -> String {
    format!(
        "time_of_generation_min={}&time_of_generation_max={}",
        portcullis_admin::time::iso(T0),
        portcullis_admin::time::iso(T0 + 180 * MIN)
    )
}

async fn graph(h: &H, metric: &str, key: &str) -> Value {
    let v = h
        .ok_get(&format!("/v1/analytics/graphs/{metric}?{}", range()), key)
        .await;
    assert_eq!(v["object"], "analytics-graph", "{metric}: {v}");
    assert!(v["summary"].is_object(), "{metric}: {v}");
    v
}

fn points(v: &Value) -> &Vec<Value> {
    v["data_points"].as_array().unwrap()
}

/// The sum of `field` over the data points.
fn total(v: &Value, field: &str) -> f64 {
    points(v).iter().map(|p| p[field].as_f64().unwrap()).sum()
}

fn feedback(id: &str, trace: &str, ws: &str, value: i64, weight: f64, at_min: i64) -> Feedback {
    Feedback {
        id: id.into(),
        trace_id: trace.into(),
        value,
        weight,
        metadata: Default::default(),
        workspace_id: Some(ws.into()),
        created_at: T0 + at_min * MIN,
        updated_at: T0 + at_min * MIN,
    }
}

async fn with_feedback() -> H {
    let h = seeded().await;
    let (w1, w2) = (h.ws1.id.clone(), h.ws2.id.clone());
    // t-1 is r01 (gpt-4o, team red, alice); trace-r03 is r03 (claude-3-5); t-ws2 is r07.
    for f in [
        feedback("f1", "t-1", &w1, 8, 1.0, 10),
        feedback("f2", "t-1", &w1, -4, 0.5, 100),
        feedback("f3", "trace-r03", &w1, 2, 1.0, 20),
        feedback("f4", "t-ws2", &w2, 10, 1.0, 30),
    ] {
        h.logs.add_feedback(&f).await.unwrap();
    }
    h
}

#[tokio::test]
async fn every_graph_answers_in_portkey_shape_and_units() {
    let h = with_feedback().await;
    // Three hours: 5-minute buckets, every one of them.
    let v = graph(&h, "requests", ORG).await;
    assert_eq!(v["bucket"], "5m");
    assert_eq!(points(&v).len(), 36);
    assert_eq!(points(&v)[0]["timestamp"], portcullis_admin::time::iso(T0));
    assert_eq!(v["summary"]["total"], 9);
    assert_eq!(total(&v, "total"), 9.0);
    let hourly = h
        .ok_get(
            &format!("/v1/analytics/graphs/requests?{}&bucket=1h", range()),
            ORG,
        )
        .await;
    assert_eq!(points(&hourly).len(), 3);

    // Cost in cents: 0.028 USD in all.
    let v = graph(&h, "cost", ORG).await;
    assert_eq!(v["summary"]["total"], 2.8);
    assert_eq!(v["summary"]["avg"], 0.311111);
    assert!((total(&v, "total") - 2.8).abs() < 1e-9);

    // Every record took 100 ms.
    let v = graph(&h, "latency", ORG).await;
    assert_eq!(v["summary"]["avg"], 100);
    for p in ["p50", "p90", "p99"] {
        let ms = v["summary"][p].as_u64().unwrap();
        assert!((95..=105).contains(&ms), "{p}: {ms}");
    }

    let v = graph(&h, "tokens", ORG).await;
    assert_eq!(v["summary"]["total"], 2115);
    assert_eq!(v["summary"]["avg"], 235.0);

    let v = graph(&h, "users", ORG).await;
    assert_eq!(v["summary"]["total"], 3, "alice, bob and carol");
    let v = graph(&h, "users/requests", ORG).await;
    assert_eq!(v["summary"], json!({"total": 9, "unique": 3, "avg": 3.0}));
    assert!(points(&v).iter().all(|p| p.get("avg").is_some()));

    let v = graph(&h, "errors", ORG).await;
    assert_eq!(v["summary"]["total"], 4);
    assert_eq!(total(&v, "total"), 4.0);
    let v = graph(&h, "errors/rate", ORG).await;
    assert_eq!(v["summary"]["rate"], 44.44);
    let v = graph(&h, "errors/stacks", ORG).await;
    let mut stacked: Vec<(u64, u64)> = points(&v)
        .iter()
        .flat_map(|p| p["stats"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["response_status_code"].as_u64().unwrap(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    stacked.sort();
    assert_eq!(stacked, vec![(401, 1), (429, 1), (500, 1), (502, 1)]);
    let v = graph(&h, "errors/status-codes", ORG).await;
    assert_eq!(
        v["summary"],
        json!({"total_errors": 4, "unique_error_codes": 4})
    );
    assert_eq!(points(&v).len(), 4);
    assert_eq!(points(&v)[0], json!({"status_code": 401, "count": 1}));

    // r03 succeeded after a retry and after a fallback.
    let v = graph(&h, "requests/rescued", ORG).await;
    assert_eq!(v["summary"], json!({"retry": 1, "fallback": 1}));
    let rescued: Vec<&Value> = points(&v)
        .iter()
        .filter(|p| p["retry_total"] == 1)
        .collect();
    assert_eq!(rescued.len(), 1);
    assert_eq!(
        rescued[0]["retry"],
        json!([{"retry_success_count": null, "count": 1}])
    );
    assert_eq!(rescued[0]["fallback"], 1);

    // One hit (r04) and one miss (r01).
    let v = graph(&h, "cache/hit-rate", ORG).await;
    assert_eq!(v["summary"], json!({"total": 1, "rate": 50.0}));
    let p = &points(&v)[14];
    assert_eq!(p["simple_hits"], 1, "r04 is at minute 70: {p}");
    assert_eq!(p["rate"], 100.0);
    for f in [
        "semantic_hits",
        "cumulative_simple_cache_savings",
        "cumulative_semantic_cache_savings",
    ] {
        assert!(p[f].is_number(), "{f}");
    }
    let v = graph(&h, "cache/latency", ORG).await;
    assert_eq!(v["summary"]["avg"], 100);
    assert_eq!(points(&v)[14]["avg"], 100);
    assert_eq!(points(&v)[0]["avg"], 0);
    let v = h
        .ok_get(&format!("/v1/analytics/summary/cache?{}", range()), ORG)
        .await;
    assert_eq!(v["object"], "analytics-summary");
    assert_eq!(
        v["summary"],
        json!({"hits": 1, "avg_latency": 100, "total_requests": 9, "cache_speedup": 0.0})
    );

    // Feedback, by when it was given.
    let v = graph(&h, "feedbacks", ORG).await;
    assert_eq!(v["summary"]["total"], 4);
    assert_eq!(total(&v, "total"), 4.0);
    let v = graph(&h, "feedbacks/scores", ORG).await;
    assert_eq!(v["summary"]["total"], 4);
    assert_eq!(
        v["data_points"],
        json!([
            {"score": -4, "total": 1},
            {"score": 2, "total": 1},
            {"score": 8, "total": 1},
            {"score": 10, "total": 1},
        ])
    );
    let v = graph(&h, "feedbacks/weighted", ORG).await;
    // (8 − 2 + 2 + 10) / 4
    assert_eq!(v["summary"]["avg"], 4.5);
    let v = graph(&h, "feedbacks/ai-models", ORG).await;
    assert_eq!(
        v["data_points"],
        json!([
            {"ai_model": "gpt-4o", "total": 3, "avg_weighted_feedback": 5.3333},
            {"ai_model": "claude-3-5", "total": 1, "avg_weighted_feedback": 2.0},
        ])
    );
}

#[tokio::test]
async fn graphs_keep_to_the_callers_workspace_and_filters() {
    let h = with_feedback().await;
    assert_eq!(graph(&h, "requests", W1).await["summary"]["total"], 6);
    assert_eq!(graph(&h, "feedbacks", W1).await["summary"]["total"], 3);
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs/requests?{}&ai_org_model=openai__gpt-4o",
                range()
            ),
            ORG,
        )
        .await;
    assert_eq!(v["summary"]["total"], 5, "r01 r02 r04 r07 r08");
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs/feedbacks?{}&ai_model=claude-3-5",
                range()
            ),
            ORG,
        )
        .await;
    assert_eq!(v["summary"]["total"], 1);
    let v = h
        .ok_get(
            &format!(
                "/v1/analytics/graphs/cost?{}&workspace_slug=ws-team-two",
                range()
            ),
            ORG,
        )
        .await;
    assert_eq!(v["summary"]["total"], 0.2);
    // Scope, and bad parameters named.
    let got = h
        .get(&format!("/v1/analytics/graphs/latency?{}", range()), BARE)
        .await;
    assert_err(&got, 403, "AB03");
    bad(
        &h,
        "/v1/analytics/graphs/requests?time_of_generation_min=soon",
        "time_of_generation_min",
    )
    .await;
    bad(
        &h,
        &format!("/v1/analytics/graphs/tokens?{}&bucket=7m", range()),
        "bucket",
    )
    .await;
    bad(
        &h,
        "/v1/analytics/graphs/requests?time_of_generation_min=2000-01-01&bucket=5m",
        "bucket",
    )
    .await;
    bad(
        &h,
        &format!("/v1/analytics/graphs/errors?{}&prompt_slug=p", range()),
        "prompt_slug",
    )
    .await;
}

#[tokio::test]
async fn group_paths_answer_in_portkey_shape() {
    let h = with_feedback().await;
    let v = h
        .ok_get(&format!("/v1/analytics/groups/users?{}", range()), ORG)
        .await;
    assert_eq!(v["object"], "list");
    let alice = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["user"] == "alice")
        .unwrap();
    assert_eq!(alice["requests"], 3);
    assert_eq!(alice["cost"], 0.8, "cents");
    assert_eq!(alice["object"], "analytics-group");
    assert_eq!(alice["key"], "alice");
    assert_eq!(alice["metrics"]["cost_nanos"], 8_000_000);
    // Paged.
    let page = h
        .ok_get(
            &format!(
                "/v1/analytics/groups/users?{}&page_size=1&current_page=1",
                range()
            ),
            ORG,
        )
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        page["data"][0]["user"], "alice",
        "second largest after null"
    );
    bad(
        &h,
        "/v1/analytics/groups/users?current_page=x",
        "current_page",
    )
    .await;

    let v = h
        .ok_get(&format!("/v1/analytics/groups/ai-models?{}", range()), ORG)
        .await;
    assert_eq!(v["data"][0]["ai_model"], "gpt-4o");
    assert_eq!(v["data"][0]["requests"], 5);
    assert!(v["data"][0].get("cost").is_none());

    let v = h
        .ok_get(
            &format!("/v1/analytics/groups/metadata/team?{}", range()),
            ORG,
        )
        .await;
    assert_eq!(v["dimension"], "metadata.team");
    let red = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata_value"] == "red")
        .unwrap();
    assert_eq!(red["requests"], 1);
    assert_eq!(red["cost"], 0.1);
    assert_eq!(red["avg_tokens"], 150.0);
    // f1 (8 × 1) and f2 (−4 × 0.5) on r01's trace.
    assert_eq!(red["avg_weighted_feedback"], 3.0);
    assert_eq!(red["requests_with_feedback"], 1);
    let blue = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata_value"] == "blue")
        .unwrap();
    assert_eq!(blue["avg_weighted_feedback"], 2.0);
    let none = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata_value"].is_null())
        .unwrap();
    assert_eq!(none["requests_with_feedback"], 1, "r07's feedback");

    // A workspace key sees its own groups only.
    let v = h.ok_get("/v1/analytics/groups/ai-models", W1).await;
    let total: u64 = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 6);
}
