//! `/v1/audit-logs`: the admin change log, for organisation keys with `audit_logs.list`.

use axum::Json;
use axum::extract::State;
use portcullis_control::model::AuditEvent;
use portcullis_control::repo::AuditQuery;
use serde_json::{Value, json};

use super::{Reply, Shared};
use crate::access::visible_workspace;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::mask::is_sensitive;
use crate::paging::{Params, list_envelope};
use crate::wire::{parse_ts, ts};

/// Replaces every value whose field name looks secret (`key`, `key_hash`, `*secret*`, …).
pub fn scrub(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if is_sensitive(k) && !v.is_null() {
                        json!("[redacted]")
                    } else {
                        scrub(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        other => other.clone(),
    }
}

fn item(e: &AuditEvent) -> Value {
    json!({
        "id": e.id,
        "created_at": ts(Some(e.at)),
        "timestamp": ts(Some(e.at)),
        "actor": { "id": e.actor_id, "name": e.actor_name },
        "action": e.action,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "workspace_id": e.workspace_id,
        "details": scrub(&e.details),
        "object": "audit-log",
    })
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require_org("read the audit log")?;
    caller.require("audit_logs.list")?;
    let page = params.page(Some(50), 100)?;
    let workspace_id = match params.get(&["workspace_id"]) {
        Some(w) => Some(visible_workspace(&ctx, &caller, w).await?.id),
        None => None,
    };
    let since = match params.get(&["start_time", "since"]) {
        Some(t) => Some(match t.parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => parse_ts("start_time", t)?,
        }),
        None => None,
    };
    let action = params.get(&["action"]);
    let q = AuditQuery {
        page_size: if action.is_some() { None } else { page.size },
        current_page: if action.is_some() { 0 } else { page.current },
        resource_type: params.get(&["resource_type"]).map(str::to_owned),
        resource_id: params.get(&["resource_id"]).map(str::to_owned),
        workspace_id,
        since,
    };
    let got = ctx.repo.list_audit(&q).await.map_err(ApiError::from)?;
    let (total, rows) = match action {
        // The store has no action filter: filter every matching row, then page.
        Some(a) => page.slice(got.items.into_iter().filter(|e| e.action == a).collect()),
        None => (got.total, got.items),
    };
    Ok(Json(list_envelope(total, rows.iter().map(item).collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_secret_fields_at_any_depth() {
        let v = json!({"name": "k", "key_hash": "abc", "nested": [{"api_key": "sk-1", "note": "x"}], "key": null});
        assert_eq!(
            scrub(&v),
            json!({"name": "k", "key_hash": "[redacted]", "nested": [{"api_key": "[redacted]", "note": "x"}], "key": null})
        );
    }
}
