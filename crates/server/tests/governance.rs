//! Governance over HTTP: gateway keys, scopes, `@slug` providers with stored credentials,
//! default configs, rate limits and budgets on keys and provider accounts.

use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::*;
use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use portcullis_mock::{MockProvider, Reply};
use portcullis_server::governance::Snapshot;
use portcullis_server::{AppState, Running, Settings};
use serde_json::{Value, json};

const KEY: &str = "pcl_gov-test-workspace-key-0123456789abcdef";
const NO_SCOPE: &str = "pcl_gov-test-no-scope-key-0123456789abcdef";

fn ws() -> Workspace {
    Workspace {
        id: "w1".into(),
        slug: "ws-one".into(),
        name: "one".into(),
        description: None,
        defaults: None,
        usage_limits: None,
        rate_limits: vec![],
        is_default: true,
        status: Status::Active,
        created_at: 0,
        updated_at: 0,
    }
}

fn key(secret: &str, id: &str, scopes: &[&str]) -> ApiKey {
    let k = apikey::from_secret(secret);
    ApiKey {
        id: id.into(),
        name: id.into(),
        description: None,
        key_type: KeyType::WorkspaceService,
        workspace_id: Some("w1".into()),
        user_id: None,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        defaults: Defaults::default(),
        usage_limits: None,
        rate_limits: vec![],
        alert_emails: vec![],
        expires_at: None,
        key_hash: k.hash.to_hex(),
        key_visible: k.visible,
        status: Status::Active,
        creation_mode: "api".into(),
        created_at: 0,
        updated_at: 0,
    }
}

fn provider(slug: &str, sealer: &Sealer, mock: &MockProvider) -> Provider {
    Provider {
        id: format!("p-{slug}"),
        slug: slug.into(),
        name: slug.into(),
        workspace_id: "w1".into(),
        integration_id: None,
        ai_provider_id: Some("openai".into()),
        key_sealed: Some(sealer.seal(&format!("sk-stored-{slug}"))),
        key_masked: None,
        model_config: json!({"custom_host": format!("{}/v1", mock.url())})
            .as_object()
            .unwrap()
            .clone(),
        note: None,
        usage_limits: None,
        rate_limits: vec![],
        expires_at: None,
        is_virtual_key: true,
        status: Status::Active,
        created_at: 0,
        updated_at: 0,
    }
}

fn rpm(n: u64) -> RateLimit {
    RateLimit {
        kind: RateKind::Requests,
        unit: RateUnit::Rpm,
        value: n,
    }
}

struct Gov {
    mock: MockProvider,
    gw: Running,
    client: reqwest::Client,
}

async fn start(tweak: impl FnOnce(&mut CatalogData, &Sealer, &MockProvider)) -> Gov {
    let mock = MockProvider::start().await;
    let sealer = Sealer::from_key(&[1u8; 32]);
    let mut data = CatalogData {
        version: 1,
        workspaces: vec![ws()],
        api_keys: vec![
            key(KEY, "k1", &["completions.write"]),
            key(NO_SCOPE, "k2", &["logs.view"]),
        ],
        providers: vec![
            provider("openai-prod", &sealer, &mock),
            provider("backup", &sealer, &mock),
        ],
        ..Default::default()
    };
    tweak(&mut data, &sealer, &mock);
    let mut settings = Settings::default();
    settings.server.port = 0;
    let state = AppState::new(settings).unwrap();
    state.snapshots.store(Snapshot::build(&data, &sealer));
    let gw = portcullis_server::spawn(state).await.unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    Gov { mock, gw, client }
}

impl Gov {
    fn chat(&self, key: &str, model: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/v1/chat/completions", self.gw.url()))
            .header("x-portkey-api-key", key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
    }
}

#[tokio::test]
async fn a_key_routes_to_its_workspace_provider_with_stored_credentials() {
    let g = start(|_, _, _| {}).await;
    let r = g
        .chat(KEY, "@openai-prod/gpt-4o-mini")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let seen = &g.mock.requests()[0];
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-stored-openai-prod")
    );
    assert_eq!(seen.json().unwrap()["model"], "gpt-4o-mini");
    // The gateway key never travels upstream.
    assert!(seen.headers.iter().all(|(_, v)| !v.contains(KEY)));
}

#[tokio::test]
async fn legacy_virtual_keys_name_catalog_providers_by_header_and_in_configs() {
    let g = start(|_, _, _| {}).await;
    let r = g
        .chat(KEY, "gpt-4o-mini")
        .header("x-portkey-virtual-key", "openai-prod")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let config = json!({"strategy": {"mode": "fallback"}, "targets": [{"virtual_key": "backup"}]});
    let r = g
        .chat(KEY, "gpt-4o-mini")
        .header("x-portkey-config", config.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let seen = g.mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk-stored-openai-prod")
    );
    assert_eq!(
        seen[1].header("authorization"),
        Some("Bearer sk-stored-backup")
    );
    // An unknown virtual key is a 400 that names it, and nothing goes upstream.
    let r = g
        .chat(KEY, "gpt-4o-mini")
        .header("x-portkey-virtual-key", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("@nope"));
    assert_eq!(g.mock.requests().len(), 2);
}

#[tokio::test]
async fn bad_keys_and_missing_scopes_get_portkeys_bodies() {
    let g = start(|_, _, _| {}).await;
    let r = g
        .chat("pcl_not-a-key", "@openai-prod/gpt-4o")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "Portkey Error: Invalid API Key. Error Code: 03"
    );
    let r = g
        .chat(NO_SCOPE, "@openai-prod/gpt-4o")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "033");
    let r = g
        .client
        .post(format!("{}/v1/chat/completions", g.gw.url()))
        .header("authorization", "Bearer sk-someone-elses-provider-key")
        .header("x-portkey-provider", "openai")
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no open mode once workspace keys exist");
    assert_eq!(g.mock.request_count(), 0);
}

#[tokio::test]
async fn a_key_rate_limit_answers_429_with_retry_after_and_headers() {
    let g = start(|d, _, _| d.api_keys[0].rate_limits = vec![rpm(2)]).await;
    for _ in 0..2 {
        let r = g.chat(KEY, "@openai-prod/gpt-4o").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit-requests"], "2");
    }
    let r = g.chat(KEY, "@openai-prod/gpt-4o").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "retry-after {wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "05");
    assert_eq!(g.mock.request_count(), 2);
}

#[tokio::test]
async fn a_token_budget_is_enforced_with_412_after_real_usage() {
    let g = start(|d, _, _| {
        d.api_keys[0].usage_limits = Some(UsageLimit {
            kind: UsageKind::Tokens,
            credit_limit: 100.0,
            alert_threshold: None,
            periodic_reset: PeriodicReset::None,
            reset_at: None,
        });
    })
    .await;
    // Each answer uses 60 tokens; the estimate (prompt + max_tokens 10) fits the budget.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        g.mock.enqueue(Reply::ok().usage(40, 20));
        let r = g
            .client
            .post(format!("{}/v1/chat/completions", g.gw.url()))
            .header("x-portkey-api-key", KEY)
            .json(&json!({"model": "@openai-prod/gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 412 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "04");
            assert_eq!(
                v["message"],
                "Portkey Error: Portkey API Key Usage Limit Exceeded. Error Code: 04"
            );
        }
        // Settlement runs off the response path.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        statuses,
        vec![200, 200, 412],
        "60 + 60 passes 100 only after the second call settles"
    );
}

#[tokio::test]
async fn a_rate_limited_provider_account_falls_back_to_the_next_target() {
    let g = start(|d, _, _| d.providers[0].rate_limits = vec![rpm(1)]).await;
    let config = json!({"strategy": {"mode": "fallback"}, "targets": [
        {"provider": "@openai-prod"}, {"provider": "@backup"}]});
    let send = || {
        g.client
            .post(format!("{}/v1/chat/completions", g.gw.url()))
            .header("x-portkey-api-key", KEY)
            .header("x-portkey-config", config.to_string())
            .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(
        r.headers()["x-portkey-last-used-option-index"],
        "config.targets[0]"
    );
    let r = send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-portkey-last-used-option-index"],
        "config.targets[1]"
    );
    let auths: Vec<String> = g
        .mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        auths,
        vec!["Bearer sk-stored-openai-prod", "Bearer sk-stored-backup"]
    );

    let single = json!({"provider": "@openai-prod"});
    let r = g
        .client
        .post(format!("{}/v1/chat/completions", g.gw.url()))
        .header("x-portkey-api-key", KEY)
        .header("x-portkey-config", single.to_string())
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "virtual_key_rate_limit_error");
}

#[tokio::test]
async fn the_keys_default_config_routes_requests_that_name_no_route() {
    let g = start(|d, _, _| {
        d.api_keys[0].defaults.config_id = Some("pc-default".into());
        d.configs.push(Config {
            id: "c1".into(),
            slug: "pc-default".into(),
            name: "default".into(),
            workspace_id: Some("w1".into()),
            is_default: false,
            status: Status::Active,
            version_id: "v1".into(),
            config: json!({"provider": "@backup", "override_params": {"model": "gpt-4o-mini"}}),
            created_at: 0,
            updated_at: 0,
        });
    })
    .await;
    let r = g.chat(KEY, "anything").send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let seen = &g.mock.requests()[0];
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer sk-stored-backup")
    );
    assert_eq!(seen.json().unwrap()["model"], "gpt-4o-mini");
}
