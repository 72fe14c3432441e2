//! The admin API's wiring: its context built from the running gateway's parts.

use std::sync::Arc;
use std::time::Duration;

use portcullis_admin::AdminCtx;
use portcullis_config::{BuildCtx, PortkeyHeaders, build_plan};
use portcullis_control::crypto::Sealer;
use portcullis_control::repo::Repository;
use serde_json::Value;

use crate::governance::WorkspaceCatalog;
use crate::governance::auth::SnapshotAuthenticator;
use crate::governance::usage::StoredUsage;
use crate::state::AppState;

/// The admin API's context for this gateway. Starts the usage view's refresh task, so call it
/// inside the runtime.
pub fn context(state: &AppState, repo: Arc<dyn Repository>, sealer: Sealer) -> AdminCtx {
    let snapshots = state.snapshots.clone();
    let hosts = state.hosts.clone();
    let validate = move |config: &Value, workspace: Option<&str>| -> Result<(), Vec<String>> {
        let snap = snapshots.load();
        let catalog = WorkspaceCatalog {
            snapshot: &snap,
            workspace_id: workspace,
        };
        let ctx = BuildCtx {
            hosts: &hosts,
            catalog: &catalog,
        };
        // A saved config may leave the provider to the request: validate it as if one were named.
        let headers = PortkeyHeaders {
            config: Some(config.to_string()),
            provider: Some("openai".into()),
            debug: true,
            ..Default::default()
        };
        build_plan(&ctx, &headers, None).map(|_| ()).map_err(|e| {
            if e.errors().is_empty() {
                vec![e.message().to_owned()]
            } else {
                e.errors().to_vec()
            }
        })
    };
    let repo_for_usage = repo.clone();
    let settle = {
        let (repo, snapshots) = (repo.clone(), state.snapshots.clone());
        Arc::new(move || {
            let (repo, snapshots) = (repo.clone(), snapshots.clone());
            Box::pin(async move {
                // The refresh task reloads at once after this store's own commits; the bound
                // only matters if the store is failing, and then the change still lands later.
                if let Ok(version) = repo.version().await
                    && !snapshots.wait_for(version, SETTLE_WITHIN).await
                {
                    tracing::warn!("admin change not yet served after {SETTLE_WITHIN:?}");
                }
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        })
    };
    AdminCtx {
        repo,
        sealer,
        auth: Arc::new(SnapshotAuthenticator {
            snapshots: state.snapshots.clone(),
        }),
        validate_config: Arc::new(validate),
        check_host: {
            let hosts = state.hosts.clone();
            Arc::new(move |raw: &str| hosts.check(raw).map_err(|r| r.reason))
        },
        // Admin reads see spend as flushed to the store, so every replica agrees on it.
        usage: Some(StoredUsage::start(
            repo_for_usage,
            state.snapshots.clone(),
            Duration::from_secs(state.settings.governance.spend_flush_secs.max(1)),
        )),
        logs: state.log_store.clone(),
        settle: Some(settle),
        exports: Default::default(),
    }
}

/// How long a successful admin change waits for this replica's snapshot to include it.
const SETTLE_WITHIN: Duration = Duration::from_secs(2);
