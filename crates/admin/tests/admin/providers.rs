//! `/v1/providers` and `/v1/virtual-keys`: one entity, two shapes, isolated per workspace.

use portcullis_control::repo::Repository;
use serde_json::{Value, json};

use crate::support::*;

const VK_KEY: &str = "sk-ant-api03-abcdefghijklmnopQRS";
const VK_SECRET: &str = "aws-secret-access-key-value-XYZ123";

async fn granted(h: &H) {
    h.forbid("sk-org-key-abcdefghij123");
    h.ok_post("/v1/integrations", ORG, json!({"name": "OpenAI", "ai_provider_id": "openai", "slug": "oai", "key": "sk-org-key-abcdefghij123"})).await;
    h.ok_put("/v1/integrations/oai/workspaces", ORG, json!({"workspaces": [{"id": h.ws1.id}, {"id": h.ws2.id}], "create_default_provider": false})).await;
}

#[tokio::test]
async fn provider_crud_has_portkeys_shapes() {
    let h = H::new().await;
    granted(&h).await;
    assert_eq!(
        h.ok_get("/v1/providers", W1).await["total"],
        0,
        "create_default_provider: false"
    );
    let c = h
        .ok_post("/v1/providers", ORG, json!({"name": "open-ai", "slug": "open-ai", "integration_id": "oai", "workspace_id": h.ws1.slug,
            "note": "n", "usage_limits": {"credit_limit": 5}, "rate_limits": {"type": "requests", "unit": "rpm", "value": 10}}))
        .await;
    assert_eq!(
        c,
        json!({"id": c["id"], "slug": "open-ai", "object": "provider"})
    );
    let got = h
        .ok_get(
            &format!("/v1/providers/open-ai?workspace_id={}", h.ws1.id),
            ORG,
        )
        .await;
    let expected = json!({
        "id": c["id"], "name": "open-ai", "slug": "open-ai", "integration_id": "oai", "workspace_id": h.ws1.id,
        "ai_provider_name": "openai", "note": "n", "status": "active", "usage_limits": {"type": "cost", "credit_limit": 5},
        "reset_usage": null, "rate_limits": [{"type": "requests", "unit": "rpm", "value": 10}], "model_config": null,
        "expires_at": null, "created_at": "<dyn>", "last_updated_at": "<dyn>", "object": "provider", "usage": "<dyn>",
    });
    assert_eq!(
        redact(got.clone(), &["created_at", "last_updated_at", "usage"]),
        expected
    );
    let list = h
        .ok_get("/v1/providers?current_page=0&page_size=50", W1)
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0]["slug"], "open-ai");

    let up = h.ok_put("/v1/providers/open-ai", W1, json!({"name": "renamed", "note": null, "usage_limits": null, "expires_at": "2099-01-01T00:00:00Z"})).await;
    assert_eq!(
        up,
        json!({"id": c["id"], "slug": "open-ai", "object": "provider"})
    );
    let got = h.ok_get("/v1/providers/open-ai", W1).await;
    assert_eq!(
        (
            got["name"].as_str(),
            got["note"].clone(),
            got["usage_limits"].clone()
        ),
        (Some("renamed"), Value::Null, Value::Null)
    );
    assert_eq!(got["rate_limits"][0]["value"], 10);
    assert_eq!(got["expires_at"], "2099-01-01T00:00:00.000Z");

    // Exhausted budgets show, and reset_usage stores a reset of the provider's budget (which
    // every replica's limiter then counts from), changing nothing else.
    let id = c["id"].as_str().unwrap().to_owned();
    h.usage.exhausted.lock().unwrap().push(id.clone());
    assert_eq!(
        h.ok_get("/v1/providers/open-ai", W1).await["status"],
        "exhausted"
    );
    assert!(h.resets().await.is_empty());
    h.ok_put("/v1/providers/open-ai", W1, json!({"reset_usage": true}))
        .await;
    assert_eq!(h.resets().await, vec![("provider".to_owned(), id.clone())]);
    let after = h.ok_get("/v1/providers/open-ai", W1).await;
    assert_eq!(after["name"], "renamed");
    assert_eq!(after["rate_limits"][0]["value"], 10);
    // `reset_usage: false` (or absent) resets nothing.
    h.ok_put("/v1/providers/open-ai", W1, json!({"reset_usage": false}))
        .await;
    assert_eq!(h.resets().await.len(), 1);
    h.usage.exhausted.lock().unwrap().clear();

    assert_err(
        &h.post(
            "/v1/providers",
            W1,
            json!({"name": "dup", "slug": "open-ai", "integration_id": "oai"}),
        )
        .await,
        409,
        "AB07",
    );
    h.ok_delete("/v1/providers/open-ai", W1).await;
    assert_err(&h.get("/v1/providers/open-ai", W1).await, 404, "AB08");
}

#[tokio::test]
async fn providers_are_isolated_and_validated() {
    let h = H::new().await;
    granted(&h).await;
    h.ok_post(
        "/v1/providers",
        W1,
        json!({"name": "p", "slug": "same", "integration_id": "oai"}),
    )
    .await;
    h.ok_post(
        "/v1/providers",
        W2,
        json!({"name": "p", "slug": "same", "integration_id": "oai"}),
    )
    .await;
    h.ok_post(
        "/v1/providers",
        W1,
        json!({"name": "only one", "slug": "solo", "integration_id": "oai"}),
    )
    .await;
    let mine = h.ok_get("/v1/providers/solo", W1).await;
    assert_eq!(mine["workspace_id"], h.ws1.id);
    for got in [
        h.get("/v1/providers/solo", W2).await,
        h.get(&format!("/v1/providers/solo?workspace_id={}", h.ws1.id), W2)
            .await,
        h.put("/v1/providers/solo", W2, json!({"name": "x"})).await,
        h.delete("/v1/providers/solo", W2).await,
        h.get("/v1/virtual-keys/solo", W2).await,
        h.get(
            &format!("/v1/providers/{}", mine["id"].as_str().unwrap()),
            W2,
        )
        .await,
    ] {
        assert_err(&got, 404, "AB08");
    }
    assert_eq!(h.ok_get("/v1/providers", W2).await["total"], 1);
    assert_eq!(
        h.ok_get(&format!("/v1/providers?workspace_id={}", h.ws1.id), W2)
            .await["total"],
        1
    );
    assert_eq!(h.ok_get("/v1/providers", ORG).await["total"], 3);
    // An organisation key without workspace_id: the unique slug resolves, the ambiguous one is 400.
    h.ok_get("/v1/providers/solo", ORG).await;
    assert_err(&h.get("/v1/providers/same", ORG).await, 400, "AB01");
    h.ok_get(
        &format!("/v1/providers/same?workspace_id={}", h.ws2.slug),
        ORG,
    )
    .await;

    let e = h
        .post(
            "/v1/providers",
            ORG,
            json!({"name": "p", "integration_id": "oai"}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "workspace_id");
    assert_err(
        &h.post(
            "/v1/providers",
            W1,
            json!({"name": "p", "integration_id": "nope"}),
        )
        .await,
        404,
        "AB08",
    );
    assert_err(
        &h.post("/v1/providers", W1, json!({"integration_id": "oai"}))
            .await,
        400,
        "AB01",
    );
    let e = h
        .post(
            "/v1/providers",
            W1,
            json!({"name": "p", "integration_id": "oai", "usage_limits": [1]}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "usage_limits");
    let e = h
        .post(
            "/v1/providers",
            W1,
            json!({"name": "p", "integration_id": "oai", "expires_at": "2001-01-01"}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "expires_at");
    assert_err(
        &h.post(
            "/v1/providers",
            W1_READ,
            json!({"name": "p", "integration_id": "oai"}),
        )
        .await,
        403,
        "AB03",
    );
    assert_err(&h.get("/v1/providers/NOT_GIVEN", W1).await, 404, "AB08");
}

#[tokio::test]
async fn virtual_keys_keep_their_own_sealed_key() {
    let h = H::new().await;
    for secret in [VK_KEY, VK_SECRET, "sk-ant-new-key-0000000000NEW"] {
        h.forbid(secret);
    }
    let c = h
        .ok_post("/v1/virtual-keys", ORG, json!({"name": "Copy of Anthropic", "provider": "anthropic", "key": VK_KEY, "note": "legacy",
            "workspace_id": h.ws1.id, "usage_limits": null, "apiVersion": "2023-06-01", "awsSecretAccessKey": VK_SECRET,
            "deploymentConfig": [{"apiVersion": "v", "deploymentName": "d", "is_default": true}], "irrelevant": 1}))
        .await;
    let slug = c["slug"].as_str().unwrap().to_owned();
    assert!(
        slug.starts_with("copy-of-anthrop-") && slug.len() == 22,
        "{slug}"
    );
    assert_eq!(
        c,
        json!({"success": true, "data": {"slug": slug, "id": c["id"]}, "id": c["id"], "slug": slug, "object": "virtual-key"})
    );
    let stored = h
        .store
        .get_provider(Some(&h.ws1.id), &slug)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.is_virtual_key);
    assert_eq!(
        h.sealer
            .open(stored.key_sealed.as_deref().unwrap())
            .unwrap(),
        VK_KEY
    );
    assert_eq!(stored.model_config["apiVersion"], "2023-06-01");
    assert!(stored.model_config.get("irrelevant").is_none());

    let got = h.ok_get(&format!("/v1/virtual-keys/{slug}"), W1).await;
    let expected = json!({
        "id": c["id"], "organisation_id": "00000000-0000-4000-8000-000000000001", "ai_provider_name": "anthropic",
        "provider": "anthropic",
        "model_config": {"apiVersion": "2023-06-01", "masked_awsSecretAccessKey": "aw*****123",
            "deploymentConfig": [{"apiVersion": "v", "deploymentName": "d", "is_default": true}]},
        "key": "", "masked_api_key": "sk*****QRS", "slug": slug, "name": "Copy of Anthropic", "note": "legacy",
        "status": "active", "usage_limits": null, "reset_usage": null, "rate_limits": null, "expires_at": null,
        "last_reset_at": null, "created_at": "<dyn>", "last_updated_at": "<dyn>", "integration_id": null, "tags": null,
        "workspace_id": h.ws1.id, "workspace_name": "Team One", "object": "virtual-key", "usage": "<dyn>",
    });
    assert_eq!(
        redact(got.clone(), &["created_at", "last_updated_at", "usage"]),
        expected
    );
    let list = h.ok_get("/v1/virtual-keys?", W1).await;
    assert_eq!(list["total"], 1);
    let providers = h.ok_get("/v1/providers", W1).await;
    assert_eq!(providers["data"][0]["ai_provider_name"], "anthropic");

    let up = h.ok_put(&format!("/v1/virtual-keys/{slug}"), W1, json!({"key": "sk-ant-new-key-0000000000NEW", "deploymentConfig": [], "rate_limits": [{"type": "tokens", "unit": "rph", "value": 1000}]})).await;
    assert_eq!(
        up,
        json!({"id": c["id"], "slug": slug, "object": "virtual-key"})
    );
    let got2 = h.ok_get(&format!("/v1/virtual-keys/{slug}"), W1).await;
    assert_eq!(got2["masked_api_key"], "sk*****NEW");
    assert_eq!(
        got2["rate_limits"],
        json!([{"type": "tokens", "unit": "rph", "value": 1000}])
    );
    let audit = h.ok_get("/v1/audit-logs?resource_type=provider", ORG).await;
    for body in [
        got.to_string(),
        got2.to_string(),
        list.to_string(),
        providers.to_string(),
        audit.to_string(),
    ] {
        for secret in [VK_KEY, VK_SECRET, "sk-ant-new-key-0000000000NEW"] {
            assert!(!body.contains(secret), "{secret} leaked");
        }
    }
    let e = h
        .post(
            "/v1/virtual-keys",
            W1,
            json!({"name": "x", "provider": "not-a-provider"}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert_eq!(e.1["error"]["param"], "provider");
    h.ok_delete(&format!("/v1/virtual-keys/{slug}"), W1).await;
    assert_err(
        &h.delete(&format!("/v1/virtual-keys/{slug}"), W1).await,
        404,
        "AB08",
    );
}
