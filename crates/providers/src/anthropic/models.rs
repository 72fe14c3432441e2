//! Anthropic's model list → OpenAI's `{"object":"list","data":[…]}`.

use portcullis_core::GatewayError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, to_bytes};

#[derive(Deserialize)]
struct List {
    data: Vec<Model>,
}

#[derive(Deserialize)]
struct Model {
    id: String,
    #[serde(default)]
    created_at: Option<String>,
}

pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let list: List =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    let data: Vec<Value> = list
        .data
        .into_iter()
        .map(|m| {
            let created = m.created_at.as_deref().and_then(unix_seconds).unwrap_or(0);
            json!({"id": m.id, "object": "model", "created": created, "owned_by": "anthropic"})
        })
        .collect();
    let out = json!({"object": "list", "data": data});
    Ok(Translated {
        body: to_bytes(&out),
        usage: None,
        model: None,
    })
}

/// Unix seconds for an RFC 3339 timestamp (`2025-02-19T00:00:00Z`, fractions and offsets
/// allowed); `None` when it is not one.
pub(super) fn unix_seconds(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let hh: i64 = rest[1..3].parse().ok()?;
            let mm: i64 = rest[4..6].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Endpoint;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2025-02-19T00:00:00Z"), Some(1_739_923_200));
        assert_eq!(
            unix_seconds("2024-02-29T12:30:15.123456Z"),
            Some(1_709_209_815)
        );
        assert_eq!(
            unix_seconds("2024-02-29T14:30:15+02:00"),
            Some(1_709_209_815)
        );
        for bad in [
            "",
            "2025-02-19",
            "2025-13-01T00:00:00Z",
            "2025-02-19T00:00:00",
            "20x5-02-19T00:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(s in "\\PC{0,40}", t in "[0-9T:+Z.-]{15,30}") {
            let _ = unix_seconds(&s);
            let _ = unix_seconds(&t);
        }
    }

    #[test]
    fn non_list_bodies_are_invalid() {
        let ctx = ResponseCtx {
            endpoint: Endpoint::Models,
            provider: "anthropic".into(),
            model: String::new(),
            strict: true,
            include_usage: false,
            created: 0,
        };
        assert!(translate(b"{}", &ctx).is_err());
        let t = translate(br#"{"data":[{"id":"m","created_at":"garbage"}]}"#, &ctx).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&t.body).unwrap(),
            json!({"object":"list","data":[{"id":"m","object":"model","created":0,"owned_by":"anthropic"}]})
        );
    }
}
