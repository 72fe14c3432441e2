//! W3C `traceparent` parsing and formatting, and id generation.

use portcullis_telemetry::{
    TraceParent, is_valid_span_id, is_valid_trace_id, new_span_id, new_trace_id, parse_traceparent,
    traceparent,
};

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const P: &str = "00f067aa0ba902b7";

#[test]
fn formats_a_sampled_version_00_header() {
    assert_eq!(
        traceparent(T, P, true),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(
        traceparent(T, P, false),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    );
    assert!(
        !parse_traceparent(&traceparent(T, P, false))
            .unwrap()
            .sampled
    );
    let parsed = parse_traceparent(&traceparent(T, P, true)).unwrap();
    assert_eq!(
        parsed,
        TraceParent {
            trace_id: T.into(),
            parent_span_id: P.into(),
            sampled: true
        }
    );
}

#[test]
fn parses_valid_headers() {
    let p = parse_traceparent(&format!("00-{T}-{P}-00")).unwrap();
    assert!(!p.sampled);
    assert_eq!(p.trace_id, T);
    assert_eq!(p.parent_span_id, P);
    // Only bit 0 is `sampled`; other flags are ignored.
    assert!(
        parse_traceparent(&format!("00-{T}-{P}-09"))
            .unwrap()
            .sampled
    );
    assert!(
        !parse_traceparent(&format!("00-{T}-{P}-02"))
            .unwrap()
            .sampled
    );
    // Optional whitespace around the value.
    assert!(parse_traceparent(&format!("  00-{T}-{P}-01\t")).is_some());
    // A future version: parsed, anything after the flags ignored if it starts with `-`.
    let future = parse_traceparent(&format!("cc-{T}-{P}-01-what-the-future-holds")).unwrap();
    assert_eq!(future.trace_id, T);
    assert!(future.sampled);
    assert!(parse_traceparent(&format!("01-{T}-{P}-01")).is_some());
}

#[test]
fn rejects_invalid_headers() {
    let upper_t = T.to_uppercase();
    let upper_p = P.to_uppercase();
    let zero_t = "0".repeat(32);
    let zero_p = "0".repeat(16);
    let bad = [
        String::new(),
        "00".into(),
        format!("00-{T}-{P}"),                   // no flags
        format!("00-{T}-{P}-1"),                 // short flags
        format!("00-{T}-{P}-0g"),                // non-hex flags
        format!("00-{upper_t}-{P}-01"),          // uppercase trace id
        format!("00-{T}-{upper_p}-01"),          // uppercase parent id
        format!("00-{zero_t}-{P}-01"),           // all-zero trace id
        format!("00-{T}-{zero_p}-01"),           // all-zero parent id
        format!("ff-{T}-{P}-01"),                // forbidden version
        format!("0A-{T}-{P}-01"),                // uppercase version
        format!("0x-{T}-{P}-01"),                // non-hex version
        format!("00-{T}-{P}-01-extra"),          // version 00 is exactly 55 chars
        format!("01-{T}-{P}-01extra"),           // future version: extra must follow a dash
        format!("00_{T}_{P}_01"),                // wrong delimiters
        format!("00-{T}0-{}-01", &P[1..]),       // misplaced delimiter
        format!("00-{}-{P}-01", &T[..31]),       // short trace id
        format!("00-{T}-{}-01", &P[..15]),       // short parent id
        format!("00-{}é-{P}-01", &T[..30]),      // non-ASCII (same byte length)
        format!("00-{T}-{P}-01\n"),              // trailing newline is not OWS
        format!("00-{T}-{}-01", "g".repeat(16)), // non-hex parent id
    ];
    for h in &bad {
        assert_eq!(parse_traceparent(h), None, "{h:?} should be rejected");
    }
}

#[test]
fn id_validation() {
    assert!(is_valid_trace_id(T));
    assert!(!is_valid_trace_id(&T.to_uppercase()));
    assert!(!is_valid_trace_id(&"0".repeat(32)));
    assert!(!is_valid_trace_id(&T[..31]));
    assert!(is_valid_span_id(P));
    assert!(!is_valid_span_id(&"0".repeat(16)));
    assert!(!is_valid_span_id(T));
}

#[test]
fn generated_ids_are_valid_random_and_usable() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let t = new_trace_id();
        let s = new_span_id();
        assert!(is_valid_trace_id(&t), "{t}");
        assert!(is_valid_span_id(&s), "{s}");
        assert!(seen.insert(t));
        let parsed = parse_traceparent(&traceparent(&new_trace_id(), &s, true)).unwrap();
        assert_eq!(parsed.parent_span_id, s);
    }
}
