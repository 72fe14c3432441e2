//! The rows of a Portkey log export: the fields `requested_data` may name (Portkey's list),
//! each computed from a stored record in Portkey's units: cost in US cents, times in
//! milliseconds, `is_success` as 1 or 0.

use axum::body::Bytes;
use portcullis_logs::LogRecord;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};

/// Every field an export row can carry, in Portkey's order (the default when none is named).
pub const FIELDS: &[&str] = &[
    "id",
    "trace_id",
    "created_at",
    "request",
    "response",
    "is_success",
    "ai_org",
    "ai_model",
    "req_units",
    "res_units",
    "total_units",
    "request_url",
    "cost",
    "cost_currency",
    "response_time",
    "response_status_code",
    "mode",
    "config",
    "prompt_slug",
    "metadata",
];

/// The requested fields, checked: every name one of [`FIELDS`], none twice, at least one
/// (`None`: all of them).
pub fn requested(given: Option<Vec<String>>) -> ApiResult<Vec<String>> {
    let Some(given) = given else {
        return Ok(FIELDS.iter().map(|f| (*f).to_owned()).collect());
    };
    if given.is_empty() {
        return Err(ApiError::field(
            "requested_data",
            "requested_data must name at least one field",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for f in given {
        let f = f.trim().to_owned();
        if !FIELDS.contains(&f.as_str()) {
            return Err(ApiError::field(
                "requested_data",
                format!(
                    "requested_data: unknown field {f:?}; the fields are {}",
                    FIELDS.join(", ")
                ),
            ));
        }
        if out.contains(&f) {
            return Err(ApiError::field(
                "requested_data",
                format!("requested_data names {f:?} twice"),
            ));
        }
        out.push(f);
    }
    Ok(out)
}

/// A stored payload as JSON when it is JSON, else as text.
fn payload(body: Option<&str>) -> Value {
    match body {
        None => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
    }
}

fn field(r: &LogRecord, name: &str) -> Value {
    match name {
        "id" => json!(r.id),
        "trace_id" => json!(r.trace_id),
        "created_at" => json!(crate::time::iso(r.created_at)),
        "request" => payload(r.request_body.as_deref()),
        "response" => payload(r.response_body.as_deref()),
        "is_success" => {
            let ok = match r.outcome {
                Some(o) => !o.is_error(),
                None => r.status < 400,
            };
            json!(u8::from(ok))
        }
        "ai_org" => json!(r.provider),
        "ai_model" => json!(r.model),
        "req_units" => json!(r.tokens.prompt),
        "res_units" => json!(r.tokens.completion),
        "total_units" => json!(r.tokens.total()),
        // The gateway path called: the provider's URL is not recorded.
        "request_url" => json!(r.path),
        "cost" => json!(r.cost_nanos.map(crate::logq::cents)),
        "cost_currency" => json!("USD"),
        "response_time" => json!(r.timings.total_us / 1000),
        "response_status_code" => json!(r.status),
        // Portkey's request kind (chatComplete, embed, …): the endpoint here.
        "mode" => json!(r.endpoint),
        // Saved configs and prompts are not recorded per request.
        "config" | "prompt_slug" => Value::Null,
        "metadata" => Value::Object(r.metadata.clone()),
        _ => Value::Null,
    }
}

/// One JSON object per record with `fields` in order, newline-terminated (JSONL).
pub fn jsonl(records: &[LogRecord], fields: &[String]) -> Bytes {
    let mut out = String::with_capacity(records.len() * 256);
    for r in records {
        let row: Map<String, Value> = fields.iter().map(|f| (f.clone(), field(r, f))).collect();
        out.push_str(&Value::Object(row).to_string());
        out.push('\n');
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_fields_are_checked() {
        assert_eq!(requested(None).unwrap().len(), FIELDS.len());
        assert_eq!(
            requested(Some(vec!["cost".into(), " id ".into()])).unwrap(),
            vec!["cost", "id"]
        );
        for bad in [
            vec![],
            vec!["colour".to_owned()],
            vec!["id".into(), "id".into()],
        ] {
            let e = requested(Some(bad)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("requested_data"));
        }
    }

    #[test]
    fn rows_carry_portkey_units_in_order() {
        let r = LogRecord {
            id: "r1".into(),
            cost_nanos: Some(12_345_000),
            request_body: Some(r#"{"model":"m"}"#.into()),
            response_body: Some("not json".into()),
            status: 502,
            timings: portcullis_logs::Timings {
                total_us: 1_234_567,
                ..Default::default()
            },
            ..LogRecord::default()
        };
        let fields: Vec<String> = ["cost", "request", "response", "is_success", "response_time"]
            .map(String::from)
            .to_vec();
        let line = String::from_utf8(jsonl(&[r], &fields).to_vec()).unwrap();
        assert_eq!(
            line,
            "{\"cost\":1.2345,\"request\":{\"model\":\"m\"},\"response\":\"not json\",\
             \"is_success\":0,\"response_time\":1234}\n"
        );
    }
}
