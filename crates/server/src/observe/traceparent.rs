//! W3C trace context (`traceparent: 00-<trace 32 hex>-<parent 16 hex>-<flags>`): the gateway
//! joins the caller's trace when it sends one, and starts one otherwise.

use rand::RngCore;

/// A caller's trace context: its trace id and the span the gateway's span is a child of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub trace_id: String,
    pub parent_span_id: String,
    pub sampled: bool,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses a `traceparent` header; `None` for anything the spec says to ignore (bad version,
/// lengths, uppercase or non-hex, all-zero ids).
pub fn parse(header: &str) -> Option<Incoming> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    // Version 00 has exactly four fields; later versions may append more.
    if !is_hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !is_hex(trace, 32) || !is_hex(parent, 16) || !is_hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1);
    Some(Incoming {
        trace_id: trace.to_owned(),
        parent_span_id: parent.to_owned(),
        sampled,
    })
}

fn random_hex(bytes: usize) -> String {
    let mut buf = [0u8; 16];
    let buf = &mut buf[..bytes];
    loop {
        rand::rng().fill_bytes(buf);
        if buf.iter().any(|b| *b != 0) {
            break;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn new_trace_id() -> String {
    random_hex(16)
}

pub fn new_span_id() -> String {
    random_hex(8)
}

/// The header a provider receives: the gateway's span as its parent, sampled.
pub fn format(trace_id: &str, span_id: &str) -> String {
    format!("00-{trace_id}-{span_id}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_ignores_invalid_headers() {
        let ok = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(ok.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ok.parent_span_id, "00f067aa0ba902b7");
        assert!(ok.sampled);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x").is_some());
    }

    #[test]
    fn generated_ids_are_valid() {
        let (t, s) = (new_trace_id(), new_span_id());
        assert!(parse(&format(&t, &s)).is_some());
        assert_ne!(new_trace_id(), t);
    }
}
