//! The engine's per-target gate: a catalog provider account's own limits (the provider's, and its
//! integration's grant for the workspace), admitted before each target and settled after it.

use std::sync::Arc;

use portcullis_core::{ErrorCode, GatewayError, JsonObject, Usage};
use portcullis_engine::gate::{Gate, Pass};
use portcullis_limits::{Limiter, Limits, Scope, ScopeKind};
use portcullis_pricing::PriceTable;
use portcullis_providers::{Account, Upstream};
use serde_json::Value;

use super::admit::{Pending, estimate, mask, refusal_error};
use super::notify::Crossings;
use super::snapshot::{AccountLimits, SnapshotHolder};

pub struct LimitGate {
    pub limiter: Arc<dyn Limiter>,
    pub prices: &'static PriceTable,
    pub snapshots: Arc<SnapshotHolder>,
    pub crossings: Crossings,
}

/// Bytes of text in a request body: the prompt's size without serialising it again.
pub fn text_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(text_len).sum(),
        Value::Object(o) => o.values().map(text_len).sum(),
        _ => 0,
    }
}

fn account_limits(a: &Account, l: &AccountLimits) -> Limits {
    let mut limits = Limits::default();
    let provider = Scope::new(ScopeKind::Provider, a.provider_id.clone());
    limits
        .rate
        .extend(l.provider_rate.iter().map(|r| (provider.clone(), *r)));
    if let Some(u) = l.provider_usage {
        limits.budgets.push((provider, u));
    }
    if let Some(i) = &a.integration_id {
        // A grant's limits belong to the (integration, workspace) pair.
        let grant = Scope::new(ScopeKind::Integration, format!("{i}:{}", a.workspace_id));
        limits
            .rate
            .extend(l.grant_rate.iter().map(|r| (grant.clone(), *r)));
        if let Some(u) = l.grant_usage {
            limits.budgets.push((grant, u));
        }
    }
    limits
}

impl Gate for LimitGate {
    fn admit<'a>(
        &'a self,
        up: &'a Upstream,
        body: &'a JsonObject,
    ) -> portcullis_engine::BoxFuture<'a, Result<Option<Pass>, GatewayError>> {
        Box::pin(async move {
            let Some(account) = &up.account else {
                return Ok(None);
            };
            let snap = self.snapshots.load();
            let Some(entry) = snap.provider(&account.workspace_id, &account.provider_slug) else {
                return Ok(None);
            };
            if entry
                .expires_at
                .is_some_and(|at| at <= crate::pipeline::unix_millis())
            {
                return Err(GatewayError::new(
                    ErrorCode::ApiKeyExpired,
                    format!(
                        "Portkey Virtual Key {} Expired",
                        mask(&account.provider_slug)
                    ),
                )
                .with_type("virtual_key_expired_error"));
            }
            let limits = account_limits(account, &entry.limits);
            if limits.is_empty() {
                return Ok(None);
            }
            let prompt_bytes =
                body.get("messages").map_or(0, text_len) + body.get("prompt").map_or(0, text_len);
            let est = estimate(self.prices, up.spec.slug, body, prompt_bytes);
            match self.limiter.admit(&limits, est).await {
                Ok(a) => Ok(Some(Pass(Box::new(Pending::new(
                    a.reservation,
                    self.limiter.clone(),
                    self.prices,
                    self.crossings.clone(),
                ))))),
                Err(r) => Err(refusal_error(r)),
            }
        })
    }

    fn settle(&self, pass: Pass, provider: &str, model: &str, usage: Option<Usage>, called: bool) {
        let Ok(p) = pass.0.downcast::<Pending>() else {
            return;
        };
        if usage.is_some() || called {
            p.settle(provider, model, usage.as_ref());
        } else {
            p.release();
        }
    }
}
