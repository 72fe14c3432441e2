//! Who is calling: the principal an API key resolves to, and how the admin API asks for one.

use std::collections::HashSet;
use std::sync::Arc;

use http::HeaderMap;
use portcullis_core::limits::{RateLimit, UsageLimit};

use crate::model::{Defaults, KeyType, Millis};

/// An authenticated gateway key, as the data plane and the admin API see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub key_id: String,
    pub name: String,
    pub key_type: KeyType,
    /// The key's workspace (id); `None` for organisation keys.
    pub workspace_id: Option<String>,
    pub scopes: HashSet<String>,
    pub defaults: Defaults,
    pub usage_limits: Option<UsageLimit>,
    pub rate_limits: Vec<RateLimit>,
    pub expires_at: Option<Millis>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether this key may act on `workspace_id` (organisation keys act on every workspace).
    pub fn can_access_workspace(&self, workspace_id: &str) -> bool {
        match &self.workspace_id {
            None => self.key_type.is_organisation(),
            Some(own) => own == workspace_id,
        }
    }
}

/// Why a request could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no API key was sent: use the x-portkey-api-key header (or Authorization: Bearer)")]
    Missing,
    #[error("Invalid API Key")]
    Invalid,
    #[error("API key expired")]
    Expired,
}

/// Resolves the key a request carries. The gateway implements it from its in-memory snapshot.
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, AuthError>;
}

/// The gateway key in a request: `x-portkey-api-key`, else `Authorization: Bearer`, else `x-api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    text("x-portkey-api-key")
        .or_else(|| text("authorization").map(|a| a.strip_prefix("Bearer ").unwrap_or(a).trim()))
        .or_else(|| text("x-api-key"))
}
