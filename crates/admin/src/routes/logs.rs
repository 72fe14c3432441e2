//! `/v1/logs`: request logs, newest first with cursor paging (`logs.list`), one record with its
//! payloads (`logs.view`), and streamed JSONL / CSV exports (`logs.export`). A workspace key
//! only ever sees its own workspace's records.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use portcullis_logs::store::{DEFAULT_PAGE, MAX_PAGE};
use portcullis_logs::{Export, LogRecord, PageRequest};
use serde_json::{Value, json};

use super::{P, Reply, Shared};
use crate::access::ident;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::logq::{self, log_error, usd, usd_text};
use crate::paging::Params;

/// Records per store page while exporting: what an export holds in memory at once.
pub const EXPORT_PAGE: u32 = 200;

/// A record on the wire. Listings leave the payloads out; `GET /v1/logs/{id}` and exports carry
/// them (`null` when the request was logged without bodies).
pub fn record_json(r: &LogRecord, bodies: bool) -> Value {
    let error = if r.error_code.is_some() || r.error_type.is_some() || r.error_message.is_some() {
        json!({ "code": r.error_code, "type": r.error_type, "message": r.error_message })
    } else {
        Value::Null
    };
    let mut v = json!({
        "id": r.id,
        "object": "log",
        "created_at": crate::time::iso(r.created_at),
        "created_at_ms": r.created_at,
        "trace_id": r.trace_id,
        "w3c_trace_id": r.w3c_trace_id,
        "span_id": r.span_id,
        "parent_span_id": r.parent_span_id,
        "workspace_id": r.workspace_id,
        "api_key_id": r.api_key_id,
        "provider_id": r.provider_id,
        "integration_id": r.integration_id,
        "provider": r.provider,
        "requested_model": r.requested_model,
        "model": r.model,
        "endpoint": r.endpoint,
        "method": r.method,
        "path": r.path,
        "stream": r.stream,
        "status": r.status,
        "outcome": r.outcome.map(|o| o.as_str()),
        "error": error,
        "timings": {
            "total_us": r.timings.total_us,
            "upstream_us": r.timings.upstream_us,
            "ttft_us": r.timings.ttft_us,
            "overhead_us": r.timings.overhead_us,
        },
        "tokens": {
            "prompt": r.tokens.prompt,
            "completion": r.tokens.completion,
            "total": r.tokens.total(),
            "cached": r.tokens.cached,
            "cache_write": r.tokens.cache_write,
            "reasoning": r.tokens.reasoning,
        },
        "cost_nanos": r.cost_nanos,
        "cost": r.cost_nanos.map(usd),
        "cache_status": r.cache_status,
        "retry_count": r.retry_count,
        "fallback_path": r.fallback_path,
        "guardrails": r.guardrails,
        "metadata": r.metadata,
        "request_bytes": r.request_bytes,
        "response_bytes": r.response_bytes,
    });
    if bodies {
        v["request_body"] = json!(r.request_body);
        v["response_body"] = json!(r.response_body);
    }
    v
}

pub async fn list(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    caller.require("logs.list")?;
    let store = logq::store(&ctx)?;
    let filter = logq::filter(&ctx, &caller, &params).await?;
    let limit = logq::count(&params, &["limit", "page_size"], DEFAULT_PAGE, MAX_PAGE)?;
    let cursor = params.get(&["cursor", "after"]).map(str::to_owned);
    let page = store
        .list(
            &filter,
            &PageRequest {
                limit,
                cursor: cursor.clone(),
            },
        )
        .await
        .map_err(|e| log_error(e, cursor.as_ref().map(|_| "cursor")))?;
    let data: Vec<Value> = page.items.iter().map(|r| record_json(r, false)).collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "has_more": page.next_cursor.is_some(),
        "next_cursor": page.next_cursor,
        "limit": limit,
    })))
}

pub async fn retrieve(State(ctx): State<Shared>, caller: Caller, P(id): P<String>) -> Reply {
    caller.require("logs.view")?;
    let store = logq::store(&ctx)?;
    let id = ident("log", &id)?;
    match store.get(id).await.map_err(|e| log_error(e, None))? {
        Some(r) if caller.sees(r.workspace_id.as_deref()) => Ok(Json(record_json(&r, true))),
        _ => Err(ApiError::not_found("log", id)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jsonl,
    Csv,
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "created_at",
    "created_at_ms",
    "trace_id",
    "workspace_id",
    "api_key_id",
    "provider_id",
    "integration_id",
    "provider",
    "requested_model",
    "model",
    "endpoint",
    "method",
    "path",
    "stream",
    "status",
    "outcome",
    "error_code",
    "error_type",
    "error_message",
    "total_us",
    "upstream_us",
    "ttft_us",
    "overhead_us",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_nanos",
    "cost_usd",
    "cache_status",
    "retry_count",
    "fallback_path",
    "guardrails",
    "metadata",
    "request_bytes",
    "response_bytes",
    "w3c_trace_id",
    "span_id",
    "parent_span_id",
    "request_body",
    "response_body",
];

/// Whether a spreadsheet would run `s` as a formula: it starts with `=`, `+`, `-`, tab or CR,
/// or with `@` followed by anything but a catalog reference (`@openai-prod`,
/// `@openai-prod/gpt-4o`: letters, digits and `._:/-` only, which cannot call anything).
fn is_formula(s: &str) -> bool {
    match s.as_bytes() {
        [b'=' | b'+' | b'-' | b'\t' | b'\r', ..] => true,
        [b'@', rest @ ..] => !rest
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._:/-".contains(c)),
        _ => false,
    }
}

/// One CSV text field: quoted when it holds a separator, quote, line break or edge space (RFC
/// 4180); text a spreadsheet would run as a formula ([`is_formula`]) gets a leading `'`.
/// Numeric and JSON columns do not go through here.
fn csv_text(out: &mut String, s: &str) {
    let formula = is_formula(s);
    let quote =
        formula || s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ');
    if !quote {
        out.push_str(s);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn csv_row(out: &mut String, r: &LogRecord) {
    enum F<'a> {
        T(&'a str),
        O(Option<&'a str>),
        S(String),
        N(Option<String>),
    }
    let json = |v: &Value| v.to_string();
    let num = |n: Option<u64>| n.map(|n| n.to_string());
    // One field per column, checked by the compiler.
    let fields: [F<'_>; CSV_COLUMNS.len()] = [
        F::T(&r.id),
        F::S(crate::time::iso(r.created_at)),
        F::S(r.created_at.to_string()),
        F::T(&r.trace_id),
        F::O(r.workspace_id.as_deref()),
        F::O(r.api_key_id.as_deref()),
        F::O(r.provider_id.as_deref()),
        F::O(r.integration_id.as_deref()),
        F::O(r.provider.as_deref()),
        F::O(r.requested_model.as_deref()),
        F::O(r.model.as_deref()),
        F::T(&r.endpoint),
        F::T(&r.method),
        F::T(&r.path),
        F::S(r.stream.to_string()),
        F::S(r.status.to_string()),
        F::O(r.outcome.map(|o| o.as_str())),
        F::O(r.error_code.as_deref()),
        F::O(r.error_type.as_deref()),
        F::O(r.error_message.as_deref()),
        F::S(r.timings.total_us.to_string()),
        F::N(num(r.timings.upstream_us)),
        F::N(num(r.timings.ttft_us)),
        F::S(r.timings.overhead_us.to_string()),
        F::S(r.tokens.prompt.to_string()),
        F::S(r.tokens.completion.to_string()),
        F::S(r.tokens.total().to_string()),
        F::S(r.tokens.cached.to_string()),
        F::S(r.tokens.cache_write.to_string()),
        F::S(r.tokens.reasoning.to_string()),
        F::N(r.cost_nanos.map(|c| c.to_string())),
        F::N(r.cost_nanos.map(usd_text)),
        F::T(&r.cache_status),
        F::S(r.retry_count.to_string()),
        F::S(json(&json!(r.fallback_path))),
        F::N(r.guardrails.as_ref().map(json)),
        F::S(json(&Value::Object(r.metadata.clone()))),
        F::S(r.request_bytes.to_string()),
        F::S(r.response_bytes.to_string()),
        F::T(&r.w3c_trace_id),
        F::T(&r.span_id),
        F::O(r.parent_span_id.as_deref()),
        F::O(r.request_body.as_deref()),
        F::O(r.response_body.as_deref()),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match f {
            F::T(s) => csv_text(out, s),
            F::O(Some(s)) => csv_text(out, s),
            F::O(None) | F::N(None) => {}
            // Numbers, booleans and JSON text: never formulas, quoted only when needed.
            F::S(s) | F::N(Some(s)) => {
                if s.contains([',', '"', '\n', '\r']) {
                    out.push('"');
                    out.push_str(&s.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(s);
                }
            }
        }
    }
    out.push_str("\r\n");
}

fn encode(format: Format, records: &[LogRecord]) -> Bytes {
    let mut out = String::with_capacity(records.len() * 512);
    for r in records {
        match format {
            Format::Jsonl => {
                out.push_str(&record_json(r, true).to_string());
                out.push('\n');
            }
            Format::Csv => csv_row(&mut out, r),
        }
    }
    Bytes::from(out)
}

/// Turns one page of records into the bytes of an export body.
pub type Encoder = Box<dyn Fn(&[LogRecord]) -> Bytes + Send + Sync>;

/// The state of an export stream: the pages still to fetch, how many rows to skip first, and
/// how many may still go.
struct Streaming {
    export: Export,
    first: Option<Vec<LogRecord>>,
    encode: Encoder,
    skip: u64,
    left: Option<u64>,
}

impl Streaming {
    /// The next chunk, or `None` at the end. A store failure mid-way ends the body with an
    /// error, so the client sees a truncated transfer rather than a short, valid-looking file.
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Streaming)> {
        loop {
            if self.left == Some(0) {
                return None;
            }
            let mut page = match self.first.take() {
                Some(p) => p,
                None => match self.export.next_page().await {
                    Ok(Some(p)) => p,
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "log export failed mid-way");
                        self.left = Some(0);
                        return Some((Err(std::io::Error::other("log export failed")), self));
                    }
                },
            };
            if page.is_empty() {
                return None;
            }
            let skipped = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(page.len());
            page.drain(..skipped);
            self.skip -= skipped as u64;
            if let Some(left) = self.left.as_mut() {
                page.truncate(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= page.len() as u64;
            }
            if page.is_empty() {
                // A page wholly skipped: fetch the next one.
                continue;
            }
            let chunk = (self.encode)(&page);
            return Some((Ok(chunk), self));
        }
    }
}

/// A streamed export body: `head` (if any), then every record `export` yields after the first
/// `skip`, at most `left` of them, each page through `encode`. The first page is read before
/// answering, so a failing store is a proper error response rather than a broken body.
pub async fn stream_export(
    mut export: Export,
    head: Option<Bytes>,
    encode: Encoder,
    skip: u64,
    left: Option<u64>,
) -> ApiResult<Body> {
    let first = export
        .next_page()
        .await
        .map_err(|e| log_error(e, None))?
        .unwrap_or_default();
    let state = Streaming {
        export,
        first: Some(first),
        encode,
        skip,
        left,
    };
    let rows = futures_util::stream::unfold(state, Streaming::next);
    let head = futures_util::stream::iter(head.map(Ok::<Bytes, std::io::Error>));
    Ok(Body::from_stream(futures_util::StreamExt::chain(
        head, rows,
    )))
}

pub async fn export(
    State(ctx): State<Shared>,
    caller: Caller,
    params: Params,
) -> ApiResult<Response> {
    caller.require("logs.export")?;
    let store = logq::store(&ctx)?;
    let format = match params.get(&["format"]).map(str::trim) {
        None | Some("jsonl" | "ndjson") => Format::Jsonl,
        Some("csv") => Format::Csv,
        Some(other) => {
            return Err(ApiError::field(
                "format",
                format!("format must be jsonl or csv (got {other:?})"),
            ));
        }
    };
    let filter = logq::filter(&ctx, &caller, &params).await?;
    let left = match params.get(&["limit"]) {
        None => None,
        Some(_) => Some(u64::from(logq::count(&params, &["limit"], 1, u32::MAX)?)),
    };
    let export = Export::new(store, filter, EXPORT_PAGE);
    let (ext, content_type) = match format {
        Format::Jsonl => ("jsonl", "application/x-ndjson"),
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
    };
    let header = match format {
        Format::Csv => Some(Bytes::from(format!("{}\r\n", CSV_COLUMNS.join(",")))),
        Format::Jsonl => None,
    };
    let body = stream_export(
        export,
        header,
        Box::new(move |page: &[LogRecord]| encode(format, page)),
        0,
        left,
    )
    .await?;
    let filename = format!(
        "attachment; filename=\"portcullis-logs-{}.{ext}\"",
        crate::time::now()
    );
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&filename) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(s: &str) -> String {
        let mut out = String::new();
        csv_text(&mut out, s);
        out
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(" edge"), "\" edge\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(
            field("@SUM(1+1)*cmd|' /C calc'!A0"),
            "\"'@SUM(1+1)*cmd|' /C calc'!A0\""
        );
        assert_eq!(field("-2+3"), "\"'-2+3\"");
        assert_eq!(field("@openai-prod"), "@openai-prod");
        assert_eq!(field("@openai-prod/gpt-4o"), "@openai-prod/gpt-4o");
    }
}
