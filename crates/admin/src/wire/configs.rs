//! Config bodies and objects (doc §2). Reads show the config body as a JSON-encoded string.

use portcullis_control::model::{Config, ConfigVersion, ORGANISATION_ID};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ts;
use crate::body::Flag;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Deserialize)]
pub struct CreateConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub is_default: Option<Flag>,
    #[serde(default, rename = "isDefault")]
    pub is_default_camel: Option<Flag>,
    #[serde(default)]
    pub workspace_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub is_default: Option<Flag>,
    #[serde(default, rename = "isDefault")]
    pub is_default_camel: Option<Flag>,
}

/// The config body: an object, or a string holding one (as reads return it).
pub fn config_body(v: Value) -> ApiResult<Value> {
    let v = match v {
        Value::String(s) => serde_json::from_str(&s)
            .map_err(|e| ApiError::field("config", format!("config: not valid JSON: {e}")))?,
        other => other,
    };
    if !v.is_object() {
        return Err(ApiError::field("config", "config must be a JSON object"));
    }
    Ok(v)
}

/// A list item (without the body).
pub fn summary(c: &Config) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "workspace_id": c.workspace_id,
        "slug": c.slug,
        "organisation_id": ORGANISATION_ID,
        "is_default": i32::from(c.is_default),
        "status": c.status.as_str(),
        "owner_id": null,
        "updated_by": null,
        "created_at": ts(Some(c.created_at)),
        "last_updated_at": ts(Some(c.updated_at)),
        "object": "config",
    })
}

/// The retrieve object: the summary plus the current version.
pub fn detail(c: &Config) -> Value {
    let mut v = summary(c);
    v["config"] = json!(c.config.to_string());
    v["format"] = json!("json");
    v["type"] = json!("ORG_CONFIG");
    v["version_id"] = json!(c.version_id);
    v["object"] = json!("config");
    v
}

/// One version, in the retrieve object's shape.
pub fn version(c: &Config, ver: &ConfigVersion) -> Value {
    let mut v = detail(c);
    v["config"] = json!(ver.config.to_string());
    v["version_id"] = json!(ver.version_id);
    v["created_at"] = ts(Some(ver.created_at));
    v["is_current"] = json!(ver.version_id == c.version_id);
    v["object"] = json!("config-version");
    v
}
