//! Who is calling and what they may do: authentication (401 `AB05`) and scope checks (403 `AB03`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use portcullis_control::model::{Actor, KeyType};
use portcullis_control::principal::{AuthError, Principal};

use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::scopes::{self, Holder};

/// The authenticated key of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

impl FromRequestParts<Arc<AdminCtx>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AdminCtx>,
    ) -> Result<Self, Self::Rejection> {
        let p = ctx.auth.authenticate(&parts.headers).map_err(|e| match e {
            AuthError::Missing => ApiError::unauthorized(
                "Unauthorized access: send an API key in the x-portkey-api-key header",
            ),
            AuthError::Invalid => ApiError::unauthorized("Unauthorized access: invalid API key"),
            AuthError::Expired => ApiError::unauthorized("Unauthorized access: API key expired"),
        })?;
        if p.expires_at.is_some_and(|t| t <= crate::time::now()) {
            return Err(ApiError::unauthorized(
                "Unauthorized access: API key expired",
            ));
        }
        Ok(Caller(p))
    }
}

impl Caller {
    pub fn is_org(&self) -> bool {
        self.0.key_type.is_organisation()
    }

    pub fn key_type(&self) -> KeyType {
        self.0.key_type
    }

    /// The workspace a workspace key is pinned to; `None` for organisation keys.
    pub fn pinned_workspace(&self) -> Option<&str> {
        if self.is_org() {
            None
        } else {
            Some(self.0.workspace_id.as_deref().unwrap_or(""))
        }
    }

    /// Whether this key may see objects of workspace `id` (`None`: organisation-level objects).
    pub fn sees(&self, workspace_id: Option<&str>) -> bool {
        match (self.pinned_workspace(), workspace_id) {
            (None, _) => true,
            (Some(own), Some(ws)) => !own.is_empty() && own == ws,
            (Some(_), None) => false,
        }
    }

    pub fn has(&self, scope: &str) -> bool {
        self.0.has_scope(scope)
    }

    /// 403 unless the key holds `scope`.
    pub fn require(&self, scope: &str) -> ApiResult<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "User not allowed to access the resource: this API key lacks the scope {scope}"
            )))
        }
    }

    /// 403 unless the key holds at least one of `scopes`.
    pub fn require_any(&self, scopes: &[String]) -> ApiResult<()> {
        if scopes.iter().any(|s| self.has(s)) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "User not allowed to access the resource: this API key needs one of the scopes {}",
                scopes.join(", ")
            )))
        }
    }

    /// 403 unless this is an organisation (admin) key.
    pub fn require_org(&self, what: &str) -> ApiResult<()> {
        if self.is_org() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "User not allowed to access the resource: only organisation API keys can {what}"
            )))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: self.0.key_id.clone(),
            name: self.0.name.clone(),
        }
    }
}

/// Checks the scopes a caller wants to give a key of `target` type: every name must be Portkey's
/// (400), allowed for that key type (400), and held by the caller itself (403). An organisation
/// key may give the workspace-only data-plane scopes (`completions.write`, …) that it cannot hold.
pub fn check_grantable(caller: &Caller, target: KeyType, requested: &[String]) -> ApiResult<()> {
    for s in requested {
        let Some(holder) = scopes::holder(s) else {
            return Err(ApiError::field(
                "scopes",
                format!("scopes: unknown scope {s:?}"),
            ));
        };
        if !scopes::allowed_for(target, s) {
            return Err(ApiError::field(
                "scopes",
                format!("scopes: {s} cannot be given to a {} key", target.as_str()),
            ));
        }
        let data_plane_from_org = caller.is_org() && holder == Holder::Workspace;
        if !caller.has(s) && !data_plane_from_org {
            return Err(ApiError::forbidden(format!(
                "User not allowed to access the resource: cannot grant the scope {s}, which this API key does not hold"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use portcullis_control::model::Defaults;

    pub fn principal(key_type: KeyType, ws: Option<&str>, scopes: &[&str]) -> Caller {
        Caller(Arc::new(Principal {
            key_id: "k1".into(),
            name: "test".into(),
            key_type,
            workspace_id: ws.map(str::to_owned),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            defaults: Defaults::default(),
            usage_limits: None,
            rate_limits: vec![],
            expires_at: None,
        }))
    }

    #[test]
    fn workspace_keys_see_only_their_workspace() {
        let w = principal(KeyType::WorkspaceService, Some("w1"), &[]);
        assert!(w.sees(Some("w1")));
        assert!(!w.sees(Some("w2")));
        assert!(!w.sees(None));
        let o = principal(KeyType::OrganisationService, None, &[]);
        assert!(o.sees(Some("w2")) && o.sees(None));
        let broken = principal(KeyType::WorkspaceService, None, &[]);
        assert!(!broken.sees(Some("")) && !broken.sees(None));
    }

    #[test]
    fn scopes_cannot_be_escalated() {
        let w = principal(
            KeyType::WorkspaceService,
            Some("w1"),
            &["configs.read", "completions.write"],
        );
        let ok = |c: &Caller, t, s: &[&str]| {
            check_grantable(c, t, &s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(
            ok(
                &w,
                KeyType::WorkspaceUser,
                &["configs.read", "completions.write"]
            )
            .is_ok()
        );
        assert_eq!(
            ok(&w, KeyType::WorkspaceUser, &["configs.create"])
                .unwrap_err()
                .code,
            "AB03"
        );
        assert_eq!(
            ok(&w, KeyType::WorkspaceUser, &["configs.fly"])
                .unwrap_err()
                .code,
            "AB01"
        );
        let e = ok(
            &w,
            KeyType::WorkspaceUser,
            &["workspace_user_api_keys.create"],
        )
        .unwrap_err();
        assert_eq!(
            e.code, "AB01",
            "user keys cannot hold key-management scopes"
        );
        let o = principal(KeyType::OrganisationService, None, &["configs.read"]);
        assert!(ok(&o, KeyType::WorkspaceService, &["completions.write"]).is_ok());
        assert_eq!(
            ok(&o, KeyType::OrganisationService, &["completions.write"])
                .unwrap_err()
                .code,
            "AB01"
        );
        assert_eq!(
            ok(&o, KeyType::WorkspaceService, &["configs.create"])
                .unwrap_err()
                .code,
            "AB03"
        );
    }
}
