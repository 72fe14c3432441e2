//! The validated routing plan: a strategy tree whose leaves are fully resolved targets.
//!
//! Inheritance (retry, timeout, custom host, override params, …) is applied while building, so
//! the engine reads every setting straight off the node it is executing.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use portcullis_core::JsonObject;
use portcullis_providers::Upstream;
use serde_json::Value;

use crate::conditional::Query;

/// Portkey's default retry status codes.
pub const DEFAULT_RETRY_CODES: [u16; 5] = [429, 500, 502, 503, 504];

/// The most retries one target may ask for (Portkey documents 5; it enforces none).
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

/// A request's routing plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub root: Node,
}

/// One node of the strategy tree.
#[derive(Debug, Clone)]
pub struct Node {
    /// Portkey's JSON path of this node: `config`, `config.targets[1]`, …
    pub path: String,
    pub weight: f64,
    /// Name for conditional routing (`then`).
    pub name: Option<String>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Target(Arc<Target>),
    Strategy(Strategy),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Single,
    Fallback,
    Loadbalance,
    Conditional,
}

#[derive(Debug, Clone)]
pub struct Strategy {
    pub mode: Mode,
    /// Fallback: move on only for these statuses (default: any non-2xx).
    pub on_status_codes: Option<Vec<u16>>,
    pub conditions: Vec<(Query, String)>,
    pub default: Option<String>,
    pub targets: Vec<Node>,
}

/// Retry settings of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (total calls = attempts + 1).
    pub attempts: u32,
    pub on_status_codes: Vec<u16>,
    /// Wait what a 429's `Retry-After` says instead of the backoff (60 s budget).
    pub use_retry_after: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 0,
            on_status_codes: DEFAULT_RETRY_CODES.to_vec(),
            use_retry_after: false,
        }
    }
}

/// Cache settings as given (the cache itself comes with a later capability).
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    pub mode: String,
    pub max_age: Option<u64>,
}

/// A leaf: one provider call, with everything inherited already applied.
#[derive(Debug, Clone)]
pub struct Target {
    pub upstream: Upstream,
    /// Merged over the request body (`{...body, ...override_params}`).
    pub override_params: JsonObject,
    pub retry: RetryPolicy,
    pub request_timeout: Option<Duration>,
    pub forward_headers: Vec<HeaderName>,
    pub strict_open_ai_compliance: bool,
    pub cache: Option<CacheSettings>,
    pub before_request_hooks: Vec<Value>,
    pub after_request_hooks: Vec<Value>,
}

impl Plan {
    /// Every leaf target in tree order (for validation and tests).
    pub fn targets(&self) -> Vec<&Arc<Target>> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Arc<Target>>) {
            match &n.kind {
                NodeKind::Target(t) => out.push(t),
                NodeKind::Strategy(s) => s.targets.iter().for_each(|c| walk(c, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}
