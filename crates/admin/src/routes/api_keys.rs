//! `/v1/api-keys`: gateway keys, shown once at creation (and rotation), masked afterwards.

use axum::Json;
use axum::extract::State;
use portcullis_control::apikey;
use portcullis_control::model::{ApiKey, AuditEvent, Defaults, KeyType, Status};
use portcullis_control::repo::ListQuery;
use serde_json::json;

use super::{P, Reply, Shared, empty};
use crate::access::{ident, list_filter, target_workspace};
use crate::auth::{Caller, check_grantable};
use crate::body::{Patch, RawBody, required};
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::paging::{Params, list_envelope};
use crate::scopes::{API_KEY_FAMILIES, api_key_family};
use crate::slug::is_uuid;
use crate::time::{iso, now};
use crate::wire::api_keys::{CreateApiKey, UpdateApiKey, item};
use crate::wire::limits::{rates, usage_one};
use crate::wire::{nonempty, parse_expiry};

fn scope(t: KeyType, action: &str) -> String {
    format!("{}.{action}", api_key_family(t))
}

/// 403 unless the caller holds `action` for at least one key family.
fn require_some_family(caller: &Caller, action: &str) -> ApiResult<()> {
    let all: Vec<String> = API_KEY_FAMILIES.iter().map(|t| scope(*t, action)).collect();
    caller.require_any(&all)
}

/// The key `id` if the caller may see it (else 404) and holds `action` for its type (else 403).
async fn load(ctx: &AdminCtx, caller: &Caller, id: &str, action: &str) -> ApiResult<ApiKey> {
    require_some_family(caller, action)?;
    let id = ident("api key", id)?;
    if !is_uuid(id) {
        return Err(ApiError::not_found("api key", id));
    }
    let k = match ctx.repo.get_api_key(id).await? {
        Some(k) if caller.sees(k.workspace_id.as_deref()) => k,
        _ => return Err(ApiError::not_found("api key", id)),
    };
    caller.require(&scope(k.key_type, action))?;
    Ok(k)
}

fn dedup(scopes: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes.into_iter().map(|s| s.trim().to_owned()) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn check_emails(emails: &[String]) -> ApiResult<()> {
    match emails
        .iter()
        .find(|e| !e.contains('@') || e.contains(char::is_whitespace))
    {
        Some(bad) => Err(ApiError::field(
            "alert_emails",
            format!("alert_emails: {bad:?} is not an email address"),
        )),
        None => Ok(()),
    }
}

/// `defaults.config_id` must name a config of the key's workspace (or an organisation config).
async fn check_config_ref(ctx: &AdminCtx, d: &Defaults, workspace: Option<&str>) -> ApiResult<()> {
    let Some(id) = d.config_id.as_deref() else {
        return Ok(());
    };
    match ctx.repo.get_config(id).await? {
        Some(c)
            if c.workspace_id.is_none()
                || workspace.is_none()
                || c.workspace_id.as_deref() == workspace =>
        {
            Ok(())
        }
        _ => Err(ApiError::field(
            "defaults.config_id",
            format!("defaults.config_id: config {id} not found"),
        )),
    }
}

pub async fn create(
    State(ctx): State<Shared>,
    caller: Caller,
    P((kind, sub_type)): P<(String, String)>,
    body: RawBody,
) -> Reply {
    let key_type = KeyType::from_path(&kind, &sub_type).ok_or_else(|| {
        ApiError::field(
            "type",
            format!("unknown API key type {kind}/{sub_type}: use organisation/service, workspace/service or workspace/user"),
        )
    })?;
    if key_type.is_organisation() {
        caller.require_org("create organisation API keys")?;
    }
    caller.require(&scope(key_type, "create"))?;
    let req: CreateApiKey = body.parse()?;
    let name = required("name", &req.name)?.to_owned();
    let workspace = if key_type.is_organisation() {
        None
    } else {
        target_workspace(&ctx, &caller, req.workspace_id.as_deref(), true).await?
    };
    let workspace_id = workspace.map(|w| w.id);
    let user_id = match key_type {
        KeyType::WorkspaceUser => {
            let u = required("user_id", &req.user_id)?;
            if !is_uuid(u) {
                return Err(ApiError::field("user_id", "user_id must be a UUID"));
            }
            Some(u.to_owned())
        }
        _ => None,
    };
    let scopes = dedup(req.scopes.unwrap_or_default());
    check_grantable(&caller, key_type, &scopes)?;
    let rate_limits = match req.rate_limits {
        Some(v) => rates("rate_limits", v)?,
        None => vec![],
    };
    let usage_limits = req
        .usage_limits
        .map(|v| usage_one("usage_limits", v))
        .transpose()?;
    let mut defaults = req.defaults.unwrap_or_default().into_defaults("defaults")?;
    if req.allow_config_override.is_some() {
        defaults.allow_config_override = req.allow_config_override;
    }
    check_config_ref(&ctx, &defaults, workspace_id.as_deref()).await?;
    let alert_emails = req.alert_emails.unwrap_or_default();
    check_emails(&alert_emails)?;
    let expires_at = req
        .expires_at
        .as_deref()
        .map(|t| parse_expiry("expires_at", t))
        .transpose()?;
    let secret = apikey::generate();
    let at = now();
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        description: nonempty(req.description),
        key_type,
        workspace_id,
        user_id,
        scopes,
        defaults,
        usage_limits,
        rate_limits,
        alert_emails,
        expires_at,
        key_hash: secret.hash.to_hex(),
        key_visible: secret.visible,
        status: Status::Active,
        creation_mode: "api".into(),
        created_at: at,
        updated_at: at,
    };
    let stored = ctx.repo.create_api_key(key, &caller.actor()).await?;
    Ok(Json(
        json!({ "id": stored.id, "key": secret.secret, "object": "api-key" }),
    ))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    require_some_family(&caller, "list")?;
    let page = params.page(Some(50), 1000)?;
    let ws = list_filter(&ctx, &caller, params.get(&["workspace_id"])).await?;
    let q = ListQuery {
        workspace_id: ws.clone(),
        ..ListQuery::default()
    };
    let rows: Vec<ApiKey> = ctx
        .repo
        .list_api_keys(&q)
        .await?
        .items
        .into_iter()
        .filter(|k| caller.sees(k.workspace_id.as_deref()))
        .filter(|k| ws.is_none() || k.workspace_id == ws)
        .filter(|k| caller.has(&scope(k.key_type, "list")))
        .collect();
    let (total, rows) = page.slice(rows);
    let data = rows
        .iter()
        .map(|k| item(k, ctx.usage_of("api_key", &k.id)))
        .collect();
    Ok(Json(list_envelope(total, data)))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    let k = load(&ctx, &caller, &id, "read").await?;
    Ok(Json(item(&k, ctx.usage_of("api_key", &k.id))))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    body: RawBody,
) -> Reply {
    let mut k = load(&ctx, &caller, &id, "update").await?;
    let req: UpdateApiKey = body.parse()?;
    if let Some(name) = req.name {
        k.name = required("name", &Some(name))?.to_owned();
    }
    k.description = nonempty(req.description.apply(k.description.take()));
    if let Some(scopes) = req.scopes {
        let scopes = dedup(scopes);
        check_grantable(&caller, k.key_type, &scopes)?;
        k.scopes = scopes;
    }
    match req.rate_limits {
        Patch::Absent => {}
        Patch::Null => k.rate_limits.clear(),
        Patch::Value(v) => k.rate_limits = rates("rate_limits", v)?,
    }
    match req.usage_limits {
        Patch::Absent => {}
        Patch::Null => k.usage_limits = None,
        Patch::Value(v) => k.usage_limits = Some(usage_one("usage_limits", v)?),
    }
    match req.defaults {
        Patch::Absent => {}
        Patch::Null => k.defaults = Defaults::default(),
        Patch::Value(d) => k.defaults = d.into_defaults("defaults")?,
    }
    if req.allow_config_override.is_some() {
        k.defaults.allow_config_override = req.allow_config_override;
    }
    check_config_ref(&ctx, &k.defaults, k.workspace_id.as_deref()).await?;
    match req.alert_emails {
        Patch::Absent => {}
        Patch::Null => k.alert_emails.clear(),
        Patch::Value(e) => {
            check_emails(&e)?;
            k.alert_emails = e;
        }
    }
    match req.expires_at {
        Patch::Absent => {}
        Patch::Null => k.expires_at = None,
        Patch::Value(t) => k.expires_at = Some(parse_expiry("expires_at", &t)?),
    }
    k.updated_at = now();
    let (id, ws) = (k.id.clone(), k.workspace_id.clone());
    let actor = caller.actor();
    ctx.repo.update_api_key(k, &actor).await?;
    if req.reset_usage == Some(true) {
        ctx.reset_usage("api_key", &id, ws.as_deref(), &actor)
            .await?;
    }
    empty()
}

pub async fn remove(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    let k = load(&ctx, &caller, &id, "delete").await?;
    ctx.repo.delete_api_key(&k.id, &caller.actor()).await?;
    empty()
}

/// A new secret at once; the store keeps one hash per key, so the old secret stops working now
/// (`key_transition_expires_at` is the moment of rotation).
pub async fn rotate(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    let mut k = load(&ctx, &caller, &id, "rotate").await?;
    let secret = apikey::generate();
    let at = now();
    k.key_hash = secret.hash.to_hex();
    k.key_visible = secret.visible;
    k.updated_at = at;
    let (key_id, workspace_id, name) = (k.id.clone(), k.workspace_id.clone(), k.name.clone());
    ctx.repo.update_api_key(k, &caller.actor()).await?;
    let actor = caller.actor();
    let event = AuditEvent {
        id: uuid::Uuid::new_v4().to_string(),
        at,
        actor_id: actor.id,
        actor_name: actor.name,
        action: "rotate".into(),
        resource_type: "api_key".into(),
        resource_id: key_id.clone(),
        workspace_id,
        details: json!({ "name": name }),
    };
    if let Err(e) = ctx.repo.record_audit(event).await {
        tracing::warn!(error = %e, "could not record the rotation in the audit log");
    }
    Ok(Json(json!({
        "id": key_id,
        "key": secret.secret,
        "key_transition_expires_at": iso(at),
        "object": "api-key",
    })))
}
