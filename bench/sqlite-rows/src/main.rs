//! Inserts request-log-shaped rows into a fresh SQLite file, 16 to an `INSERT OR IGNORE` in
//! transactions of 1,024, as the log writer does, for a table layout named on the command
//! line. `bench/sqlite-rows.sh` runs it under callgrind at two row counts, so what SQLite
//! costs per row in each layout can be compared without the gateway around it.
//!
//! Usage: sqlite-rows LAYOUT ROWS FILE
//!   table   the log table as schema 7 left it (no declared types) with its four indexes
//!   typed   the same with the types and `NOT NULL`s of schemas 1–6
//!   narrow  21 of its columns and a 460-byte blob in place of the rest
//!   chunk   one row of 16 records' 460-byte blobs, no index

use rusqlite::Connection;
use rusqlite::types::Value;

const ROWS_PER_INSERT: usize = 16;
const ROWS_PER_TRANSACTION: usize = 1024;
const BLOB: usize = 460;

const TEXT: &[&str] = &[
    "id",
    "trace_id",
    "w3c_trace_id",
    "span_id",
    "parent_span_id",
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
    "outcome",
    "error_code",
    "error_type",
    "error_message",
    "cache_status",
    "fallback_path",
    "guardrails",
    "metadata",
    "user_id",
    "request_body",
    "response_body",
    "meta",
];

/// The columns schemas 1–6 left nullable (no `NOT NULL` in `typed`).
const NULLABLE: &[&str] = &[
    "parent_span_id",
    "workspace_id",
    "api_key_id",
    "provider_id",
    "integration_id",
    "provider",
    "requested_model",
    "model",
    "outcome",
    "error_code",
    "error_type",
    "error_message",
    "upstream_us",
    "ttft_us",
    "cost_nanos",
    "guardrails",
    "user_id",
    "user_hash",
    "ttft_b",
    "request_body",
    "response_body",
    "payload_seg",
    "payload_off",
    "request_len",
    "response_len",
];

/// The columns the benchmark's record leaves NULL: no caller span, workspace, key, catalog
/// provider, error, guardrail or end user, and payloads in a segment rather than inline.
const ABSENT: &[&str] = &[
    "parent_span_id",
    "workspace_id",
    "api_key_id",
    "provider_id",
    "integration_id",
    "error_code",
    "error_type",
    "error_message",
    "guardrails",
    "user_id",
    "user_hash",
    "request_body",
    "response_body",
];

const WIDE: &str = "id created_at trace_id w3c_trace_id span_id parent_span_id workspace_id \
    api_key_id provider_id integration_id provider requested_model model endpoint method path \
    stream status outcome error_code error_type error_message total_us upstream_us ttft_us \
    overhead_us prompt_tokens completion_tokens cached_tokens cache_write_tokens \
    reasoning_tokens cost_nanos cache_status retry_count fallback_path guardrails metadata \
    request_bytes response_bytes user_id user_hash dim_id flags lat_b ttft_b ovh_b request_body \
    response_body meta payload_seg payload_off request_len response_len";

const NARROW: &str = "id created_at trace_id workspace_id status cost_nanos user_id user_hash \
    dim_id flags lat_b ttft_b ovh_b meta upstream_us ttft_us payload_seg payload_off \
    request_len response_len rec";

const INDEXES: &str = "CREATE UNIQUE INDEX t_created ON t (created_at, id);
    CREATE INDEX t_trace ON t (trace_id) WHERE trace_id <> id;
    CREATE INDEX t_workspace ON t (workspace_id, created_at, id) WHERE workspace_id IS NOT NULL;
    CREATE INDEX t_user ON t (user_hash, created_at) WHERE user_hash IS NOT NULL;";

/// A benchmark-like record's value for `column` (row `i`): the gateway's own ids, one model,
/// varying timings, no workspace, key or end user.
fn value(column: &str, i: i64, id: &str) -> Value {
    let text = |s: &str| Value::Text(s.to_owned());
    match column {
        "id" | "trace_id" => text(id),
        "created_at" => Value::Integer(1_700_000_000_000 + i / 20),
        "w3c_trace_id" => text("4bf92f3577b34da6a3ce929d0e0e4736"),
        "span_id" => text("00f067aa0ba902b7"),
        "provider" => text("openai"),
        "requested_model" | "model" => text("gpt-4o-mini"),
        "endpoint" => text("chat.completions"),
        "method" => text("POST"),
        "path" => text("/v1/chat/completions"),
        "outcome" => text("success"),
        "cache_status" => text("MISS"),
        "fallback_path" => text("[]"),
        "metadata" | "meta" => text("{}"),
        "status" => Value::Integer(200),
        "rec" => Value::Blob(vec![7; BLOB]),
        c if ABSENT.contains(&c) => Value::Null,
        _ => Value::Integer(1000 + i % 977),
    }
}

fn main() -> rusqlite::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, layout, rows, file] = args.as_slice() else {
        eprintln!("usage: sqlite-rows table|typed|narrow|chunk ROWS FILE");
        std::process::exit(2);
    };
    let rows: usize = rows.parse().expect("ROWS is a number");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{file}{suffix}"));
    }
    let conn = Connection::open(file)?;
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA cache_size = -8192;",
    )?;
    let wide: Vec<&str> = WIDE.split_whitespace().collect();
    let columns: Vec<&str> = match layout.as_str() {
        "table" => {
            conn.execute_batch(&format!("CREATE TABLE t ({}); {INDEXES}", wide.join(", ")))?;
            wide
        }
        "typed" => {
            let typed: Vec<String> = wide
                .iter()
                .map(|c| {
                    let ty = if TEXT.contains(c) { "TEXT" } else { "INTEGER" };
                    let null = if NULLABLE.contains(c) {
                        ""
                    } else {
                        " NOT NULL"
                    };
                    format!("{c} {ty}{null}")
                })
                .collect();
            conn.execute_batch(&format!("CREATE TABLE t ({}); {INDEXES}", typed.join(", ")))?;
            wide
        }
        "narrow" => {
            let narrow: Vec<&str> = NARROW.split_whitespace().collect();
            conn.execute_batch(&format!(
                "CREATE TABLE t ({}); {INDEXES}",
                narrow.join(", ")
            ))?;
            narrow
        }
        "chunk" => {
            conn.execute_batch("CREATE TABLE t (first_at, records, blob)")?;
            let mut insert = conn.prepare("INSERT INTO t VALUES (?, ?, ?)")?;
            let chunk = vec![7u8; BLOB * ROWS_PER_INSERT];
            for start in (0..rows).step_by(ROWS_PER_TRANSACTION) {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                for at in (start..rows.min(start + ROWS_PER_TRANSACTION)).step_by(ROWS_PER_INSERT) {
                    insert.execute(rusqlite::params![at as i64, ROWS_PER_INSERT as i64, chunk])?;
                }
                conn.execute_batch("COMMIT")?;
            }
            return Ok(());
        }
        other => {
            eprintln!("unknown layout {other}");
            std::process::exit(2);
        }
    };
    let marks = format!("({})", vec!["?"; columns.len()].join(", "));
    let sql = format!(
        "INSERT OR IGNORE INTO t ({}) VALUES {}",
        columns.join(", "),
        vec![marks; ROWS_PER_INSERT].join(", ")
    );
    let mut insert = conn.prepare(&sql)?;
    for start in (0..rows).step_by(ROWS_PER_TRANSACTION) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        for at in (start..rows.min(start + ROWS_PER_TRANSACTION)).step_by(ROWS_PER_INSERT) {
            let mut param = 1;
            for i in at..at + ROWS_PER_INSERT {
                let id = format!("0194f3c2-{:04x}-7abc-8def-{i:012x}", i % 65536);
                for c in &columns {
                    insert.raw_bind_parameter(param, value(c, i as i64, &id))?;
                    param += 1;
                }
            }
            insert.raw_execute()?;
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(())
}
