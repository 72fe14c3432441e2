//! What the logs, export, analytics and feedback routes share: the log store (404 when logging
//! is off), the query-string filters as a [`LogFilter`] with the caller's workspace visibility
//! forced in, money as nano-dollars ↔ USD, and log-store failures as admin errors.

use std::sync::Arc;

use http::StatusCode;
use portcullis_logs::{LogError, LogFilter, LogStore, Outcome};

use crate::auth::Caller;
use crate::ctx::AdminCtx;
use crate::error::{ApiError, ApiResult};
use crate::paging::Params;

/// `&[<extra>…, <every filter parameter>]`: a logs or analytics route's query parameters, with
/// the filters every such route reads ([`filter`]) written down once. `metadata.<key>` stands
/// for any metadata key.
macro_rules! with_filters {
    ($($extra:literal),* $(,)?) => {
        &[
            $($extra,)*
            "from",
            "to",
            "time_of_generation_min",
            "time_of_generation_max",
            "workspace_id",
            "workspace_slug",
            "api_key_id",
            "api_key_ids",
            "provider_id",
            "provider",
            "model",
            "ai_model",
            "ai_org_model",
            "status",
            "status_code",
            "status_class",
            "outcome",
            "trace_id",
            "min_cost",
            "max_cost",
            "cost_min",
            "cost_max",
            "min_cost_nanos",
            "max_cost_nanos",
            "metadata.<key>",
            "metadata",
        ]
    };
}
pub(crate) use with_filters;

/// The filter parameters every logs and analytics route reads (documented in the OpenAPI
/// document).
pub const FILTER_PARAMS: &[&str] = with_filters!();

/// Portkey analytics filters Portcullis cannot apply: refused (400) rather than ignored, so a
/// narrower question never silently gets a wider answer.
pub const UNSUPPORTED: &[&str] = &[
    "virtual_keys",
    "configs",
    "prompt_slug",
    "cache_status",
    "total_units_min",
    "total_units_max",
    "prompt_token_min",
    "prompt_token_max",
    "completion_token_min",
    "completion_token_max",
    "weighted_feedback_min",
    "weighted_feedback_max",
    "trace_id_list",
    "span_id",
    "span_name",
];

/// Nano-dollars in one USD.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// The log store, or 404 saying logging is off (a 404, not a 5xx, so SDKs do not retry).
pub fn store(ctx: &AdminCtx) -> ApiResult<Arc<dyn LogStore>> {
    ctx.logs.clone().ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        code: "AB08",
        message: "Request logging is disabled on this gateway: logs, analytics and feedback are \
                  unavailable"
            .to_owned(),
        param: None,
    })
}

/// A log-store failure: invalid input is a 400 (naming `param` when given), anything else a 500
/// whose cause is logged, never sent.
pub fn log_error(e: LogError, param: Option<&str>) -> ApiError {
    match e {
        LogError::Invalid(m) => match param {
            Some(p) => ApiError::field(p, format!("{p}: {m}")),
            None => ApiError::invalid(m),
        },
        other => ApiError::internal(&other.to_string()),
    }
}

/// A point in time: unix milliseconds, or an ISO-8601 / RFC 3339 timestamp.
pub fn parse_time(name: &str, text: &str) -> ApiResult<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| ApiError::field(name, format!("{name} is out of range (got {text:?})")));
    }
    crate::time::parse(t).ok_or_else(|| {
        ApiError::field(
            name,
            format!(
                "{name} must be unix milliseconds or an RFC 3339 timestamp such as \
                 2026-03-02T16:36:52Z (got {text:?})"
            ),
        )
    })
}

/// A USD amount (`0.25`, `12`, `.000001`; at most 9 decimals) in nano-dollars, exactly.
pub fn parse_usd(name: &str, text: &str) -> ApiResult<i64> {
    let bad = || {
        ApiError::field(
            name,
            format!(
                "{name} must be a non-negative USD amount with at most 9 decimals, such as 0.05 \
                 (got {text:?})"
            ),
        )
    };
    let t = text.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(bad());
    }
    if frac.len() > 9 {
        return Err(bad());
    }
    let whole: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(NANOS_PER_USD)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(bad)
}

/// Nano-dollars as an exact USD decimal (`0.000123`, `1.5`, `0`).
pub fn usd_text(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let per = NANOS_PER_USD.unsigned_abs();
    let (whole, frac) = (abs / per, abs % per);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:09}");
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

/// Nano-dollars as a USD JSON number.
pub fn usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// Nano-dollars as US cents (Portkey's unit for cost), a JSON number.
pub fn cents(nanos: i64) -> f64 {
    nanos as f64 / (NANOS_PER_USD / 100) as f64
}

/// `2xx`, `4XX` or a bare class digit: the class (1..=5).
fn status_class(text: &str) -> Option<u8> {
    let t = text.trim().to_ascii_lowercase();
    let digit = t.strip_suffix("xx").unwrap_or(&t);
    match digit.as_bytes() {
        [d @ b'1'..=b'5'] => Some(d - b'0'),
        _ => None,
    }
}

/// A filter value that must be one value, not Portkey's comma-separated list.
fn single<'a>(name: &str, v: &'a str) -> ApiResult<&'a str> {
    if v.contains(',') {
        return Err(ApiError::field(
            name,
            format!("{name} takes one value; Portcullis does not filter by lists"),
        ));
    }
    Ok(v.trim())
}

/// The records a caller may see with the `workspace_id` it asked for: a workspace key only
/// ever sees its own workspace (naming another is a 404, as for any object it cannot see); an
/// organisation key sees everything, or the workspace it names (by id or slug; an unknown value
/// is taken as an id, since logs outlive deleted workspaces).
pub async fn visible_workspaces(
    ctx: &AdminCtx,
    caller: &Caller,
    given: Option<&str>,
) -> ApiResult<Option<Vec<String>>> {
    let given = given.map(str::trim).filter(|g| !g.is_empty());
    match caller.pinned_workspace() {
        Some("") => Ok(Some(Vec::new())),
        Some(own) => {
            if let Some(g) = given
                && g != own
            {
                let same = matches!(ctx.repo.get_workspace(g).await?, Some(w) if w.id == own);
                if !same {
                    return Err(ApiError::not_found("workspace", g));
                }
            }
            Ok(Some(vec![own.to_owned()]))
        }
        None => match given {
            None => Ok(None),
            Some(g) => {
                let id = match ctx.repo.get_workspace(g).await? {
                    Some(w) => w.id,
                    None => g.to_owned(),
                };
                Ok(Some(vec![id]))
            }
        },
    }
}

/// The query string's filters, with the caller's visibility forced in. Every bad value is a
/// 400 naming its parameter.
pub async fn filter(ctx: &AdminCtx, caller: &Caller, p: &Params) -> ApiResult<LogFilter> {
    for name in UNSUPPORTED {
        if p.get(&[name]).is_some() {
            return Err(ApiError::field(
                name,
                format!(
                    "{name}: Portcullis cannot filter logs by this; see the documented filters"
                ),
            ));
        }
    }
    let mut f = LogFilter::default();
    if let Some((name, v)) = p.named(&["from", "start_time", "time_of_generation_min"]) {
        f.from = Some(parse_time(name, v)?);
    }
    if let Some((name, v)) = p.named(&["to", "end_time", "time_of_generation_max"]) {
        let to = parse_time(name, v)?;
        if f.from.is_some_and(|from| from > to) {
            return Err(ApiError::field(
                name,
                format!("{name} must not be before from"),
            ));
        }
        f.to = Some(to);
    }
    f.workspace_ids =
        visible_workspaces(ctx, caller, p.get(&["workspace_id", "workspace_slug"])).await?;
    let text = |names: &[&'static str]| -> ApiResult<Option<String>> {
        p.named(names)
            .map(|(n, v)| single(n, v).map(str::to_owned))
            .transpose()
    };
    f.api_key_id = text(&["api_key_id", "api_key_ids"])?;
    f.provider_id = text(&["provider_id"])?;
    f.provider = text(&["provider"])?;
    f.model = text(&["model", "ai_model"])?;
    if f.model.is_none()
        && let Some((name, v)) = p.named(&["ai_org_model"])
    {
        // Portkey writes `<provider>__<model>`; a bare model name works too.
        match single(name, v)?.split_once("__") {
            Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {
                f.provider.get_or_insert_with(|| provider.to_owned());
                f.model = Some(model.to_owned());
            }
            _ => f.model = Some(single(name, v)?.to_owned()),
        }
    }
    f.trace_id = p.get(&["trace_id"]).map(|t| t.trim().to_owned());
    if let Some((name, v)) = p.named(&["status", "status_code"]) {
        let v = single(name, v)?;
        match (v.parse::<u16>(), status_class(v)) {
            (Ok(s), _) if (100..=599).contains(&s) => f.status = Some(s),
            (Err(_), Some(c)) => f.status_class = Some(c),
            _ => {
                return Err(ApiError::field(
                    name,
                    format!(
                        "{name} must be an HTTP status from 100 to 599, or a class such as 4xx (got {v:?})"
                    ),
                ));
            }
        }
    }
    if let Some(v) = p.get(&["status_class"]) {
        f.status_class = Some(status_class(v).ok_or_else(|| {
            ApiError::field(
                "status_class",
                format!("status_class must be 1xx, 2xx, 3xx, 4xx or 5xx (got {v:?})"),
            )
        })?);
    }
    if let Some(v) = p.get(&["outcome"]) {
        f.outcome = Some(Outcome::parse(v.trim()).ok_or_else(|| {
            ApiError::field(
                "outcome",
                format!(
                    "outcome must be one of success, provider_error, gateway_error, \
                     invalid_request, unauthorized, rate_limited, budget_exhausted, \
                     guardrail_denied, cache_hit, client_disconnect (got {v:?})"
                ),
            )
        })?);
    }
    if let Some((name, v)) = p.named(&["min_cost", "cost_min"]) {
        f.min_cost_nanos = Some(parse_usd(name, v)?);
    }
    if let Some((name, v)) = p.named(&["max_cost", "cost_max"]) {
        f.max_cost_nanos = Some(parse_usd(name, v)?);
    }
    for (name, slot) in [
        ("min_cost_nanos", &mut f.min_cost_nanos),
        ("max_cost_nanos", &mut f.max_cost_nanos),
    ] {
        if let Some(v) = p.get(&[name]) {
            *slot = Some(v.trim().parse::<i64>().map_err(|_| {
                ApiError::field(name, format!("{name} must be an integer (got {v:?})"))
            })?);
        }
    }
    if let (Some(lo), Some(hi)) = (f.min_cost_nanos, f.max_cost_nanos)
        && lo > hi
    {
        return Err(ApiError::field(
            "max_cost",
            "max_cost must not be below min_cost",
        ));
    }
    for (name, v) in p.pairs() {
        if let Some(key) = name.strip_prefix("metadata.") {
            if key.is_empty() {
                return Err(ApiError::field(
                    name,
                    "metadata filters are metadata.<key>=<value>: the key is missing",
                ));
            }
            f.metadata.push((key.to_owned(), v.to_owned()));
        }
    }
    if let Some(v) = p.get(&["metadata"]) {
        // Portkey's spelling: one JSON object of key → value.
        let bad = || {
            ApiError::field(
                "metadata",
                "metadata must be a JSON object of key → value, or use metadata.<key>=<value>",
            )
        };
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(v).map_err(|_| bad())?;
        for (k, v) in obj {
            let v = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            if k.is_empty() {
                return Err(bad());
            }
            f.metadata.push((k, v));
        }
    }
    Ok(f)
}

/// A positive count parameter with a default and a ceiling (400 naming it when bad).
pub fn count(p: &Params, names: &[&'static str], default: u32, max: u32) -> ApiResult<u32> {
    let Some((name, v)) = p.named(names) else {
        return Ok(default);
    };
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            name,
            format!("{name} must be a whole number from 1 to {max} (got {v:?})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_round_trips_exactly() {
        assert_eq!(parse_usd("c", "0.05").unwrap(), 50_000_000);
        assert_eq!(parse_usd("c", "12").unwrap(), 12 * NANOS_PER_USD);
        assert_eq!(parse_usd("c", ".000000001").unwrap(), 1);
        assert_eq!(parse_usd("c", "1.").unwrap(), NANOS_PER_USD);
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000000001",
            "abc",
            "1.2.3",
            "99999999999999",
        ] {
            assert_eq!(
                parse_usd("min_cost", bad).unwrap_err().param.as_deref(),
                Some("min_cost"),
                "{bad}"
            );
        }
        assert_eq!(usd_text(123_000), "0.000123");
        assert_eq!(usd_text(1_500_000_000), "1.5");
        assert_eq!(usd_text(0), "0");
        assert_eq!(usd_text(-2_000_000_001), "-2.000000001");
        assert_eq!(usd(1_500_000_000), 1.5);
    }

    #[test]
    fn times_are_ms_or_rfc3339() {
        assert_eq!(
            parse_time("from", "1700000000000").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("from", "2026-03-02T16:36:52Z").unwrap(),
            1_772_469_412_000
        );
        assert_eq!(
            parse_time("from", "2026-03-02T17:36:52+01:00").unwrap(),
            1_772_469_412_000
        );
        let e = parse_time("to", "yesterday").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("to"));
        assert!(parse_time("to", "99999999999999999999999").is_err());
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class("4xx"), Some(4));
        assert_eq!(status_class("5XX"), Some(5));
        assert_eq!(status_class("2"), Some(2));
        assert_eq!(status_class("6xx"), None);
        assert_eq!(status_class("44x"), None);
    }
}
