//! [`LogFilter`] as SQL conditions. Each function appends ` AND …` clauses; values are always
//! bound. The rolled-up dimensions use the same column names in `request_logs` (alias `l`) and
//! `request_log_dims` (alias `d`).

use super::db::{Backend, Q, nul_free};
use crate::plan::Piece;
use crate::query::LogFilter;
use crate::record::id_time;
use crate::users::user_hash;

/// Whether the filter has any condition on the rolled-up dimensions.
pub(crate) fn has_dims(f: &LogFilter) -> bool {
    f.workspace_ids.is_some()
        || f.api_key_id.is_some()
        || f.provider_id.is_some()
        || f.provider.is_some()
        || f.model.is_some()
        || f.status.is_some()
        || f.status_class.is_some()
        || f.outcome.is_some()
}

/// Conditions on the rolled-up dimensions, on the table aliased `alias`. Returns whether any
/// condition was added.
pub(crate) fn dims(q: &mut Q, f: &LogFilter, alias: &str) -> bool {
    let before = q.sql.len();
    if let Some(ws) = &f.workspace_ids {
        if ws.is_empty() {
            // Visibility of no workspace: nothing is visible.
            q.push(" AND 1 = 0");
        } else {
            q.push(&format!(" AND {alias}.workspace_id IN ("));
            for (i, w) in ws.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(w);
            }
            q.push(")");
        }
    }
    for (col, v) in [
        ("api_key_id", &f.api_key_id),
        ("provider_id", &f.provider_id),
        ("provider", &f.provider),
        ("model", &f.model),
    ] {
        if let Some(v) = v {
            q.push(&format!(" AND {alias}.{col} = ")).bind(v);
        }
    }
    if let Some(s) = f.status {
        q.push(&format!(" AND {alias}.status = "))
            .bind(i64::from(s));
    }
    if let Some(c) = f.status_class {
        let lo = i64::from(c) * 100;
        q.push(&format!(" AND {alias}.status >= "))
            .bind(lo)
            .push(&format!(" AND {alias}.status < "))
            .bind(lo + 100);
    }
    if let Some(o) = f.outcome {
        q.push(&format!(" AND {alias}.outcome = ")).bind(o.as_str());
    }
    q.sql.len() > before
}

/// Whose trace [`trace`] selects: a given trace id, or that of the feedback row aliased `f`
/// (whose `trace_at` is its trace id's creation time when the trace id is a record id).
#[derive(Clone, Copy)]
pub(crate) enum TraceOf<'a> {
    Id(&'a str),
    Feedback,
}

/// The records of a trace, on the raw table aliased `l`. On SQLite, a record whose trace id is
/// its own id (the gateway's choice when the client sends none: most records) has no trace
/// index entry, saving an index insert per record; it is found through its id, which carries
/// its creation time (`(created_at, id)`). Every other record is in the partial trace index.
pub(crate) fn trace(q: &mut Q, of: TraceOf<'_>, backend: Backend) {
    let trace_id = |q: &mut Q| match of {
        TraceOf::Id(t) => {
            q.bind(t);
        }
        TraceOf::Feedback => {
            q.push("f.trace_id");
        }
    };
    if backend == Backend::Postgres {
        q.push(" AND l.trace_id = ");
        trace_id(q);
        return;
    }
    q.push(" AND l.rowid IN (SELECT rowid FROM request_logs WHERE trace_id = ");
    trace_id(q);
    q.push(" AND trace_id <> id");
    // A trace id that is no record id (not a UUIDv7) needs no lookup by id.
    let at = match of {
        TraceOf::Id(t) => id_time(t).map(Some),
        TraceOf::Feedback => Some(None),
    };
    if let Some(at) = at {
        q.push(" UNION ALL SELECT rowid FROM request_logs WHERE created_at = ");
        match at {
            Some(at) => q.bind(at),
            None => q.push("f.trace_at"),
        };
        q.push(" AND id = ");
        trace_id(q);
        q.push(" AND trace_id = id");
    }
    q.push(")");
}

/// Every non-time condition on the raw table aliased `l`. Metadata: `_user` by its indexed
/// hash; other keys on the `meta` document (PostgreSQL: `@>`, GIN-indexed; SQLite: scanned
/// within the query's time range).
pub(crate) fn raw(q: &mut Q, f: &LogFilter, backend: Backend) {
    dims(q, f, "l");
    if let Some(t) = &f.trace_id {
        trace(q, TraceOf::Id(t), backend);
    }
    if let Some(c) = f.min_cost_nanos {
        q.push(" AND l.cost_nanos >= ").bind(c);
    }
    if let Some(c) = f.max_cost_nanos {
        q.push(" AND l.cost_nanos <= ").bind(c);
    }
    if f.metadata.is_empty() {
        return;
    }
    // As stored (see `nul_free`): `JSONB` refuses the `\u0000` escape.
    let clean = |s: &str| nul_free(s).into_owned();
    let mut doc = serde_json::Map::new();
    for (k, v) in &f.metadata {
        if k == "_user" {
            // The end user has an index of their own.
            q.push(" AND l.user_hash = ")
                .bind(user_hash(v))
                .push(" AND l.user_id = ")
                .bind(v);
            continue;
        }
        match backend {
            Backend::Postgres => {
                doc.insert(clean(k), serde_json::Value::String(clean(v)));
            }
            Backend::Sqlite => {
                q.push(" AND EXISTS (SELECT 1 FROM json_each(l.meta) j WHERE j.key = ")
                    .bind(k)
                    .push(" AND j.value = ")
                    .bind(v)
                    .push(")");
            }
        }
    }
    if !doc.is_empty() {
        // A key given twice with two values keeps one in `doc`: compare them all.
        for (k, v) in &f.metadata {
            if k != "_user" && doc.get(&clean(k)) != Some(&serde_json::Value::String(clean(v))) {
                q.push(" AND 1 = 0");
            }
        }
        q.push(" AND l.meta @> CAST(")
            .bind(serde_json::Value::Object(doc).to_string())
            .push(" AS JSONB)");
    }
}

/// The filter's own time range on `l.created_at`.
pub(crate) fn time(q: &mut Q, f: &LogFilter) {
    if let Some(from) = f.from {
        q.push(" AND l.created_at >= ").bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND l.created_at < ").bind(to);
    }
}

/// Which pieces of a plan a query reads, and on which table.
pub(crate) enum Source {
    /// `request_log_rollups` (`grain`, `bucket_start`).
    Rollups,
    /// `request_logs` (`created_at`).
    Raw,
}

/// ` AND (…)`: the pieces of a plan that `source` answers, on the table aliased `alias`.
/// Returns false (adding nothing) when no piece is for that source.
pub(crate) fn pieces(q: &mut Q, pieces: &[Piece], source: Source, alias: &str) -> bool {
    let (rollup, column) = match source {
        Source::Rollups => (true, "bucket_start"),
        Source::Raw => (false, "created_at"),
    };
    let with_grain = rollup;
    let mut first = true;
    for p in pieces {
        let (grain, from, to) = match *p {
            Piece::Rollup { grain, from, to } if rollup => (with_grain.then_some(grain), from, to),
            Piece::Raw { from, to } if !rollup => (None, from, to),
            _ => continue,
        };
        q.push(if first { " AND ((" } else { " OR (" });
        first = false;
        let mut parts = 0;
        if let Some(g) = grain {
            q.push(&format!("{alias}.grain = {g}"));
            parts += 1;
        }
        if from != i64::MIN {
            if parts > 0 {
                q.push(" AND ");
            }
            q.push(&format!("{alias}.{column} >= ")).bind(from);
            parts += 1;
        }
        if to != i64::MAX {
            if parts > 0 {
                q.push(" AND ");
            }
            q.push(&format!("{alias}.{column} < ")).bind(to);
            parts += 1;
        }
        if parts == 0 {
            q.push("1 = 1");
        }
        q.push(")");
    }
    if !first {
        q.push(")");
    }
    !first
}
