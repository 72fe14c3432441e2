//! `/v1/logs/exports`: Portkey's asynchronous log exports. A job is a draft until started;
//! starting freezes its filters under an upper time bound and counts the matching records in
//! the background; a finished job's download link is signed, expires, and points back at this
//! API, which streams the rows from the log store. No file is kept anywhere and jobs live in
//! the log store, so any replica can run, report and serve any job.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, StatusCode};
use portcullis_logs::{Export, ExportJob, ExportStatus, LogError, LogFilter, LogRecord, LogStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::logs::{EXPORT_PAGE, stream_export};
use super::{P, Reply, Shared};
use crate::access::{self, ident};
use crate::auth::Caller;
use crate::body::RawBody;
use crate::error::{ApiError, ApiResult};
use crate::export_rows;
use crate::logq::{self, log_error};
use crate::paging::Params;

/// What creating, changing, running and downloading an export needs.
const EXPORT: &str = "logs.export";
/// Signatures of download links are for this and nothing else.
const SIGNED_FOR: &str = "log-export-download";
/// How long a download link works.
const LINK_TTL_SECS: i64 = 3_600;
/// How long `start` waits for the count before answering with the job still in progress.
const START_WAIT: Duration = Duration::from_secs(2);
/// The longest a run may count; past [`STALE_AFTER_MS`] a job still in progress has lost the
/// gateway that ran it (restarted mid-way) and is reported failed.
const RUN_LIMIT: Duration = Duration::from_secs(600);
const STALE_AFTER_MS: i64 = 15 * 60_000;

#[derive(Debug, Default, Deserialize)]
struct JobBody {
    workspace_id: Option<String>,
    filters: Option<Value>,
    requested_data: Option<Vec<String>>,
    description: Option<String>,
}

/// What a job's filters object says besides the log filter: Portkey's "logs limit" as
/// `page_size` (most rows) and `current_page` (pages of that size skipped first).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Window {
    limit: Option<u64>,
    skip: u64,
}

fn whole(name: &str, v: &Value, min: u64) -> ApiResult<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.filter(|n| *n >= min).ok_or_else(|| {
        ApiError::field(
            &format!("filters.{name}"),
            format!("filters.{name} must be a whole number of at least {min} (got {v})"),
        )
    })
}

/// A job's filters object, read.
#[derive(Debug, Default, PartialEq)]
struct Filters {
    /// Query-style pairs for [`logq::filter`].
    pairs: Vec<(String, String)>,
    /// The workspace it names, if any.
    workspace: Option<String>,
    window: Window,
}

/// The filters object, read; unknown names are refused rather than ignored.
fn read_filters(filters: Option<&Value>) -> ApiResult<Filters> {
    let obj = match filters {
        None | Some(Value::Null) => return Ok(Default::default()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ApiError::field("filters", "filters must be a JSON object")),
    };
    let (mut pairs, mut workspace, mut window) = (Vec::new(), None, Window::default());
    let mut page = None;
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => v.to_string(),
            Value::Object(_) if k == "metadata" => v.to_string(),
            _ => {
                return Err(ApiError::field(
                    &format!("filters.{k}"),
                    format!("filters.{k} takes one value (a string or a number)"),
                ));
            }
        };
        match k.as_str() {
            "page_size" => window.limit = Some(whole(k, v, 1)?),
            "current_page" => page = Some(whole(k, v, 0)?),
            "workspace_id" | "workspace_slug" => workspace = workspace.or(Some(text)),
            _ if k.starts_with("metadata.")
                || logq::UNSUPPORTED.contains(&k.as_str())
                || (logq::FILTER_PARAMS.contains(&k.as_str()) && k != "metadata.<key>") =>
            {
                pairs.push((k.clone(), text));
            }
            _ => {
                return Err(ApiError::field(
                    &format!("filters.{k}"),
                    format!(
                        "filters.{k}: unknown filter; exports take the logs filters \
                         (time_of_generation_min, time_of_generation_max, ai_org_model, \
                         status_code, cost_min, cost_max, trace_id, metadata, …), page_size \
                         and current_page"
                    ),
                ));
            }
        }
    }
    if let Some(p) = page {
        let size = window.limit.ok_or_else(|| {
            ApiError::field(
                "filters.current_page",
                "filters.current_page needs filters.page_size",
            )
        })?;
        window.skip = p.saturating_mul(size);
    }
    Ok(Filters {
        pairs,
        workspace,
        window,
    })
}

/// A job's filters resolved for `caller`: the workspace it exports (a workspace key's own; an
/// organisation key's named one, or every workspace) and the log filter with that visibility.
async fn resolve(
    ctx: &Shared,
    caller: &Caller,
    workspace: Option<&str>,
    filters: Option<&Value>,
) -> ApiResult<(Option<String>, LogFilter)> {
    let Filters {
        mut pairs,
        workspace: named,
        ..
    } = read_filters(filters)?;
    let given = workspace.or(named.as_deref());
    let ws = access::target_workspace(ctx, caller, given, false)
        .await?
        .map(|w| w.id);
    if let Some(id) = &ws {
        pairs.push(("workspace_id".to_owned(), id.clone()));
    }
    let filter = logq::filter(ctx, caller, &Params::from_pairs(pairs))
        .await
        .map_err(|mut e| {
            // The filters came in the body: name them as such.
            if let Some(p) = e.param.take() {
                e.message = e.message.replacen(&p, &format!("filters.{p}"), 1);
                e.param = Some(format!("filters.{p}"));
            }
            e
        })?;
    Ok((ws, filter))
}

/// How many records the job's file holds, given the matching count.
fn in_window(matching: u64, window: Window) -> u64 {
    let after = matching.saturating_sub(window.skip);
    window.limit.map_or(after, |l| after.min(l))
}

async fn count(
    store: &Arc<dyn LogStore>,
    job_filter: &LogFilter,
    window: Window,
) -> ApiResult<u64> {
    let a = store
        .summary(job_filter)
        .await
        .map_err(|e| log_error(e, None))?;
    Ok(in_window(a.requests, window))
}

fn window_of(job: &ExportJob) -> Window {
    read_filters(Some(&job.filters))
        .map(|f| f.window)
        .unwrap_or_default()
}

fn job_json(j: &ExportJob) -> Value {
    let mut v = json!({
        "id": j.id,
        "object": "export",
        "organisation_id": null,
        "workspace_id": j.workspace_id,
        "filters": j.filters,
        "requested_data": j.requested_data,
        "status": j.status.as_str(),
        "description": j.description,
        "total_records": j.total_records,
        "created_by": j.created_by,
        "created_at": crate::time::iso(j.created_at),
        "last_updated_at": crate::time::iso(j.updated_at),
    });
    if let Some(e) = &j.error {
        v["error"] = json!(e);
    }
    v
}

/// A job in progress whose gateway stopped before finishing it is reported failed.
async fn settle_stale(store: &Arc<dyn LogStore>, job: ExportJob) -> ApiResult<ExportJob> {
    let now = crate::time::now();
    if job.status != ExportStatus::InProgress || now - job.updated_at <= STALE_AFTER_MS {
        return Ok(job);
    }
    let failed = ExportJob {
        status: ExportStatus::Failed,
        error: Some(format!(
            "the export stopped before it finished (the gateway running it stopped); start it \
             again (POST /v1/logs/exports/{}/start)",
            job.id
        )),
        updated_at: now,
        ..job.clone()
    };
    if store
        .replace_export(&failed, ExportStatus::InProgress)
        .await
        .map_err(|e| log_error(e, None))?
    {
        return Ok(failed);
    }
    Ok(store
        .get_export(&job.id)
        .await
        .map_err(|e| log_error(e, None))?
        .unwrap_or(failed))
}

/// The job `id` if the caller may see it (404 otherwise, as for any object it cannot see).
async fn visible(store: &Arc<dyn LogStore>, caller: &Caller, id: &str) -> ApiResult<ExportJob> {
    let id = ident("export", id)?;
    match store.get_export(id).await.map_err(|e| log_error(e, None))? {
        Some(j) if caller.sees(j.workspace_id.as_deref()) => settle_stale(store, j).await,
        _ => Err(ApiError::not_found("export", id)),
    }
}

fn state_error(j: &ExportJob, what: &str) -> ApiError {
    ApiError::conflict(format!("export {} is {}: {what}", j.id, j.status.as_str()))
}

fn moved_on(id: &str) -> ApiError {
    ApiError::conflict(format!(
        "export {id} changed while this request ran; read it again"
    ))
}

pub async fn create(State(ctx): State<Shared>, caller: Caller, body: RawBody) -> Reply {
    caller.require(EXPORT)?;
    let store = logq::store(&ctx)?;
    let b: JobBody = body.parse()?;
    let requested_data = export_rows::requested(b.requested_data)?;
    let filters = b.filters.unwrap_or_else(|| json!({}));
    let window = read_filters(Some(&filters))?.window;
    let (workspace_id, filter) =
        resolve(&ctx, &caller, b.workspace_id.as_deref(), Some(&filters)).await?;
    let total = count(&store, &filter, window).await?;
    let now = crate::time::now();
    let job = ExportJob {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id,
        filters,
        filter,
        requested_data,
        description: b.description,
        status: ExportStatus::Draft,
        total_records: None,
        error: None,
        created_by: Some(caller.0.key_id.clone()),
        created_at: now,
        updated_at: now,
    };
    store
        .create_export(&job)
        .await
        .map_err(|e| log_error(e, None))?;
    Ok(Json(
        json!({ "id": job.id, "total": total, "object": "export" }),
    ))
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require_any(&[EXPORT.to_owned(), "logs.list".to_owned()])?;
    let store = logq::store(&ctx)?;
    let ws = access::list_filter(
        &ctx,
        &caller,
        params.get(&["workspace_id", "workspace_slug"]),
    )
    .await?
    .map(|w| vec![w]);
    let jobs = store
        .list_exports(ws.as_deref())
        .await
        .map_err(|e| log_error(e, None))?;
    let mut data = Vec::with_capacity(jobs.len());
    for j in jobs {
        if caller.sees(j.workspace_id.as_deref()) {
            data.push(job_json(&settle_stale(&store, j).await?));
        }
    }
    Ok(Json(
        json!({ "object": "list", "total": data.len(), "data": data }),
    ))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require_any(&[EXPORT.to_owned(), "logs.view".to_owned()])?;
    let store = logq::store(&ctx)?;
    Ok(Json(job_json(&visible(&store, &caller, &id).await?)))
}

pub async fn update(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    body: RawBody,
) -> Reply {
    caller.require(EXPORT)?;
    let store = logq::store(&ctx)?;
    let job = visible(&store, &caller, &id).await?;
    if job.status != ExportStatus::Draft {
        return Err(state_error(&job, "only a draft can be changed"));
    }
    let b: JobBody = body.parse()?;
    let requested_data = match b.requested_data {
        Some(r) => export_rows::requested(Some(r))?,
        None => job.requested_data.clone(),
    };
    let filters = b.filters.unwrap_or_else(|| job.filters.clone());
    let window = read_filters(Some(&filters))?.window;
    let workspace = b.workspace_id.or_else(|| job.workspace_id.clone());
    let (workspace_id, filter) =
        resolve(&ctx, &caller, workspace.as_deref(), Some(&filters)).await?;
    let total = count(&store, &filter, window).await?;
    let changed = ExportJob {
        workspace_id,
        filters,
        filter,
        requested_data,
        description: b.description.or_else(|| job.description.clone()),
        updated_at: crate::time::now(),
        ..job.clone()
    };
    if !store
        .replace_export(&changed, ExportStatus::Draft)
        .await
        .map_err(|e| log_error(e, None))?
    {
        return Err(moved_on(&job.id));
    }
    Ok(Json(
        json!({ "id": job.id, "total": total, "object": "export" }),
    ))
}

/// Counts the job's records and records the outcome, unless it was cancelled meanwhile.
async fn run(store: Arc<dyn LogStore>, job: ExportJob) {
    let window = window_of(&job);
    let counted = tokio::time::timeout(RUN_LIMIT, store.summary(&job.filter)).await;
    let (status, total, error) = match counted {
        Ok(Ok(a)) => (
            ExportStatus::Success,
            Some(in_window(a.requests, window)),
            None,
        ),
        Ok(Err(e)) => {
            tracing::warn!(export = %job.id, error = %e, "log export failed");
            let why = match e {
                LogError::Invalid(m) => m,
                _ => "the log store failed while counting the records".to_owned(),
            };
            (ExportStatus::Failed, None, Some(why))
        }
        Err(_) => (
            ExportStatus::Failed,
            None,
            Some(format!(
                "counting the records took longer than {RUN_LIMIT:?}"
            )),
        ),
    };
    let done = ExportJob {
        status,
        total_records: total,
        error,
        updated_at: crate::time::now(),
        ..job
    };
    if let Err(e) = store.replace_export(&done, ExportStatus::InProgress).await {
        tracing::warn!(export = %done.id, error = %e, "cannot record a log export's outcome");
    }
}

pub async fn start(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require(EXPORT)?;
    let store = logq::store(&ctx)?;
    let job = visible(&store, &caller, &id).await?;
    // A failed job (the gateway stopped, the store failed) may be started again.
    if !matches!(job.status, ExportStatus::Draft | ExportStatus::Failed) {
        return Err(state_error(
            &job,
            "only a draft or a failed export can be started",
        ));
    }
    let now = crate::time::now();
    // Frozen: records logged from now on are not part of this export (a restart keeps the
    // first start's bound, so it exports the same records).
    let mut filter = job.filter.clone();
    filter.to = Some(filter.to.map_or(now, |to| to.min(now)));
    let running = ExportJob {
        filter,
        status: ExportStatus::InProgress,
        total_records: None,
        error: None,
        updated_at: now,
        ..job.clone()
    };
    if !store
        .replace_export(&running, job.status)
        .await
        .map_err(|e| log_error(e, None))?
    {
        return Err(moved_on(&job.id));
    }
    // Usually done at once (the count reads rollups); a slow one finishes in the background
    // and the client polls the job, as with Portkey.
    let task = ctx
        .exports
        .spawn(store.clone(), running.clone(), run(store.clone(), running));
    let _ = tokio::time::timeout(START_WAIT, task).await;
    let status = store
        .get_export(&job.id)
        .await
        .map_err(|e| log_error(e, None))?
        .map_or(ExportStatus::InProgress, |j| j.status);
    Ok(Json(json!({
        "message": format!("export {} started", job.id),
        "object": "export",
        "status": status.as_str(),
    })))
}

pub async fn cancel(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require(EXPORT)?;
    let store = logq::store(&ctx)?;
    let job = visible(&store, &caller, &id).await?;
    if !matches!(job.status, ExportStatus::Draft | ExportStatus::InProgress) {
        return Err(state_error(
            &job,
            "only a draft or a running export can be cancelled",
        ));
    }
    let stopped = ExportJob {
        status: ExportStatus::Stopped,
        updated_at: crate::time::now(),
        ..job.clone()
    };
    if !store
        .replace_export(&stopped, job.status)
        .await
        .map_err(|e| log_error(e, None))?
    {
        return Err(moved_on(&job.id));
    }
    Ok(Json(json!({
        "message": format!("export {} stopped", job.id),
        "object": "export",
        "status": "stopped",
    })))
}

/// `scheme://host` of this request as the client reached it (a proxy's `X-Forwarded-*`
/// first), or nothing when the request names no usable host (the link is then relative).
fn base_url(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = first("x-forwarded-host").or_else(|| first(HOST.as_str()));
    let scheme = match first("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    match host {
        Some(h)
            if h.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c)) =>
        {
            format!("{scheme}://{h}")
        }
        _ => String::new(),
    }
}

pub async fn download(
    State(ctx): State<Shared>,
    caller: Caller,
    P(id): P<String>,
    headers: HeaderMap,
) -> Reply {
    caller.require(EXPORT)?;
    let store = logq::store(&ctx)?;
    let job = visible(&store, &caller, &id).await?;
    if job.status != ExportStatus::Success {
        return Err(state_error(
            &job,
            "only a finished export can be downloaded: start it and wait for status success",
        ));
    }
    let expires = crate::time::now() / 1000 + LINK_TTL_SECS;
    let signature = ctx
        .sealer
        .sign(SIGNED_FOR, &format!("{}.{expires}", job.id));
    let url = format!(
        "{}/v1/logs/exports/{}/file?expires={expires}&signature={signature}",
        base_url(&headers),
        job.id
    );
    Ok(Json(json!({
        "signed_url": url,
        "expires_at": crate::time::iso(expires * 1000),
    })))
}

/// The export's rows as JSONL, for a signed link: no API key, the signature is the access.
pub async fn file(
    State(ctx): State<Shared>,
    P(id): P<String>,
    params: Params,
) -> ApiResult<Response> {
    let denied = |why: &str| ApiError::forbidden(format!("this download link {why}"));
    let (Some(expires), Some(signature)) = (params.get(&["expires"]), params.get(&["signature"]))
    else {
        return Err(denied("is incomplete: it needs expires and signature"));
    };
    if !ctx
        .sealer
        .verify(SIGNED_FOR, &format!("{id}.{expires}"), signature)
    {
        return Err(denied("is not valid"));
    }
    let expires: i64 = expires.parse().map_err(|_| denied("is not valid"))?;
    if crate::time::now() / 1000 > expires {
        return Err(denied("has expired: ask for a new one (GET …/download)"));
    }
    let store = logq::store(&ctx)?;
    let job = match store
        .get_export(&id)
        .await
        .map_err(|e| log_error(e, None))?
    {
        Some(j) => j,
        None => return Err(ApiError::not_found("export", &id)),
    };
    if job.status != ExportStatus::Success {
        return Err(state_error(
            &job,
            "only a finished export can be downloaded",
        ));
    }
    let window = window_of(&job);
    let fields = job.requested_data.clone();
    let body = stream_export(
        Export::new(store, job.filter.clone(), EXPORT_PAGE),
        None,
        Box::new(move |page: &[LogRecord]| export_rows::jsonl(page, &fields)),
        window.skip,
        window.limit,
    )
    .await?;
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"portcullis-export-{}.jsonl\"",
        job.id
    )) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_pairs_a_workspace_and_a_window() {
        let Filters {
            pairs,
            workspace: ws,
            window: w,
        } = read_filters(Some(&json!({
            "time_of_generation_min": "2024-10-20",
            "status_code": 200,
            "metadata": {"team": "red"},
            "metadata._user": "alice",
            "workspace_slug": "ws-a",
            "page_size": 10,
            "current_page": "2",
            "trace_id": null,
        })))
        .unwrap();
        assert_eq!(ws.as_deref(), Some("ws-a"));
        assert_eq!(
            w,
            Window {
                limit: Some(10),
                skip: 20
            }
        );
        assert_eq!(
            pairs,
            vec![
                ("time_of_generation_min".to_owned(), "2024-10-20".to_owned()),
                ("status_code".to_owned(), "200".to_owned()),
                ("metadata".to_owned(), "{\"team\":\"red\"}".to_owned()),
                ("metadata._user".to_owned(), "alice".to_owned()),
            ]
        );
        for (bad, param) in [
            (json!([1]), "filters"),
            (json!({"colour": "red"}), "filters.colour"),
            (json!({"status_code": [200, 429]}), "filters.status_code"),
            (json!({"page_size": 0}), "filters.page_size"),
            (json!({"current_page": 1}), "filters.current_page"),
        ] {
            let e = read_filters(Some(&bad)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{bad}");
        }
        assert_eq!(
            in_window(
                100,
                Window {
                    limit: Some(10),
                    skip: 95
                }
            ),
            5
        );
        assert_eq!(in_window(100, Window::default()), 100);
    }

    #[test]
    fn links_point_back_at_the_host_the_client_used() {
        let mut h = HeaderMap::new();
        assert_eq!(base_url(&h), "");
        h.insert(HOST, HeaderValue::from_static("gw.example:8787"));
        assert_eq!(base_url(&h), "http://gw.example:8787");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("api.example, inner"),
        );
        assert_eq!(base_url(&h), "https://api.example");
        h.insert("x-forwarded-host", HeaderValue::from_static("evil/path?x"));
        assert_eq!(base_url(&h), "");
    }
}
