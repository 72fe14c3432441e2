//! Audit-event details: what a change did, from each entity's public fields. Secrets
//! (`key_sealed`, `key_hash`) and values that may hold them (integration `configurations`,
//! provider `model_config`, config bodies) are never copied; a change to them is named only.

use portcullis_control::model::{
    ApiKey, Config, Integration, IntegrationGrant, Provider, Workspace,
};
use serde_json::{Map, Value, json};

pub(crate) type Fields = Map<String, Value>;

fn fields(v: Value) -> Fields {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The names (never the values) of a JSON object's members, sorted.
fn names(m: &Map<String, Value>) -> Vec<&str> {
    let mut n: Vec<&str> = m.keys().map(String::as_str).collect();
    n.sort_unstable();
    n
}

pub(crate) fn workspace(w: &Workspace) -> Fields {
    fields(json!({
        "slug": w.slug, "name": w.name, "description": w.description, "defaults": w.defaults,
        "usage_limits": w.usage_limits, "rate_limits": w.rate_limits, "is_default": w.is_default,
        "status": w.status.as_str(),
    }))
}

pub(crate) fn api_key(k: &ApiKey) -> Fields {
    fields(json!({
        "name": k.name, "description": k.description, "type": k.key_type.as_str(),
        "workspace_id": k.workspace_id, "user_id": k.user_id, "scopes": k.scopes,
        "defaults": k.defaults, "usage_limits": k.usage_limits, "rate_limits": k.rate_limits,
        "alert_emails": k.alert_emails, "expires_at": k.expires_at, "status": k.status.as_str(),
        "creation_mode": k.creation_mode,
    }))
}

pub(crate) fn integration(i: &Integration) -> Fields {
    fields(json!({
        "slug": i.slug, "name": i.name, "description": i.description,
        "ai_provider_id": i.ai_provider_id, "has_key": i.key_sealed.is_some(),
        "configuration_fields": names(&i.configurations), "workspace_id": i.workspace_id,
        "allow_all_models": i.allow_all_models, "models": i.models,
        "global_workspace_access": i.global_workspace_access, "status": i.status.as_str(),
    }))
}

pub(crate) fn provider(p: &Provider) -> Fields {
    fields(json!({
        "slug": p.slug, "name": p.name, "workspace_id": p.workspace_id,
        "integration_id": p.integration_id, "ai_provider_id": p.ai_provider_id,
        "has_key": p.key_sealed.is_some(), "model_config_fields": names(&p.model_config),
        "note": p.note, "usage_limits": p.usage_limits, "rate_limits": p.rate_limits,
        "expires_at": p.expires_at, "is_virtual_key": p.is_virtual_key,
        "status": p.status.as_str(),
    }))
}

pub(crate) fn config(c: &Config) -> Fields {
    fields(json!({
        "slug": c.slug, "name": c.name, "workspace_id": c.workspace_id,
        "is_default": c.is_default, "status": c.status.as_str(), "version_id": c.version_id,
    }))
}

pub(crate) fn grant(g: &IntegrationGrant) -> Value {
    json!({
        "workspace_id": g.workspace_id, "enabled": g.enabled,
        "usage_limits": g.usage_limits, "rate_limits": g.rate_limits,
    })
}

pub(crate) fn created(after: Fields) -> Value {
    json!({ "after": after })
}

pub(crate) fn deleted(before: Fields) -> Value {
    json!({ "before": before })
}

/// The fields that changed, with their old and new values; `hidden` names secret-bearing fields
/// (and whether they changed) whose values are never recorded.
pub(crate) fn updated(before: &Fields, after: &Fields, hidden: &[(&str, bool)]) -> Value {
    let mut changed = Vec::new();
    let (mut old, mut new) = (Map::new(), Map::new());
    for (k, v) in after {
        let was = before.get(k).cloned().unwrap_or(Value::Null);
        if &was != v {
            changed.push(Value::String(k.clone()));
            old.insert(k.clone(), was);
            new.insert(k.clone(), v.clone());
        }
    }
    for (name, differs) in hidden {
        if *differs && !changed.iter().any(|c| c == name) {
            changed.push(Value::String((*name).to_owned()));
        }
    }
    json!({ "changed": changed, "before": old, "after": new })
}
