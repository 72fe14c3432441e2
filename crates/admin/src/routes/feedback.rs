//! `/v1/feedback`: Portkey's feedback on traces (`value` -10..=10, `weight` 0..=1, metadata),
//! with the bodies and answers the `portkey-ai` SDKs' `feedback.create`, `bulk_create` and
//! `update` use. Feedback belongs to the workspace of the key that sent it.
//!
//! Writing takes `feedbacks.write`, or a data-plane key's `logs.write` / `completions.write`
//! (the key an application already sends its completions and feedback with); reading takes
//! `feedbacks.read` or `logs.view`.

use axum::Json;
use axum::extract::State;
use portcullis_logs::{Feedback, FeedbackUpdate};
use serde_json::{Map, Value, json};

use super::{P, Reply, Shared};
use crate::access::{ident, visible_workspace};
use crate::auth::Caller;
use crate::body::{RawBody, drop_empty_strings};
use crate::error::{ApiError, ApiResult};
use crate::logq::{self, log_error};
use crate::paging::{Params, list_envelope};
use crate::wire::ts;

/// The most feedback one `POST` may carry (the SDK's `bulk_create` sends a list).
pub const MAX_BULK: usize = 1000;
/// The longest trace id accepted.
const MAX_TRACE_ID: usize = 512;

fn write_scopes() -> Vec<String> {
    ["feedbacks.write", "logs.write", "completions.write"]
        .map(str::to_owned)
        .to_vec()
}

fn read_scopes() -> Vec<String> {
    ["feedbacks.read", "logs.view"].map(str::to_owned).to_vec()
}

pub fn item(f: &Feedback) -> Value {
    json!({
        "id": f.id,
        "object": "feedback",
        "trace_id": f.trace_id,
        "value": f.value,
        "weight": f.weight,
        "metadata": f.metadata,
        "workspace_id": f.workspace_id,
        "created_at": ts(Some(f.created_at)),
        "updated_at": ts(Some(f.updated_at)),
    })
}

/// `value`: an integer from -10 to 10 (a whole JSON number, or its text as some SDK examples
/// send it).
fn parse_value(field: &str, v: &Value) -> ApiResult<i64> {
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (-10..=10).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            field,
            format!("{field} must be an integer from -10 to 10 (got {v})"),
        )),
    }
}

/// `weight`: a number from 0 to 1.
fn parse_weight(field: &str, v: &Value) -> ApiResult<f64> {
    let w = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match w {
        Some(w) if w.is_finite() && (0.0..=1.0).contains(&w) => Ok(w),
        _ => Err(ApiError::field(
            field,
            format!("{field} must be a number from 0 to 1 (got {v})"),
        )),
    }
}

/// `metadata`: an object, or the JSON text of one (Portkey's older examples send a string).
fn parse_metadata(field: &str, v: &Value) -> ApiResult<Map<String, Value>> {
    let bad = || ApiError::field(field, format!("{field} must be a JSON object"));
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// A present, non-null field.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// The request body as JSON (objects and lists; `""` values dropped like the SDK does).
fn body_json(raw: &RawBody) -> ApiResult<Value> {
    if raw.0.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(&raw.0)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    Ok(drop_empty_strings(v))
}

/// One feedback of a create request; `at` prefixes field names (`[2].` in a list).
fn parse_new(at: &str, v: &Value, workspace_id: Option<&str>, now: i64) -> ApiResult<Feedback> {
    let Value::Object(obj) = v else {
        let name = at.trim_end_matches('.');
        return Err(ApiError::field(
            name,
            format!("{name} must be a feedback object"),
        ));
    };
    let name = |f: &str| format!("{at}{f}");
    let trace_id = match field(obj, "trace_id").or_else(|| field(obj, "traceID")) {
        Some(Value::String(t)) if !t.trim().is_empty() && t.trim().len() <= MAX_TRACE_ID => {
            t.trim().to_owned()
        }
        Some(_) => {
            let n = name("trace_id");
            return Err(ApiError::field(
                &n,
                format!("{n} must be a non-empty string of at most {MAX_TRACE_ID} characters"),
            ));
        }
        None => {
            let n = name("trace_id");
            return Err(ApiError::field(&n, format!("{n} is required")));
        }
    };
    let value = match field(obj, "value") {
        Some(v) => parse_value(&name("value"), v)?,
        None => {
            let n = name("value");
            return Err(ApiError::field(&n, format!("{n} is required")));
        }
    };
    let weight = match field(obj, "weight") {
        Some(w) => parse_weight(&name("weight"), w)?,
        None => 1.0,
    };
    let metadata = match field(obj, "metadata") {
        Some(m) => parse_metadata(&name("metadata"), m)?,
        None => Map::new(),
    };
    Ok(Feedback {
        id: uuid::Uuid::new_v4().to_string(),
        trace_id,
        value,
        weight,
        metadata,
        workspace_id: workspace_id.map(str::to_owned),
        created_at: now,
        updated_at: now,
    })
}

/// The workspace new feedback belongs to: a workspace key's own; for an organisation key, the
/// `workspace_id` it names (404 when unknown) or none.
async fn feedback_workspace(
    ctx: &Shared,
    caller: &Caller,
    params: &Params,
    body: &Value,
) -> ApiResult<Option<String>> {
    if let Some(own) = caller.pinned_workspace() {
        return Ok(Some(own.to_owned()));
    }
    let given = params
        .get(&["workspace_id"])
        .map(str::to_owned)
        .or_else(|| {
            body.get("workspace_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    match given {
        Some(g) => Ok(Some(visible_workspace(ctx, caller, &g).await?.id)),
        None => Ok(None),
    }
}

pub async fn create(
    State(ctx): State<Shared>,
    caller: Caller,
    params: Params,
    raw: RawBody,
) -> Reply {
    caller.require_any(&write_scopes())?;
    let store = logq::store(&ctx)?;
    let body = body_json(&raw)?;
    let workspace = feedback_workspace(&ctx, &caller, &params, &body).await?;
    let now = crate::time::now();
    let all = match &body {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::invalid("the feedback list is empty"));
            }
            if items.len() > MAX_BULK {
                return Err(ApiError::invalid(format!(
                    "at most {MAX_BULK} feedback items per request"
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| parse_new(&format!("[{i}]."), v, workspace.as_deref(), now))
                .collect::<ApiResult<Vec<_>>>()?
        }
        v => vec![parse_new("", v, workspace.as_deref(), now)?],
    };
    // Every item is checked before any is stored: a bad item stores none.
    let mut ids = Vec::with_capacity(all.len());
    for fb in &all {
        store
            .add_feedback(fb)
            .await
            .map_err(|e| log_error(e, None))?;
        ids.push(fb.id.clone());
    }
    Ok(Json(json!({
        "status": "success",
        "message": "Feedback successfully saved",
        "feedback_ids": ids,
    })))
}

/// Feedback `id` if the caller may see it, else 404.
async fn visible(ctx: &Shared, caller: &Caller, id: &str) -> ApiResult<Feedback> {
    let store = logq::store(ctx)?;
    let id = ident("feedback", id)?;
    match store
        .get_feedback(id)
        .await
        .map_err(|e| log_error(e, None))?
    {
        Some(f) if caller.sees(f.workspace_id.as_deref()) => Ok(f),
        _ => Err(ApiError::not_found("feedback", id)),
    }
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    raw: RawBody,
) -> Reply {
    caller.require_any(&write_scopes())?;
    let found = visible(&ctx, &caller, &id).await?;
    let body = body_json(&raw)?;
    let Value::Object(obj) = &body else {
        return Err(ApiError::invalid("request body must be a JSON object"));
    };
    let change = FeedbackUpdate {
        value: field(obj, "value")
            .map(|v| parse_value("value", v))
            .transpose()?,
        weight: field(obj, "weight")
            .map(|w| parse_weight("weight", w))
            .transpose()?,
        metadata: field(obj, "metadata")
            .map(|m| parse_metadata("metadata", m))
            .transpose()?,
    };
    if change.value.is_none() && change.weight.is_none() && change.metadata.is_none() {
        return Err(ApiError::invalid(
            "nothing to update: send value, weight or metadata",
        ));
    }
    let store = logq::store(&ctx)?;
    let updated = store
        .update_feedback(&found.id, &change)
        .await
        .map_err(|e| log_error(e, None))?
        .ok_or_else(|| ApiError::not_found("feedback", &found.id))?;
    Ok(Json(json!({
        "status": "success",
        "message": "Feedback updated successfully",
        "feedback_ids": [updated.id],
        "data": item(&updated),
    })))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require_any(&read_scopes())?;
    let f = visible(&ctx, &caller, &id).await?;
    Ok(Json(item(&f)))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require_any(&read_scopes())?;
    let store = logq::store(&ctx)?;
    let trace_id = params
        .get(&["trace_id"])
        .map(str::trim)
        .ok_or_else(|| ApiError::field("trace_id", "trace_id is required"))?;
    let all = store
        .feedback_for_trace(trace_id)
        .await
        .map_err(|e| log_error(e, None))?;
    let rows: Vec<Value> = all
        .iter()
        .filter(|f| caller.sees(f.workspace_id.as_deref()))
        .map(item)
        .collect();
    Ok(Json(list_envelope(rows.len() as u64, rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_weights_are_range_checked() {
        assert_eq!(parse_value("value", &json!(5)).unwrap(), 5);
        assert_eq!(parse_value("value", &json!("-3")).unwrap(), -3);
        assert_eq!(parse_value("value", &json!(7.0)).unwrap(), 7);
        for bad in [json!(11), json!(-11), json!(1.5), json!("x"), json!(true)] {
            let e = parse_value("value", &bad).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("value"), "{bad}");
        }
        assert_eq!(parse_weight("weight", &json!(0.5)).unwrap(), 0.5);
        assert_eq!(parse_weight("weight", &json!("1")).unwrap(), 1.0);
        for bad in [json!(1.01), json!(-0.1), json!("NaN"), json!([])] {
            assert!(parse_weight("weight", &bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_metadata("metadata", &json!("{\"_user\":\"u1\"}")).unwrap()["_user"],
            "u1"
        );
        assert!(parse_metadata("metadata", &json!("nope")).is_err());
    }
}
