//! Payloads as a log record keeps them: credentials masked, size capped.
//!
//! Every logged request passes through here twice (request and response), so the common case
//! is made cheap: one scan of the text for anything that could be a credential (a credential
//! field's name, a key prefix, or a JSON `\u` escape that could spell either). Text without
//! any is kept as it was sent, cut to the cap; only the rest is parsed and masked.

use serde_json::{Map, Value};

mod scan;

use scan::may_hold_secrets;

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
    text.truncate(floor_boundary(&text, cap));
    text.push_str(&format!("…[truncated: {total} bytes in all]"));
    text
}

/// Like [`cap_text`], copying only what is kept.
fn cap_str(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    let mut out = text[..floor_boundary(text, cap)].to_owned();
    out.push_str(&format!("…[truncated: {} bytes in all]", text.len()));
    out
}

fn floor_boundary(text: &str, cap: usize) -> usize {
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// A JSON object the gateway parsed (`parsed`) from `raw`: kept as sent when nothing in it
/// could be a credential, else masked and serialised; capped either way.
pub fn object_payload(raw: &[u8], parsed: &Map<String, Value>, cap: usize) -> String {
    match utf8(raw) {
        Ok(text) if !may_hold_secrets(text) => cap_str(text, cap),
        _ => json_payload(Value::Object(parsed.clone()), cap),
    }
}

/// A JSON body for the record: masked, serialised, capped.
pub fn json_payload(mut v: Value, cap: usize) -> String {
    mask_value(&mut v);
    cap_text(v.to_string(), cap)
}

/// Bytes of a body for the record: JSON is masked; other text is kept as is (capped); binary is
/// described, not kept.
pub fn bytes_payload(b: &[u8], cap: usize) -> String {
    if let Ok(text) = utf8(b)
        && !may_hold_secrets(text)
    {
        return cap_str(text, cap);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(b) {
        return json_payload(v, cap);
    }
    match std::str::from_utf8(b) {
        Ok(s) => cap_text(mask_text(s), cap),
        Err(_) => format!("[{} bytes of binary data]", b.len()),
    }
}

/// Like [`bytes_payload`] for a buffer the caller gives up (a captured stream): clean text
/// within the cap becomes the payload without a copy.
pub fn owned_payload(b: Vec<u8>, cap: usize) -> String {
    match String::from_utf8(b) {
        Ok(text) if text.len() <= cap && !may_hold_secrets(&text) => text,
        Ok(text) => bytes_payload(text.as_bytes(), cap),
        Err(e) => bytes_payload(e.as_bytes(), cap),
    }
}

/// `b` as text, if it is UTF-8. Every logged request and response is checked: `std`'s check
/// took ~2.5 instructions a byte on a chat completion (callgrind), the vectorised one a fraction.
fn utf8(b: &[u8]) -> Result<&str, simdutf8::basic::Utf8Error> {
    simdutf8::basic::from_utf8(b)
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
        let out: Value = serde_json::from_str(&json_payload(v, 10_000)).unwrap();
        assert_eq!(out["max_tokens"], 5);
        assert_eq!(out["api_key"], "plai****");
        assert_eq!(out["messages"][0]["content"], "sk-p****");
        assert_eq!(out["nested"]["Authorization"], "Bear****");
    }

    #[test]
    fn clean_text_is_kept_as_sent_and_anything_suspect_is_masked() {
        let raw = br#"{ "model": "gpt-4o",  "messages": [{"role":"user","content":"hi"}] }"#;
        let v: Map<String, Value> = serde_json::from_slice(raw).unwrap();
        assert_eq!(object_payload(raw, &v, 10_000).as_bytes(), raw);
        assert_eq!(bytes_payload(raw, 10_000).as_bytes(), raw);
        assert_eq!(owned_payload(raw.to_vec(), 10_000).as_bytes(), raw);
        // Names in any case, prefixes, and escapes that could spell a key all take the masking
        // path.
        for raw in [
            &br#"{"API_KEY": "plain-but-named-secret"}"#[..],
            br#"{"x": "sk-proj-abcdefghijklmnopqrstuvwxyz"}"#,
            br#"{"x": "\u0073k-proj-abcdefghijklmnopqrstuvwxyz"}"#,
            // JSON whitespace between a key and its colon.
            b"{\"Api_Key\" \n\t:\"plain-but-named-secret\"}",
        ] {
            let v: Map<String, Value> = serde_json::from_slice(raw).unwrap();
            for out in [
                object_payload(raw, &v, 10_000),
                bytes_payload(raw, 10_000),
                owned_payload(raw.to_vec(), 10_000),
            ] {
                assert!(
                    !out.contains("abcdefghijklmnop") && !out.contains("but-named"),
                    "{out}"
                );
            }
        }
        // A colon in the last, partial word the scan reads.
        let raw = br#"{"client_secret":"x"}"#;
        assert_eq!(raw.len() % 8, 5);
        assert_eq!(bytes_payload(raw, 100), r#"{"client_secret":"x****"}"#);
        // A long clean body is cut without copying the rest.
        let long = format!("{{\"content\":\"{}\"}}", "é".repeat(5_000));
        let v: Map<String, Value> = serde_json::from_str(&long).unwrap();
        let out = object_payload(long.as_bytes(), &v, 101);
        assert!(
            out.starts_with("{\"content\":\"é") && out.contains("10014 bytes in all"),
            "{out}"
        );
    }

    /// The scan is a superset of what masking changes: texts assembled at random from the
    /// pieces that matter (names in any case, prefixes, quotes, escapes, separators) are
    /// masked only where the scan flags them; and it flags no more than it must on a plain body.
    #[test]
    fn the_scan_flags_everything_masking_would_change() {
        // Every field name as written and in two other cases, every prefix, and the bytes
        // around them.
        let mut pieces: Vec<String> = [
            "\"",
            "\"",
            "\"",
            ":",
            ",",
            " ",
            "{",
            "}",
            "[",
            "]",
            "\\u0073",
            "\\n",
            "\n",
            "\t",
            "a",
            "K",
            "_",
            "-",
            "x",
            "1",
            "Bearer ",
            "abcdefghijklmnopqrstuvwxyz",
            "s",
            "k",
            "A",
        ]
        .map(str::to_owned)
        .into();
        for f in SECRET_FIELDS {
            let mut title = f.to_string();
            title[..1].make_ascii_uppercase();
            pieces.extend([f.to_string(), f.to_ascii_uppercase(), title]);
        }
        pieces.extend(SECRET_PREFIXES.iter().map(|p| p.to_string()));
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut changed = 0;
        for _ in 0..200_000 {
            let text: String = (0..next(24))
                .map(|_| pieces[next(pieces.len())].as_str())
                .collect();
            // Also as JSON: a one-key object around the text, or the text as a value.
            let json = [
                format!("{{\"{text}\": \"{text}\"}}"),
                format!("{{\"k\": [\"{text}\", {{\"{text}\": 1}}]}}"),
            ];
            for t in [text.clone(), json[0].clone(), json[1].clone()] {
                let masked = match serde_json::from_str::<Value>(&t) {
                    Ok(v) => {
                        let mut m = v.clone();
                        mask_value(&mut m);
                        m != v
                    }
                    Err(_) => mask_text(&t) != t,
                };
                if masked {
                    changed += 1;
                    assert!(
                        may_hold_secrets(&t),
                        "masking changes {t:?} but the scan missed it"
                    );
                }
            }
        }
        assert!(
            changed > 1_000,
            "the generator rarely made a secret: {changed}"
        );
        let clean = r#"{"id":"chatcmpl-9x","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Sure - ask away_ A task"}}],"usage":{"prompt_tokens":23}}"#;
        assert!(!may_hold_secrets(clean));
        // A whole chat completion as providers send it: its colons, underscores and dashes are
        // all looked at, and none is a secret.
        let completion = r#"{"id":"chatcmpl-CSFLZGnMLJshexZ1Kcoyu3kGz6qIL","object":"chat.completion","created":1795935562,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! A reply: key-shaped_ words, SKA and \n escapes.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":25,"completion_tokens":18,"total_tokens":43,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_mock0000"}"#;
        assert!(!may_hold_secrets(completion));
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
        assert_eq!(
            owned_payload(vec![0xff, 0xfe, 0], 100),
            "[3 bytes of binary data]"
        );
        assert!(owned_payload("é".repeat(10).into_bytes(), 5).contains("20 bytes in all"));
    }
}
