//! Request headers + config (+ the body's model) → a validated [`Plan`].

use std::sync::Arc;

use portcullis_core::{ErrorCode, GatewayError};
use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::headers::PortkeyHeaders;
use crate::node::{Inherited, Walk, split_slug_model};
use crate::plan::{Node, NodeKind, Plan, Target};
use crate::ssrf::HostPolicy;

/// What plan building needs besides the request.
pub struct BuildCtx<'a> {
    pub hosts: &'a HostPolicy,
    pub catalog: &'a dyn Catalog,
}

const MISSING: &str = "Either x-portkey-config or x-portkey-provider header is required";
const CONFIG_WITHOUT_PROVIDER: &str = "Either x-portkey-provider needs to be passed. Or the x-portkey-config header should have a valid config with provider details in it.";
const INVALID_JSON: &str = "Invalid config passed. You need to pass a valid json";
const LEGACY: &str =
    "This version of config is not supported in this route. Please migrate to the latest version";

/// Builds the plan for one request. `body_model` is the request body's `model`, if any.
pub fn build_plan(
    ctx: &BuildCtx<'_>,
    headers: &PortkeyHeaders,
    body_model: Option<&str>,
) -> Result<Plan, GatewayError> {
    let header_host = match &headers.custom_host {
        Some(h) => Some(ctx.hosts.check(h).map_err(|r| {
            GatewayError::new(
                ErrorCode::InvalidCustomHost,
                format!("Invalid custom host: {}", r.reason),
            )
        })?),
        None => None,
    };
    if let Some(p) = headers.provider.as_deref() {
        check_header_provider(ctx, p)?;
    }
    // The provider a config-less (or provider-less) request names: header first, then `@slug/model`.
    let implied_provider = headers.provider.clone().or_else(|| {
        body_model
            .and_then(split_slug_model)
            .map(|(slug, _)| format!("@{slug}"))
    });
    let mut root = match &headers.config {
        Some(raw) => config_object(ctx, raw)?,
        None => match &implied_provider {
            Some(_) => Map::new(),
            None => {
                return Err(GatewayError::new(
                    ErrorCode::MissingProviderOrConfig,
                    MISSING,
                ));
            }
        },
    };
    let has_route = ["provider", "targets", "strategy"]
        .iter()
        .any(|k| root.contains_key(*k));
    if !has_route {
        let Some(p) = implied_provider else {
            return Err(GatewayError::new(
                ErrorCode::ConfigWithoutProvider,
                CONFIG_WITHOUT_PROVIDER,
            ));
        };
        root.insert("provider".into(), Value::String(p));
        // Provider-specific headers configure the header-named provider (as Portkey does).
        for (k, v) in &headers.provider_options {
            root.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut walk = Walk {
        hosts: ctx.hosts,
        catalog: ctx.catalog,
        client_key: headers.client_key.as_ref(),
        body_model,
        errors: Vec::new(),
        leaves: 0,
    };
    let node = walk.node(
        &Value::Object(root),
        "config".into(),
        &[],
        &Inherited::default(),
    );
    if !walk.errors.is_empty() {
        return Err(
            GatewayError::new(ErrorCode::InvalidConfig, "Invalid config passed")
                .with_errors(walk.errors),
        );
    }
    let Some(mut node) = node else {
        return Err(GatewayError::new(
            ErrorCode::InvalidConfig,
            "Invalid config passed",
        ));
    };
    apply_header_overrides(&mut node, headers, header_host.as_deref())?;
    Ok(Plan { root: node })
}

/// `x-portkey-provider` must name a known provider (Portkey's "Invalid provider passed").
fn check_header_provider(ctx: &BuildCtx<'_>, p: &str) -> Result<(), GatewayError> {
    let known = match p.strip_prefix('@') {
        Some(slug) => ctx
            .catalog
            .provider(slug.split('/').next().unwrap_or(slug))
            .is_some(),
        None => portcullis_providers::registry::find(p).is_some(),
    };
    if known {
        return Ok(());
    }
    Err(GatewayError::new(
        ErrorCode::InvalidProvider,
        format!(
            "Invalid provider passed: {p:?} is not a provider slug this gateway knows (see the README's provider list)"
        ),
    ))
}

fn config_object(ctx: &BuildCtx<'_>, raw: &str) -> Result<Map<String, Value>, GatewayError> {
    let value = if raw.trim_start().starts_with('{') || raw.trim_start().starts_with('[') {
        serde_json::from_str::<Value>(raw)
            .map_err(|_| GatewayError::new(ErrorCode::InvalidConfigJson, INVALID_JSON))?
    } else {
        let saved = ctx.catalog.saved_config(raw.trim()).ok_or_else(|| {
            GatewayError::new(
                ErrorCode::InvalidConfigJson,
                format!(
                    "{INVALID_JSON} (no saved config has the id {:?})",
                    raw.trim()
                ),
            )
        })?;
        Arc::unwrap_or_clone(saved)
    };
    match value {
        Value::Object(obj) => {
            if obj.contains_key("options") {
                return Err(GatewayError::new(ErrorCode::LegacyConfig, LEGACY));
            }
            Ok(obj)
        }
        other => Err(
            GatewayError::new(ErrorCode::InvalidConfig, "Invalid config passed").with_errors(vec![
                format!(
                    "path: , message: Expected object, received {}",
                    if other.is_array() {
                        "array"
                    } else {
                        "a non-object value"
                    }
                ),
            ]),
        ),
    }
}

/// Headers beat the config for every target (Portkey reads them at the leaf).
fn apply_header_overrides(
    node: &mut Node,
    h: &PortkeyHeaders,
    host: Option<&str>,
) -> Result<(), GatewayError> {
    match &mut node.kind {
        NodeKind::Strategy(s) => {
            for t in &mut s.targets {
                apply_header_overrides(t, h, host)?;
            }
        }
        NodeKind::Target(t) => {
            let t: &mut Target = Arc::make_mut(t);
            if let Some(host) = host {
                if t.upstream.account.is_some() {
                    return Err(GatewayError::new(
                        ErrorCode::InvalidCustomHost,
                        format!("Invalid custom host: {}", crate::node::CATALOG_HOST_MESSAGE),
                    ));
                }
                t.upstream.custom_host = Some(host.to_owned());
            }
            if let Some(fh) = &h.forward_headers {
                t.forward_headers = fh.clone();
            }
            if let Some(ms) = h.request_timeout {
                t.request_timeout = Some(ms);
            }
            if h.strict_open_ai_compliance == Some(false) {
                t.strict_open_ai_compliance = false;
            }
            for (k, v) in &h.sdk_options {
                t.upstream
                    .options
                    .entry(k.clone())
                    .or_insert_with(|| v.clone());
            }
        }
    }
    Ok(())
}
