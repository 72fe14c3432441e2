//! Portkey's asynchronous log exports: the job lifecycle, the signed download, workspace
//! isolation, scopes, and bad input.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use portcullis_logs::LogStore;
use serde_json::{Value, json};

use crate::logs::{T0, rec, seeded};
use crate::support::{BARE, H, ORG, W1, W1_READ, W2, assert_err, is_iso_ms};

/// What download links are signed for (the contract between `download` and `file`).
const SIGNED_FOR: &str = "log-export-download";

fn iso(ms: i64) -> String {
    portcullis_admin::time::iso(ms)
}

/// The filters of every test: the seeded records' day, Portkey's names.
fn day_filters(extra: Value) -> Value {
    let mut f = json!({
        "time_of_generation_min": iso(T0),
        "time_of_generation_max": "2100-01-01T00:00:00Z",
    });
    f.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    f
}

async fn create(h: &H, key: &str, body: Value) -> String {
    let v = h.ok_post("/v1/logs/exports", key, body).await;
    assert_eq!(v["object"], "export", "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// `GET` without an API key, the body as text.
async fn fetch(h: &H, url: &str) -> (StatusCode, http::HeaderMap, String) {
    let path = url
        .find("/v1/")
        .map(|i| &url[i..])
        .unwrap_or_else(|| panic!("not a gateway link: {url}"));
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", "gw.test:8787")
        .body(Body::empty())
        .unwrap();
    let (s, headers, bytes) = h.raw(req).await;
    (s, headers, String::from_utf8(bytes).unwrap())
}

fn rows(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The job's download link, asked for as a client would (with a `Host`).
async fn signed_url(h: &H, id: &str, key: &str) -> String {
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/logs/exports/{id}/download"))
        .header("x-portkey-api-key", key)
        .header("host", "gw.test:8787")
        .body(Body::empty())
        .unwrap();
    let (s, _, bytes) = h.raw(req).await;
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(is_iso_ms(&v["expires_at"]), "{v}");
    let url = v["signed_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!(
            "http://gw.test:8787/v1/logs/exports/{id}/file?expires="
        )),
        "{url}"
    );
    url
}

#[tokio::test]
async fn an_export_job_runs_from_draft_to_a_signed_jsonl_download() {
    let h = seeded().await;
    let fields = [
        "id",
        "cost",
        "ai_model",
        "is_success",
        "response_time",
        "metadata",
    ];
    let v = h
        .ok_post(
            "/v1/logs/exports",
            W1,
            json!({
                "filters": day_filters(json!({"ai_org_model": "openai__gpt-4o"})),
                "requested_data": ["id", "cost"],
                "description": "nightly",
            }),
        )
        .await;
    // r01, r02 and r04: workspace 1's gpt-4o requests through openai.
    assert_eq!(v["total"], 3, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/logs/exports/{id}");

    let job = h.ok_get(&path, W1).await;
    assert_eq!(job["status"], "draft");
    assert_eq!(job["object"], "export");
    assert_eq!(job["workspace_id"], json!(h.ws1.id));
    assert_eq!(job["description"], "nightly");
    assert_eq!(job["requested_data"], json!(["id", "cost"]));
    assert_eq!(job["filters"]["ai_org_model"], "openai__gpt-4o");
    assert_eq!(job["total_records"], Value::Null);
    assert_eq!(job["created_by"], "w1");
    assert!(is_iso_ms(&job["created_at"]) && is_iso_ms(&job["last_updated_at"]));

    // Not downloadable yet.
    let got = h.get(&format!("{path}/download"), W1).await;
    assert_err(&got, 409, "AB07");

    // A draft can change: now every successful gpt-4o request, other fields.
    let v = h
        .ok_put(
            &path,
            W1,
            json!({
                "filters": day_filters(json!({"ai_model": "gpt-4o", "status_code": 200})),
                "requested_data": fields,
            }),
        )
        .await;
    assert_eq!(v["total"], 2, "r01 and r04: {v}");
    assert_eq!(v["id"], json!(id));

    let listed = h.ok_get("/v1/logs/exports", W1).await;
    assert_eq!(listed["object"], "list");
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["data"][0]["id"], json!(id));

    let v = h.ok_post(&format!("{path}/start"), W1, json!({})).await;
    assert_eq!(v["object"], "export");
    assert_eq!(v["status"], "success", "{v}");
    assert!(v["message"].as_str().unwrap().contains(&id));
    // Logged after the start: not part of the export, though inside its filters.
    let mut late = rec("late", 0, Some(&h.ws1.id));
    late.created_at = portcullis_admin::time::now() + 60_000;
    late.model = Some("gpt-4o".into());
    h.logs.insert_batch(&[late]).await.unwrap();

    let job = h.ok_get(&path, W1).await;
    assert_eq!(job["status"], "success");
    assert_eq!(job["total_records"], 2);

    // Only a draft starts or changes; a finished job does not cancel.
    assert_err(
        &h.post(&format!("{path}/start"), W1, json!({})).await,
        409,
        "AB07",
    );
    assert_err(&h.put(&path, W1, json!({"filters": {}})).await, 409, "AB07");
    assert_err(
        &h.post(&format!("{path}/cancel"), W1, json!({})).await,
        409,
        "AB07",
    );

    let url = signed_url(&h, &id, W1).await;
    let (s, headers, text) = fetch(&h, &url).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&id)
    );
    let got = rows(&text);
    assert_eq!(got.len(), 2, "{text}");
    for row in &got {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, fields, "fields in the requested order");
    }
    // Newest first: r04 (a cache hit, free), then r01 (0.001 USD = 0.1 cents).
    assert_eq!(got[0]["id"], "r04");
    assert_eq!(got[1]["id"], "r01");
    assert_eq!(got[1]["cost"], 0.1);
    assert_eq!(got[1]["ai_model"], "gpt-4o");
    assert_eq!(got[1]["is_success"], 1);
    assert_eq!(got[1]["response_time"], 100);
    assert_eq!(got[1]["metadata"], json!({"_user": "alice", "team": "red"}));
    // The link works again until it expires, from any replica holding the master key.
    let (s, _, again) = fetch(&h, &url).await;
    assert_eq!((s, again), (StatusCode::OK, text));
}

#[tokio::test]
async fn download_links_are_signed_expiring_and_bound_to_their_job() {
    let h = seeded().await;
    let id = create(&h, W1, json!({"filters": day_filters(json!({}))})).await;
    let other = create(&h, W1, json!({"filters": day_filters(json!({}))})).await;
    for j in [&id, &other] {
        h.ok_post(&format!("/v1/logs/exports/{j}/start"), W1, json!({}))
            .await;
    }
    let url = signed_url(&h, &id, W1).await;
    let (s, _, text) = fetch(&h, &url).await;
    assert_eq!(s, StatusCode::OK);
    // Every field by default; workspace 1's six records.
    let got = rows(&text);
    assert_eq!(got.len(), 6);
    assert_eq!(got[0].as_object().unwrap().len(), 20);

    let query = |expires: &str, sig: &str| {
        format!("/v1/logs/exports/{id}/file?expires={expires}&signature={sig}")
    };
    let (_, q) = url.split_once('?').unwrap();
    let params: Vec<(&str, &str)> = q.split('&').filter_map(|p| p.split_once('=')).collect();
    let expires = params.iter().find(|p| p.0 == "expires").unwrap().1;
    let sig = params.iter().find(|p| p.0 == "signature").unwrap().1;
    let later = (expires.parse::<i64>().unwrap() + 1).to_string();
    let mut flipped = sig.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let past = (portcullis_admin::time::now() / 1000 - 1).to_string();
    let stale = h.sealer.sign(SIGNED_FOR, &format!("{id}.{past}"));
    let cases = [
        (query(expires, &flipped), "not valid"),
        (query(&later, sig), "not valid"),
        (
            format!("/v1/logs/exports/{other}/file?expires={expires}&signature={sig}"),
            "not valid",
        ),
        (format!("/v1/logs/exports/{id}/file"), "incomplete"),
        (query(&past, &stale), "expired"),
    ];
    for (path, why) in cases {
        let got = h.call(Method::GET, &path, None, None).await;
        assert_err(&got, 403, "AB03");
        assert!(
            got.1["error"]["message"].as_str().unwrap().contains(why),
            "{path}: {}",
            got.1
        );
    }
    // A link for a job that is gone from the store: 404.
    let ghost = "00000000-0000-0000-0000-000000000000";
    let future = (portcullis_admin::time::now() / 1000 + 60).to_string();
    let sig = h.sealer.sign(SIGNED_FOR, &format!("{ghost}.{future}"));
    let got = h
        .call(
            Method::GET,
            &format!("/v1/logs/exports/{ghost}/file?expires={future}&signature={sig}"),
            None,
            None,
        )
        .await;
    assert_err(&got, 404, "AB08");
}

#[tokio::test]
async fn cancelling_and_windows() {
    let h = seeded().await;
    // A draft cancels; a stopped job neither starts nor downloads.
    let id = create(&h, W1, json!({"filters": day_filters(json!({}))})).await;
    let path = format!("/v1/logs/exports/{id}");
    let v = h.ok_post(&format!("{path}/cancel"), W1, json!({})).await;
    assert_eq!(
        (v["status"].clone(), v["object"].clone()),
        (json!("stopped"), json!("export"))
    );
    assert_eq!(h.ok_get(&path, W1).await["status"], "stopped");
    assert_err(
        &h.post(&format!("{path}/start"), W1, json!({})).await,
        409,
        "AB07",
    );
    assert_err(
        &h.post(&format!("{path}/cancel"), W1, json!({})).await,
        409,
        "AB07",
    );
    assert_err(&h.get(&format!("{path}/download"), W1).await, 409, "AB07");

    // Portkey's logs limit: page_size rows after current_page pages of them.
    let v = h
        .ok_post(
            "/v1/logs/exports",
            W1,
            json!({
                "filters": day_filters(json!({"page_size": 2, "current_page": 1})),
                "requested_data": ["id"],
            }),
        )
        .await;
    assert_eq!(v["total"], 2);
    let id = v["id"].as_str().unwrap();
    h.ok_post(&format!("/v1/logs/exports/{id}/start"), W1, json!({}))
        .await;
    assert_eq!(
        h.ok_get(&format!("/v1/logs/exports/{id}"), W1).await["total_records"],
        2
    );
    let (s, _, text) = fetch(&h, &signed_url(&h, id, W1).await).await;
    assert_eq!(s, StatusCode::OK);
    // Workspace 1 newest first: r06 r05 | r04 r03 | r02 r01.
    let got: Vec<Value> = rows(&text).into_iter().map(|r| r["id"].clone()).collect();
    assert_eq!(got, vec![json!("r04"), json!("r03")]);
}

#[tokio::test]
async fn export_jobs_stay_in_their_workspace() {
    let h = seeded().await;
    let mine = create(&h, W1, json!({"filters": day_filters(json!({}))})).await;
    let path = format!("/v1/logs/exports/{mine}");
    // Another workspace's key: as if the job did not exist.
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::POST, format!("{path}/start")),
        (Method::POST, format!("{path}/cancel")),
        (Method::GET, format!("{path}/download")),
    ] {
        let body = (method != Method::GET).then(|| json!({}));
        let got = h.call(method.clone(), &p, Some(W2), body).await;
        assert_err(&got, 404, "AB08");
    }
    assert_eq!(h.ok_get("/v1/logs/exports", W2).await["total"], 0);
    // Naming another workspace is a 404 too.
    let got = h
        .post(
            "/v1/logs/exports",
            W1,
            json!({"workspace_id": h.ws2.id, "filters": {}}),
        )
        .await;
    assert_err(&got, 404, "AB08");
    let got = h
        .post(
            "/v1/logs/exports",
            W1,
            json!({"filters": {"workspace_slug": "ws-team-two"}}),
        )
        .await;
    assert_err(&got, 404, "AB08");

    // An organisation key: a workspace's job by slug, or an organisation-wide one.
    let v = h
        .ok_post(
            "/v1/logs/exports",
            ORG,
            json!({"workspace_id": "ws-team-two", "filters": day_filters(json!({}))}),
        )
        .await;
    assert_eq!(v["total"], 2);
    let theirs = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.ok_get(&format!("/v1/logs/exports/{theirs}"), W2).await["workspace_id"],
        json!(h.ws2.id)
    );
    let v = h
        .ok_post(
            "/v1/logs/exports",
            ORG,
            json!({"filters": day_filters(json!({}))}),
        )
        .await;
    assert_eq!(v["total"], 9, "every workspace, and none");
    let org_wide = v["id"].as_str().unwrap().to_owned();
    assert_err(
        &h.get(&format!("/v1/logs/exports/{org_wide}"), W1).await,
        404,
        "AB08",
    );
    let all = h.ok_get("/v1/logs/exports", ORG).await;
    assert_eq!(all["total"], 3);
    let ws1 = h
        .ok_get(&format!("/v1/logs/exports?workspace_id={}", h.ws1.id), ORG)
        .await;
    assert_eq!(ws1["total"], 1);
    assert_eq!(ws1["data"][0]["id"], json!(mine));
    let listed = h.ok_get("/v1/logs/exports", W1).await;
    assert_eq!(listed["total"], 1);
    assert_err(
        &h.get("/v1/logs/exports?workspace_id=nope", ORG).await,
        404,
        "AB08",
    );
}

#[tokio::test]
async fn export_routes_check_their_scope() {
    let h = seeded().await;
    let id = create(&h, W1, json!({})).await;
    let routes = [
        (Method::POST, "/v1/logs/exports".to_owned()),
        (Method::GET, "/v1/logs/exports".to_owned()),
        (Method::GET, format!("/v1/logs/exports/{id}")),
        (Method::PUT, format!("/v1/logs/exports/{id}")),
        (Method::POST, format!("/v1/logs/exports/{id}/start")),
        (Method::POST, format!("/v1/logs/exports/{id}/cancel")),
        (Method::GET, format!("/v1/logs/exports/{id}/download")),
    ];
    for (method, path) in &routes {
        let body = (*method != Method::GET).then(|| json!({}));
        let got = h.call(method.clone(), path, Some(BARE), body.clone()).await;
        assert_err(&got, 403, "AB03");
        let got = h.call(method.clone(), path, None, body).await;
        assert_err(&got, 401, "AB05");
    }
    // Read-only keys list (logs.list) but neither read a job (logs.view) nor export.
    assert_eq!(h.ok_get("/v1/logs/exports", W1_READ).await["total"], 1);
    for (method, path) in routes.iter().filter(|(_, p)| p != "/v1/logs/exports") {
        let body = (*method != Method::GET).then(|| json!({}));
        let got = h.call(method.clone(), path, Some(W1_READ), body).await;
        assert_err(&got, 403, "AB03");
    }
    // Without request logging there are no exports.
    let off = H::without_logs().await;
    assert_err(&off.get("/v1/logs/exports", W1).await, 404, "AB08");
    assert_err(
        &off.post("/v1/logs/exports", W1, json!({})).await,
        404,
        "AB08",
    );
}

#[tokio::test]
async fn bad_export_input_is_a_clear_400() {
    let h = seeded().await;
    let cases = [
        (
            json!({"requested_data": ["id", "colour"]}),
            "requested_data",
        ),
        (json!({"requested_data": []}), "requested_data"),
        (json!({"requested_data": "id"}), "requested_data"),
        (json!({"filters": "yesterday"}), "filters"),
        (json!({"filters": {"colour": "red"}}), "filters.colour"),
        (
            json!({"filters": {"status_code": "ok"}}),
            "filters.status_code",
        ),
        (
            json!({"filters": {"status_code": [200, 429]}}),
            "filters.status_code",
        ),
        (
            json!({"filters": {"time_of_generation_min": "yesterday"}}),
            "filters.time_of_generation_min",
        ),
        (
            json!({"filters": {"time_of_generation_min": "2026-03-03", "time_of_generation_max": "2026-03-02"}}),
            "filters.time_of_generation_max",
        ),
        (
            json!({"filters": {"virtual_keys": "vk-1"}}),
            "filters.virtual_keys",
        ),
        (json!({"filters": {"cost_min": "-1"}}), "filters.cost_min"),
        (json!({"filters": {"metadata": "team"}}), "filters.metadata"),
        (json!({"filters": {"page_size": 0}}), "filters.page_size"),
        (
            json!({"filters": {"current_page": 1}}),
            "filters.current_page",
        ),
        (json!({"description": 7}), "description"),
    ];
    for (body, param) in cases {
        let got = h.post("/v1/logs/exports", W1, body.clone()).await;
        assert_err(&got, 400, "AB01");
        assert_eq!(got.1["error"]["param"], param, "{body}: {}", got.1);
    }
    let id = create(&h, W1, json!({})).await;
    let got = h
        .put(
            &format!("/v1/logs/exports/{id}"),
            W1,
            json!({"requested_data": ["nope"]}),
        )
        .await;
    assert_err(&got, 400, "AB01");
    // Not JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/logs/exports")
        .header("x-portkey-api-key", W1)
        .body(Body::from("{"))
        .unwrap();
    let (s, _, _) = h.raw(req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Unknown jobs.
    for path in [
        "/v1/logs/exports/nope",
        "/v1/logs/exports/nope/download",
        "/v1/logs/exports/NOT_GIVEN",
    ] {
        assert_err(&h.get(path, W1).await, 404, "AB08");
    }
    assert_err(
        &h.post("/v1/logs/exports/nope/start", W1, json!({})).await,
        404,
        "AB08",
    );
}
