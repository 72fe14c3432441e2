//! `/v1/api-keys`: shown once, masked after, isolated by workspace, no scope escalation.

use serde_json::{Value, json};

use crate::support::*;

async fn config_slug(h: &H) -> String {
    let v = h
        .ok_post("/v1/configs", ORG, json!({"name": "prod", "config": {"retry": {"attempts": 3}}, "workspace_id": h.ws1.slug}))
        .await;
    v["slug"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_shows_the_key_once_then_masks_it() {
    let h = H::new().await;
    let cfg = config_slug(&h).await;
    let created = h
        .ok_post(
            "/v1/api-keys/workspace/service",
            ORG,
            json!({"type":"workspace","sub-type":"service","name":"ci-bot","workspace_id":h.ws1.slug,
             "scopes":["completions.write","logs.view"],
             "rate_limits":[{"type":"requests","unit":"rpm","value":100}],
             "usage_limits":{"type":"cost","credit_limit":50,"alert_threshold":40,"periodic_reset":"monthly"},
             "defaults":{"config_id": cfg,"metadata":{"team":"search"}},
             "alert_emails":["ops@example.com"],"expires_at":"2099-12-31T00:00:00.000Z", "unknown_kwarg": 1}),
        )
        .await;
    let obj = created.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{created}");
    assert_eq!(created["object"], "api-key");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok_and(|u| u.get_version_num() == 4));
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 40);
    h.forbid(&secret);

    let got = h.ok_get(&format!("/v1/api-keys/{id}"), ORG).await;
    assert!(is_iso_ms(&got["created_at"]) && is_iso_ms(&got["last_updated_at"]));
    let masked = got["key"].as_str().unwrap();
    assert_eq!(masked.len(), 10);
    assert_eq!(&masked[2..7], "*****");
    assert_eq!(&masked[..2], &secret[..2]);
    let expected = json!({
        "id": id, "key": "<dyn>", "name": "ci-bot", "description": null, "type": "workspace-service",
        "organisation_id": "00000000-0000-4000-8000-000000000001", "workspace_id": h.ws1.id,
        "user_id": null, "status": "active", "created_at": "<dyn>", "last_updated_at": "<dyn>",
        "creation_mode": "api",
        "rate_limits": [{"type":"requests","unit":"rpm","value":100}],
        "usage_limits": {"type":"cost","credit_limit":50,"alert_threshold":40,"periodic_reset":"monthly"},
        "reset_usage": null, "expires_at": "2099-12-31T00:00:00.000Z", "last_reset_at": null,
        "alert_emails": ["ops@example.com"], "expiry_enforced": 1, "next_usage_reset_at": null,
        "allow_config_override": null, "api_key_defaults_id": null,
        "scopes": ["completions.write", "logs.view"],
        "defaults": {"metadata": {"team": "search"}, "config_id": cfg, "allow_config_override": true},
        "object": "api-key", "usage": "<dyn>",
    });
    assert_eq!(
        redact(
            got.clone(),
            &["key", "created_at", "last_updated_at", "usage"]
        ),
        expected
    );

    let list = h
        .ok_get(
            "/v1/api-keys?page_size=10&current_page=0&workspace_id=",
            ORG,
        )
        .await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0], got);
    for body in [got.to_string(), list.to_string()] {
        assert!(!body.contains(&secret), "the secret is shown once only");
        assert!(!body.contains(&secret[4..20]));
    }
    let audit = h.ok_get("/v1/audit-logs", ORG).await;
    assert!(!audit.to_string().contains(&secret));
}

#[tokio::test]
async fn created_keys_authenticate_and_rotation_replaces_them() {
    let h = H::new().await;
    let created = h
        .ok_post(
            "/v1/api-keys/workspace/service",
            ORG,
            json!({"name": "k", "workspace_id": h.ws1.id, "scopes": ["configs.list"]}),
        )
        .await;
    let (id, old) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    h.refresh_keys().await;
    let list = h.ok_get("/v1/configs?", old).await;
    assert_eq!(list["total"], 0);
    let rotated = h
        .ok_post(&format!("/v1/api-keys/{id}/rotate"), ORG, json!({}))
        .await;
    assert_eq!(rotated["id"], id);
    assert!(is_iso_ms(&rotated["key_transition_expires_at"]));
    let new = rotated["key"].as_str().unwrap();
    assert_ne!(new, old);
    h.forbid(new);
    h.refresh_keys().await;
    assert_err(&h.get("/v1/configs", old).await, 401, "AB05");
    h.ok_get("/v1/configs", new).await;
    let got = h.ok_get(&format!("/v1/api-keys/{id}"), ORG).await;
    assert!(!got.to_string().contains(new));
    // The key cannot reach beyond its scopes.
    assert_err(&h.get("/v1/providers", new).await, 403, "AB03");
    let audit = h.ok_get("/v1/audit-logs?resource_type=api_key", ORG).await;
    assert!(
        audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "rotate")
    );
    assert!(!audit.to_string().contains(new) && !audit.to_string().contains(old));
}

#[tokio::test]
async fn workspace_keys_cannot_reach_other_workspaces_keys() {
    let h = H::new().await;
    let mine = h
        .ok_post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": "mine", "scopes": ["configs.read"]}),
        )
        .await;
    let id = mine["id"].as_str().unwrap();
    let got = h.ok_get(&format!("/v1/api-keys/{id}"), W1).await;
    assert_eq!(got["workspace_id"], h.ws1.id);
    let path = format!("/v1/api-keys/{id}");
    assert_err(&h.get(&path, W2).await, 404, "AB08");
    assert_err(
        &h.put(&path, W2, json!({"name": "stolen"})).await,
        404,
        "AB08",
    );
    assert_err(&h.delete(&path, W2).await, 404, "AB08");
    assert_err(
        &h.post(&format!("{path}/rotate"), W2, json!({})).await,
        404,
        "AB08",
    );
    let theirs = h
        .ok_get(&format!("/v1/api-keys?workspace_id={}", h.ws1.id), W2)
        .await;
    assert_eq!(
        theirs["total"], 0,
        "the filter is forced to the caller's workspace"
    );
    assert_eq!(h.ok_get("/v1/api-keys", W1).await["total"], 1);
    assert_err(
        &h.post(
            "/v1/api-keys/workspace/service",
            W2,
            json!({"name": "x", "workspace_id": h.ws1.slug}),
        )
        .await,
        404,
        "AB08",
    );
    // The organisation sees both; organisation keys are invisible to workspace keys.
    let org_key = h
        .ok_post(
            "/v1/api-keys/organisation/service",
            ORG,
            json!({"name": "admin2", "scopes": ["configs.read"]}),
        )
        .await;
    assert_err(
        &h.get(
            &format!("/v1/api-keys/{}", org_key["id"].as_str().unwrap()),
            W1,
        )
        .await,
        404,
        "AB08",
    );
    assert_eq!(h.ok_get("/v1/api-keys", ORG).await["total"], 2);
    assert_eq!(
        h.ok_get(&format!("/v1/api-keys?workspace_id={}", h.ws1.slug), ORG)
            .await["total"],
        1
    );
    h.ok_put(&path, W1, json!({"name": "renamed"})).await;
    h.ok_delete(&path, W1).await;
    assert_err(&h.get(&path, W1).await, 404, "AB08");
}

#[tokio::test]
async fn scopes_cannot_be_escalated() {
    let h = H::new().await;
    let ws = || json!({"name": "x", "scopes": ["configs.read"]});
    assert_err(
        &h.post("/v1/api-keys/workspace/service", W1_READ, ws())
            .await,
        403,
        "AB03",
    );
    assert_err(
        &h.post("/v1/api-keys/workspace/service", BARE, ws()).await,
        403,
        "AB03",
    );
    assert_err(
        &h.post("/v1/api-keys/organisation/service", W1, ws()).await,
        403,
        "AB03",
    );
    let e = h.post("/v1/api-keys/workspace/user", W1, json!({"name": "u", "user_id": uuid::Uuid::new_v4().to_string(), "scopes": ["workspace_user_api_keys.create"]})).await;
    assert_err(&e, 400, "AB01");
    let e = h
        .post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": "x", "scopes": ["configs.read", "configs.levitate"]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert!(
        e.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("configs.levitate")
    );
    let e = h
        .post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": "x", "scopes": ["audit_logs.list"]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    // An organisation key hands out data-plane scopes it cannot hold, but not to organisation keys.
    h.ok_post(
        "/v1/api-keys/workspace/service",
        ORG,
        json!({"name": "x", "workspace_id": h.ws2.id, "scopes": ["completions.write"]}),
    )
    .await;
    let e = h
        .post(
            "/v1/api-keys/organisation/service",
            ORG,
            json!({"name": "x", "scopes": ["completions.write"]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    // A key made with fewer scopes cannot raise itself or others.
    let k = h.ok_post("/v1/api-keys/workspace/service", W1, json!({"name": "small", "scopes": ["workspace_service_api_keys.update", "workspace_service_api_keys.read"]})).await;
    h.refresh_keys().await;
    let small = k["key"].as_str().unwrap();
    let e = h
        .put(
            &format!("/v1/api-keys/{}", k["id"].as_str().unwrap()),
            small,
            json!({"scopes": ["configs.delete"]}),
        )
        .await;
    assert_err(&e, 403, "AB03");
    // Organisation keys need a workspace for workspace keys; user keys need a user.
    let e = h
        .post("/v1/api-keys/workspace/service", ORG, json!({"name": "x"}))
        .await;
    assert_err(&e, 400, "AB01");
    assert_eq!(e.1["error"]["param"], "workspace_id");
    let e = h
        .post("/v1/api-keys/workspace/user", W1, json!({"name": "x"}))
        .await;
    assert_eq!(e.1["error"]["param"], "user_id");
}

#[tokio::test]
async fn updates_are_three_state_and_validated() {
    let h = H::new().await;
    let k = h
        .ok_post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": "k", "scopes": ["configs.read"],
            "rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}],
            "usage_limits": {"credit_limit": 10}, "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let path = format!("/v1/api-keys/{}", k["id"].as_str().unwrap());
    assert_eq!(
        h.ok_get(&path, W1).await["usage_limits"],
        json!({"type": "cost", "credit_limit": 10})
    );
    assert_eq!(
        h.ok_put(&path, W1, json!({"id": "ignored", "description": "d"}))
            .await,
        json!({})
    );
    let got = h.ok_get(&path, W1).await;
    assert_eq!(got["rate_limits"][0]["value"], 5, "absent = unchanged");
    assert_eq!(got["description"], "d");
    h.ok_put(
        &path,
        W1,
        json!({"usage_limits": null, "rate_limits": null, "expires_at": null}),
    )
    .await;
    let got = h.ok_get(&path, W1).await;
    assert_eq!(
        (
            got["usage_limits"].clone(),
            got["rate_limits"].clone(),
            got["expires_at"].clone()
        ),
        (Value::Null, json!([]), Value::Null)
    );
    let e = h
        .put(&path, W1, json!({"usage_limits": {"credit_limit": "ten"}}))
        .await;
    assert_err(&e, 400, "AB01");
    assert_eq!(e.1["error"]["param"], "usage_limits.credit_limit");
    let e = h
        .put(
            &path,
            W1,
            json!({"rate_limits": [{"type": "requests", "unit": "rpy", "value": 1}]}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "rate_limits[0].unit");
    let e = h
        .put(
            &path,
            W1,
            json!({"usage_limits": {"credit_limit": 5, "alert_threshold": 9}}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    let e = h
        .put(&path, W1, json!({"expires_at": "next tuesday"}))
        .await;
    assert_eq!(e.1["error"]["param"], "expires_at");
    let e = h.put(&path, W1, json!({"name": 42})).await;
    assert_eq!(e.1["error"]["param"], "name");
    let e = h
        .put(
            &path,
            W1,
            json!({"defaults": {"config_id": "pc-nope-000000"}}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "defaults.config_id");
}

#[tokio::test]
async fn placeholders_and_bad_types_are_client_errors() {
    let h = H::new().await;
    assert_err(
        &h.post(
            "/v1/api-keys/NOT_GIVEN/NOT_GIVEN",
            ORG,
            json!({"name": "x"}),
        )
        .await,
        400,
        "AB01",
    );
    assert_err(
        &h.post("/v1/api-keys/organisation/user", ORG, json!({"name": "x"}))
            .await,
        400,
        "AB01",
    );
    assert_err(&h.get("/v1/api-keys/NOT_GIVEN", ORG).await, 404, "AB08");
    assert_err(
        &h.get(&format!("/v1/api-keys/{}", uuid::Uuid::new_v4()), ORG)
            .await,
        404,
        "AB08",
    );
    assert_err(&h.delete("/v1/api-keys/NOT_GIVEN", ORG).await, 404, "AB08");
    assert_err(
        &h.post("/v1/api-keys/NOT_GIVEN/rotate", ORG, json!({}))
            .await,
        404,
        "AB08",
    );
    let e = h
        .post("/v1/api-keys/workspace/service", W1, json!({"scopes": []}))
        .await;
    assert_eq!(e.1["error"]["param"], "name");
}

#[tokio::test]
async fn lists_page_newest_first() {
    let h = H::new().await;
    for n in 0..5 {
        h.ok_post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": format!("k{n}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    for (page, len) in [(0, 2), (1, 2), (2, 1), (3, 0)] {
        let v = h
            .ok_get(&format!("/v1/api-keys?page_size=2&current_page={page}"), W1)
            .await;
        assert_eq!(v["total"], 5);
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), len);
        seen.extend(data.iter().map(|k| k["id"].clone()));
    }
    seen.dedup();
    assert_eq!(seen.len(), 5);
    assert_err(&h.get("/v1/api-keys?page_size=abc", W1).await, 400, "AB01");
    let all = h
        .ok_get("/v1/api-keys?page_size=None&current_page=0", W1)
        .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn reset_usage_stores_a_reset_of_the_keys_budget() {
    let h = H::new().await;
    let k = h
        .ok_post(
            "/v1/api-keys/workspace/service",
            W1,
            json!({"name": "k", "scopes": ["configs.read"], "usage_limits": {"credit_limit": 10}}),
        )
        .await;
    let id = k["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/api-keys/{id}");
    h.usage.exhausted.lock().unwrap().push(id.clone());
    assert_eq!(h.ok_get(&path, W1).await["status"], "exhausted");
    h.ok_put(&path, W1, json!({"reset_usage": false})).await;
    assert!(h.resets().await.is_empty());
    // Portkey's spelling: only `reset_usage`, the key's other fields unchanged.
    assert_eq!(
        h.ok_put(&path, W1, json!({"reset_usage": true})).await,
        json!({})
    );
    assert_eq!(h.resets().await, vec![("api_key".to_owned(), id.clone())]);
    let got = h.ok_get(&path, W1).await;
    assert_eq!(
        got["usage_limits"],
        json!({"type": "cost", "credit_limit": 10})
    );
    assert_eq!(got["name"], "k");
    // Not a boolean: a clear 400, nothing reset.
    let e = h.put(&path, W1, json!({"reset_usage": "yes"})).await;
    assert_err(&e, 400, "AB01");
    assert_eq!(h.resets().await.len(), 1);
    // Another workspace's key is not found, and nothing is reset.
    assert_err(
        &h.put(&path, W2, json!({"reset_usage": true})).await,
        404,
        "AB08",
    );
    assert_eq!(h.resets().await.len(), 1);
}
