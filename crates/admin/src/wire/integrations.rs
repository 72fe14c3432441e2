//! Integration bodies and objects (doc §3): credentials sealed, shown only as masks.

use portcullis_control::model::{Integration, IntegrationModel, ORGANISATION_ID};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ts;
use crate::body::Patch;
use crate::mask::masked_map;
use portcullis_control::crypto::Sealer;

#[derive(Debug, Default, Deserialize)]
pub struct CreateIntegration {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ai_provider_id: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub configurations: Option<Map<String, Value>>,
    #[serde(default)]
    pub create_default_provider: Option<bool>,
    #[serde(default)]
    pub default_provider_slug: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateIntegration {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub key: Patch<String>,
    #[serde(default)]
    pub configurations: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateWorkspaces {
    #[serde(default)]
    pub workspaces: Option<Vec<GrantIn>>,
    #[serde(default)]
    pub global_workspace_access: Option<GlobalIn>,
    #[serde(default)]
    pub override_existing_workspace_access: Option<bool>,
    /// The Python SDK's spelling.
    #[serde(default)]
    pub override_existing_workspaces_access: Option<bool>,
    #[serde(default)]
    pub create_default_provider: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GrantIn {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub usage_limits: Patch<Value>,
    #[serde(default)]
    pub rate_limits: Patch<Value>,
    #[serde(default)]
    pub reset_usage: Option<bool>,
    #[serde(default)]
    pub create_default_provider: Option<bool>,
    #[serde(default)]
    pub default_provider_slug: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GlobalIn {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub usage_limits: Option<Value>,
    #[serde(default)]
    pub rate_limits: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateModels {
    #[serde(default)]
    pub allow_all_models: Option<bool>,
    #[serde(default)]
    pub models: Option<Vec<IntegrationModel>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteModels {
    #[serde(default)]
    pub models: Option<Vec<Value>>,
    #[serde(default)]
    pub slugs: Option<Value>,
}

pub fn level(i: &Integration) -> &'static str {
    if i.workspace_id.is_some() {
        "workspace"
    } else {
        "organisation"
    }
}

/// A list item.
pub fn summary(i: &Integration) -> Value {
    json!({
        "id": i.id,
        "organisation_id": ORGANISATION_ID,
        "ai_provider_id": i.ai_provider_id,
        "name": i.name,
        "status": i.status.as_str(),
        "created_at": ts(Some(i.created_at)),
        "last_updated_at": ts(Some(i.updated_at)),
        "slug": i.slug,
        "description": i.description,
        "type": level(i),
        "workspace_id": i.workspace_id,
        "object": "integration",
    })
}

/// `{enabled, usage_limits, rate_limits}` of global access (limits are per grant only).
pub fn global_access(i: &Integration) -> Value {
    json!({ "enabled": i.global_workspace_access, "usage_limits": null, "rate_limits": null })
}

/// The retrieve object: the key masked, sensitive configuration values as `masked_<field>`.
pub fn detail(i: &Integration, workspace_count: usize, sealer: &Sealer) -> Value {
    let mut v = summary(i);
    v["masked_key"] = json!(i.key_masked);
    v["configurations"] = Value::Object(masked_map(sealer, &i.configurations));
    v["global_workspace_access_settings"] = global_access(i);
    v["global_workspace_access"] = global_access(i);
    v["allow_all_models"] = json!(i.allow_all_models);
    v["workspace_count"] = json!(workspace_count);
    v["owner_id"] = Value::Null;
    v["secret_mappings"] = json!([]);
    v
}
