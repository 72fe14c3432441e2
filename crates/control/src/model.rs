//! The control-plane entities as stored: workspaces, gateway keys, integrations and their
//! workspace grants, AI providers (and legacy virtual keys), configs, audit events, budget spend.
//!
//! Times are unix milliseconds; ids are UUIDs; slugs follow Portkey's conventions. Secrets are
//! held sealed (`crypto::Sealer`) or hashed (`apikey::KeyHash`), never in the clear.

use portcullis_core::limits::{RateLimit, UsageLimit};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unix time in milliseconds.
pub type Millis = i64;

/// The one organisation a deployment serves (Portcullis is single-tenant per deployment).
pub const ORGANISATION_ID: &str = "00000000-0000-4000-8000-000000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
    Exhausted,
    Expired,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
            Status::Exhausted => "exhausted",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "active" => Status::Active,
            "archived" => Status::Archived,
            "exhausted" => Status::Exhausted,
            "expired" => Status::Expired,
            "revoked" => Status::Revoked,
            _ => return None,
        })
    }
}

/// Defaults a key or workspace applies to every request it makes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Defaults {
    /// A saved config (id or slug) used when the request sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_id: Option<String>,
    /// Merged under the request's `x-portkey-metadata` (the request wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// `false`: a request that sends its own config is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_config_override: Option<bool>,
    /// Rate limits applied to each end user (`_user` metadata) separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_rate_limits: Option<Vec<RateLimit>>,
    /// A budget applied to each end user (`_user` metadata) separately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_usage_limits: Option<UsageLimit>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub defaults: Option<Defaults>,
    pub usage_limits: Option<UsageLimit>,
    pub rate_limits: Vec<RateLimit>,
    /// The organisation's default workspace (created at first start).
    pub is_default: bool,
    pub status: Status,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// `organisation-service`, `workspace-service`, `workspace-user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "organisation-service")]
    OrganisationService,
    #[serde(rename = "workspace-service")]
    WorkspaceService,
    #[serde(rename = "workspace-user")]
    WorkspaceUser,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::OrganisationService => "organisation-service",
            KeyType::WorkspaceService => "workspace-service",
            KeyType::WorkspaceUser => "workspace-user",
        }
    }

    pub fn parse(s: &str) -> Option<KeyType> {
        Some(match s {
            "organisation-service" => KeyType::OrganisationService,
            "workspace-service" => KeyType::WorkspaceService,
            "workspace-user" => KeyType::WorkspaceUser,
            _ => return None,
        })
    }

    /// From the admin API's path: `/v1/api-keys/{type}/{sub_type}`.
    pub fn from_path(kind: &str, sub_type: &str) -> Option<KeyType> {
        match (kind, sub_type) {
            ("organisation", "service") => Some(KeyType::OrganisationService),
            ("workspace", "service") => Some(KeyType::WorkspaceService),
            ("workspace", "user") => Some(KeyType::WorkspaceUser),
            _ => None,
        }
    }

    pub fn is_organisation(self) -> bool {
        self == KeyType::OrganisationService
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub key_type: KeyType,
    /// `None` for organisation keys.
    pub workspace_id: Option<String>,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub defaults: Defaults,
    pub usage_limits: Option<UsageLimit>,
    pub rate_limits: Vec<RateLimit>,
    pub alert_emails: Vec<String>,
    pub expires_at: Option<Millis>,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The first characters of the key, shown in lists.
    pub key_visible: String,
    pub status: Status,
    /// `api`, `cli`, `file` (declarative), `env` (bootstrap).
    pub creation_mode: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Organisation-level (or workspace-level) provider credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// The provider slug (`openai`, `anthropic`, `azure-openai`, …).
    pub ai_provider_id: String,
    /// The provider key, sealed. `None` for providers that need none (Ollama, vLLM…).
    pub key_sealed: Option<String>,
    /// Visible part of the key for `masked_key` (e.g. `sk*****3BM`).
    pub key_masked: Option<String>,
    /// Provider options (`custom_host`, `openai_organization`, `azure_resource_name`, …);
    /// sensitive values are sealed by the admin layer before they get here.
    pub configurations: serde_json::Map<String, Value>,
    /// `Some`: a workspace-scoped integration.
    pub workspace_id: Option<String>,
    /// Every model allowed unless `false`, then only `models`.
    pub allow_all_models: bool,
    pub models: Vec<IntegrationModel>,
    /// Whether every workspace (present and future) may use it.
    pub global_workspace_access: bool,
    pub status: Status,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationModel {
    pub slug: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub is_custom: bool,
    #[serde(default)]
    pub is_finetune: bool,
    #[serde(default)]
    pub base_model_slug: Option<String>,
    #[serde(default)]
    pub pricing_config: Option<Value>,
}

fn yes() -> bool {
    true
}

/// An integration made available to one workspace, with that workspace's own limits.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationGrant {
    pub integration_id: String,
    pub workspace_id: String,
    pub enabled: bool,
    pub usage_limits: Option<UsageLimit>,
    pub rate_limits: Vec<RateLimit>,
}

/// A workspace's AI provider: what `@slug` names. Legacy virtual keys are the same entity with
/// their own credentials instead of an integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub workspace_id: String,
    /// The integration it draws credentials from (`None` for a virtual key with its own key).
    pub integration_id: Option<String>,
    /// The provider slug when there is no integration (virtual keys).
    pub ai_provider_id: Option<String>,
    pub key_sealed: Option<String>,
    pub key_masked: Option<String>,
    /// Provider options for a virtual key (`resourceName`, `deploymentConfig`, …) or overrides.
    pub model_config: serde_json::Map<String, Value>,
    pub note: Option<String>,
    pub usage_limits: Option<UsageLimit>,
    pub rate_limits: Vec<RateLimit>,
    pub expires_at: Option<Millis>,
    /// Created through `/v1/virtual-keys` (shown there) rather than `/v1/providers`.
    pub is_virtual_key: bool,
    pub status: Status,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub id: String,
    /// `pc-…`: what `x-portkey-config` and key defaults name.
    pub slug: String,
    pub name: String,
    pub workspace_id: Option<String>,
    pub is_default: bool,
    pub status: Status,
    /// The current version.
    pub version_id: String,
    pub config: Value,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigVersion {
    pub version_id: String,
    pub config_id: String,
    pub config: Value,
    pub created_at: Millis,
}

/// Who made an admin change.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// The API key id, or `cli`, `file`, `env`, `system`.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub at: Millis,
    pub actor_id: String,
    pub actor_name: String,
    /// `create`, `update`, `delete`, `rotate`, `revoke`, `budget.alert`, `budget.exhausted`, …
    pub action: String,
    /// `workspace`, `api_key`, `integration`, `provider`, `config`, `budget`.
    pub resource_type: String,
    pub resource_id: String,
    pub workspace_id: Option<String>,
    /// What changed, with secrets removed.
    pub details: Value,
}

/// Settled spend of one budget scope in one period (write-behind from the limiter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    /// `api_key`, `workspace`, `integration`, `provider`, …
    pub scope_kind: String,
    pub scope_id: String,
    /// The budget period (`all`, `2026-11-28`, `2026-W48`, `2026-11`, as the limiter names them).
    pub period: String,
    /// Nano-dollars for cost budgets, tokens for token budgets.
    pub units: i64,
}

/// The last usage reset of one budget (Portkey's `reset_usage`): its spend counts from then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReset {
    /// The limiter's scope kind: `api_key`, `workspace`, `provider`, `integration`.
    pub scope_kind: String,
    /// The limiter's scope id (an integration grant's is `<integration id>:<workspace id>`).
    pub scope_id: String,
    /// Unix milliseconds; increases with every reset of the same budget.
    pub reset_at: i64,
}

/// Everything the data plane's snapshot is built from, read in one consistent pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogData {
    /// Increases with every admin change.
    pub version: i64,
    pub workspaces: Vec<Workspace>,
    pub api_keys: Vec<ApiKey>,
    pub integrations: Vec<Integration>,
    pub grants: Vec<IntegrationGrant>,
    pub providers: Vec<Provider>,
    pub configs: Vec<Config>,
    pub usage_resets: Vec<UsageReset>,
}
