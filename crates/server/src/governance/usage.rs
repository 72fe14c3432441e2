//! Budget usage as the admin API shows it: the stored spend of every replica (flushed every
//! `governance.spend_flush_secs`), read into memory on a timer so admin reads stay cheap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use portcullis_admin::{UsageStatus, UsageView};
use portcullis_control::repo::Repository;
use portcullis_core::limits::{NANOS_PER_USD, UsageKind};
use portcullis_limits::Period;

use super::snapshot::SnapshotHolder;

/// `(scope kind, scope id, "cost:<period>")` → ledger units.
type SpendMap = HashMap<(String, String, String), i64>;

pub struct StoredUsage {
    spend: ArcSwap<SpendMap>,
    snapshots: Arc<SnapshotHolder>,
}

impl StoredUsage {
    /// Starts the refresh task and returns the view.
    pub fn start(
        repo: Arc<dyn Repository>,
        snapshots: Arc<SnapshotHolder>,
        every: Duration,
    ) -> Arc<StoredUsage> {
        let view = Arc::new(StoredUsage {
            spend: ArcSwap::from_pointee(SpendMap::new()),
            snapshots,
        });
        let weak = Arc::downgrade(&view);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(view) = weak.upgrade() else { return };
                match repo.load_spend().await {
                    Ok(rows) => view.spend.store(Arc::new(
                        rows.into_iter()
                            .map(|r| ((r.scope_kind, r.scope_id, r.period), r.units))
                            .collect(),
                    )),
                    Err(e) => tracing::warn!("budget usage not refreshed: {e}"),
                }
            }
        });
        view
    }
}

impl UsageView for StoredUsage {
    fn current(&self, scope_kind: &str, scope_id: &str) -> Option<UsageStatus> {
        let limit = self.snapshots.load().budget(scope_kind, scope_id)?;
        let now_us = (crate::pipeline::unix_millis().max(0) as u64).saturating_mul(1000);
        // After a usage reset the limiter counts in a period of its own, with no spend yet.
        let period = Period::of_limit(&limit, now_us);
        let tag = match limit.kind {
            UsageKind::Cost => "cost",
            UsageKind::Tokens => "tokens",
        };
        // Legacy virtual keys are provider accounts to the limiter.
        let kind = if scope_kind == "virtual_key" {
            "provider"
        } else {
            scope_kind
        };
        let key = (
            kind.to_owned(),
            scope_id.to_owned(),
            format!("{tag}:{period}"),
        );
        let units = self.spend.load().get(&key).copied().unwrap_or(0);
        let spent = match limit.kind {
            UsageKind::Cost => units as f64 / NANOS_PER_USD as f64,
            UsageKind::Tokens => units as f64,
        };
        Some(UsageStatus {
            spent,
            limit: limit.credit_limit,
            period: period.to_string(),
            exhausted: units >= limit.limit_units(),
            last_reset_at: limit.reset_at,
        })
    }
}
