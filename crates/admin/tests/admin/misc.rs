//! Cross-cutting behaviour: authentication, envelopes, body limits, the route table, OpenAPI, audit.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use portcullis_admin::routes::{M, ROUTES};
use serde_json::{Value, json};

use crate::support::*;

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

fn method(m: M) -> Method {
    match m {
        M::Get => Method::GET,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Delete => Method::DELETE,
    }
}

#[tokio::test]
async fn every_route_needs_a_key_and_is_in_the_openapi_document() {
    let h = H::new().await;
    let doc = h.ok_get("/v1/admin/openapi.json", BARE).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = 0;
    for route in ROUTES {
        let path = concrete(route.path);
        // Served by the router (not 404/405): without a key it is 401. An export's file is
        // the one exception: its signed link is the credential (403 without one).
        let (status, code) = if route.path == "/v1/logs/exports/{id}/file" {
            (403, "AB03")
        } else {
            (401, "AB05")
        };
        for key in [None, Some("wrong-key"), Some(EXPIRED)] {
            let got = h.call(method(route.method), &path, key, None).await;
            assert_err(&got, status, code);
        }
        assert!(
            doc["paths"][route.path][route.method.as_str()].is_object(),
            "{} {}",
            route.method.as_str(),
            route.path
        );
        documented += 1;
    }
    let ops: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(ops, documented, "nothing documented that is not routed");
    assert!(ROUTES.len() >= 53);
}

#[tokio::test]
async fn bearer_keys_work_and_unknown_methods_are_json() {
    let h = H::new().await;
    let req = Request::get("/v1/configs")
        .header("authorization", format!("Bearer {W1}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = h.raw(req).await;
    assert_eq!(status, StatusCode::OK);
    let got = h.call(Method::PATCH, "/v1/configs", Some(W1), None).await;
    assert_eq!(got.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(got.1["success"], false);
    let e = h.get("/v1/configs", BARE).await;
    assert_err(&e, 403, "AB03");
    assert!(
        e.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("configs.list")
    );
}

#[tokio::test]
async fn bodies_are_bounded_and_must_be_objects() {
    let h = H::new().await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let req = Request::post("/v1/configs")
        .header("x-portkey-api-key", W1)
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let (status, headers, bytes) = h.raw(req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["success"], false);
    let req = Request::post("/v1/configs")
        .header("x-portkey-api-key", W1)
        .body(Body::from("not json"))
        .unwrap();
    let (status, _, _) = h.raw(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_err(&h.post("/v1/configs", W1, json!([1, 2])).await, 400, "AB01");
    // Without a key, the body is never looked at.
    let req = Request::post("/v1/configs")
        .body(Body::from("not json"))
        .unwrap();
    assert_eq!(h.raw(req).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_is_for_organisation_keys() {
    let h = H::new().await;
    for n in 0..3 {
        h.ok_post(
            "/v1/configs",
            W1,
            json!({"name": format!("c{n}"), "config": {}}),
        )
        .await;
    }
    h.ok_post("/v1/configs", W2, json!({"name": "other", "config": {}}))
        .await;
    let all = h.ok_get("/v1/audit-logs?resource_type=config", ORG).await;
    assert_eq!(all["total"], 4);
    let item = &all["data"][0];
    assert_eq!(
        (item["object"].as_str(), item["action"].as_str()),
        (Some("audit-log"), Some("create"))
    );
    assert!(is_iso_ms(&item["created_at"]));
    assert_eq!(item["actor"]["id"], "w2", "newest first");
    let page = h
        .ok_get(
            &format!(
                "/v1/audit-logs?resource_type=config&page_size=2&current_page=1&workspace_id={}",
                h.ws1.slug
            ),
            ORG,
        )
        .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["data"].as_array().map(Vec::len)
        ),
        (Some(3), Some(1))
    );
    assert_eq!(
        h.ok_get("/v1/audit-logs?action=delete", ORG).await["total"],
        0
    );
    assert_eq!(
        h.ok_get("/v1/audit-logs?start_time=2999-01-01T00:00:00Z", ORG)
            .await["total"],
        0
    );
    assert_err(&h.get("/v1/audit-logs", W1).await, 403, "AB03");
    assert_err(&h.get("/v1/audit-logs", BARE).await, 403, "AB03");
    assert_err(
        &h.get("/v1/audit-logs?page_size=101", ORG).await,
        400,
        "AB01",
    );
    assert_err(
        &h.get("/v1/audit-logs?start_time=yesterday", ORG).await,
        400,
        "AB01",
    );
}

#[tokio::test]
async fn merged_into_a_gateway_router_admin_paths_win_over_the_passthrough() {
    use axum::Router;
    use axum::routing::{any, get};
    use tower::ServiceExt;
    let h = H::new().await;
    let gateway: Router = Router::new()
        .route("/v1/models", get(|| async { "models" }))
        .route("/v1/{*rest}", any(|| async { "passthrough" }))
        .fallback(|| async { "fallback" })
        .with_state(());
    let app = gateway.merge(h.app.clone());
    let send = |path: &'static str| {
        let app = app.clone();
        async move {
            let req = Request::get(path)
                .header("x-portkey-api-key", W1)
                .body(Body::empty())
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(send("/v1/chat/anything").await.1, "passthrough");
    assert_eq!(send("/v1/models").await.1, "models");
    let (status, body) = send("/v1/configs?").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"object\":\"list\""), "{body}");
    assert_eq!(send("/v1/admin/workspaces").await.0, StatusCode::OK);
}
