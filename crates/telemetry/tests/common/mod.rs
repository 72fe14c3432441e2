//! Log records shaped like the ones the pipeline fills in.
#![allow(dead_code)]

use portcullis_logs::{LogRecord, Outcome, Timings, Tokens};
use serde_json::json;

pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const SPAN_ID: &str = "00f067aa0ba902b7";
pub const PARENT_SPAN_ID: &str = "b7ad6b7169203331";
/// 2023-11-14T22:13:20Z.
pub const CREATED_AT_MS: i64 = 1_700_000_000_000;

fn base() -> LogRecord {
    let mut metadata = serde_json::Map::new();
    metadata.insert("_user".into(), json!("user-7f3a"));
    LogRecord {
        id: "0190f0b5-7c1e-7000-8000-000000000001".into(),
        trace_id: "client-trace-42".into(),
        w3c_trace_id: TRACE_ID.into(),
        span_id: SPAN_ID.into(),
        parent_span_id: None,
        created_at: CREATED_AT_MS,
        workspace_id: Some("ws_1".into()),
        api_key_id: Some("key_1".into()),
        provider_id: Some("@openai-prod".into()),
        integration_id: Some("int_1".into()),
        provider: Some("openai".into()),
        requested_model: Some("gpt-4o".into()),
        model: Some("gpt-4o-2024-08-06".into()),
        endpoint: "chat.completions".into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        stream: false,
        status: 200,
        outcome: Some(Outcome::Success),
        timings: Timings {
            total_us: 1_250_000,
            upstream_us: Some(1_249_958),
            ttft_us: None,
            overhead_us: 42,
        },
        tokens: Tokens {
            prompt: 100,
            completion: 20,
            cached: 64,
            cache_write: 0,
            reasoning: 5,
        },
        cost_nanos: Some(1_500_000),
        cache_status: "MISS".into(),
        retry_count: 0,
        fallback_path: vec!["config.targets[0]".into()],
        metadata,
        request_bytes: 512,
        response_bytes: 2048,
        ..Default::default()
    }
}

/// A plain successful chat completion, child of the caller's span.
pub fn success() -> LogRecord {
    LogRecord {
        parent_span_id: Some(PARENT_SPAN_ID.into()),
        ..base()
    }
}

/// The provider answered 500 after its retries were exhausted and a fallback was tried.
pub fn provider_error() -> LogRecord {
    LogRecord {
        id: "0190f0b5-7c1e-7000-8000-000000000002".into(),
        w3c_trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        span_id: "b9c7c989f97918e1".into(),
        provider: Some("anthropic".into()),
        provider_id: Some("@anthropic".into()),
        requested_model: Some("claude-sonnet-4".into()),
        model: Some("claude-sonnet-4".into()),
        endpoint: "messages".into(),
        path: "/v1/messages".into(),
        status: 500,
        outcome: Some(Outcome::ProviderError),
        error_code: Some("AB05".into()),
        error_type: Some("api_error".into()),
        error_message: Some("upstream overloaded".into()),
        timings: Timings {
            total_us: 3_000_000,
            upstream_us: Some(2_999_900),
            ttft_us: None,
            overhead_us: 100,
        },
        tokens: Tokens::default(),
        cost_nanos: None,
        retry_count: -1,
        fallback_path: vec!["config.targets[0]".into(), "config.targets[1]".into()],
        ..base()
    }
}

/// Served from the cache: no upstream time, no cost.
pub fn cache_hit() -> LogRecord {
    LogRecord {
        id: "0190f0b5-7c1e-7000-8000-000000000003".into(),
        span_id: "1111111111111111".into(),
        outcome: Some(Outcome::CacheHit),
        cache_status: "HIT".into(),
        timings: Timings {
            total_us: 900,
            upstream_us: None,
            ttft_us: None,
            overhead_us: 900,
        },
        cost_nanos: None,
        ..base()
    }
}

/// A stream in workspace ws_2 that succeeded on its second retry.
pub fn stream() -> LogRecord {
    LogRecord {
        id: "0190f0b5-7c1e-7000-8000-000000000004".into(),
        span_id: "2222222222222222".into(),
        workspace_id: Some("ws_2".into()),
        stream: true,
        timings: Timings {
            total_us: 4_000_000,
            upstream_us: Some(3_999_000),
            ttft_us: Some(300_000),
            overhead_us: 35,
        },
        tokens: Tokens {
            prompt: 10,
            completion: 200,
            ..Tokens::default()
        },
        cost_nanos: Some(2_500_000),
        retry_count: 2,
        ..base()
    }
}

/// Refused by a rate limit before any provider was chosen.
pub fn rate_limited() -> LogRecord {
    LogRecord {
        id: "0190f0b5-7c1e-7000-8000-000000000005".into(),
        span_id: "3333333333333333".into(),
        provider: None,
        provider_id: None,
        integration_id: None,
        model: None,
        status: 429,
        outcome: Some(Outcome::RateLimited),
        error_code: Some("AB10".into()),
        error_type: Some("rate_limit_error".into()),
        error_message: Some("Rate limit exceeded".into()),
        timings: Timings {
            total_us: 80,
            upstream_us: None,
            ttft_us: None,
            overhead_us: 80,
        },
        tokens: Tokens::default(),
        cost_nanos: None,
        cache_status: "DISABLED".into(),
        fallback_path: vec![],
        ..base()
    }
}
