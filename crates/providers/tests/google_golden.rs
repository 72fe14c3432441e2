//! Golden tests for the Gemini adapter: every case in `tests/fixtures/google/` is replayed.
//!
//! * `<case>.openai.json` → `<case>.gemini.json` (upstream body, `null` for none) and
//!   `<case>.url` (`METHOD URL`). `embed_*` cases use the embeddings endpoint, `models_*` the
//!   model list, the rest chat.
//! * `<case>.response.gemini.json` → `<case>.response.openai.json` (strict unless the case
//!   name contains `nonstrict`).
//! * `error_<status>_*.error.gemini` (raw body) → `<case>.error.openai.json`.
//! * `<case>.sse` → `<case>.expected.sse` (`usage` in the name asks for a usage chunk); a failed
//!   stream ends with `: error <status> <code>` and the error frame the client would get. Each
//!   transcript is also replayed split at random byte boundaries and must give the same output.
//!
//! `UPDATE_GOLDEN=1 cargo test -p portcullis-providers --test google_golden` rewrites the
//! expected files instead of comparing.

use std::fs;
use std::path::{Path, PathBuf};

use portcullis_core::sse::SseDecoder;
use portcullis_core::{Endpoint, Retry, Secret, Usage};
use portcullis_providers::registry::find;
use portcullis_providers::{Adapter, ResponseCtx, Upstream, google::GOOGLE};
use proptest::prelude::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/google")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Cases whose file name ends with `suffix`, sorted, as (case name, path).
fn cases(suffix: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = fs::read_dir(dir())
        .expect("fixture directory")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.strip_suffix(suffix)?.to_owned();
            // `x.response.gemini.json` must not count as a request case named `x.response`.
            (!name.contains('.')).then_some((name, path))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures ending in {suffix}");
    out
}

fn endpoint_of(case: &str) -> Endpoint {
    if case.starts_with("embed_") {
        Endpoint::Embed
    } else if case.starts_with("models_") {
        Endpoint::Models
    } else {
        Endpoint::ChatComplete
    }
}

fn ctx(case: &str) -> ResponseCtx {
    ResponseCtx {
        endpoint: endpoint_of(case),
        provider: "google".into(),
        model: "gemini-2.5-flash".into(),
        strict: !case.contains("nonstrict"),
        include_usage: case.contains("usage"),
        created: 1_700_000_000,
    }
}

/// Compares (or, when updating, writes) one expected file; returns a failure description.
fn check(path: &Path, actual: &str, as_json: bool, failures: &mut Vec<String>) {
    if updating() {
        fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = fs::read_to_string(path).unwrap_or_default();
    let same = if as_json {
        serde_json::from_str::<Value>(&expected).ok() == serde_json::from_str::<Value>(actual).ok()
    } else {
        expected == actual
    };
    if !same {
        failures.push(format!(
            "{}\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ));
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn requests() {
    let mut upstream = Upstream::new(find("google").unwrap());
    upstream.api_key = Some(Secret::new("test-key"));
    let mut failures = Vec::new();
    for (case, path) in cases(".openai.json") {
        let body: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let req = GOOGLE
            .request(
                endpoint_of(&case),
                body.as_object().unwrap(),
                None,
                &upstream,
            )
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(req.headers["x-goog-api-key"], "test-key", "{case}");
        let sent: Value = if req.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&req.body).unwrap()
        };
        check(
            &dir().join(format!("{case}.gemini.json")),
            &pretty(&sent),
            true,
            &mut failures,
        );
        let url = format!("{} {}\n", req.method, req.url);
        check(
            &dir().join(format!("{case}.url")),
            &url,
            false,
            &mut failures,
        );
    }
    report(failures);
}

#[test]
fn responses() {
    let mut failures = Vec::new();
    for (case, path) in cases(".response.gemini.json") {
        let t = GOOGLE
            .response(&fs::read(&path).unwrap(), &ctx(&case))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let body: Value = serde_json::from_slice(&t.body).unwrap();
        // The usage the gateway records is the usage the client sees.
        if let (Some(u), Some(shown)) = (t.usage, body.get("usage")) {
            assert_eq!(Some(u), Usage::from_openai(shown), "{case}");
        }
        check(
            &dir().join(format!("{case}.response.openai.json")),
            &pretty(&body),
            true,
            &mut failures,
        );
    }
    report(failures);
}

#[test]
fn errors() {
    let mut failures = Vec::new();
    for (case, path) in cases(".error.gemini") {
        let status: u16 = case
            .strip_prefix("error_")
            .and_then(|r| r.split('_').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{case}: name must be error_<status>_…"));
        let status = http::StatusCode::from_u16(status).unwrap();
        let e = GOOGLE.error(
            status,
            &http::HeaderMap::new(),
            &fs::read(&path).unwrap(),
            &ctx(&case),
        );
        let retry_after = match e.retry() {
            Retry::After(d) => json!(d.as_secs_f64()),
            _ => Value::Null,
        };
        let actual = json!({"status": e.status().as_u16(), "retry_after_secs": retry_after, "body": e.body_json()});
        check(
            &dir().join(format!("{case}.error.openai.json")),
            &pretty(&actual),
            true,
            &mut failures,
        );
    }
    report(failures);
}

/// Runs a transcript fed in `chunks` through the decoder and the translator, as the engine
/// does after the first byte: a failure becomes the stream's last frame.
fn replay(case: &str, chunks: &[&[u8]]) -> String {
    let mut decoder = SseDecoder::default();
    let mut translator = GOOGLE.stream(&ctx(case));
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut result = Ok(());
    for chunk in chunks {
        decoder.feed(chunk, &mut events).unwrap();
        for ev in events.drain(..) {
            if result.is_ok() {
                result = translator.event(&ev, &mut out);
            }
        }
    }
    decoder.finish(&mut events).unwrap();
    for ev in events.drain(..) {
        if result.is_ok() {
            result = translator.event(&ev, &mut out);
        }
    }
    if result.is_ok() {
        result = translator.finish(&mut out);
    }
    if let Err(e) = result {
        out.extend_from_slice(
            format!(": error {} {}\n", e.status().as_u16(), e.code().label()).as_bytes(),
        );
        out.extend_from_slice(&translator.error_frame(&e));
    }
    String::from_utf8(out).unwrap()
}

fn transcripts() -> Vec<(String, Vec<u8>)> {
    // `cases` skips `<case>.expected.sse`: its name has a dot.
    cases(".sse")
        .into_iter()
        .map(|(case, path)| (case, fs::read(path).unwrap()))
        .collect()
}

#[test]
fn streams() {
    let mut failures = Vec::new();
    for (case, bytes) in transcripts() {
        let out = replay(&case, &[&bytes]);
        check(
            &dir().join(format!("{case}.expected.sse")),
            &out,
            false,
            &mut failures,
        );
    }
    report(failures);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn streams_survive_any_byte_split(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16)) {
        for (case, bytes) in transcripts() {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            at.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in at {
                chunks.push(&bytes[prev..c]);
                prev = c;
            }
            chunks.push(&bytes[prev..]);
            prop_assert_eq!(replay(&case, &chunks), replay(&case, &[&bytes]), "{}", case);
        }
    }
}
