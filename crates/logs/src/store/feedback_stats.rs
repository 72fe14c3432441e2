//! Feedback analytics: counts and weighted scores per time bucket, score, model or metadata
//! value. They read the feedback table (small beside the logs) in the time range; only
//! filters on the requests themselves, and the model or metadata groupings, look up the
//! logged requests of each feedback's trace through the trace index.

use std::collections::BTreeMap;

use serde_json::Value;

use super::db::{Backend, Db, Q};
use super::filter::{self, TraceOf};
use crate::derive::to_u64;
use crate::error::{LogError, ResultExt};
use crate::query::{FeedbackBy, FeedbackGroup, LogFilter};

#[derive(sqlx::FromRow)]
struct Row {
    g: Option<String>,
    n: i64,
    w: f64,
    traces: i64,
}

/// The latest logged request of the feedback's trace, as `(SELECT <expr> FROM … LIMIT 1)`.
fn of_trace(q: &mut Q, backend: Backend, expr: impl FnOnce(&mut Q)) {
    q.push("(SELECT ");
    expr(q);
    q.push(" FROM request_logs l WHERE 1 = 1");
    filter::trace(q, TraceOf::Feedback, backend);
    q.push(" ORDER BY l.created_at DESC, l.id DESC LIMIT 1)");
}

fn group_sql(q: &mut Q, by: &FeedbackBy, backend: Backend) {
    match by {
        FeedbackBy::Time(ms) => {
            q.push(&format!(
                "CAST((f.created_at - (((f.created_at % {ms}) + {ms}) % {ms})) AS TEXT)"
            ));
        }
        FeedbackBy::Score => {
            q.push("CAST(f.value AS TEXT)");
        }
        FeedbackBy::Model => of_trace(q, backend, |q| {
            q.push("l.model");
        }),
        FeedbackBy::Metadata(k) if k == "_user" => of_trace(q, backend, |q| {
            q.push("l.user_id");
        }),
        FeedbackBy::Metadata(k) => of_trace(q, backend, |q| match backend {
            Backend::Postgres => {
                q.push("(l.meta ->> ").bind(k).push(")");
            }
            Backend::Sqlite => {
                q.push("(SELECT j.value FROM json_each(l.meta) j WHERE j.key = ")
                    .bind(k)
                    .push(")");
            }
        }),
    }
}

/// Feedback grouped `by`, with the filter's time range on when the feedback was given.
pub(crate) async fn stats(
    db: &Db,
    f: &LogFilter,
    by: &FeedbackBy,
) -> Result<Vec<FeedbackGroup>, LogError> {
    if let FeedbackBy::Time(ms) = by {
        super::analytics::check_series(f, *ms)?;
    }
    let backend = db.backend();
    let mut q = Q::new("SELECT ");
    group_sql(&mut q, by, backend);
    q.push(
        " AS g, COUNT(*) AS n, COALESCE(SUM(f.value * f.weight), 0.0) AS w, \
         COUNT(DISTINCT f.trace_id) AS traces FROM request_log_feedback f WHERE 1 = 1",
    );
    if let Some(from) = f.from {
        q.push(" AND f.created_at >= ").bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND f.created_at < ").bind(to);
    }
    if let Some(ws) = &f.workspace_ids {
        if ws.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            q.push(" AND f.workspace_id IN (");
            for (i, w) in ws.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(w);
            }
            q.push(")");
        }
    }
    let on_requests = LogFilter {
        from: None,
        to: None,
        workspace_ids: None,
        ..f.clone()
    };
    if on_requests != LogFilter::default() {
        q.push(" AND EXISTS (SELECT 1 FROM request_logs l WHERE 1 = 1");
        filter::trace(&mut q, TraceOf::Feedback, backend);
        filter::raw(&mut q, &on_requests, backend);
        q.push(")");
    }
    q.push(" GROUP BY 1");
    let rows: Vec<Row> = db.fetch_all(q).await.or_backend("feedback analytics")?;
    let group = |r: &Row| FeedbackGroup {
        key: Value::Null,
        count: to_u64(r.n),
        weighted_sum: r.w,
        traces: to_u64(r.traces),
    };
    match by {
        FeedbackBy::Time(ms) => {
            let mut buckets: BTreeMap<i64, FeedbackGroup> = rows
                .iter()
                .filter_map(|r| Some((r.g.as_deref()?.parse::<i64>().ok()?, group(r))))
                .collect();
            // A bounded range gets every bucket, as log series do.
            if let (Some(from), Some(to)) = (f.from, f.to) {
                let mut t = from - from.rem_euclid(*ms);
                while t < to {
                    buckets.entry(t).or_default();
                    match t.checked_add(*ms) {
                        Some(next) => t = next,
                        None => break,
                    }
                }
            }
            Ok(buckets
                .into_iter()
                .map(|(start, g)| FeedbackGroup {
                    key: Value::from(start),
                    ..g
                })
                .collect())
        }
        FeedbackBy::Score => {
            let mut out: Vec<FeedbackGroup> = rows
                .iter()
                .filter_map(|r| {
                    let score = r.g.as_deref()?.parse::<i64>().ok()?;
                    Some(FeedbackGroup {
                        key: Value::from(score),
                        ..group(r)
                    })
                })
                .collect();
            out.sort_by_key(|g| g.key.as_i64());
            Ok(out)
        }
        FeedbackBy::Model | FeedbackBy::Metadata(_) => {
            let mut out: Vec<FeedbackGroup> = rows
                .iter()
                .map(|r| FeedbackGroup {
                    key: r.g.clone().map_or(Value::Null, Value::String),
                    ..group(r)
                })
                .collect();
            out.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.key.as_str().cmp(&b.key.as_str()))
            });
            Ok(out)
        }
    }
}
