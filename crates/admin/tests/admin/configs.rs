//! `/v1/configs`: shapes, validation with paths, versions, defaults and isolation.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn config_crud_has_portkeys_shapes() {
    let h = H::new().await;
    let created = h
        .ok_post("/v1/configs", ORG, json!({"name": "e2e test config", "config": {"retry": {"attempts": 3}, "cache": {"mode": "simple"}}, "workspace_id": h.ws1.slug, "is_default": 0}))
        .await;
    let slug = created["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("pc-e2e-te-") && slug.len() == 16, "{slug}");
    assert_eq!(created.as_object().unwrap().len(), 4);
    assert_eq!(created["object"], "config");
    let id = created["id"].as_str().unwrap().to_owned();
    let v1 = created["version_id"].as_str().unwrap().to_owned();

    let got = h.ok_get(&format!("/v1/configs/{slug}"), W1).await;
    let expected = json!({
        "id": id, "name": "e2e test config", "workspace_id": h.ws1.id, "slug": slug,
        "organisation_id": "00000000-0000-4000-8000-000000000001", "is_default": 0, "status": "active",
        "owner_id": null, "updated_by": null, "created_at": "<dyn>", "last_updated_at": "<dyn>",
        "config": "{\"retry\":{\"attempts\":3},\"cache\":{\"mode\":\"simple\"}}", "format": "json",
        "type": "ORG_CONFIG", "version_id": v1, "object": "config",
    });
    assert_eq!(
        redact(got.clone(), &["created_at", "last_updated_at"]),
        expected
    );
    assert!(is_iso_ms(&got["created_at"]));

    let list = h.ok_get("/v1/configs?", W1).await;
    assert_eq!(list["total"], 1);
    let item = &list["data"][0];
    assert!(item.get("config").is_none(), "list items carry no body");
    assert_eq!(item["slug"], slug.as_str());

    let up = h
        .ok_put(
            &format!("/v1/configs/{slug}"),
            W1,
            json!({"slug": slug, "name": "renamed", "config": {"retry": {"attempts": 2}}}),
        )
        .await;
    let v2 = up["version_id"].as_str().unwrap();
    assert_ne!(v2, v1);
    assert_eq!(up, json!({"version_id": v2, "object": "config"}));
    let same = h
        .ok_put(
            &format!("/v1/configs/{slug}"),
            W1,
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(same["version_id"], v2, "no new body, no new version");
    let got = h.ok_get(&format!("/v1/configs/{id}"), W1).await;
    assert_eq!(
        (got["name"].as_str(), got["status"].as_str()),
        (Some("renamed"), Some("archived"))
    );
    assert_eq!(got["config"], "{\"retry\":{\"attempts\":2}}");

    let versions = h.ok_get(&format!("/v1/configs/{slug}/versions"), W1).await;
    assert_eq!(versions["total"], 2);
    assert_eq!(versions["data"][0]["version_id"], v2, "newest first");
    assert_eq!(
        versions["data"][1]["config"],
        "{\"retry\":{\"attempts\":3},\"cache\":{\"mode\":\"simple\"}}"
    );

    assert_eq!(
        h.ok_delete(&format!("/v1/configs/{slug}"), W1).await,
        json!({})
    );
    assert_err(
        &h.get(&format!("/v1/configs/{slug}"), W1).await,
        404,
        "AB08",
    );
}

#[tokio::test]
async fn invalid_configs_list_every_error_with_its_path() {
    let h = H::new().await;
    let e = h
        .post(
            "/v1/configs",
            W1,
            json!({"name": "bad", "config": {"retry": {"attempts": "many"}, "bogus": 1}}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    let msg = e.1["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("retry.attempts") && msg.contains("bogus"),
        "{msg}"
    );
    assert_eq!(e.1["error"]["param"], "config");
    let ok = h
        .ok_post(
            "/v1/configs",
            W1,
            json!({"name": "good", "config": "{\"retry\":{\"attempts\":1}}"}),
        )
        .await;
    let slug = ok["slug"].as_str().unwrap();
    let e = h
        .put(
            &format!("/v1/configs/{slug}"),
            W1,
            json!({"config": {"bogus": true}}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert_err(
        &h.post("/v1/configs", W1, json!({"name": "x"})).await,
        400,
        "AB01",
    );
    assert_err(
        &h.post("/v1/configs", W1, json!({"name": "x", "config": [1]}))
            .await,
        400,
        "AB01",
    );
    assert_err(
        &h.post(
            "/v1/configs",
            W1,
            json!({"name": "x", "config": {}, "is_default": 7}),
        )
        .await,
        400,
        "AB01",
    );
    assert_err(
        &h.post("/v1/configs", ORG, json!({"name": "x", "config": {}}))
            .await,
        400,
        "AB01",
    );
    assert_err(
        &h.put(
            &format!("/v1/configs/{slug}"),
            W1,
            json!({"status": "gone"}),
        )
        .await,
        400,
        "AB01",
    );
}

#[tokio::test]
async fn one_default_per_workspace_and_isolation() {
    let h = H::new().await;
    let a = h
        .ok_post(
            "/v1/configs",
            W1,
            json!({"name": "a", "config": {}, "is_default": 1}),
        )
        .await;
    let b = h
        .ok_post(
            "/v1/configs",
            W1,
            json!({"name": "b", "config": {}, "isDefault": true}),
        )
        .await;
    let a_slug = a["slug"].as_str().unwrap();
    assert_eq!(
        h.ok_get(&format!("/v1/configs/{a_slug}"), W1).await["is_default"],
        0
    );
    assert_eq!(
        h.ok_get(&format!("/v1/configs/{}", b["slug"].as_str().unwrap()), W1)
            .await["is_default"],
        1
    );
    let path = format!("/v1/configs/{a_slug}");
    assert_err(&h.get(&path, W2).await, 404, "AB08");
    assert_err(&h.put(&path, W2, json!({"name": "x"})).await, 404, "AB08");
    assert_err(&h.delete(&path, W2).await, 404, "AB08");
    assert_err(&h.get(&format!("{path}/versions"), W2).await, 404, "AB08");
    assert_eq!(h.ok_get("/v1/configs", W2).await["total"], 0);
    assert_eq!(
        h.ok_get(&format!("/v1/configs?workspace_id={}", h.ws1.id), W2)
            .await["total"],
        0
    );
    assert_eq!(
        h.ok_get(&format!("/v1/configs?workspace_id={}", h.ws2.slug), ORG)
            .await["total"],
        0
    );
    assert_eq!(
        h.ok_get("/v1/configs?workspace_id=None", ORG).await["total"],
        2
    );
    assert_err(
        &h.post(
            "/v1/configs",
            W2,
            json!({"name": "x", "config": {}, "workspace_id": h.ws1.id}),
        )
        .await,
        404,
        "AB08",
    );
    assert_err(&h.delete(&path, W1_READ).await, 403, "AB03");
    assert_err(&h.get("/v1/configs/NOT_GIVEN", W1).await, 404, "AB08");
}
