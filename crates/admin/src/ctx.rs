//! What the admin API needs from the rest of the gateway: the store, the sealer, the key resolver,
//! the config validator, a live view of budget usage and the request-log store.

use std::sync::Arc;

use portcullis_control::crypto::Sealer;
use portcullis_control::principal::Authenticator;
use portcullis_control::repo::Repository;
use portcullis_logs::LogStore;
use serde::Serialize;
use serde_json::Value;

/// Checks a gateway config (`(config JSON, workspace id)`) and returns Portkey-style error strings,
/// each naming the path of what is wrong.
pub type ConfigValidator =
    Arc<dyn Fn(&Value, Option<&str>) -> Result<(), Vec<String>> + Send + Sync>;

/// Checks a provider's `custom_host` against the gateway's host policy (SSRF rules and the
/// trusted-host allow-list): the normalised base URL, or what to fix.
pub type HostChecker = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// Waits (bounded) until this gateway's request path sees every admin change committed so far,
/// so a client that creates a key or provider can use it at once on the same replica.
pub type CatalogSettle =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// Everything the admin routes use. Cheap to clone (all shared).
#[derive(Clone)]
pub struct AdminCtx {
    pub repo: Arc<dyn Repository>,
    /// Seals provider keys and sensitive configuration values.
    pub sealer: Sealer,
    /// Resolves `x-portkey-api-key` / `Authorization: Bearer` to a principal.
    pub auth: Arc<dyn Authenticator>,
    pub validate_config: ConfigValidator,
    /// Stored credentials only go to hosts a client could also name: the same policy applies.
    pub check_host: HostChecker,
    /// Live budget usage per scope; `None` when the gateway runs without a limiter.
    pub usage: Option<Arc<dyn UsageView>>,
    /// Request logs, analytics and feedback; `None` when the gateway runs without logging (the
    /// logs, analytics and feedback routes then answer 404 saying so).
    pub logs: Option<Arc<dyn LogStore>>,
    /// Called after every successful change; `None` when nothing serves from a snapshot.
    pub settle: Option<CatalogSettle>,
    /// Log export jobs running in this gateway, stopped (and recorded failed) at shutdown.
    pub exports: crate::ExportRuns,
}

/// The limiter's live view of one budget, as the admin API shows it.
///
/// Scope kinds are the limiter's (`api_key`, `workspace`, `provider`, `integration`); ids are the
/// entity ids, and an integration's grant to a workspace is
/// `("integration", grant_scope_id(integration_id, workspace_id))`. Resets (Portkey's
/// `reset_usage`) go through the repository, so every replica's limiter sees them.
pub trait UsageView: Send + Sync {
    fn current(&self, scope_kind: &str, scope_id: &str) -> Option<UsageStatus>;
}

/// The state of one budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageStatus {
    /// Spent in the current period: USD for cost budgets, tokens for token budgets.
    pub spent: f64,
    /// The budget's limit, same unit.
    pub limit: f64,
    /// The limiter's period name (`all`, `m2026-11`, `w2026-11-22`, …; `…@<unix ms>` after a
    /// usage reset inside the period).
    pub period: String,
    pub exhausted: bool,
    /// The budget's last usage reset (unix ms), shown as the object's `last_reset_at`.
    #[serde(skip)]
    pub last_reset_at: Option<i64>,
}

/// The limiter scope id of an integration's grant to a workspace.
pub fn grant_scope_id(integration_id: &str, workspace_id: &str) -> String {
    format!("{integration_id}:{workspace_id}")
}

impl AdminCtx {
    pub(crate) fn usage_of(&self, kind: &str, id: &str) -> Option<UsageStatus> {
        self.usage.as_ref().and_then(|u| u.current(kind, id))
    }

    /// Checks (and normalises) the custom host in a provider's options, under either spelling
    /// (`custom_host`, or the SDK's `customHost`); `field` names the object in errors.
    pub(crate) fn check_custom_host(
        &self,
        field: &str,
        options: &mut serde_json::Map<String, Value>,
    ) -> Result<(), crate::error::ApiError> {
        for key in ["custom_host", "customHost"] {
            let path = format!("{field}.{key}");
            match options.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(h)) if h.trim().is_empty() => {
                    options.remove(key);
                }
                Some(Value::String(h)) => {
                    let url = (self.check_host)(h.trim()).map_err(|why| {
                        crate::error::ApiError::field(&path, format!("{path}: {why}"))
                    })?;
                    options.insert(key.to_owned(), Value::String(url));
                }
                Some(_) => {
                    return Err(crate::error::ApiError::field(
                        &path,
                        format!("{path} must be a URL string"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Starts a budget's usage over (Portkey's `reset_usage`): stored in the catalog, so every
    /// replica's limiter counts it from zero once its snapshot has the change (this one before
    /// the request answers).
    pub(crate) async fn reset_usage(
        &self,
        kind: &str,
        id: &str,
        workspace_id: Option<&str>,
        actor: &portcullis_control::model::Actor,
    ) -> Result<(), crate::error::ApiError> {
        self.repo.reset_usage(kind, id, workspace_id, actor).await?;
        Ok(())
    }
}
