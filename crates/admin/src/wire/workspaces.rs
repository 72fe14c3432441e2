//! Workspace bodies and objects (doc §6): limits are arrays of at most one here.

use portcullis_control::model::{ORGANISATION_ID, Workspace};
use serde::Deserialize;
use serde_json::{Value, json};

use super::limits::{rates_or_null, usage_list_out};
use super::{DefaultsIn, ts};
use crate::body::Patch;

#[derive(Debug, Default, Deserialize)]
pub struct CreateWorkspace {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub defaults: Option<DefaultsIn>,
    #[serde(default)]
    pub usage_limits: Option<Value>,
    #[serde(default)]
    pub rate_limits: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateWorkspace {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Patch<String>,
    #[serde(default)]
    pub defaults: Patch<DefaultsIn>,
    #[serde(default)]
    pub usage_limits: Patch<Value>,
    #[serde(default)]
    pub rate_limits: Patch<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeleteWorkspace {
    #[serde(default)]
    pub name: Option<String>,
}

/// The list/create object.
pub fn item(w: &Workspace) -> Value {
    json!({
        "id": w.id,
        "slug": w.slug,
        "name": w.name,
        "icon": null,
        "description": w.description,
        "created_at": ts(Some(w.created_at)),
        "last_updated_at": ts(Some(w.updated_at)),
        "defaults": w.defaults.as_ref().map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
        "is_default": i32::from(w.is_default),
        "usage_limits": usage_list_out(&w.usage_limits),
        "rate_limits": rates_or_null(&w.rate_limits),
        "status": w.status.as_str(),
        "object": "workspace",
    })
}

/// The retrieve object: the item plus organisation fields and (no) users.
pub fn detail(w: &Workspace) -> Value {
    let mut v = item(w);
    v["organisation_id"] = json!(ORGANISATION_ID);
    v["settings"] = Value::Null;
    v["last_reset_at"] = Value::Null;
    v["created_by"] = Value::Null;
    v["creation_source"] = Value::Null;
    v["users"] = json!([]);
    v
}
