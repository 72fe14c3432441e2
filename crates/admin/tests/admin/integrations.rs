//! `/v1/integrations`: sealed credentials, masks, workspace grants with default providers, models.

use portcullis_control::repo::Repository;
use serde_json::json;

use crate::support::*;

const RAW_KEY: &str = "sk-live-1234567890abcdefXYZ";
const RAW_SECRET: &str = "client-secret-value-0987654321";

#[tokio::test]
async fn integration_crud_seals_and_masks() {
    let h = H::new().await;
    for secret in [RAW_KEY, RAW_SECRET, "sk-rotated-abcdefghijklmnop"] {
        h.forbid(secret);
    }
    let created = h
        .ok_post("/v1/integrations", ORG, json!({"name": "openai-production", "ai_provider_id": "openai", "slug": "openai-prod",
            "key": RAW_KEY, "configurations": {"openai_organization": "org-1", "azure_entra_client_secret": RAW_SECRET},
            "secret_mappings": [], "description": ""}))
        .await;
    assert_eq!(created, json!({"id": created["id"], "slug": "openai-prod"}));
    let stored = h
        .store
        .get_integration("openai-prod")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        h.sealer
            .open(stored.key_sealed.as_deref().unwrap())
            .unwrap(),
        RAW_KEY
    );
    let sealed = stored.configurations["azure_entra_client_secret"]
        .as_str()
        .unwrap();
    assert_eq!(h.sealer.open(sealed).unwrap(), RAW_SECRET);
    assert_eq!(stored.description, None, "empty strings are dropped");

    let got = h.ok_get("/v1/integrations/openai-prod", ORG).await;
    let expected = json!({
        "id": created["id"], "organisation_id": "00000000-0000-4000-8000-000000000001", "ai_provider_id": "openai",
        "name": "openai-production", "status": "active", "created_at": "<dyn>", "last_updated_at": "<dyn>",
        "slug": "openai-prod", "description": null, "type": "organisation", "workspace_id": null,
        "object": "integration", "masked_key": "sk*****XYZ",
        "configurations": {"openai_organization": "org-1", "masked_azure_entra_client_secret": "cl*****321"},
        "global_workspace_access_settings": {"enabled": false, "usage_limits": null, "rate_limits": null},
        "global_workspace_access": {"enabled": false, "usage_limits": null, "rate_limits": null},
        "allow_all_models": true, "workspace_count": 0, "owner_id": null, "secret_mappings": [],
    });
    assert_eq!(
        redact(got.clone(), &["created_at", "last_updated_at"]),
        expected
    );
    let list = h
        .ok_get("/v1/integrations?current_page=0&page_size=100", ORG)
        .await;
    assert_eq!(list["total"], 1);
    assert!(list["data"][0].get("masked_key").is_none());
    assert_eq!(
        h.ok_get("/v1/integrations?type=workspace", ORG).await["total"],
        0
    );

    h.ok_put("/v1/integrations/openai-prod", ORG, json!({"name": "renamed", "key": "sk-rotated-abcdefghijklmnop",
        "configurations": {"openai_project": "p1", "masked_azure_entra_client_secret": "cl*****321"}})).await;
    let got = h.ok_get("/v1/integrations/openai-prod", ORG).await;
    assert_eq!(got["masked_key"], "sk*****nop");
    assert_eq!(
        got["configurations"],
        json!({"openai_organization": "org-1", "masked_azure_entra_client_secret": "cl*****321", "openai_project": "p1"})
    );
    let audit = h
        .ok_get("/v1/audit-logs?resource_type=integration", ORG)
        .await;
    assert!(audit["total"].as_u64().unwrap() >= 2);
    for body in [got.to_string(), list.to_string(), audit.to_string()] {
        for secret in [RAW_KEY, RAW_SECRET, "sk-rotated-abcdefghijklmnop", "v1."] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
    }
    assert_err(
        &h.post(
            "/v1/integrations",
            ORG,
            json!({"name": "x", "ai_provider_id": "openai", "slug": "openai-prod"}),
        )
        .await,
        409,
        "AB07",
    );
    h.ok_delete("/v1/integrations/openai-prod", ORG).await;
    assert_err(
        &h.get("/v1/integrations/openai-prod", ORG).await,
        404,
        "AB08",
    );
}

#[tokio::test]
async fn integration_input_is_checked() {
    let h = H::new().await;
    let e = h
        .post(
            "/v1/integrations",
            ORG,
            json!({"name": "x", "ai_provider_id": "skynet"}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert!(e.1["error"]["message"].as_str().unwrap().contains("skynet"));
    let e = h
        .post(
            "/v1/integrations",
            ORG,
            json!({"name": "x", "ai_provider_id": "openai", "slug": "bad slug!"}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "slug");
    let e = h
        .post(
            "/v1/integrations",
            ORG,
            json!({"name": "x", "ai_provider_id": "openai", "configurations": [1]}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "configurations");
    assert_err(
        &h.post("/v1/integrations", ORG, json!({"ai_provider_id": "openai"}))
            .await,
        400,
        "AB01",
    );
    let auto = h
        .ok_post(
            "/v1/integrations",
            ORG,
            json!({"name": "My Anthropic", "ai_provider_id": "anthropic"}),
        )
        .await;
    assert!(auto["slug"].as_str().unwrap().starts_with("my-anthropic-"));
    assert_err(&h.get("/v1/integrations/NOT_GIVEN", ORG).await, 404, "AB08");
}

#[tokio::test]
async fn custom_hosts_follow_the_gateways_host_policy() {
    let h = H::new().await;
    for host in [
        "http://169.254.169.254/v1",
        "http://10.1.2.3/v1",
        "ftp://mock.example/v1",
        "http://user:pw@example.com",
    ] {
        let e = h
            .post(
                "/v1/integrations",
                ORG,
                json!({"name": "x", "ai_provider_id": "openai", "configurations": {"custom_host": host}}),
            )
            .await;
        assert_err(&e, 400, "AB01");
        assert_eq!(
            e.1["error"]["param"], "configurations.custom_host",
            "{host}"
        );
    }
    // Nothing was half-written.
    let list = h.ok_get("/v1/integrations", ORG).await;
    assert_eq!(list["total"], 0, "{list}");
    // A trusted or public host is stored normalised; updates are checked the same way.
    let ok = h
        .ok_post(
            "/v1/integrations",
            ORG,
            json!({"name": "local", "slug": "local", "ai_provider_id": "openai",
                   "configurations": {"custom_host": "HTTP://LocalHost:8000/v1/"}}),
        )
        .await;
    assert_eq!(ok["slug"], "local");
    let got = h.ok_get("/v1/integrations/local", ORG).await;
    assert_eq!(
        got["configurations"]["custom_host"], "http://localhost:8000/v1",
        "{got}"
    );
    let e = h
        .put(
            "/v1/integrations/local",
            ORG,
            json!({"configurations": {"custom_host": "http://169.254.169.254"}}),
        )
        .await;
    assert_eq!(e.1["error"]["param"], "configurations.custom_host");
    let got = h.ok_get("/v1/integrations/local", ORG).await;
    assert_eq!(
        got["configurations"]["custom_host"],
        "http://localhost:8000/v1"
    );
    // Virtual keys: the SDK's camelCase `customHost` is checked too.
    let e = h
        .post(
            "/v1/virtual-keys",
            ORG,
            json!({"name": "vk", "provider": "openai", "key": "sk-x", "workspace_id": h.ws1.id,
                   "customHost": "http://169.254.169.254"}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert_eq!(e.1["error"]["param"], "model_config.customHost");
}

#[tokio::test]
async fn grants_create_default_providers_and_carry_limits() {
    let h = H::new().await;
    h.forbid(RAW_KEY);
    h.ok_post(
        "/v1/integrations",
        ORG,
        json!({"name": "OpenAI", "ai_provider_id": "openai", "slug": "oai", "key": RAW_KEY}),
    )
    .await;
    // Not granted: invisible to workspace keys, and no provider can use it.
    assert_err(&h.get("/v1/integrations/oai", W1).await, 404, "AB08");
    let e = h
        .post(
            "/v1/providers",
            W1,
            json!({"name": "p", "integration_id": "oai"}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert!(
        e.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not enabled")
    );

    let body = json!({"workspaces": [{"id": h.ws1.slug, "enabled": true,
        "usage_limits": [{"credit_limit": 100, "periodic_reset": "monthly", "alert_threshold": 80}],
        "rate_limits": [{"type": "requests", "unit": "rpm", "value": 600}], "reset_usage": true}],
        "global_workspace_access": {"enabled": false, "usage_limits": null, "rate_limits": null},
        "override_existing_workspaces_access": false});
    assert_eq!(
        h.ok_put("/v1/integrations/oai/workspaces", ORG, body).await,
        json!({})
    );
    let ws = h.ok_get("/v1/integrations/oai/workspaces", ORG).await;
    assert_eq!(
        ws,
        json!({"object": "list", "total": 1, "workspaces": [{"id": h.ws1.slug, "workspace_id": h.ws1.id, "name": "Team One",
        "enabled": true, "usage_limits": [{"type": "cost", "credit_limit": 100, "alert_threshold": 80, "periodic_reset": "monthly"}],
        "rate_limits": [{"type": "requests", "unit": "rpm", "value": 600}]}],
        "global_workspace_access": {"enabled": false, "usage_limits": null, "rate_limits": null}})
    );
    let i = h.store.get_integration("oai").await.unwrap().unwrap();
    assert_eq!(
        h.resets().await,
        vec![("integration".to_owned(), format!("{}:{}", i.id, h.ws1.id))]
    );
    let p = h.ok_get("/v1/providers/oai", W1).await;
    assert_eq!(
        (p["integration_id"].as_str(), p["ai_provider_name"].as_str()),
        (Some("oai"), Some("openai"))
    );
    assert_eq!(
        p["note"],
        "Created automatically on integration access grant"
    );
    // Granted: visible, but organisation integrations need organisation scopes to read.
    assert_err(&h.get("/v1/integrations/oai", W1).await, 403, "AB03");
    assert_eq!(h.ok_get("/v1/integrations", W1).await["total"], 1);
    assert_eq!(h.ok_get("/v1/integrations", W2).await["total"], 0);
    assert_eq!(
        h.ok_get("/v1/integrations/oai", ORG).await["workspace_count"],
        1
    );

    // A clashing explicit default provider slug is refused before anything changes.
    let e = h
        .put(
            "/v1/integrations/oai/workspaces",
            ORG,
            json!({"workspaces": [{"id": h.ws2.id, "default_provider_slug": "bad slug"}]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert_eq!(e.1["error"]["param"], "workspaces[0].default_provider_slug");
    assert_eq!(
        h.ok_get("/v1/integrations/oai/workspaces", ORG).await["total"],
        1
    );
}

#[tokio::test]
async fn override_replaces_grants_and_global_access_opens_all() {
    let h = H::new().await;
    h.ok_post(
        "/v1/integrations",
        ORG,
        json!({"name": "OpenAI", "ai_provider_id": "openai", "slug": "oai"}),
    )
    .await;
    h.ok_put(
        "/v1/integrations/oai/workspaces",
        ORG,
        json!({"workspaces": [{"id": h.ws1.id}]}),
    )
    .await;
    h.ok_post(
        "/v1/virtual-keys",
        W2,
        json!({"name": "oai", "provider": "openai", "slug": "oai"}),
    )
    .await;
    let e = h
        .put(
            "/v1/integrations/oai/workspaces",
            ORG,
            json!({"workspaces": [{"id": h.ws2.id}], "override_existing_workspace_access": true}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert!(
        e.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default_provider_slug")
    );
    h.ok_put("/v1/integrations/oai/workspaces", ORG, json!({"workspaces": [{"id": h.ws2.id, "default_provider_slug": "oai-2"}], "override_existing_workspace_access": true})).await;
    let ws = h.ok_get("/v1/integrations/oai/workspaces", ORG).await;
    assert_eq!(ws["total"], 1);
    assert_eq!(ws["workspaces"][0]["id"], h.ws2.slug);
    assert_eq!(ws["workspaces"][0]["usage_limits"], serde_json::Value::Null);
    h.ok_get("/v1/providers/oai-2", W2).await;
    let e = h.put("/v1/integrations/oai/workspaces", ORG, json!({"global_workspace_access": {"enabled": true, "usage_limits": [{"credit_limit": 1}]}})).await;
    assert_err(&e, 400, "AB01");
    h.ok_put(
        "/v1/integrations/oai/workspaces",
        ORG,
        json!({"global_workspace_access": {"enabled": true}}),
    )
    .await;
    assert_eq!(
        h.ok_get("/v1/integrations/oai", ORG).await["global_workspace_access"]["enabled"],
        true
    );
    assert_eq!(h.ok_get("/v1/integrations", W1).await["total"], 1);
    let e = h
        .put(
            "/v1/integrations/oai/workspaces",
            ORG,
            json!({"workspaces": [{"id": "ws-nowhere"}]}),
        )
        .await;
    assert_err(&e, 404, "AB08");
    let e = h.put("/v1/integrations/oai/workspaces", ORG, json!({"workspaces": [{"id": h.ws1.id, "usage_limits": [{"credit_limit": 1}, {"credit_limit": 2}]}]})).await;
    assert_eq!(e.1["error"]["param"], "workspaces[0].usage_limits");
    // Deleting the integration removes the providers drawing on it.
    h.ok_delete("/v1/integrations/oai", ORG).await;
    assert_err(&h.get("/v1/providers/oai-2", W2).await, 404, "AB08");
    h.ok_get("/v1/virtual-keys/oai", W2).await;
}

#[tokio::test]
async fn models_can_be_listed_allowed_and_removed() {
    let h = H::new().await;
    h.ok_post(
        "/v1/integrations",
        ORG,
        json!({"name": "OpenAI", "ai_provider_id": "openai", "slug": "oai"}),
    )
    .await;
    assert_eq!(
        h.ok_get("/v1/integrations/oai/models", ORG).await,
        json!({"object": "list", "total": 0, "allow_all_models": true, "models": []})
    );
    h.ok_put("/v1/integrations/oai/models", ORG, json!({"allow_all_models": false, "models": [
        {"slug": "gpt-4o", "enabled": true, "name": "GPT-4o"},
        {"slug": "my-ft", "enabled": true, "is_custom": true, "is_finetune": true, "base_model_slug": "gpt-4o-mini",
         "pricing_config": {"type": "static", "pay_as_you_go": {"request_token": {"price": 0.0003}}}},
        {"slug": "c", "enabled": false}]})).await;
    let m = h.ok_get("/v1/integrations/oai/models", ORG).await;
    assert_eq!(m["total"], 3);
    assert_eq!(m["allow_all_models"], false);
    assert_eq!(
        m["models"][0],
        json!({"slug": "gpt-4o", "enabled": true, "is_custom": false, "is_finetune": false, "base_model_slug": null, "pricing_config": null})
    );
    h.ok_delete("/v1/integrations/oai/models?slugs=my-ft,c", ORG)
        .await;
    assert_eq!(
        h.ok_get("/v1/integrations/oai/models", ORG).await["total"],
        1
    );
    let del = h
        .call(
            http::Method::DELETE,
            "/v1/integrations/oai/models",
            Some(ORG),
            Some(json!({"models": ["gpt-4o"]})),
        )
        .await;
    assert_eq!(del.0, 200);
    assert_eq!(
        h.ok_get("/v1/integrations/oai/models", ORG).await["total"],
        0
    );
    assert_err(
        &h.delete("/v1/integrations/oai/models", ORG).await,
        400,
        "AB01",
    );
    let e = h
        .put(
            "/v1/integrations/oai/models",
            ORG,
            json!({"models": [{"enabled": true}]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
}

#[tokio::test]
async fn workspace_integrations_stay_in_their_workspace() {
    let h = H::new().await;
    h.forbid(RAW_KEY);
    let c = h
        .ok_post(
            "/v1/integrations",
            W1,
            json!({"name": "Mine", "ai_provider_id": "anthropic", "slug": "mine", "key": RAW_KEY}),
        )
        .await;
    assert_eq!(c["slug"], "mine");
    let got = h.ok_get("/v1/integrations/mine", W1).await;
    assert_eq!(
        (got["type"].as_str(), got["workspace_id"].as_str()),
        (Some("workspace"), Some(h.ws1.id.as_str()))
    );
    h.ok_get("/v1/providers/mine", W1).await;
    for (status, _) in [
        h.get("/v1/integrations/mine", W2).await,
        h.put("/v1/integrations/mine", W2, json!({"name": "x"}))
            .await,
        h.delete("/v1/integrations/mine", W2).await,
        h.get("/v1/integrations/mine/workspaces", W2).await,
        h.get("/v1/integrations/mine/models", W2).await,
    ] {
        assert_eq!(status, 404);
    }
    assert_eq!(h.ok_get("/v1/integrations", W2).await["total"], 0);
    assert_eq!(
        h.ok_get("/v1/integrations?type=workspace", ORG).await["total"],
        1
    );
    let e = h
        .post(
            "/v1/providers",
            W2,
            json!({"name": "p", "integration_id": "mine"}),
        )
        .await;
    assert_err(&e, 404, "AB08");
    let e = h
        .put(
            "/v1/integrations/mine/workspaces",
            W1,
            json!({"workspaces": [{"id": h.ws2.id}]}),
        )
        .await;
    assert_err(&e, 400, "AB01");
    assert_err(
        &h.post(
            "/v1/integrations",
            W1_READ,
            json!({"name": "x", "ai_provider_id": "openai"}),
        )
        .await,
        403,
        "AB03",
    );
    assert_err(
        &h.post(
            "/v1/integrations",
            BARE,
            json!({"name": "x", "ai_provider_id": "openai"}),
        )
        .await,
        403,
        "AB03",
    );
}
