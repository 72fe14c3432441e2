//! Governance on the request path: who is calling (gateway keys), what `@slug` and saved configs
//! name (the catalog), all read from one in-memory snapshot that admin changes replace.

pub mod admit;
pub mod auth;
pub mod catalog;
pub mod defaults;
pub mod gate;
pub mod notify;
pub mod snapshot;
pub mod usage;

use std::sync::Arc;

use http::HeaderMap;
use portcullis_config::{BuildCtx, Plan, PortkeyHeaders, build_plan};
use portcullis_core::GatewayError;

pub use auth::Caller;
pub use catalog::WorkspaceCatalog;
pub use snapshot::{Snapshot, SnapshotHolder};

use crate::state::AppState;

/// Authenticates a data-plane request, checks it may call models, and applies its key's and
/// workspace's defaults. Returns the snapshot the rest of the request must use.
pub fn admit_caller(
    state: &AppState,
    headers: &HeaderMap,
    portkey: &mut PortkeyHeaders,
) -> Result<(Arc<Snapshot>, Caller), GatewayError> {
    let snap = state.snapshots.load();
    let caller = auth::authenticate(
        &snap,
        headers,
        state.open_allowed,
        crate::pipeline::unix_millis(),
    )?;
    auth::require_scope(&caller, "completions.write")?;
    if let Caller::Key {
        from_provider_header: true,
        ..
    } = caller
    {
        // That header carried the gateway key, not a provider key.
        portkey.client_key = None;
    }
    defaults::apply(portkey, &caller, &snap)?;
    Ok((snap, caller))
}

/// Step 2: the request's routing plan, resolved in the caller's workspace.
pub fn plan(
    state: &AppState,
    snap: &Snapshot,
    caller: &Caller,
    portkey: &PortkeyHeaders,
    model: Option<&str>,
) -> Result<Plan, GatewayError> {
    let catalog = WorkspaceCatalog {
        snapshot: snap,
        workspace_id: caller.workspace_id(),
    };
    let ctx = BuildCtx {
        hosts: &state.hosts,
        catalog: &catalog,
    };
    build_plan(&ctx, portkey, model)
}

#[cfg(test)]
mod tests;
