//! The JSON shapes of the admin API: request bodies (typed, unknown fields ignored) and the
//! response objects Portkey's SDKs parse.

pub mod api_keys;
pub mod configs;
pub mod integrations;
pub mod limits;
pub mod providers;
pub mod workspaces;

use portcullis_control::model::{Defaults, Millis};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// A timestamp out, or `null`.
pub fn ts(ms: Option<Millis>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(crate::time::iso(m)))
}

/// An ISO-8601 timestamp in, naming the field when it cannot be read.
pub fn parse_ts(field: &str, text: &str) -> ApiResult<Millis> {
    crate::time::parse(text).ok_or_else(|| {
        ApiError::field(
            field,
            format!("{field} must be an ISO-8601 timestamp such as 2026-12-31T00:00:00.000Z (got {text:?})"),
        )
    })
}

/// An optional future expiry.
pub fn parse_expiry(field: &str, text: &str) -> ApiResult<Millis> {
    let at = parse_ts(field, text)?;
    if at <= crate::time::now() {
        return Err(ApiError::field(
            field,
            format!("{field} must be in the future"),
        ));
    }
    Ok(at)
}

/// `defaults` of an API key or workspace, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DefaultsIn {
    #[serde(default)]
    pub config_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub allow_config_override: Option<bool>,
    /// Per end user (`_user` metadata) limits.
    #[serde(default)]
    pub user_rate_limits: Option<Value>,
    #[serde(default)]
    pub user_usage_limits: Option<Value>,
}

impl DefaultsIn {
    /// The stored form; metadata values must be strings (Portkey's metadata is `{str: str}`).
    pub fn into_defaults(self, field: &str) -> ApiResult<Defaults> {
        if let Some(m) = &self.metadata
            && let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string())
        {
            let at = format!("{field}.metadata.{k}");
            return Err(ApiError::field(&at, format!("{at} must be a string")));
        }
        let user_rate_limits = self
            .user_rate_limits
            .map(|v| limits::rates(&format!("{field}.user_rate_limits"), v))
            .transpose()?;
        let user_usage_limits = self
            .user_usage_limits
            .map(|v| limits::usage_one(&format!("{field}.user_usage_limits"), v))
            .transpose()?;
        Ok(Defaults {
            config_id: nonempty(self.config_id),
            metadata: self.metadata,
            allow_config_override: self.allow_config_override,
            user_rate_limits,
            user_usage_limits,
        })
    }
}

/// The optional string fields clients send as `null` to clear.
pub fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
