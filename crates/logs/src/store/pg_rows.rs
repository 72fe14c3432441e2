//! A PostgreSQL batch as it is sent: every record's row as `COPY … FROM STDIN` text, written
//! straight from the record's fields (no per-field copies in between), beside what the side
//! tables need. Built before the batch's transaction begins, so the database never waits on it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use super::db::nul_free;
use super::write::RowParts;
use crate::derive::clamp_u64;
use crate::dims::Dims;
use crate::partial::AggInput;
use crate::record::LogRecord;

/// The rows of a batch: one `COPY` text line per record (a record whose id came earlier in the
/// batch is left out), in batch order.
pub(crate) struct PgRows<'a> {
    /// The lines, back to back.
    pub data: Vec<u8>,
    /// Per row: its record's id and where its line ends in `data`.
    pub rows: Vec<(&'a str, usize)>,
    /// Per row: what it adds to the rollups.
    pub inputs: Vec<AggInput>,
    /// The batch's dimensions (each at least once).
    pub dims: Vec<Dims>,
}

impl<'a> PgRows<'a> {
    pub fn of(records: &'a [LogRecord]) -> PgRows<'a> {
        let mut seen = std::collections::HashSet::with_capacity(records.len());
        let mut out = PgRows {
            data: Vec::with_capacity(records.len() * 640),
            rows: Vec::with_capacity(records.len()),
            inputs: Vec::with_capacity(records.len()),
            dims: Vec::new(),
        };
        for r in records {
            if !seen.insert(r.id.as_str()) {
                continue;
            }
            let dim_id = Dims::id_in(&mut out.dims, r);
            let p = RowParts::of(r, dim_id);
            line(&mut out.data, r, &p);
            out.rows.push((r.id.as_str(), out.data.len()));
            out.inputs.push(p.d.input(r));
        }
        out
    }

    /// The lines of the rows `keep` says yes to, and their inputs.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> (Vec<u8>, Vec<AggInput>) {
        let mut data = Vec::new();
        let mut inputs = Vec::new();
        let mut start = 0;
        for (&(id, end), input) in self.rows.iter().zip(&self.inputs) {
            if keep(id) {
                data.extend_from_slice(&self.data[start..end]);
                inputs.push(input.clone());
            }
            start = end;
        }
        (data, inputs)
    }
}

/// One record's line, in [`RAW_COLUMNS`](super::write::RAW_COLUMNS) order.
fn line(out: &mut Vec<u8>, r: &LogRecord, p: &RowParts) {
    let d = &p.d;
    let t = &r.timings;
    let k = &r.tokens;
    let mut l = Line { out, first: true };
    l.text(&r.id);
    l.int(r.created_at);
    l.text(&r.trace_id);
    l.text(&r.w3c_trace_id);
    l.text(&r.span_id);
    l.opt_text(r.parent_span_id.as_deref());
    l.opt_text(r.workspace_id.as_deref());
    l.opt_text(r.api_key_id.as_deref());
    l.opt_text(r.provider_id.as_deref());
    l.opt_text(r.integration_id.as_deref());
    l.opt_text(r.provider.as_deref());
    l.opt_text(r.requested_model.as_deref());
    l.opt_text(r.model.as_deref());
    l.text(&r.endpoint);
    l.text(&r.method);
    l.text(&r.path);
    l.int(i64::from(r.stream));
    l.int(i64::from(r.status));
    l.opt_text(p.outcome);
    l.opt_text(r.error_code.as_deref());
    l.opt_text(r.error_type.as_deref());
    l.opt_text(r.error_message.as_deref());
    l.int(clamp_u64(t.total_us));
    l.opt_int(t.upstream_us.map(clamp_u64));
    l.opt_int(t.ttft_us.map(clamp_u64));
    l.int(clamp_u64(t.overhead_us));
    l.int(clamp_u64(k.prompt));
    l.int(clamp_u64(k.completion));
    l.int(clamp_u64(k.cached));
    l.int(clamp_u64(k.cache_write));
    l.int(clamp_u64(k.reasoning));
    l.opt_int(r.cost_nanos);
    l.text(&r.cache_status);
    l.int(i64::from(r.retry_count));
    l.text(&p.fallback_path);
    l.opt_text(p.guardrails.as_deref());
    l.text(&p.metadata);
    l.int(clamp_u64(r.request_bytes));
    l.int(clamp_u64(r.response_bytes));
    l.opt_text(d.user.as_deref());
    l.opt_int(d.user_hash);
    l.int(d.dim_id);
    l.int(d.flags);
    l.int(d.lat_b);
    l.opt_int(d.ttft_b);
    l.int(d.ovh_b);
    l.opt_text(r.request_body.as_deref());
    l.opt_text(r.response_body.as_deref());
    l.text(&jsonb_meta(p));
    out.push(b'\n');
}

/// The `meta` object as `JSONB` takes it: `JSONB` refuses the `\u0000` escape, so a NUL in a
/// key or value (a client's metadata can hold one) becomes U+FFFD (see `nul_free`).
fn jsonb_meta<'p>(p: &'p RowParts) -> Cow<'p, str> {
    if !p.meta.contains("\\u0000") {
        return Cow::Borrowed(&p.meta);
    }
    let map: BTreeMap<Cow<'_, str>, Cow<'_, str>> =
        p.d.meta
            .iter()
            .map(|(k, v)| (nul_free(k), nul_free(v)))
            .collect();
    Cow::Owned(serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_owned()))
}

/// Tab-separated values of one line, in `COPY`'s text format.
struct Line<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Line<'_> {
    fn sep(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b'\t');
        }
    }

    fn text(&mut self, s: &str) {
        self.sep();
        let bytes = s.as_bytes();
        if !bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t' | 0))
        {
            self.out.extend_from_slice(bytes);
            return;
        }
        for &b in bytes {
            match b {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                // What `nul_free` does, in the same pass: one NUL would fail the whole batch.
                0 => self.out.extend_from_slice("\u{FFFD}".as_bytes()),
                _ => self.out.push(b),
            }
        }
    }

    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    fn int(&mut self, v: i64) {
        self.sep();
        // Writing into a vector cannot fail.
        let _ = write!(self.out, "{v}");
    }

    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    fn null(&mut self) {
        self.sep();
        self.out.extend_from_slice(b"\\N");
    }
}
