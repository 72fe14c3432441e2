//! Step 3 of the pipeline: the caller's rate limits and budgets (its key, its workspace, the end
//! user) are reserved before the call and settled with the real usage after it.

use std::sync::{Arc, Mutex};

use portcullis_config::plan::{NodeKind, Plan};
use portcullis_core::{ErrorCode, GatewayError, JsonObject, Usage};
use portcullis_limits::{
    Actual, Estimate, Limiter, Limits, Refusal, Reservation, Scope, ScopeKind,
};
use portcullis_pricing::PriceTable;
use serde_json::Value;

use super::auth::Caller;
use super::snapshot::Snapshot;

/// Output tokens assumed when a request sets no `max_tokens`.
const DEFAULT_MAX_OUTPUT: u64 = 1024;

/// Portkey's masking of ids in limit messages: two characters, stars, the last three.
pub fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}********{tail}")
}

/// The end user a request speaks for: `_user` metadata, else the body's OpenAI `user`.
pub fn end_user(metadata: &JsonObject, body: &JsonObject) -> Option<String> {
    metadata
        .get("_user")
        .or_else(|| body.get("user"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}

/// Every caller-level limit that applies to this request.
pub fn caller_limits(caller: &Caller, snap: &Snapshot, user: Option<&str>) -> Limits {
    let mut limits = Limits::default();
    let Some(p) = caller.principal() else {
        return limits;
    };
    let key = Scope::new(ScopeKind::ApiKey, p.key_id.clone());
    limits
        .rate
        .extend(p.rate_limits.iter().map(|r| (key.clone(), *r)));
    if let Some(u) = p.usage_limits {
        limits.budgets.push((key, u));
    }
    let workspace = p.workspace_id.as_deref().and_then(|id| snap.workspace(id));
    if let Some(w) = workspace {
        let scope = Scope::new(ScopeKind::Workspace, w.id.clone());
        limits
            .rate
            .extend(w.rate_limits.iter().map(|r| (scope.clone(), *r)));
        if let Some(u) = w.usage_limits {
            limits.budgets.push((scope, u));
        }
    }
    if let Some(user) = user {
        // Per-user limits from the key's defaults, else the workspace's.
        let defaults = [
            Some(&p.defaults),
            workspace.and_then(|w| w.defaults.as_ref()),
        ];
        let ws = p.workspace_id.as_deref().unwrap_or("-");
        let scope = Scope::new(ScopeKind::User, format!("{ws}:{user}"));
        if let Some(rates) = defaults
            .iter()
            .flatten()
            .find_map(|d| d.user_rate_limits.as_ref())
        {
            limits
                .rate
                .extend(rates.iter().map(|r| (scope.clone(), *r)));
        }
        if let Some(u) = defaults.iter().flatten().find_map(|d| d.user_usage_limits) {
            limits.budgets.push((scope, u));
        }
    }
    limits
}

/// A conservative estimate: the prompt at a quarter token per byte, plus the output cap.
pub fn estimate(
    prices: &PriceTable,
    provider: &str,
    body: &JsonObject,
    raw_len: usize,
) -> Estimate {
    let prompt = (raw_len as u64).div_ceil(4);
    let max_out = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(DEFAULT_MAX_OUTPUT);
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    Estimate {
        tokens: prompt + max_out,
        cost_nanos: prices
            .estimate(provider, model, prompt, max_out)
            .unwrap_or(0),
    }
}

/// The provider kind a plan most likely calls first (for pricing the estimate).
pub fn first_provider(plan: &Plan) -> &'static str {
    let mut node = &plan.root;
    loop {
        match &node.kind {
            NodeKind::Target(t) => return t.upstream.spec.slug,
            NodeKind::Strategy(s) => match s.targets.first() {
                Some(n) => node = n,
                None => return "",
            },
        }
    }
}

/// Portkey's error for a refusal: status, body envelope and `type` follow the scope.
pub fn refusal_error(r: Refusal) -> GatewayError {
    match r {
        Refusal::RateLimited {
            scope,
            limit,
            retry_after,
        } => {
            let what = format!(
                "{} {} per {}",
                limit.value,
                match limit.kind {
                    portcullis_limits::RateKind::Requests => "requests",
                    portcullis_limits::RateKind::Tokens => "tokens",
                },
                match limit.unit {
                    portcullis_limits::RateUnit::Rps => "second",
                    portcullis_limits::RateUnit::Rpm => "minute",
                    portcullis_limits::RateUnit::Rph => "hour",
                    portcullis_limits::RateUnit::Rpd => "day",
                }
            );
            let id = mask(&scope.id);
            let e = match scope.kind {
                ScopeKind::ApiKey => GatewayError::new(
                    ErrorCode::KeyRateLimited,
                    format!("apikey {id} rate limit exceeded ({what})"),
                ),
                ScopeKind::Workspace => GatewayError::new(
                    ErrorCode::KeyRateLimited,
                    format!("workspace {id} rate limit exceeded ({what})"),
                ),
                ScopeKind::Integration => GatewayError::new(
                    ErrorCode::RateLimited,
                    format!("Portkey Integration {id} Rate Limit Exceeded ({what})"),
                )
                .with_type("integration_rate_limit_error"),
                ScopeKind::Provider | ScopeKind::VirtualKey => GatewayError::new(
                    ErrorCode::RateLimited,
                    format!("Portkey Virtual Key {id} Rate Limit Exceeded ({what})"),
                )
                .with_type("virtual_key_rate_limit_error"),
                ScopeKind::User | ScopeKind::Policy => GatewayError::new(
                    ErrorCode::RateLimited,
                    format!("Rate limit exceeded for user {id} ({what})"),
                )
                .with_type("rate_limits_policy_exhaust_error"),
            };
            e.with_retry_after(retry_after)
        }
        Refusal::BudgetExhausted { scope, .. } => {
            let id = mask(&scope.id);
            match scope.kind {
                ScopeKind::ApiKey => GatewayError::new(
                    ErrorCode::KeyBudgetExhausted,
                    "Portkey API Key Usage Limit Exceeded",
                ),
                ScopeKind::Workspace => GatewayError::new(
                    ErrorCode::BudgetExhausted,
                    "Portkey Workspace Usage Limit Exceeded",
                )
                .with_type("workspace_exhaust_error"),
                ScopeKind::Integration => GatewayError::new(
                    ErrorCode::BudgetExhausted,
                    format!("Portkey Integration {id} Usage Limit Exceeded"),
                )
                .with_type("integration_exhaust_error"),
                ScopeKind::Provider | ScopeKind::VirtualKey => GatewayError::new(
                    ErrorCode::BudgetExhausted,
                    format!("Portkey Virtual Key {id} Usage Limit Exceeded"),
                )
                .with_type("virtual_key_exhaust_error"),
                ScopeKind::User | ScopeKind::Policy => GatewayError::new(
                    ErrorCode::BudgetExhausted,
                    format!("Usage limit exceeded for user {id}"),
                )
                .with_type("usage_limits_policy_exhaust_error"),
            }
        }
        Refusal::Unavailable { reason } => GatewayError::new(
            ErrorCode::Overloaded,
            format!("rate limits and budgets cannot be checked right now: {reason}"),
        ),
    }
}

/// The usage of a finished call in ledger terms: total tokens and priced cost.
pub fn actual(prices: &PriceTable, provider: &str, model: &str, usage: &Usage) -> Actual {
    Actual {
        tokens: usage.total_tokens,
        cost_nanos: prices
            .cost(provider, model, usage)
            .map_or(0, |c| c.total_nanos),
    }
}

/// A reservation waiting for its call's usage; settled (or released) exactly once from
/// whichever path finishes the request: the response, or the end of its stream.
#[derive(Clone)]
pub struct Pending {
    slot: Arc<Mutex<Option<Reservation>>>,
    limiter: Arc<dyn Limiter>,
    prices: &'static PriceTable,
    crossings: super::notify::Crossings,
}

impl Pending {
    pub fn new(
        r: Reservation,
        limiter: Arc<dyn Limiter>,
        prices: &'static PriceTable,
        crossings: super::notify::Crossings,
    ) -> Pending {
        Pending {
            slot: Arc::new(Mutex::new(Some(r))),
            limiter,
            prices,
            crossings,
        }
    }

    fn take(&self) -> Option<Reservation> {
        self.slot.lock().ok().and_then(|mut s| s.take())
    }

    /// Charges the real usage (or, with none known, the estimate); off the response path.
    pub fn settle(&self, provider: &str, model: &str, usage: Option<&Usage>) {
        let Some(r) = self.take() else { return };
        let actual = match usage {
            Some(u) => actual(self.prices, provider, model, u),
            None => Actual {
                tokens: r.estimate().tokens,
                cost_nanos: r.estimate().cost_nanos,
            },
        };
        let limiter = self.limiter.clone();
        let crossings = self.crossings.clone();
        spawn(async move {
            let crossed = limiter.settle(r, actual).await;
            crossings.report(crossed);
        });
    }

    /// Gives the reservation back: the call was never made or failed.
    pub fn release(&self) {
        let Some(r) = self.take() else { return };
        let limiter = self.limiter.clone();
        spawn(async move { limiter.release(r).await });
    }
}

/// Runs `f` on the runtime when there is one (always, inside the gateway).
pub(crate) fn spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        h.spawn(f);
    }
}
