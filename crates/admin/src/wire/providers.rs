//! Provider and virtual-key bodies and objects (doc §4, §5): one entity, two shapes.

use portcullis_control::model::{Integration, ORGANISATION_ID, Provider};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::api_keys::status;
use super::limits::{rates_or_null, usage_out};
use super::ts;
use crate::body::Patch;
use crate::ctx::UsageStatus;
use crate::mask::masked_map;
use portcullis_control::crypto::Sealer;

#[derive(Debug, Default, Deserialize)]
pub struct CreateProvider {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub usage_limits: Option<Value>,
    #[serde(default)]
    pub rate_limits: Option<Value>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub model_config: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateProvider {
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub note: Patch<String>,
    #[serde(default)]
    pub usage_limits: Patch<Value>,
    #[serde(default)]
    pub rate_limits: Patch<Value>,
    #[serde(default)]
    pub expires_at: Patch<String>,
    #[serde(default)]
    pub reset_usage: Option<bool>,
    #[serde(default)]
    pub model_config: Option<Map<String, Value>>,
    /// Virtual keys only: a new provider key.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateVirtualKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub usage_limits: Option<Value>,
    #[serde(default)]
    pub rate_limits: Option<Value>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub model_config: Option<Map<String, Value>>,
}

/// The provider-specific kwargs the SDK sends in camelCase; they land in `model_config`.
pub const VK_FIELDS: &[&str] = &[
    "resourceName",
    "deploymentName",
    "apiVersion",
    "deploymentConfig",
    "azureAuthMode",
    "azureEntraClientId",
    "azureEntraClientSecret",
    "azureEntraTenantId",
    "azureManagedClientId",
    "azureModelName",
    "awsAccessKeyId",
    "awsSecretAccessKey",
    "awsSessionToken",
    "awsRegion",
    "awsAuthType",
    "awsRoleArn",
    "awsExternalId",
    "vertexProjectId",
    "vertexRegion",
    "vertexServiceAccountJson",
    "workersAiAccountId",
    "customHost",
    "openaiOrganization",
    "openaiProject",
];

/// The `model_config` of a virtual-key body: its `model_config` object plus the camelCase kwargs.
pub fn vk_model_config(given: Option<Map<String, Value>>, body: &Value) -> Map<String, Value> {
    let mut m = given.unwrap_or_default();
    for f in VK_FIELDS {
        if let Some(v) = body.get(*f).filter(|v| !v.is_null()) {
            m.insert((*f).to_owned(), v.clone());
        }
    }
    m
}

/// What a provider object needs from its integration.
pub struct Source<'a> {
    pub sealer: &'a Sealer,
    pub integration: Option<&'a Integration>,
    pub workspace_name: Option<&'a str>,
}

impl Source<'_> {
    fn ai_provider(&self, p: &Provider) -> Value {
        json!(
            p.ai_provider_id
                .as_deref()
                .or(self.integration.map(|i| i.ai_provider_id.as_str()))
        )
    }

    fn integration_slug(&self) -> Value {
        json!(self.integration.map(|i| i.slug.as_str()))
    }
}

/// The `/v1/providers` object.
pub fn provider_item(p: &Provider, src: &Source<'_>, usage: Option<UsageStatus>) -> Value {
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "slug": p.slug,
        "integration_id": src.integration_slug(),
        "workspace_id": p.workspace_id,
        "ai_provider_name": src.ai_provider(p),
        "note": p.note,
        "status": status(p.status, p.expires_at, usage.as_ref()),
        "usage_limits": usage_out(&p.usage_limits),
        "reset_usage": null,
        "rate_limits": rates_or_null(&p.rate_limits),
        "model_config": if p.model_config.is_empty() { Value::Null } else { Value::Object(masked_map(src.sealer, &p.model_config)) },
        "expires_at": ts(p.expires_at),
        "created_at": ts(Some(p.created_at)),
        "last_updated_at": ts(Some(p.updated_at)),
        "object": "provider",
    });
    if let Some(u) = usage {
        v["usage"] = json!(u);
    }
    v
}

/// The `/v1/virtual-keys` object: `key` always empty, `masked_api_key` instead.
pub fn vk_item(p: &Provider, src: &Source<'_>, usage: Option<UsageStatus>) -> Value {
    let masked = p
        .key_masked
        .as_deref()
        .or(src.integration.and_then(|i| i.key_masked.as_deref()));
    let mut v = json!({
        "id": p.id,
        "organisation_id": ORGANISATION_ID,
        "ai_provider_name": src.ai_provider(p),
        "provider": src.ai_provider(p),
        "model_config": Value::Object(masked_map(src.sealer, &p.model_config)),
        "key": "",
        "masked_api_key": masked,
        "slug": p.slug,
        "name": p.name,
        "note": p.note,
        "status": status(p.status, p.expires_at, usage.as_ref()),
        "usage_limits": usage_out(&p.usage_limits),
        "reset_usage": null,
        "rate_limits": rates_or_null(&p.rate_limits),
        "expires_at": ts(p.expires_at),
        "last_reset_at": ts(usage.as_ref().and_then(|u| u.last_reset_at)),
        "created_at": ts(Some(p.created_at)),
        "last_updated_at": ts(Some(p.updated_at)),
        "integration_id": src.integration_slug(),
        "tags": null,
        "workspace_id": p.workspace_id,
        "workspace_name": src.workspace_name,
        "object": "virtual-key",
    });
    if let Some(u) = usage {
        v["usage"] = json!(u);
    }
    v
}
