//! Reading records back: one by id (with payloads), listings and exports (newest first, keyset
//! cursor on `(created_at, id)`).

use serde_json::{Map, Value};

use std::path::Path;

use super::db::{Backend, Db, Q};
use super::filter;
use super::payloads::{self, Loc};
use crate::cursor;
use crate::derive::to_u64;
use crate::error::{LogError, ResultExt};
use crate::query::{LogFilter, Page, PageRequest};
use crate::record::{LogRecord, Outcome, Timings, Tokens};

/// A page when the request names none.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest page served.
pub const MAX_PAGE: u32 = 1_000;

const COLUMNS: &str = "l.id, l.created_at, l.trace_id, l.w3c_trace_id, l.span_id, \
    l.parent_span_id, l.workspace_id, l.api_key_id, l.provider_id, l.integration_id, \
    l.provider, l.requested_model, l.model, l.endpoint, l.method, l.path, l.stream, l.status, \
    l.outcome, l.error_code, l.error_type, l.error_message, l.total_us, l.upstream_us, \
    l.ttft_us, l.overhead_us, l.prompt_tokens, l.completion_tokens, l.cached_tokens, \
    l.cache_write_tokens, l.reasoning_tokens, l.cost_nanos, l.cache_status, l.retry_count, \
    l.fallback_path, l.guardrails, l.metadata, l.request_bytes, l.response_bytes";

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: String,
    created_at: i64,
    trace_id: String,
    w3c_trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    workspace_id: Option<String>,
    api_key_id: Option<String>,
    provider_id: Option<String>,
    integration_id: Option<String>,
    provider: Option<String>,
    requested_model: Option<String>,
    model: Option<String>,
    endpoint: String,
    method: String,
    path: String,
    stream: i64,
    status: i64,
    outcome: Option<String>,
    error_code: Option<String>,
    error_type: Option<String>,
    error_message: Option<String>,
    total_us: i64,
    upstream_us: Option<i64>,
    ttft_us: Option<i64>,
    overhead_us: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    cache_write_tokens: i64,
    reasoning_tokens: i64,
    cost_nanos: Option<i64>,
    cache_status: String,
    retry_count: i64,
    fallback_path: String,
    guardrails: Option<String>,
    metadata: String,
    request_bytes: i64,
    response_bytes: i64,
    request_body: Option<String>,
    response_body: Option<String>,
    // Where a SQLite row's payloads are, when not inline (schema 4; NULL on PostgreSQL).
    payload_seg: Option<i64>,
    payload_off: Option<i64>,
    request_len: Option<i64>,
    response_len: Option<i64>,
}

impl RecordRow {
    fn loc(&self) -> Option<Loc> {
        Loc::of_row(
            self.payload_seg,
            self.payload_off,
            self.request_len,
            self.response_len,
        )
    }

    fn into_record(self) -> LogRecord {
        let fallback_path =
            serde_json::from_str::<Vec<String>>(&self.fallback_path).unwrap_or_default();
        let guardrails = self
            .guardrails
            .and_then(|g| serde_json::from_str::<Value>(&g).ok());
        let metadata =
            serde_json::from_str::<Map<String, Value>>(&self.metadata).unwrap_or_default();
        LogRecord {
            id: self.id,
            trace_id: self.trace_id,
            w3c_trace_id: self.w3c_trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            // Not stored: it only steers tracing while the request runs.
            sampled: None,
            created_at: self.created_at,
            workspace_id: self.workspace_id,
            api_key_id: self.api_key_id,
            provider_id: self.provider_id,
            integration_id: self.integration_id,
            provider: self.provider,
            requested_model: self.requested_model,
            model: self.model,
            endpoint: self.endpoint,
            method: self.method,
            path: self.path,
            stream: self.stream != 0,
            status: u16::try_from(self.status).unwrap_or(0),
            outcome: self.outcome.as_deref().and_then(Outcome::parse),
            error_code: self.error_code,
            error_type: self.error_type,
            error_message: self.error_message,
            timings: Timings {
                total_us: to_u64(self.total_us),
                upstream_us: self.upstream_us.map(to_u64),
                ttft_us: self.ttft_us.map(to_u64),
                overhead_us: to_u64(self.overhead_us),
            },
            tokens: Tokens {
                prompt: to_u64(self.prompt_tokens),
                completion: to_u64(self.completion_tokens),
                cached: to_u64(self.cached_tokens),
                cache_write: to_u64(self.cache_write_tokens),
                reasoning: to_u64(self.reasoning_tokens),
            },
            cost_nanos: self.cost_nanos,
            cache_status: self.cache_status,
            retry_count: i32::try_from(self.retry_count).unwrap_or(if self.retry_count < 0 {
                i32::MIN
            } else {
                i32::MAX
            }),
            fallback_path,
            guardrails,
            metadata,
            request_body: self.request_body,
            response_body: self.response_body,
            request_bytes: to_u64(self.request_bytes),
            response_bytes: to_u64(self.response_bytes),
        }
    }
}

fn select(bodies: bool, backend: Backend) -> Q {
    let mut q = Q::new("SELECT ");
    q.push(COLUMNS);
    q.push(match (bodies, backend) {
        (true, Backend::Sqlite) => {
            ", l.request_body, l.response_body, l.payload_seg, l.payload_off, l.request_len, \
             l.response_len"
        }
        (true, Backend::Postgres) => {
            ", l.request_body, l.response_body, CAST(NULL AS BIGINT) AS payload_seg, \
             CAST(NULL AS BIGINT) AS payload_off, CAST(NULL AS BIGINT) AS request_len, \
             CAST(NULL AS BIGINT) AS response_len"
        }
        (false, _) => {
            ", CAST(NULL AS TEXT) AS request_body, CAST(NULL AS TEXT) AS response_body, \
             CAST(NULL AS BIGINT) AS payload_seg, CAST(NULL AS BIGINT) AS payload_off, \
             CAST(NULL AS BIGINT) AS request_len, CAST(NULL AS BIGINT) AS response_len"
        }
    });
    q.push(" FROM request_logs l");
    q
}

/// Records from their rows, payloads read from their segments where the rows point at one
/// (`dir`: the store's segment directory; PostgreSQL has none).
async fn records(dir: Option<&Path>, rows: Vec<RecordRow>) -> Vec<LogRecord> {
    let locs: Vec<(usize, Loc)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.loc().map(|l| (i, l)))
        .collect();
    let mut out: Vec<LogRecord> = rows.into_iter().map(RecordRow::into_record).collect();
    let Some(dir) = dir.filter(|_| !locs.is_empty()) else {
        return out;
    };
    let dir = dir.to_owned();
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = payloads::Reader::new(&dir);
        locs.into_iter()
            .map(|(i, l)| (i, reader.read(l)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for (i, (request, response)) in read {
        out[i].request_body = request;
        out[i].response_body = response;
    }
    out
}

pub(crate) async fn get(
    db: &Db,
    dir: Option<&Path>,
    id: &str,
) -> Result<Option<LogRecord>, LogError> {
    let mut q = select(true, db.backend());
    q.push(" WHERE l.id = ").bind(id);
    // Record ids are UUIDv7s that carry their creation time: searching near it lets the
    // `(created_at, id)` index find the row (SQLite files from schema 3 on index ids only
    // there). Records take `created_at` from their id; the slack covers older ones, whose id
    // was minted a moment before.
    if let Some(ms) = crate::record::id_time(id) {
        q.push(" AND l.created_at >= ")
            .bind(ms.saturating_sub(ID_TIME_SLACK_MS))
            .push(" AND l.created_at <= ")
            .bind(ms.saturating_add(ID_TIME_SLACK_MS));
    }
    let row: Option<RecordRow> = db.fetch_optional(q).await.or_backend("get log")?;
    Ok(records(dir, row.into_iter().collect()).await.pop())
}

const ID_TIME_SLACK_MS: i64 = 2_000;

/// One page of matching records, newest first.
pub(crate) async fn page(
    db: &Db,
    dir: Option<&Path>,
    f: &LogFilter,
    page: &PageRequest,
    bodies: bool,
) -> Result<Page<LogRecord>, LogError> {
    let limit = match page.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let after = page.cursor.as_deref().map(cursor::decode).transpose()?;
    let mut q = select(bodies, db.backend());
    q.push(" WHERE 1 = 1");
    filter::raw(&mut q, f, db.backend());
    filter::time(&mut q, f);
    if let Some((at, id)) = after {
        q.push(" AND (l.created_at, l.id) < (")
            .bind(at)
            .push(", ")
            .bind(id)
            .push(")");
    }
    q.push(" ORDER BY l.created_at DESC, l.id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows: Vec<RecordRow> = db.fetch_all(q).await.or_backend("list logs")?;
    let mut items = records(dir, rows).await;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|r| cursor::encode(r.created_at, &r.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}
