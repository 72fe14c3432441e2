//! Row ↔ model mapping: the row structs both backends decode (by column name), and the JSON
//! text encoding of limits, defaults, configurations, models and config bodies.

use portcullis_control::model::{
    ApiKey, AuditEvent, Config, ConfigVersion, Integration, IntegrationGrant, KeyType, Provider,
    Spend, Status, Workspace,
};
use portcullis_control::repo::{RepoError, RepoResult};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value as JSON text for a TEXT column.
pub(crate) fn json<T: Serialize + ?Sized>(v: &T) -> RepoResult<String> {
    serde_json::to_string(v).map_err(|e| RepoError::Invalid(format!("cannot store value: {e}")))
}

pub(crate) fn json_opt<T: Serialize>(v: &Option<T>) -> RepoResult<Option<String>> {
    v.as_ref().map(|v| json(v)).transpose()
}

fn parse<T: DeserializeOwned>(what: &str, id: &str, field: &str, text: &str) -> RepoResult<T> {
    serde_json::from_str(text).map_err(|e| {
        RepoError::Backend(format!("stored {what} {id} has an unreadable {field}: {e}"))
    })
}

fn parse_opt<T: DeserializeOwned>(
    what: &str,
    id: &str,
    field: &str,
    text: Option<String>,
) -> RepoResult<Option<T>> {
    text.map(|t| parse(what, id, field, &t)).transpose()
}

fn status(what: &str, id: &str, s: &str) -> RepoResult<Status> {
    Status::parse(s).ok_or_else(|| {
        RepoError::Backend(format!("stored {what} {id} has an unknown status {s:?}"))
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: String,
    slug: String,
    name: String,
    description: Option<String>,
    defaults: Option<String>,
    usage_limits: Option<String>,
    rate_limits: String,
    is_default: bool,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl WorkspaceRow {
    pub(crate) fn into_model(self) -> RepoResult<Workspace> {
        const W: &str = "workspace";
        let id = self.id;
        Ok(Workspace {
            defaults: parse_opt(W, &id, "defaults", self.defaults)?,
            usage_limits: parse_opt(W, &id, "usage_limits", self.usage_limits)?,
            rate_limits: parse(W, &id, "rate_limits", &self.rate_limits)?,
            status: status(W, &id, &self.status)?,
            slug: self.slug,
            name: self.name,
            description: self.description,
            is_default: self.is_default,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: String,
    name: String,
    description: Option<String>,
    key_type: String,
    workspace_id: Option<String>,
    user_id: Option<String>,
    scopes: String,
    defaults: String,
    usage_limits: Option<String>,
    rate_limits: String,
    alert_emails: String,
    expires_at: Option<i64>,
    key_hash: String,
    key_visible: String,
    status: String,
    creation_mode: String,
    created_at: i64,
    updated_at: i64,
}

impl ApiKeyRow {
    pub(crate) fn into_model(self) -> RepoResult<ApiKey> {
        const K: &str = "api key";
        let id = self.id;
        let key_type = KeyType::parse(&self.key_type).ok_or_else(|| {
            RepoError::Backend(format!(
                "stored {K} {id} has an unknown type {:?}",
                self.key_type
            ))
        })?;
        Ok(ApiKey {
            key_type,
            scopes: parse(K, &id, "scopes", &self.scopes)?,
            defaults: parse(K, &id, "defaults", &self.defaults)?,
            usage_limits: parse_opt(K, &id, "usage_limits", self.usage_limits)?,
            rate_limits: parse(K, &id, "rate_limits", &self.rate_limits)?,
            alert_emails: parse(K, &id, "alert_emails", &self.alert_emails)?,
            status: status(K, &id, &self.status)?,
            name: self.name,
            description: self.description,
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            expires_at: self.expires_at,
            key_hash: self.key_hash,
            key_visible: self.key_visible,
            creation_mode: self.creation_mode,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct IntegrationRow {
    id: String,
    slug: String,
    name: String,
    description: Option<String>,
    ai_provider_id: String,
    key_sealed: Option<String>,
    key_masked: Option<String>,
    configurations: String,
    workspace_id: Option<String>,
    allow_all_models: bool,
    models: String,
    global_workspace_access: bool,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl IntegrationRow {
    pub(crate) fn into_model(self) -> RepoResult<Integration> {
        const I: &str = "integration";
        let id = self.id;
        Ok(Integration {
            configurations: parse(I, &id, "configurations", &self.configurations)?,
            models: parse(I, &id, "models", &self.models)?,
            status: status(I, &id, &self.status)?,
            slug: self.slug,
            name: self.name,
            description: self.description,
            ai_provider_id: self.ai_provider_id,
            key_sealed: self.key_sealed,
            key_masked: self.key_masked,
            workspace_id: self.workspace_id,
            allow_all_models: self.allow_all_models,
            global_workspace_access: self.global_workspace_access,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    integration_id: String,
    workspace_id: String,
    enabled: bool,
    usage_limits: Option<String>,
    rate_limits: String,
}

impl GrantRow {
    pub(crate) fn into_model(self) -> RepoResult<IntegrationGrant> {
        let id = format!("{}/{}", self.integration_id, self.workspace_id);
        Ok(IntegrationGrant {
            usage_limits: parse_opt("grant", &id, "usage_limits", self.usage_limits)?,
            rate_limits: parse("grant", &id, "rate_limits", &self.rate_limits)?,
            integration_id: self.integration_id,
            workspace_id: self.workspace_id,
            enabled: self.enabled,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProviderRow {
    id: String,
    slug: String,
    name: String,
    workspace_id: String,
    integration_id: Option<String>,
    ai_provider_id: Option<String>,
    key_sealed: Option<String>,
    key_masked: Option<String>,
    model_config: String,
    note: Option<String>,
    usage_limits: Option<String>,
    rate_limits: String,
    expires_at: Option<i64>,
    is_virtual_key: bool,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl ProviderRow {
    pub(crate) fn into_model(self) -> RepoResult<Provider> {
        const P: &str = "provider";
        let id = self.id;
        Ok(Provider {
            model_config: parse(P, &id, "model_config", &self.model_config)?,
            usage_limits: parse_opt(P, &id, "usage_limits", self.usage_limits)?,
            rate_limits: parse(P, &id, "rate_limits", &self.rate_limits)?,
            status: status(P, &id, &self.status)?,
            slug: self.slug,
            name: self.name,
            workspace_id: self.workspace_id,
            integration_id: self.integration_id,
            ai_provider_id: self.ai_provider_id,
            key_sealed: self.key_sealed,
            key_masked: self.key_masked,
            note: self.note,
            expires_at: self.expires_at,
            is_virtual_key: self.is_virtual_key,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConfigRow {
    id: String,
    slug: String,
    name: String,
    workspace_id: Option<String>,
    is_default: bool,
    status: String,
    version_id: String,
    config: String,
    created_at: i64,
    updated_at: i64,
}

impl ConfigRow {
    pub(crate) fn into_model(self) -> RepoResult<Config> {
        const C: &str = "config";
        let id = self.id;
        Ok(Config {
            config: parse(C, &id, "config", &self.config)?,
            status: status(C, &id, &self.status)?,
            slug: self.slug,
            name: self.name,
            workspace_id: self.workspace_id,
            is_default: self.is_default,
            version_id: self.version_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConfigVersionRow {
    version_id: String,
    config_id: String,
    config: String,
    created_at: i64,
}

impl ConfigVersionRow {
    pub(crate) fn into_model(self) -> RepoResult<ConfigVersion> {
        Ok(ConfigVersion {
            config: parse("config version", &self.version_id, "config", &self.config)?,
            version_id: self.version_id,
            config_id: self.config_id,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    id: String,
    at: i64,
    actor_id: String,
    actor_name: String,
    action: String,
    resource_type: String,
    resource_id: String,
    workspace_id: Option<String>,
    details: String,
}

impl AuditRow {
    pub(crate) fn into_model(self) -> RepoResult<AuditEvent> {
        Ok(AuditEvent {
            details: parse("audit event", &self.id, "details", &self.details)?,
            id: self.id,
            at: self.at,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            workspace_id: self.workspace_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SpendRow {
    scope_kind: String,
    scope_id: String,
    period: String,
    units: i64,
}

impl SpendRow {
    pub(crate) fn into_model(self) -> Spend {
        Spend {
            scope_kind: self.scope_kind,
            scope_id: self.scope_id,
            period: self.period,
            units: self.units,
        }
    }
}

/// Converts every row, stopping at the first unreadable one.
pub(crate) fn all<R, T>(rows: Vec<R>, f: impl Fn(R) -> RepoResult<T>) -> RepoResult<Vec<T>> {
    rows.into_iter().map(f).collect()
}
