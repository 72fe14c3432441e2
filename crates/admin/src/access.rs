//! Workspace isolation: which workspace a call acts on, and 404 (never a leak) for objects of
//! workspaces the caller's key cannot see.

use portcullis_control::model::Workspace;

use crate::auth::Caller;
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};

/// A path identifier; the SDK's `NOT_GIVEN` placeholder (or nothing) is "not found".
pub fn ident<'a>(what: &str, s: &'a str) -> ApiResult<&'a str> {
    let s = s.trim();
    if s.is_empty() || s == "NOT_GIVEN" || s == "None" {
        Err(ApiError::not_found(what, s))
    } else {
        Ok(s)
    }
}

/// The workspace `id_or_slug` if it exists and the caller may see it, else 404.
pub async fn visible_workspace(
    ctx: &AdminCtx,
    caller: &Caller,
    id_or_slug: &str,
) -> ApiResult<Workspace> {
    let key = ident("workspace", id_or_slug)?;
    match ctx.repo.get_workspace(key).await? {
        Some(w) if caller.sees(Some(&w.id)) => Ok(w),
        _ => Err(ApiError::not_found("workspace", key)),
    }
}

/// The workspace a new object goes into: a workspace key's own (a different `given` is 404), or
/// the one an organisation key names (400 when `required` and not named).
pub async fn target_workspace(
    ctx: &AdminCtx,
    caller: &Caller,
    given: Option<&str>,
    required: bool,
) -> ApiResult<Option<Workspace>> {
    let given = given
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "None");
    match (caller.pinned_workspace(), given) {
        (Some(own), None) => visible_workspace(ctx, caller, own).await.map(Some),
        (_, Some(g)) => visible_workspace(ctx, caller, g).await.map(Some),
        (None, None) if required => Err(ApiError::field(
            "workspace_id",
            "workspace_id is required with an organisation API key",
        )),
        (None, None) => Ok(None),
    }
}

/// The workspace filter of a list: a workspace key's own, always; an organisation key's
/// `workspace_id` (id or slug, 404 when unknown) or none.
pub async fn list_filter(
    ctx: &AdminCtx,
    caller: &Caller,
    given: Option<&str>,
) -> ApiResult<Option<String>> {
    match (caller.pinned_workspace(), given) {
        (Some(own), _) => Ok(Some(own.to_owned())),
        (None, Some(g)) => Ok(Some(visible_workspace(ctx, caller, g).await?.id)),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_not_found() {
        assert_eq!(ident("config", "NOT_GIVEN").unwrap_err().code, "AB08");
        assert_eq!(ident("config", " ").unwrap_err().status.as_u16(), 404);
        assert_eq!(ident("config", "pc-x").unwrap(), "pc-x");
    }
}
