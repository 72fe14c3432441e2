//! W3C Trace Context (`traceparent`) helpers and id generators.
//!
//! Ids are lowercase hex strings, as [`portcullis_logs::LogRecord`] carries them: a 32-hex trace
//! id and 16-hex span ids, never all zeros.

use rand::Rng;

/// The parts of a valid incoming `traceparent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// The caller's span (`parent-id`): 16 lowercase hex digits, not all zero.
    pub parent_span_id: String,
    /// The `sampled` bit of `trace-flags`.
    pub sampled: bool,
}

/// Formats a `traceparent` header value: `00-<trace id>-<span id>-<flags>`, flags `01` when
/// `sampled`, else `00`.
///
/// The ids are written as given; pass ids from [`new_trace_id`] / [`new_span_id`] or a parsed
/// header.
pub fn traceparent(w3c_trace_id: &str, span_id: &str, sampled: bool) -> String {
    let flags = if sampled { "01" } else { "00" };
    format!("00-{w3c_trace_id}-{span_id}-{flags}")
}

/// Parses an incoming `traceparent` header per W3C Trace Context.
///
/// Version `00` must be exactly `00-<32 hex>-<16 hex>-<2 hex>`. A higher version (`01`–`fe`) is
/// parsed the same way with anything after the flags ignored, as the spec asks for forward
/// compatibility (it must then be separated by `-`); version `ff` is invalid. Hex must be
/// lowercase and neither id may be all zeros. Surrounding optional whitespace is ignored.
/// Returns `None` for anything invalid: the caller then starts a new trace.
pub fn parse_traceparent(header: &str) -> Option<TraceParent> {
    let h = header.trim_matches([' ', '\t']).as_bytes();
    if h.len() < 55 {
        return None;
    }
    let version = &h[0..2];
    if !is_lower_hex(version) || version == b"ff" {
        return None;
    }
    if version == b"00" && h.len() != 55 {
        return None;
    }
    if h.len() > 55 && h[55] != b'-' {
        return None;
    }
    if h[2] != b'-' || h[35] != b'-' || h[52] != b'-' {
        return None;
    }
    let trace_id = &h[3..35];
    let parent = &h[36..52];
    let flags = &h[53..55];
    if !is_valid_id(trace_id) || !is_valid_id(parent) || !is_lower_hex(flags) {
        return None;
    }
    let flags = u8::from_str_radix(std::str::from_utf8(flags).ok()?, 16).ok()?;
    Some(TraceParent {
        // Only ASCII hex digits remain, so these conversions cannot fail.
        trace_id: String::from_utf8(trace_id.to_vec()).ok()?,
        parent_span_id: String::from_utf8(parent.to_vec()).ok()?,
        sampled: flags & 0x01 == 0x01,
    })
}

/// Whether `id` is a valid W3C trace id: 32 lowercase hex digits, not all zero.
pub fn is_valid_trace_id(id: &str) -> bool {
    id.len() == 32 && is_valid_id(id.as_bytes())
}

/// Whether `id` is a valid W3C span (parent) id: 16 lowercase hex digits, not all zero.
pub fn is_valid_span_id(id: &str) -> bool {
    id.len() == 16 && is_valid_id(id.as_bytes())
}

/// A new random trace id: 16 bytes as 32 lowercase hex digits, never all zero.
pub fn new_trace_id() -> String {
    let mut rng = rand::rng();
    loop {
        let v: u128 = rng.random();
        if v != 0 {
            return format!("{v:032x}");
        }
    }
}

/// A new random span id: 8 bytes as 16 lowercase hex digits, never all zero.
pub fn new_span_id() -> String {
    let mut rng = rand::rng();
    loop {
        let v: u64 = rng.random();
        if v != 0 {
            return format!("{v:016x}");
        }
    }
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_valid_id(s: &[u8]) -> bool {
    is_lower_hex(s) && s.iter().any(|&c| c != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_trace_id();
        let b = new_trace_id();
        assert!(is_valid_trace_id(&a), "{a}");
        assert_ne!(a, b);
        let s = new_span_id();
        assert!(is_valid_span_id(&s), "{s}");
        assert_ne!(s, new_span_id());
    }
}
