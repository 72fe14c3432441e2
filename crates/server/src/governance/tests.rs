//! Snapshot, authentication, catalog and defaults, on a hand-built catalog.

use http::HeaderMap;
use portcullis_config::{Catalog, PortkeyHeaders};
use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::*;
use portcullis_core::ErrorCode;
use serde_json::json;

use super::auth::{Caller, authenticate, require_scope};
use super::catalog::WorkspaceCatalog;
use super::defaults;
use super::snapshot::Snapshot;

const NOW: i64 = 1_800_000_000_000;

fn sealer() -> Sealer {
    Sealer::from_key(&[3u8; 32])
}

fn workspace(id: &str, default: bool) -> Workspace {
    Workspace {
        id: id.into(),
        slug: format!("ws-{id}"),
        name: id.into(),
        description: None,
        defaults: Some(Defaults {
            config_id: None,
            metadata: Some(
                json!({"env": "ws", "team": "ws-team"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            allow_config_override: None,
            ..Default::default()
        }),
        usage_limits: None,
        rate_limits: vec![],
        is_default: default,
        status: Status::Active,
        created_at: 0,
        updated_at: 0,
    }
}

fn key(secret: &str, id: &str, ws: Option<&str>, scopes: &[&str]) -> ApiKey {
    let k = apikey::from_secret(secret);
    ApiKey {
        id: id.into(),
        name: id.into(),
        description: None,
        key_type: if ws.is_some() {
            KeyType::WorkspaceService
        } else {
            KeyType::OrganisationService
        },
        workspace_id: ws.map(str::to_owned),
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

const WS_KEY: &str = "pcl_workspace-key-0123456789abcdefghijklmnop";
const ORG_KEY: &str = "pcl_org-key-0123456789abcdefghijklmnopqrstuv";
const OTHER_KEY: &str = "pcl_other-ws-key-0123456789abcdefghijklmnop";

fn catalog() -> CatalogData {
    let s = sealer();
    let mut models_only = key(OTHER_KEY, "k3", Some("w2"), &["completions.write"]);
    models_only.defaults.config_id = Some("pc-locked".into());
    models_only.defaults.allow_config_override = Some(false);
    let mut ws_key = key(WS_KEY, "k1", Some("w1"), &["completions.write"]);
    ws_key.defaults.metadata = Some(json!({"team": "key-team"}).as_object().unwrap().clone());
    ws_key.defaults.config_id = Some("pc-default".into());
    CatalogData {
        version: 7,
        workspaces: vec![workspace("w1", true), workspace("w2", false)],
        api_keys: vec![
            ws_key,
            key(ORG_KEY, "k2", None, &["workspaces.list"]),
            models_only,
        ],
        integrations: vec![Integration {
            id: "i1".into(),
            slug: "openai-prod".into(),
            name: "OpenAI".into(),
            description: None,
            ai_provider_id: "openai".into(),
            key_sealed: Some(s.seal("sk-from-integration")),
            key_masked: None,
            configurations:
                json!({"openai_organization": "org-1", "custom_host": "http://127.0.0.1:9/v1/"})
                    .as_object()
                    .unwrap()
                    .clone(),
            workspace_id: None,
            allow_all_models: false,
            models: vec![IntegrationModel {
                slug: "gpt-4o".into(),
                enabled: true,
                is_custom: false,
                is_finetune: false,
                base_model_slug: None,
                pricing_config: None,
            }],
            global_workspace_access: false,
            status: Status::Active,
            created_at: 0,
            updated_at: 0,
        }],
        grants: vec![IntegrationGrant {
            integration_id: "i1".into(),
            workspace_id: "w1".into(),
            enabled: true,
            usage_limits: None,
            rate_limits: vec![],
        }],
        providers: vec![Provider {
            id: "p1".into(),
            slug: "openai-prod".into(),
            name: "OpenAI".into(),
            workspace_id: "w1".into(),
            integration_id: Some("openai-prod".into()),
            ai_provider_id: None,
            key_sealed: None,
            key_masked: None,
            model_config: Default::default(),
            note: None,
            usage_limits: None,
            rate_limits: vec![],
            expires_at: None,
            is_virtual_key: false,
            status: Status::Active,
            created_at: 0,
            updated_at: 0,
        }],
        configs: vec![
            Config {
                id: "c1".into(),
                slug: "pc-default".into(),
                name: "default".into(),
                workspace_id: Some("w1".into()),
                is_default: false,
                status: Status::Active,
                version_id: "v1".into(),
                config: json!({"provider": "@openai-prod"}),
                created_at: 0,
                updated_at: 0,
            },
            Config {
                id: "c2".into(),
                slug: "pc-locked".into(),
                name: "locked".into(),
                workspace_id: Some("w2".into()),
                is_default: false,
                status: Status::Active,
                version_id: "v2".into(),
                config: json!({"provider": "openai"}),
                created_at: 0,
                updated_at: 0,
            },
        ],
        usage_resets: vec![],
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

#[test]
fn keys_authenticate_from_every_header_and_bad_keys_are_refused() {
    let snap = Snapshot::build(&catalog(), &sealer());
    assert!(!snap.open(), "workspace keys exist");
    for h in [
        headers(&[("x-portkey-api-key", WS_KEY)]),
        headers(&[("authorization", &format!("Bearer {WS_KEY}"))]),
        headers(&[("x-api-key", WS_KEY)]),
    ] {
        let c = authenticate(&snap, &h, true, NOW).unwrap();
        assert_eq!(c.workspace_id(), Some("w1"));
    }
    let e = authenticate(
        &snap,
        &headers(&[("x-portkey-api-key", "pcl_nope")]),
        true,
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidApiKey);
    assert_eq!(
        e.body_json()["message"],
        "Portkey Error: Invalid API Key. Error Code: 03"
    );
    let e = authenticate(
        &snap,
        &headers(&[("authorization", "Bearer sk-provider-key")]),
        true,
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        e.code(),
        ErrorCode::InvalidApiKey,
        "not open mode: a provider key is not a gateway key"
    );
    assert!(!e.body_json().to_string().contains("sk-provider-key"));
    let e = authenticate(&snap, &HeaderMap::new(), true, NOW).unwrap_err();
    assert_eq!(e.status().as_u16(), 401);
}

#[test]
fn scopes_and_expiry_are_enforced() {
    let mut data = catalog();
    data.api_keys[0].expires_at = Some(NOW - 1);
    let snap = Snapshot::build(&data, &sealer());
    let e = authenticate(&snap, &headers(&[("x-portkey-api-key", WS_KEY)]), true, NOW).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ApiKeyExpired);
    let org = authenticate(
        &snap,
        &headers(&[("x-portkey-api-key", ORG_KEY)]),
        true,
        NOW,
    )
    .unwrap();
    let e = require_scope(&org, "completions.write").unwrap_err();
    assert_eq!(e.status().as_u16(), 403);
    assert_eq!(e.body_json()["error"]["code"], "033");
}

#[test]
fn open_mode_only_without_workspace_keys_and_where_allowed() {
    let mut data = catalog();
    data.api_keys
        .retain(|k| k.key_type == KeyType::OrganisationService);
    let snap = Snapshot::build(&data, &sealer());
    assert!(snap.open(), "organisation keys do not end open mode");
    let c = authenticate(
        &snap,
        &headers(&[("authorization", "Bearer sk-provider")]),
        true,
        NOW,
    )
    .unwrap();
    assert!(matches!(c, Caller::Open));
    assert!(
        authenticate(
            &snap,
            &headers(&[("authorization", "Bearer sk-provider")]),
            false,
            NOW
        )
        .is_err()
    );
}

#[test]
fn revoking_every_workspace_key_does_not_reopen_the_gateway() {
    let mut data = catalog();
    for k in &mut data.api_keys {
        if k.key_type != KeyType::OrganisationService {
            k.status = portcullis_control::model::Status::Revoked;
        }
    }
    let snap = Snapshot::build(&data, &sealer());
    assert!(!snap.open());
    let e = authenticate(
        &snap,
        &headers(&[("authorization", "Bearer sk-provider")]),
        true,
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.status().as_u16(), 401);
}

#[test]
fn catalog_resolves_slugs_in_the_callers_workspace_only() {
    let snap = Snapshot::build(&catalog(), &sealer());
    let w1 = WorkspaceCatalog {
        snapshot: &snap,
        workspace_id: Some("w1"),
    };
    let up = w1.provider("openai-prod").unwrap();
    assert_eq!(up.api_key.as_ref().unwrap().expose(), "sk-from-integration");
    assert_eq!(up.custom_host.as_deref(), Some("http://127.0.0.1:9/v1"));
    assert_eq!(up.option("openai_organization"), Some("org-1"));
    let account = up.account.as_ref().unwrap();
    assert_eq!(account.workspace_id, "w1");
    assert!(account.allowed_models.as_ref().unwrap().contains("gpt-4o"));
    let w2 = WorkspaceCatalog {
        snapshot: &snap,
        workspace_id: Some("w2"),
    };
    assert!(w2.provider("openai-prod").is_none(), "not granted to w2");
    assert!(
        w2.provider("openai").is_none(),
        "keyed callers get no credential-less built-ins"
    );
    assert!(w1.saved_config("pc-default").is_some());
    assert!(
        w2.saved_config("pc-default").is_none(),
        "another workspace's config"
    );
    let open = WorkspaceCatalog {
        snapshot: &snap,
        workspace_id: None,
    };
    assert!(
        open.provider("groq").is_some(),
        "open mode keeps the built-in slugs"
    );
    assert_eq!(
        snap.catalog_models(Some("w1")),
        vec![("@openai-prod/gpt-4o".to_owned(), "openai".to_owned())]
    );
}

#[test]
fn undecryptable_credentials_drop_the_provider_not_the_gateway() {
    let snap = Snapshot::build(&catalog(), &Sealer::from_key(&[9u8; 32]));
    assert!(snap.provider("w1", "openai-prod").is_none());
    assert_eq!(snap.version, 7);
}

#[test]
fn defaults_fill_metadata_and_config_and_a_locked_key_refuses_overrides() {
    let snap = Snapshot::build(&catalog(), &sealer());
    let caller =
        authenticate(&snap, &headers(&[("x-portkey-api-key", WS_KEY)]), true, NOW).unwrap();
    let mut h = PortkeyHeaders {
        metadata: json!({"env": "request"}).as_object().unwrap().clone(),
        ..Default::default()
    };
    defaults::apply(&mut h, &caller, &snap).unwrap();
    assert_eq!(h.metadata["env"], "request", "the request wins");
    assert_eq!(h.metadata["team"], "key-team", "then the key");
    assert_eq!(h.config.as_deref(), Some("pc-default"));

    let locked = authenticate(
        &snap,
        &headers(&[("x-portkey-api-key", OTHER_KEY)]),
        true,
        NOW,
    )
    .unwrap();
    let mut h = PortkeyHeaders {
        config: Some("{}".into()),
        ..Default::default()
    };
    let e = defaults::apply(&mut h, &locked, &snap).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConfigOverrideNotAllowed);
    let mut h = PortkeyHeaders {
        provider: Some("openai".into()),
        ..Default::default()
    };
    defaults::apply(&mut h, &locked, &snap).unwrap();
    assert_eq!(h.config.as_deref(), Some("pc-locked"));
}

#[tokio::test]
async fn admin_usage_reads_stored_spend_for_the_current_period() {
    use std::sync::Arc;
    use std::time::Duration;

    use portcullis_admin::UsageView;
    use portcullis_control::repo::Repository;
    use portcullis_core::limits::{PeriodicReset, UsageKind, UsageLimit};

    use super::snapshot::SnapshotHolder;
    use super::usage::StoredUsage;

    let mut data = catalog();
    data.api_keys[0].usage_limits = Some(UsageLimit {
        kind: UsageKind::Tokens,
        credit_limit: 100.0,
        alert_threshold: None,
        periodic_reset: PeriodicReset::None,
        reset_at: None,
    });
    let snap = Snapshot::build(&data, &sealer());
    assert_eq!(
        snap.budget("api_key", "k1").map(|u| u.credit_limit),
        Some(100.0)
    );
    assert_eq!(snap.budget("api_key", "k2"), None);
    assert_eq!(snap.budget("nonsense", "k1"), None);

    let dir = tempfile::tempdir().unwrap();
    let store = portcullis_store::Store::open_in_data_dir(dir.path())
        .await
        .unwrap();
    let repo: Arc<dyn Repository> = Arc::new(store);
    // A stale period's spend must not count; the current one's must.
    repo.add_spend(&[
        Spend {
            scope_kind: "api_key".into(),
            scope_id: "k1".into(),
            period: "tokens:all".into(),
            units: 120,
        },
        Spend {
            scope_kind: "api_key".into(),
            scope_id: "k1".into(),
            period: "cost:all".into(),
            units: 5,
        },
    ])
    .await
    .unwrap();
    let holder = Arc::new(SnapshotHolder::new(snap));
    let view = StoredUsage::start(repo, holder.clone(), Duration::from_millis(20));
    let mut got = None;
    for _ in 0..200 {
        got = view.current("api_key", "k1");
        if got.as_ref().is_some_and(|u| u.spent > 0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = got.expect("k1 has a budget");
    assert_eq!((got.spent, got.limit, got.exhausted), (120.0, 100.0, true));
    assert_eq!(got.period, "all");
    assert!(view.current("api_key", "k2").is_none());
    assert_eq!(got.last_reset_at, None);

    // Once the snapshot has a reset of k1's budget, its usage counts from then: nothing yet.
    data.usage_resets = vec![portcullis_control::model::UsageReset {
        scope_kind: "api_key".into(),
        scope_id: "k1".into(),
        reset_at: 1_700_000_000_000,
    }];
    let snap = Snapshot::build(&data, &sealer());
    assert_eq!(
        snap.budget("api_key", "k1").and_then(|u| u.reset_at),
        Some(1_700_000_000_000)
    );
    let principal = snap
        .principal(&portcullis_control::apikey::KeyHash::of(WS_KEY))
        .unwrap();
    assert_eq!(
        principal.usage_limits.and_then(|u| u.reset_at),
        Some(1_700_000_000_000),
        "the limiter gets the reset with the key's budget"
    );
    holder.store(snap);
    let got = view.current("api_key", "k1").unwrap();
    assert_eq!((got.spent, got.exhausted), (0.0, false));
    assert_eq!(got.period, "all@1700000000000");
    assert_eq!(got.last_reset_at, Some(1_700_000_000_000));
}

#[test]
fn usage_resets_reach_every_budget_the_limiter_counts() {
    use portcullis_control::model::UsageReset;
    use portcullis_core::limits::{PeriodicReset, UsageKind, UsageLimit};

    let budget = Some(UsageLimit {
        kind: UsageKind::Tokens,
        credit_limit: 100.0,
        alert_threshold: None,
        periodic_reset: PeriodicReset::Monthly,
        reset_at: None,
    });
    let mut data = catalog();
    data.workspaces[0].usage_limits = budget;
    data.api_keys[0].usage_limits = budget;
    data.providers[0].usage_limits = budget;
    data.grants[0].usage_limits = budget;
    let reset = |kind: &str, id: &str, at: i64| UsageReset {
        scope_kind: kind.into(),
        scope_id: id.into(),
        reset_at: at,
    };
    // Scopes as the limiter names them (a grant: `<integration id>:<workspace id>`).
    data.usage_resets = vec![
        reset("workspace", "w1", 1),
        reset("api_key", "k1", 2),
        reset("provider", "p1", 3),
        reset("integration", "i1:w1", 4),
        // Another budget's reset changes nothing here.
        reset("api_key", "k2", 5),
    ];
    let snap = Snapshot::build(&data, &sealer());
    let at = |u: Option<UsageLimit>| u.and_then(|u| u.reset_at);
    assert_eq!(at(snap.workspace("w1").unwrap().usage_limits), Some(1));
    let key = snap
        .principal(&portcullis_control::apikey::KeyHash::of(WS_KEY))
        .unwrap();
    assert_eq!(at(key.usage_limits), Some(2));
    let entry = snap.provider("w1", "openai-prod").unwrap();
    assert_eq!(at(entry.limits.provider_usage), Some(3));
    assert_eq!(at(entry.limits.grant_usage), Some(4));
    for (kind, id, want) in [
        ("workspace", "w1", 1),
        ("api_key", "k1", 2),
        ("provider", "p1", 3),
        ("virtual_key", "p1", 3),
        ("integration", "i1:w1", 4),
    ] {
        assert_eq!(at(snap.budget(kind, id)), Some(want), "{kind} {id}");
    }
    // The stored limits themselves are unchanged (a reset is not part of them).
    assert_eq!(data.api_keys[0].usage_limits, budget);
    data.usage_resets.clear();
    let snap = Snapshot::build(&data, &sealer());
    assert_eq!(at(snap.budget("api_key", "k1")), None);
}
