//! Workspace members, organisation users and invites. Portcullis has no user accounts (keys
//! only), so lists are empty, every user or invite is 404, and invitations are refused (400).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use super::{P, Reply, Shared, empty};
use crate::access::visible_workspace;
use crate::auth::Caller;
use crate::body::RawBody;
use crate::error::ApiError;
use crate::paging::{Params, list_envelope};

const NO_USERS: &str = "Portcullis has no user accounts; use API keys";

fn no_user(id: &str) -> ApiError {
    let mut e = ApiError::not_found("user", id);
    e.message = format!("{} ({NO_USERS})", e.message);
    e
}

fn empty_list(params: &Params) -> Reply {
    params.page(None, 1000)?;
    Ok(Json(list_envelope(0, Vec::<Value>::new())))
}

#[derive(Deserialize)]
struct AddMembers {
    #[serde(default)]
    users: Option<Vec<Value>>,
}

pub async fn add(
    State(ctx): State<Shared>,
    caller: Caller,
    P(ws): P<String>,
    body: RawBody,
) -> Reply {
    caller.require("workspace_users.create")?;
    visible_workspace(&ctx, &caller, &ws).await?;
    let req: AddMembers = body.parse()?;
    match req.users.unwrap_or_default().first() {
        None => empty(),
        Some(u) => {
            let id = u
                .get("id")
                .or_else(|| u.get("user_id"))
                .and_then(Value::as_str)
                .or(u.as_str())
                .unwrap_or("");
            Err(no_user(id))
        }
    }
}

pub async fn list(
    State(ctx): State<Shared>,
    caller: Caller,
    P(ws): P<String>,
    params: Params,
) -> Reply {
    caller.require("workspace_users.list")?;
    visible_workspace(&ctx, &caller, &ws).await?;
    empty_list(&params)
}

async fn member(ctx: &Shared, caller: &Caller, scope: &str, ws: &str, user: &str) -> Reply {
    caller.require(scope)?;
    visible_workspace(ctx, caller, ws).await?;
    Err(no_user(user))
}

pub async fn retrieve(
    State(ctx): State<Shared>,
    caller: Caller,
    P((ws, user)): P<(String, String)>,
) -> Reply {
    member(&ctx, &caller, "workspace_users.read", &ws, &user).await
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P((ws, user)): P<(String, String)>,
) -> Reply {
    member(&ctx, &caller, "workspace_users.update", &ws, &user).await
}

pub async fn remove(
    State(ctx): State<Shared>,
    caller: Caller,
    P((ws, user)): P<(String, String)>,
) -> Reply {
    member(&ctx, &caller, "workspace_users.delete", &ws, &user).await
}

pub async fn list_users(caller: Caller, params: Params) -> Reply {
    caller.require("organisation_users.list")?;
    empty_list(&params)
}

pub async fn retrieve_user(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.read")?;
    Err(no_user(&id))
}

pub async fn update_user(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.update")?;
    Err(no_user(&id))
}

pub async fn remove_user(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.delete")?;
    Err(no_user(&id))
}

pub async fn invite(caller: Caller) -> Reply {
    caller.require("organisation_users.create")?;
    Err(ApiError::invalid(format!(
        "user invitations are not supported: {NO_USERS}"
    )))
}

pub async fn list_invites(caller: Caller, params: Params) -> Reply {
    caller.require("organisation_users.list")?;
    empty_list(&params)
}

fn no_invite(id: &str) -> ApiError {
    let mut e = ApiError::not_found("invite", id);
    e.message = format!("{} ({NO_USERS})", e.message);
    e
}

pub async fn retrieve_invite(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.read")?;
    Err(no_invite(&id))
}

pub async fn remove_invite(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.delete")?;
    Err(no_invite(&id))
}

pub async fn resend_invite(caller: Caller, P(id): P<String>) -> Reply {
    caller.require("organisation_users.create")?;
    Err(no_invite(&id))
}
