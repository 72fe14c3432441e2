//! Payloads as a log record keeps them: credentials masked, size capped.

use serde_json::Value;

/// Field names whose string values are credentials wherever they appear in a body.
const SECRET_FIELDS: &[&str] = &[
    "api_key",
    "apikey",
    "authorization",
    "password",
    "secret",
    "client_secret",
    "access_token",
    "refresh_token",
    "private_key",
    "aws_secret_access_key",
    "aws_session_token",
    "x-api-key",
    "x-portkey-api-key",
];

/// Value prefixes of well-known credentials (OpenAI, Anthropic, Portcullis, GitHub, AWS, Slack).
const SECRET_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "pcl_",
    "ghp_",
    "gho_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "xoxb-",
    "xoxp-",
];

fn looks_secret(s: &str) -> bool {
    let s = s.strip_prefix("Bearer ").unwrap_or(s);
    s.len() >= 20
        && !s.contains(char::is_whitespace)
        && SECRET_PREFIXES.iter().any(|p| s.starts_with(p))
}

fn mask(s: &str) -> String {
    let keep: String = s.chars().take(4).collect();
    format!("{keep}****")
}

/// Masks credentials in place: values of credential fields, and strings shaped like keys.
pub fn mask_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                let lower = k.to_ascii_lowercase();
                if SECRET_FIELDS.contains(&lower.as_str())
                    && let Value::String(s) = v
                {
                    *s = mask(s);
                } else {
                    mask_value(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_value),
        Value::String(s) if looks_secret(s) => *s = mask(s),
        _ => {}
    }
}

/// `text` cut to at most `cap` bytes on a character boundary, saying how much was left out.
pub fn cap_text(mut text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let total = text.len();
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("…[truncated: {total} bytes in all]"));
    text
}

/// A JSON body for the record: masked, serialised, capped.
pub fn json_payload(v: &Value, cap: usize) -> String {
    let mut v = v.clone();
    mask_value(&mut v);
    cap_text(v.to_string(), cap)
}

/// Bytes of a body for the record: JSON is masked; other text is kept as is (capped); binary is
/// described, not kept.
pub fn bytes_payload(b: &[u8], cap: usize) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(b) {
        return json_payload(&v, cap);
    }
    match std::str::from_utf8(b) {
        Ok(s) => cap_text(mask_text(s), cap),
        Err(_) => format!("[{} bytes of binary data]", b.len()),
    }
}

/// Masks key-shaped words in free text (SSE transcripts, form bodies).
fn mask_text(s: &str) -> String {
    if !SECRET_PREFIXES.iter().any(|p| s.contains(p)) {
        return s.to_owned();
    }
    s.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .map(|w| {
            let core = w.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == ',');
            if looks_secret(core) {
                format!("{}{}", mask(core), &w[core.len()..])
            } else {
                w.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_are_masked_at_any_depth() {
        let v = json!({
            "model": "gpt-4o", "max_tokens": 5,
            "api_key": "plain-but-named-secret",
            "messages": [{"role": "user", "content": "sk-proj-abcdefghijklmnopqrstuvwxyz"}],
            "nested": {"Authorization": "Bearer abc"}
        });
        let out: Value = serde_json::from_str(&json_payload(&v, 10_000)).unwrap();
        assert_eq!(out["max_tokens"], 5);
        assert_eq!(out["api_key"], "plai****");
        assert_eq!(out["messages"][0]["content"], "sk-p****");
        assert_eq!(out["nested"]["Authorization"], "Bear****");
    }

    #[test]
    fn long_payloads_are_cut_on_a_char_boundary() {
        let s = cap_text("ééééé".into(), 5);
        assert!(s.starts_with("éé…"), "{s}");
        assert!(s.contains("10 bytes"));
        let t = bytes_payload(b"data: {\"k\":\"sk-ant-api03-abcdefghijklmnop\"}\n\n", 1000);
        assert!(!t.contains("abcdefghijklmnop"), "{t}");
        assert_eq!(
            bytes_payload(&[0xff, 0xfe, 0], 100),
            "[3 bytes of binary data]"
        );
    }
}
