//! Golden fixtures for the Anthropic adapter: requests, responses, errors and streams.
//!
//! Files in `tests/fixtures/anthropic/`, paired by case name:
//! - `<case>.openai.json` → `<case>.anthropic.json`: chat request body sent upstream.
//! - `<case>.response.anthropic.json` → `<case>.response.openai.json`: 2xx response body.
//! - `<case>.error.anthropic` → `<case>.error.openai.json`: first line the HTTP status, the
//!   rest the upstream body; expected `{status, body}` (plus `anthropic_body` for `messages_`).
//! - `<case>.sse` → `<case>.expected.sse`: stream transcript; an error ends the output with
//!   `: error status=<n>` and the translator's error frame.
//!
//! Case names set the context: `nonstrict` turns strict mode off, `include_usage` asks for the
//! usage chunk, a `models_` / `messages_` prefix selects that endpoint (else chat).
//! `UPDATE_GOLDEN=1 cargo test -p portcullis-providers --test anthropic_golden` rewrites the
//! expected files; otherwise JSON is compared as values, frame by frame for streams.

use std::fs;
use std::path::{Path, PathBuf};

use http::StatusCode;
use portcullis_core::sse::SseDecoder;
use portcullis_core::{Endpoint, JsonObject, Secret};
use portcullis_providers::adapter::Adapter;
use portcullis_providers::anthropic::{ANTHROPIC, error_body};
use portcullis_providers::registry::find;
use portcullis_providers::{ResponseCtx, Upstream};
use proptest::prelude::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anthropic")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Case names of every file ending in `suffix`, sorted.
fn cases(suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(suffix).map(str::to_owned))
        .filter(|n| !n.contains('.'))
        .collect();
    names.sort();
    names
}

fn endpoint_for(case: &str) -> Endpoint {
    if case.starts_with("models_") {
        Endpoint::Models
    } else if case.starts_with("messages_") {
        Endpoint::Messages
    } else {
        Endpoint::ChatComplete
    }
}

fn ctx(case: &str) -> ResponseCtx {
    ResponseCtx {
        endpoint: endpoint_for(case),
        provider: "anthropic".into(),
        model: "claude-sonnet-4-20250514".into(),
        strict: !case.contains("nonstrict"),
        include_usage: case.contains("include_usage"),
        created: 1_716_200_000,
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_json(path: &Path, actual: &Value) {
    if updating() {
        let mut text = serde_json::to_string_pretty(actual).unwrap();
        text.push('\n');
        fs::write(path, text).unwrap();
        return;
    }
    let expected = read_json(path);
    assert!(
        &expected == actual,
        "{} differs.\nexpected: {}\nactual:   {}",
        path.display(),
        serde_json::to_string_pretty(&expected).unwrap(),
        serde_json::to_string_pretty(actual).unwrap()
    );
}

#[test]
fn request_fixtures() {
    let names = cases(".openai.json");
    assert!(names.len() >= 10, "only {} request cases", names.len());
    let mut up = Upstream::new(find("anthropic").unwrap());
    up.api_key = Some(Secret::new("sk-ant-test"));
    for case in names {
        let body: JsonObject = match read_json(&dir().join(format!("{case}.openai.json"))) {
            Value::Object(o) => o,
            _ => panic!("{case}: request must be an object"),
        };
        let req = ANTHROPIC
            .request(Endpoint::ChatComplete, &body, None, &up)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(req.url, "https://api.anthropic.com/v1/messages", "{case}");
        let sent: Value = serde_json::from_slice(&req.body).unwrap();
        check_json(&dir().join(format!("{case}.anthropic.json")), &sent);
    }
}

#[test]
fn response_fixtures() {
    let names = cases(".response.anthropic.json");
    assert!(names.len() >= 6, "only {} response cases", names.len());
    for case in names {
        let raw = read(&dir().join(format!("{case}.response.anthropic.json")));
        let t = ANTHROPIC
            .response(&raw, &ctx(&case))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let actual: Value = serde_json::from_slice(&t.body).unwrap();
        check_json(&dir().join(format!("{case}.response.openai.json")), &actual);
    }
}

#[test]
fn error_fixtures() {
    let names = cases(".error.anthropic");
    assert!(names.len() >= 4, "only {} error cases", names.len());
    for case in names {
        let raw = read(&dir().join(format!("{case}.error.anthropic")));
        let split = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
        let status: u16 = std::str::from_utf8(&raw[..split])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let body = raw.get(split + 1..).unwrap_or_default();
        let status = StatusCode::from_u16(status).unwrap();
        let e = ANTHROPIC.error(status, &http::HeaderMap::new(), body, &ctx(&case));
        assert_eq!(e.status(), status, "{case}: the upstream status is kept");
        let mut actual = json!({"status": e.status().as_u16(), "body": e.body_json()});
        if case.starts_with("messages_") {
            actual["anthropic_body"] = error_body(&e);
        }
        check_json(&dir().join(format!("{case}.error.openai.json")), &actual);
    }
}

/// Decodes `chunks` and runs them through a fresh translator, as the engine would.
fn run_stream(case: &str, chunks: &[&[u8]]) -> String {
    let mut decoder = SseDecoder::default();
    let mut events = Vec::new();
    for c in chunks {
        decoder.feed(c, &mut events).unwrap();
    }
    decoder.finish(&mut events).unwrap();
    let mut t = ANTHROPIC.stream(&ctx(case));
    let mut out = Vec::new();
    let mut result = Ok(());
    for ev in &events {
        result = t.event(ev, &mut out);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = t.finish(&mut out);
    }
    if let Err(e) = result {
        out.extend_from_slice(format!(": error status={}\n\n", e.status().as_u16()).as_bytes());
        out.extend_from_slice(&t.error_frame(&e));
    }
    String::from_utf8(out).unwrap()
}

/// Frames as comparable values: each line, with `data:` payloads parsed as JSON when they are.
fn frames(s: &str) -> Vec<Vec<Value>> {
    s.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.lines()
                .map(
                    |l| match l.strip_prefix("data: ").map(serde_json::from_str::<Value>) {
                        Some(Ok(v)) => json!({"data": v}),
                        _ => json!(l),
                    },
                )
                .collect()
        })
        .collect()
}

fn stream_cases() -> Vec<(String, Vec<u8>)> {
    cases(".sse")
        .into_iter()
        .filter(|c| !c.ends_with(".expected"))
        .map(|c| {
            let raw = read(&dir().join(format!("{c}.sse")));
            (c, raw)
        })
        .collect()
}

#[test]
fn stream_fixtures() {
    let all = stream_cases();
    assert!(all.len() >= 6, "only {} stream cases", all.len());
    for (case, raw) in all {
        let actual = run_stream(&case, &[&raw]);
        let path = dir().join(format!("{case}.expected.sse"));
        if updating() {
            fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = String::from_utf8(read(&path)).unwrap();
        assert!(
            frames(&expected) == frames(&actual),
            "{} differs.\nexpected:\n{expected}\nactual:\n{actual}",
            path.display()
        );
    }
}

#[test]
fn every_fixture_has_its_pair() {
    for entry in fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let pair = [
            (".response.anthropic.json", ".response.openai.json"),
            (".response.openai.json", ".response.anthropic.json"),
            (".error.anthropic", ".error.openai.json"),
            (".error.openai.json", ".error.anthropic"),
            (".expected.sse", ".sse"),
            (".openai.json", ".anthropic.json"),
            (".anthropic.json", ".openai.json"),
            (".sse", ".expected.sse"),
        ]
        .iter()
        .find_map(|(from, to)| name.strip_suffix(from).map(|case| format!("{case}{to}")))
        .unwrap_or_else(|| panic!("{name}: unknown fixture kind"));
        assert!(
            dir().join(&pair).exists() || updating(),
            "{name} has no {pair}"
        );
    }
}

proptest! {
    /// Any byte split of a transcript yields exactly the output of the unsplit transcript.
    #[test]
    fn streams_survive_any_byte_split(cuts in proptest::collection::vec(0usize..100_000, 0..16)) {
        for (case, raw) in stream_cases() {
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (raw.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in at {
                chunks.push(&raw[prev..c]);
                prev = c;
            }
            chunks.push(&raw[prev..]);
            prop_assert_eq!(run_stream(&case, &chunks), run_stream(&case, &[&raw]), "{}", case);
        }
    }
}
