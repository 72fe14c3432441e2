//! Portkey's group paths (`/v1/analytics/groups/users`, `/ai-models`, `/metadata/{key}`) in
//! Portkey's shape: per group the fields Portkey names, in its units (cost in US cents), then
//! the group's key and every Portcullis metric under `metrics`. Paged with Portkey's
//! `page_size` and `current_page`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use portcullis_logs::store::{DEFAULT_GROUPS, MAX_GROUPS};
use portcullis_logs::{FeedbackBy, GroupBy};
use serde_json::{Map, Value, json};

use super::analytics::{metrics, prepare, r6, range, ratio};
use super::{Reply, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::logq::{self, cents, log_error};
use crate::paging::Params;

/// Which of Portkey's group paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// `metadata._user`: `user`, `requests`, `cost`.
    Users,
    /// The served model: `ai_model`, `requests`.
    Models,
    /// One metadata key: `metadata_value`, `requests`, `cost`, `avg_tokens`, feedback.
    Metadata(String),
}

/// `GET /v1/analytics/groups/users`.
pub async fn users(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    serve(ctx, caller, params, Shape::Users).await
}

/// `GET /v1/analytics/groups/ai-models`.
pub async fn models(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    serve(ctx, caller, params, Shape::Models).await
}

pub async fn serve(ctx: Shared, caller: Caller, params: Params, shape: Shape) -> Reply {
    let filter = prepare(&ctx, &caller, &params).await?;
    let size = logq::count(&params, &["page_size", "limit"], DEFAULT_GROUPS, MAX_GROUPS)?;
    let page = match params.get(&["current_page"]) {
        None => 0,
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            ApiError::field(
                "current_page",
                format!("current_page must be a whole number ≥ 0 (got {v:?})"),
            )
        })?,
    };
    let skip = u64::from(page) * u64::from(size);
    let want =
        u32::try_from((skip + u64::from(size)).min(u64::from(MAX_GROUPS))).unwrap_or(MAX_GROUPS);
    let (by, dimension) = match &shape {
        Shape::Users => (
            GroupBy::Metadata("_user".into()),
            "metadata._user".to_owned(),
        ),
        Shape::Models => (GroupBy::Model, "model".to_owned()),
        Shape::Metadata(k) => (GroupBy::Metadata(k.clone()), format!("metadata.{k}")),
    };
    let store = logq::store(&ctx)?;
    let groups = store
        .group_by(&filter, &by, want)
        .await
        .map_err(|e| log_error(e, None))?;
    // Feedback per metadata value: through each feedback's trace (no scan of the logs).
    let feedback: HashMap<String, (u64, f64, u64)> = match &shape {
        Shape::Metadata(k) => store
            .feedback_stats(&filter, &FeedbackBy::Metadata(k.clone()))
            .await
            .map_err(|e| log_error(e, None))?
            .into_iter()
            .map(|g| (g.key.to_string(), (g.count, g.weighted_sum, g.traces)))
            .collect(),
        _ => HashMap::new(),
    };
    let data: Vec<Value> = groups
        .iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .map(|g| {
            let a = &g.values;
            let mut m = Map::new();
            match &shape {
                Shape::Users => {
                    m.insert("user".into(), g.key.clone());
                    m.insert("requests".into(), json!(a.requests));
                    m.insert("cost".into(), json!(cents(a.cost_nanos)));
                }
                Shape::Models => {
                    m.insert("ai_model".into(), g.key.clone());
                    m.insert("requests".into(), json!(a.requests));
                }
                Shape::Metadata(_) => {
                    let fb = feedback.get(&g.key.to_string());
                    m.insert("metadata_value".into(), g.key.clone());
                    m.insert("requests".into(), json!(a.requests));
                    m.insert("cost".into(), json!(cents(a.cost_nanos)));
                    m.insert(
                        "avg_tokens".into(),
                        json!(r6(ratio(a.total_tokens as f64, a.requests as f64))),
                    );
                    m.insert(
                        "avg_weighted_feedback".into(),
                        fb.map_or(Value::Null, |(n, w, _)| json!(r6(ratio(*w, *n as f64)))),
                    );
                    m.insert(
                        "requests_with_feedback".into(),
                        json!(fb.map_or(0, |(_, _, traces)| *traces)),
                    );
                }
            }
            m.insert("object".into(), json!("analytics-group"));
            m.insert("key".into(), g.key.clone());
            m.insert("metrics".into(), Value::Object(metrics(a)));
            Value::Object(m)
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "total": groups.len(),
        "dimension": dimension,
        "range": range(&filter),
        "data": data,
    })))
}
