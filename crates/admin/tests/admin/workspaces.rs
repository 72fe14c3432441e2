//! `/v1/admin/workspaces` and the (user-less) members and users endpoints.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn workspace_crud_has_portkeys_shapes() {
    let h = H::new().await;
    let c = h
        .ok_post("/v1/admin/workspaces", ORG, json!({"name": "Search Team", "description": "prod search",
            "defaults": {"metadata": {"environment": "production"}},
            "usage_limits": [{"type": "cost", "credit_limit": 500, "periodic_reset": "monthly", "alert_threshold": 400}],
            "rate_limits": [{"type": "requests", "unit": "rpm", "value": 1000}], "users": []}))
        .await;
    let slug = c["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("ws-search-") && slug.len() == 16, "{slug}");
    let expected = json!({
        "id": c["id"], "slug": slug, "name": "Search Team", "icon": null, "description": "prod search",
        "created_at": "<dyn>", "last_updated_at": "<dyn>", "defaults": {"metadata": {"environment": "production"}},
        "is_default": 0, "usage_limits": [{"type": "cost", "credit_limit": 500, "alert_threshold": 400, "periodic_reset": "monthly"}],
        "rate_limits": [{"type": "requests", "unit": "rpm", "value": 1000}], "status": "active", "object": "workspace",
    });
    assert_eq!(
        redact(c.clone(), &["created_at", "last_updated_at"]),
        expected
    );
    let by_slug = h.ok_get(&format!("/v1/admin/workspaces/{slug}"), ORG).await;
    let by_id = h
        .ok_get(
            &format!("/v1/admin/workspaces/{}", c["id"].as_str().unwrap()),
            ORG,
        )
        .await;
    assert_eq!(by_slug, by_id);
    assert_eq!(by_slug["users"], json!([]));
    assert_eq!(
        by_slug["organisation_id"],
        "00000000-0000-4000-8000-000000000001"
    );

    let list = h
        .ok_get("/v1/admin/workspaces?pageSize=2&currentPage=0", ORG)
        .await;
    assert_eq!(
        (
            list["total"].as_u64(),
            list["data"].as_array().map(Vec::len)
        ),
        (Some(3), Some(2))
    );
    let list = h
        .ok_get("/v1/admin/workspaces?page_size=2&current_page=1", ORG)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        h.ok_get("/v1/admin/workspaces?name=Team%20T", ORG).await["total"],
        1
    );
    assert_eq!(
        h.ok_get("/v1/admin/workspaces?exact_name=Team%20One", ORG)
            .await["total"],
        1
    );
    assert_eq!(
        h.ok_get("/v1/admin/workspaces?name=team", ORG).await["total"],
        0,
        "case-sensitive"
    );

    let path = format!("/v1/admin/workspaces/{slug}");
    h.ok_put(&path, ORG, json!({"name": "Search", "usage_limits": null}))
        .await;
    let got = h.ok_get(&path, ORG).await;
    assert_eq!(
        (got["name"].as_str(), got["usage_limits"].clone()),
        (Some("Search"), Value::Null)
    );
    assert_eq!(got["rate_limits"][0]["value"], 1000);
    let e = h
        .put(&path, ORG, json!({"rate_limits": [{"unit": "rpm"}]}))
        .await;
    assert_eq!(e.1["error"]["param"], "rate_limits[0].value");

    // Not empty: refused; confirmation name must match.
    h.ok_post(
        "/v1/configs",
        ORG,
        json!({"name": "c", "config": {}, "workspace_id": slug}),
    )
    .await;
    assert_err(
        &h.call(
            http::Method::DELETE,
            &path,
            Some(ORG),
            Some(json!({"workspace_id": slug, "name": "Search"})),
        )
        .await,
        409,
        "AB07",
    );
    let cfg = h
        .ok_get(&format!("/v1/configs?workspace_id={slug}"), ORG)
        .await;
    h.ok_delete(
        &format!("/v1/configs/{}", cfg["data"][0]["slug"].as_str().unwrap()),
        ORG,
    )
    .await;
    assert_err(
        &h.call(
            http::Method::DELETE,
            &path,
            Some(ORG),
            Some(json!({"name": "Wrong"})),
        )
        .await,
        400,
        "AB01",
    );
    let done = h
        .call(
            http::Method::DELETE,
            &path,
            Some(ORG),
            Some(json!({"workspace_id": slug, "name": "Search"})),
        )
        .await;
    assert_eq!(done, (http::StatusCode::OK, json!({})));
    assert_err(&h.get(&path, ORG).await, 404, "AB08");
    assert_err(
        &h.delete(&format!("/v1/admin/workspaces/{}", h.ws1.id), ORG)
            .await,
        400,
        "AB01",
    );
}

#[tokio::test]
async fn workspace_keys_see_only_their_workspace() {
    let h = H::new().await;
    let list = h.ok_get("/v1/admin/workspaces", W1).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["id"], h.ws1.id);
    h.ok_get(&format!("/v1/admin/workspaces/{}", h.ws1.slug), W1)
        .await;
    assert_err(
        &h.get(&format!("/v1/admin/workspaces/{}", h.ws2.slug), W1)
            .await,
        404,
        "AB08",
    );
    assert_err(
        &h.put(
            &format!("/v1/admin/workspaces/{}", h.ws2.id),
            W1,
            json!({"name": "x"}),
        )
        .await,
        404,
        "AB08",
    );
    assert_err(
        &h.post("/v1/admin/workspaces", W1, json!({"name": "x"}))
            .await,
        403,
        "AB03",
    );
    assert_err(
        &h.delete(&format!("/v1/admin/workspaces/{}", h.ws1.id), W1)
            .await,
        403,
        "AB03",
    );
    h.ok_put(
        &format!("/v1/admin/workspaces/{}", h.ws1.id),
        W1,
        json!({"description": "mine"}),
    )
    .await;
    assert_err(
        &h.post(
            "/v1/admin/workspaces",
            ORG,
            json!({"description": "no name"}),
        )
        .await,
        400,
        "AB01",
    );
    assert_err(
        &h.post(
            "/v1/admin/workspaces",
            ORG,
            json!({"name": "dup", "slug": h.ws1.slug}),
        )
        .await,
        409,
        "AB07",
    );
    assert_err(
        &h.get("/v1/admin/workspaces/NOT_GIVEN", ORG).await,
        404,
        "AB08",
    );
}

#[tokio::test]
async fn members_and_users_are_empty_without_user_accounts() {
    let h = H::new().await;
    let ws = format!("/v1/admin/workspaces/{}/users", h.ws1.slug);
    assert_eq!(
        h.ok_get(&format!("{ws}?page_size=10&current_page=0"), ORG)
            .await,
        json!({"object": "list", "total": 0, "data": []})
    );
    assert_err(
        &h.get(&format!("{ws}/{}", uuid::Uuid::new_v4()), ORG).await,
        404,
        "AB08",
    );
    assert_err(
        &h.put(&format!("{ws}/u1"), ORG, json!({"role": "admin"}))
            .await,
        404,
        "AB08",
    );
    assert_err(&h.delete(&format!("{ws}/u1"), ORG).await, 404, "AB08");
    assert_err(
        &h.post(&ws, ORG, json!({"users": [{"id": "u1", "role": "member"}]}))
            .await,
        404,
        "AB08",
    );
    assert_eq!(h.ok_post(&ws, ORG, json!({"users": []})).await, json!({}));
    assert_err(
        &h.get(&format!("/v1/admin/workspaces/{}/users", h.ws2.id), W1)
            .await,
        404,
        "AB08",
    );
    assert_eq!(
        h.ok_get("/v1/admin/users?pageSize=5&currentPage=0", ORG)
            .await["data"],
        json!([])
    );
    assert_err(&h.get("/v1/admin/users/u1", ORG).await, 404, "AB08");
    assert_err(&h.get("/v1/admin/users", W1).await, 403, "AB03");
    assert_eq!(h.ok_get("/v1/admin/users/invites", ORG).await["total"], 0);
    assert_err(
        &h.post(
            "/v1/admin/users/invites",
            ORG,
            json!({"email": "a@b.c", "role": "member"}),
        )
        .await,
        400,
        "AB01",
    );
    assert_err(
        &h.post("/v1/admin/users/invites/i1/resend", ORG, json!({}))
            .await,
        404,
        "AB08",
    );
    assert_err(
        &h.delete("/v1/admin/users/invites/i1", ORG).await,
        404,
        "AB08",
    );
}
