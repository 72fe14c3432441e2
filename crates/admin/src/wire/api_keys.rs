//! API key bodies and objects (doc §1).

use portcullis_control::model::{ApiKey, ORGANISATION_ID, Status};
use serde::Deserialize;
use serde_json::{Value, json};

use super::limits::{rates_out, usage_out};
use super::{DefaultsIn, ts};
use crate::body::Patch;
use crate::ctx::UsageStatus;
use crate::mask::mask_visible;

#[derive(Debug, Default, Deserialize)]
pub struct CreateApiKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub rate_limits: Option<Value>,
    #[serde(default)]
    pub usage_limits: Option<Value>,
    #[serde(default)]
    pub defaults: Option<DefaultsIn>,
    #[serde(default)]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub allow_config_override: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateApiKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub rate_limits: Patch<Value>,
    #[serde(default)]
    pub usage_limits: Patch<Value>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub defaults: Patch<DefaultsIn>,
    #[serde(default)]
    pub alert_emails: Patch<Vec<String>>,
    #[serde(default)]
    pub expires_at: Patch<String>,
    #[serde(default)]
    pub allow_config_override: Option<bool>,
    /// Starts the key's budget over (its usage counts from now; `exhausted` → `active`).
    #[serde(default)]
    pub reset_usage: Option<bool>,
}

/// `active`, `exhausted` (budget spent), `expired` (past `expires_at`) or the stored status.
pub fn status(
    stored: Status,
    expires_at: Option<i64>,
    usage: Option<&UsageStatus>,
) -> &'static str {
    if stored != Status::Active {
        return stored.as_str();
    }
    if expires_at.is_some_and(|t| t <= crate::time::now()) {
        return "expired";
    }
    if usage.is_some_and(|u| u.exhausted) {
        return "exhausted";
    }
    "active"
}

/// The retrieve/list object; the key itself masked.
pub fn item(k: &ApiKey, usage: Option<UsageStatus>) -> Value {
    let mut v = json!({
        "id": k.id,
        "key": mask_visible(&k.key_visible),
        "name": k.name,
        "description": k.description,
        "type": k.key_type.as_str(),
        "organisation_id": ORGANISATION_ID,
        "workspace_id": k.workspace_id,
        "user_id": k.user_id,
        "status": status(k.status, k.expires_at, usage.as_ref()),
        "created_at": ts(Some(k.created_at)),
        "last_updated_at": ts(Some(k.updated_at)),
        "creation_mode": k.creation_mode,
        "rate_limits": rates_out(&k.rate_limits),
        "usage_limits": usage_out(&k.usage_limits),
        "reset_usage": null,
        "expires_at": ts(k.expires_at),
        "last_reset_at": ts(usage.as_ref().and_then(|u| u.last_reset_at)),
        "alert_emails": if k.alert_emails.is_empty() { Value::Null } else { json!(k.alert_emails) },
        "expiry_enforced": i32::from(k.expires_at.is_some()),
        "next_usage_reset_at": null,
        "allow_config_override": k.defaults.allow_config_override,
        "api_key_defaults_id": null,
        "scopes": k.scopes,
        "defaults": {
            "metadata": k.defaults.metadata,
            "config_id": k.defaults.config_id,
            "allow_config_override": k.defaults.allow_config_override.unwrap_or(true),
        },
        "object": "api-key",
    });
    if let Some(u) = usage {
        v["usage"] = json!(u);
    }
    v
}
