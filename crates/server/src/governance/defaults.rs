//! A key's and its workspace's defaults applied to a request: default config and metadata.

use portcullis_config::PortkeyHeaders;
use portcullis_control::model::Defaults;
use portcullis_core::{ErrorCode, GatewayError};

use super::auth::Caller;
use super::snapshot::Snapshot;

/// Applies defaults in order of precedence: the request, then the key, then the workspace.
/// A key whose defaults forbid overriding its config refuses a request that sends one.
pub fn apply(
    headers: &mut PortkeyHeaders,
    caller: &Caller,
    snap: &Snapshot,
) -> Result<(), GatewayError> {
    let Some(p) = caller.principal() else {
        return Ok(());
    };
    let workspace = p.workspace_id.as_deref().and_then(|id| snap.workspace(id));
    let ws_defaults = workspace.and_then(|w| w.defaults.as_ref());
    let layers: [Option<&Defaults>; 2] = [Some(&p.defaults), ws_defaults];

    // Metadata: fill keys the request did not set, the key's defaults before the workspace's.
    for d in layers.into_iter().flatten() {
        if let Some(meta) = &d.metadata {
            for (k, v) in meta {
                headers
                    .metadata
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
    }

    let default_config = layers
        .into_iter()
        .flatten()
        .find_map(|d| d.config_id.clone().filter(|c| !c.is_empty()));
    let locked = p.defaults.allow_config_override == Some(false) && default_config.is_some();
    if locked {
        if headers.config.is_some() {
            return Err(GatewayError::new(
                ErrorCode::ConfigOverrideNotAllowed,
                "This API key must use its default config: remove x-portkey-config from the request",
            ));
        }
        headers.config = default_config;
        return Ok(());
    }
    // The default config routes requests that name no route of their own.
    if headers.config.is_none() && headers.provider.is_none() {
        headers.config = default_config;
    }
    Ok(())
}
