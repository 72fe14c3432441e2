//! Entity builders for the tests, with unique increasing creation times and recognisable
//! secret values that must never show up in an audit event.

use std::sync::atomic::{AtomicI64, Ordering};

use portcullis_control::model::{
    Actor, ApiKey, Config, Defaults, Integration, IntegrationGrant, IntegrationModel, KeyType,
    Provider, Status, Workspace,
};
use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use serde_json::json;

/// Strings planted in secret fields; the audit log must contain none of them.
pub const SECRET_MARKERS: &[&str] = &["SEALED-SECRET", "HASH-SECRET", "CONF-SECRET", "BODY-SECRET"];

static CLOCK: AtomicI64 = AtomicI64::new(1_760_000_000_000);

/// A creation time later than every earlier one.
pub fn tick() -> i64 {
    CLOCK.fetch_add(1, Ordering::Relaxed)
}

pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn actor() -> Actor {
    Actor {
        id: "key-admin".into(),
        name: "Test Admin".into(),
    }
}

pub fn rate() -> Vec<RateLimit> {
    vec![RateLimit {
        kind: RateKind::Requests,
        unit: RateUnit::Rpm,
        value: 100,
    }]
}

pub fn budget() -> Option<UsageLimit> {
    Some(UsageLimit {
        kind: UsageKind::Cost,
        credit_limit: 50.0,
        alert_threshold: Some(40.0),
        periodic_reset: PeriodicReset::Monthly,
        reset_at: None,
    })
}

pub fn workspace(slug: &str) -> Workspace {
    let at = tick();
    Workspace {
        id: id(),
        slug: slug.into(),
        name: format!("Team {slug}"),
        description: Some("a workspace".into()),
        defaults: Some(Defaults {
            config_id: Some("pc-default".into()),
            metadata: Some(
                json!({"team": slug})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            allow_config_override: Some(false),
            ..Defaults::default()
        }),
        usage_limits: budget(),
        rate_limits: rate(),
        is_default: false,
        status: Status::Active,
        created_at: at,
        updated_at: at,
    }
}

pub fn api_key(name: &str, workspace_id: Option<&str>) -> ApiKey {
    let at = tick();
    ApiKey {
        id: id(),
        name: name.into(),
        description: None,
        key_type: if workspace_id.is_some() {
            KeyType::WorkspaceService
        } else {
            KeyType::OrganisationService
        },
        workspace_id: workspace_id.map(str::to_owned),
        user_id: None,
        scopes: vec!["completions.write".into(), "logs.view".into()],
        defaults: Defaults::default(),
        usage_limits: budget(),
        rate_limits: rate(),
        alert_emails: vec!["ops@example.com".into()],
        expires_at: Some(at + 86_400_000),
        key_hash: format!("HASH-SECRET-{}", uuid::Uuid::new_v4().simple()),
        key_visible: "pcl_abcdefgh…".into(),
        status: Status::Active,
        creation_mode: "api".into(),
        created_at: at,
        updated_at: at,
    }
}

pub fn integration(slug: &str, workspace_id: Option<&str>) -> Integration {
    let at = tick();
    Integration {
        id: id(),
        slug: slug.into(),
        name: format!("{slug} integration"),
        description: None,
        ai_provider_id: "openai".into(),
        key_sealed: Some("v1.SEALED-SECRET-integration".into()),
        key_masked: Some("sk*****3BM".into()),
        configurations: json!({"openai_organization": "org-1", "client_secret": "v1.CONF-SECRET"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        workspace_id: workspace_id.map(str::to_owned),
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
        created_at: at,
        updated_at: at,
    }
}

pub fn grant(integration_id: &str, workspace_id: &str) -> IntegrationGrant {
    IntegrationGrant {
        integration_id: integration_id.into(),
        workspace_id: workspace_id.into(),
        enabled: true,
        usage_limits: budget(),
        rate_limits: rate(),
    }
}

pub fn provider(slug: &str, workspace_id: &str, integration_id: Option<&str>) -> Provider {
    let at = tick();
    Provider {
        id: id(),
        slug: slug.into(),
        name: format!("{slug} provider"),
        workspace_id: workspace_id.into(),
        integration_id: integration_id.map(str::to_owned),
        ai_provider_id: integration_id.is_none().then(|| "anthropic".to_owned()),
        key_sealed: integration_id
            .is_none()
            .then(|| "v1.SEALED-SECRET-vk".to_owned()),
        key_masked: None,
        model_config: json!({"azureEntraClientSecret": "v1.CONF-SECRET-vk"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        note: Some("note".into()),
        usage_limits: budget(),
        rate_limits: rate(),
        expires_at: None,
        is_virtual_key: integration_id.is_none(),
        status: Status::Active,
        created_at: at,
        updated_at: at,
    }
}

pub fn config(slug: &str, workspace_id: Option<&str>) -> Config {
    let at = tick();
    Config {
        id: id(),
        slug: slug.into(),
        name: format!("{slug} config"),
        workspace_id: workspace_id.map(str::to_owned),
        is_default: false,
        status: Status::Active,
        version_id: id(),
        config: json!({"retry": {"attempts": 3}, "targets": [{"provider": "openai", "api_key": "BODY-SECRET"}]}),
        created_at: at,
        updated_at: at,
    }
}
