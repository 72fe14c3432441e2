//! Retry timing: Portkey's exponential backoff and `Retry-After` handling.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// Total time a request may spend waiting on `Retry-After` headers (Portkey's budget).
pub const RETRY_AFTER_BUDGET: Duration = Duration::from_secs(60);

/// The longest single backoff wait (Portkey's 1, 2, 4, 8, 16 s series, capped for large counts).
const MAX_BACKOFF: Duration = Duration::from_secs(32);

/// Wait before retry number `retry` (1-based): 1 s, 2 s, 4 s, … without jitter, as Portkey.
pub fn backoff(retry: u32) -> Duration {
    let secs = 1u64 << retry.saturating_sub(1).min(6);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// The wait a response asks for: `retry-after-ms`, `x-ms-retry-after-ms` or `retry-after`
/// (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
        {
            return Some(Duration::from_micros(
                (ms.min(86_400_000.0) * 1000.0) as u64,
            ));
        }
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second() {
        let waits: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 32]);
    }

    #[test]
    fn reads_every_retry_after_form() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        let future = SystemTime::now() + Duration::from_secs(30);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
    }
}
