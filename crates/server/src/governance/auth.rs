//! Step 1 of the pipeline: who is calling. A gateway key from `x-portkey-api-key`,
//! `Authorization: Bearer` or `x-api-key`, looked up by hash in the snapshot; or nobody, in
//! open mode, where those headers carry the caller's own provider key instead.

use std::sync::Arc;

use http::HeaderMap;
use portcullis_control::apikey::KeyHash;
use portcullis_control::principal::{AuthError, Authenticator, Principal, presented_key};
use portcullis_core::{ErrorCode, GatewayError};

use super::snapshot::{Snapshot, SnapshotHolder};

/// The authenticated caller of a data-plane request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No gateway keys in use: the client brings its provider key.
    Open,
    Key {
        principal: Arc<Principal>,
        /// The key came in `Authorization`/`x-api-key`, so that header is not a provider key.
        from_provider_header: bool,
    },
}

impl Caller {
    pub fn principal(&self) -> Option<&Arc<Principal>> {
        match self {
            Caller::Open => None,
            Caller::Key { principal, .. } => Some(principal),
        }
    }

    pub fn workspace_id(&self) -> Option<&str> {
        self.principal().and_then(|p| p.workspace_id.as_deref())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn invalid() -> GatewayError {
    GatewayError::new(ErrorCode::InvalidApiKey, "Invalid API Key")
}

fn check_expiry(p: &Arc<Principal>, now_ms: i64) -> Result<(), GatewayError> {
    match p.expires_at {
        Some(at) if at <= now_ms => Err(GatewayError::new(
            ErrorCode::ApiKeyExpired,
            "Portkey API Key Expired",
        )),
        _ => Ok(()),
    }
}

/// Authenticates a data-plane request. `open_allowed`: the gateway may serve open mode at all
/// (loopback, or asked for); it is used only while the snapshot has no workspace keys.
pub fn authenticate(
    snap: &Snapshot,
    headers: &HeaderMap,
    open_allowed: bool,
    now_ms: i64,
) -> Result<Caller, GatewayError> {
    let open = open_allowed && snap.open();
    if let Some(k) = header(headers, "x-portkey-api-key") {
        let p = snap.principal(&KeyHash::of(k)).ok_or_else(invalid)?;
        check_expiry(p, now_ms)?;
        return Ok(Caller::Key {
            principal: p.clone(),
            from_provider_header: false,
        });
    }
    let bearer =
        header(headers, "authorization").map(|a| a.strip_prefix("Bearer ").unwrap_or(a).trim());
    let candidate = bearer.or_else(|| header(headers, "x-api-key"));
    if let Some(k) = candidate
        && let Some(p) = snap.principal(&KeyHash::of(k))
    {
        check_expiry(p, now_ms)?;
        return Ok(Caller::Key {
            principal: p.clone(),
            from_provider_header: true,
        });
    }
    if open {
        return Ok(Caller::Open);
    }
    Err(match candidate {
        Some(_) => invalid(),
        None => GatewayError::new(
            ErrorCode::InvalidApiKey,
            "Invalid API Key: send a gateway key in x-portkey-api-key or Authorization: Bearer",
        ),
    })
}

/// Refuses a caller without `scope` (Portkey's 403 `Forbidden!`). Open mode holds every scope.
pub fn require_scope(caller: &Caller, scope: &str) -> Result<(), GatewayError> {
    match caller.principal() {
        Some(p) if !p.has_scope(scope) => {
            Err(GatewayError::new(ErrorCode::Forbidden, "Forbidden!"))
        }
        _ => Ok(()),
    }
}

/// The admin API's view: any valid, unexpired key (scopes are checked per route there).
pub struct SnapshotAuthenticator {
    pub snapshots: Arc<SnapshotHolder>,
}

impl Authenticator for SnapshotAuthenticator {
    fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, AuthError> {
        let key = presented_key(headers).ok_or(AuthError::Missing)?;
        let snap = self.snapshots.load();
        let p = snap
            .principal(&KeyHash::of(key))
            .ok_or(AuthError::Invalid)?;
        if p.expires_at
            .is_some_and(|at| at <= crate::pipeline::unix_millis())
        {
            return Err(AuthError::Expired);
        }
        Ok(p.clone())
    }
}
