//! The in-memory snapshot of the control plane: keys by hash, providers by workspace and slug,
//! configs by slug and id. Built from one consistent read of the store; swapped atomically.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use portcullis_control::apikey::KeyHash;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::{
    ApiKey, CatalogData, Config, Integration, KeyType, Provider, Status, Workspace,
};
use portcullis_control::principal::Principal;
use portcullis_core::Secret;
use portcullis_core::limits::{RateLimit, UsageLimit};
use portcullis_providers::{Account, Upstream, registry};
use serde_json::{Map, Value};

/// Limits that apply to calls through one provider account.
#[derive(Debug, Clone, Default)]
pub struct AccountLimits {
    pub provider_usage: Option<UsageLimit>,
    pub provider_rate: Vec<RateLimit>,
    /// The integration's limits for this workspace (its grant), or its global ones.
    pub grant_usage: Option<UsageLimit>,
    pub grant_rate: Vec<RateLimit>,
}

/// A provider account `@slug` resolves to.
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    pub upstream: Upstream,
    pub limits: AccountLimits,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ConfigEntry {
    pub slug: String,
    pub workspace_id: Option<String>,
    pub config: Arc<Value>,
}

/// Everything the data plane reads per request. Immutable; replaced whole on change.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub version: i64,
    keys: HashMap<KeyHash, Arc<Principal>>,
    /// Workspace keys in the store, whatever their status: with none, loopback callers are
    /// served in open mode. Revoked, expired and exhausted keys count, so revoking the last key
    /// never turns governance off (and its value is never forwarded as a provider key); only
    /// deleting every key does.
    workspace_keys: usize,
    workspaces: HashMap<String, Arc<Workspace>>,
    default_workspace: Option<String>,
    providers: HashMap<(String, String), Arc<ProviderEntry>>,
    configs: HashMap<String, Arc<ConfigEntry>>,
    /// Every budget by limiter scope (`(kind, id)`), for the admin API's usage view.
    budgets: HashMap<(&'static str, String), UsageLimit>,
}

impl Snapshot {
    /// Builds a snapshot. Rows that cannot be used (unknown provider kind, undecryptable key)
    /// are left out and reported, never fatal: one bad row must not take the gateway down.
    pub fn build(data: &CatalogData, sealer: &Sealer) -> Snapshot {
        let mut s = Snapshot {
            version: data.version,
            ..Default::default()
        };
        let resets = Resets::of(data);
        for w in &data.workspaces {
            if w.is_default {
                s.default_workspace = Some(w.id.clone());
            }
            let mut w = w.clone();
            w.usage_limits = resets.apply(w.usage_limits, "workspace", &w.id);
            if let Some(u) = w.usage_limits {
                s.budgets.insert(("workspace", w.id.clone()), u);
            }
            s.workspaces.insert(w.id.clone(), Arc::new(w));
        }
        s.workspace_keys = data
            .api_keys
            .iter()
            .filter(|k| k.key_type != KeyType::OrganisationService)
            .count();
        for k in data.api_keys.iter().filter(|k| k.status == Status::Active) {
            let Some(hash) = KeyHash::from_hex(&k.key_hash) else {
                tracing::error!(key = %k.id, "stored key hash is malformed; key skipped");
                continue;
            };
            let mut p = principal(k);
            p.usage_limits = resets.apply(p.usage_limits, "api_key", &k.id);
            if let Some(u) = p.usage_limits {
                s.budgets.insert(("api_key", k.id.clone()), u);
            }
            s.keys.insert(hash, Arc::new(p));
        }
        let integrations: HashMap<&str, &Integration> = data
            .integrations
            .iter()
            .filter(|i| i.status == Status::Active)
            .flat_map(|i| [(i.slug.as_str(), i), (i.id.as_str(), i)])
            .collect();
        for p in data.providers.iter().filter(|p| p.status == Status::Active) {
            match provider_entry(p, &integrations, data, sealer, &resets) {
                Ok(entry) => {
                    if let Some(u) = entry.limits.provider_usage {
                        s.budgets.insert(("provider", p.id.clone()), u);
                    }
                    s.providers
                        .insert((p.workspace_id.clone(), p.slug.clone()), Arc::new(entry));
                }
                Err(why) => {
                    tracing::warn!(provider = %p.slug, workspace = %p.workspace_id, "provider skipped: {why}")
                }
            }
        }
        // Integrations open to every workspace answer `@<integration slug>` everywhere, unless a
        // workspace has its own provider of that name.
        for i in data
            .integrations
            .iter()
            .filter(|i| i.status == Status::Active && i.global_workspace_access)
        {
            for ws in data.workspaces.iter() {
                let key = (ws.id.clone(), i.slug.clone());
                if s.providers.contains_key(&key) {
                    continue;
                }
                let implied = Provider {
                    id: i.id.clone(),
                    slug: i.slug.clone(),
                    name: i.name.clone(),
                    workspace_id: ws.id.clone(),
                    integration_id: Some(i.slug.clone()),
                    ai_provider_id: None,
                    key_sealed: None,
                    key_masked: None,
                    model_config: Map::new(),
                    note: None,
                    usage_limits: None,
                    rate_limits: Vec::new(),
                    expires_at: None,
                    is_virtual_key: false,
                    status: Status::Active,
                    created_at: i.created_at,
                    updated_at: i.updated_at,
                };
                if let Ok(entry) = provider_entry(&implied, &integrations, data, sealer, &resets) {
                    s.providers.insert(key, Arc::new(entry));
                }
            }
        }
        for g in &data.grants {
            if let Some(u) = g.usage_limits {
                let id = integrations
                    .get(g.integration_id.as_str())
                    .map_or(g.integration_id.as_str(), |i| i.id.as_str());
                let scope = format!("{id}:{}", g.workspace_id);
                let u = u.with_reset(resets.get("integration", &scope));
                s.budgets.insert(("integration", scope), u);
            }
        }
        for c in data.configs.iter().filter(|c| c.status == Status::Active) {
            let entry = Arc::new(config_entry(c));
            s.configs.insert(c.slug.clone(), entry.clone());
            s.configs.insert(c.id.clone(), entry);
        }
        s
    }

    pub fn principal(&self, hash: &KeyHash) -> Option<&Arc<Principal>> {
        self.keys.get(hash)
    }

    /// Open mode: no workspace keys exist (in any status), so data-plane callers bring their own
    /// provider keys.
    pub fn open(&self) -> bool {
        self.workspace_keys == 0
    }

    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    pub fn workspace(&self, id: &str) -> Option<&Arc<Workspace>> {
        self.workspaces.get(id)
    }

    pub fn default_workspace(&self) -> Option<&str> {
        self.default_workspace.as_deref()
    }

    pub fn provider(&self, workspace_id: &str, slug: &str) -> Option<&Arc<ProviderEntry>> {
        self.providers
            .get(&(workspace_id.to_owned(), slug.to_owned()))
    }

    /// The budget the limiter keeps for a scope (`api_key`, `workspace`, `provider`,
    /// `integration` with a `grant_scope_id`).
    pub fn budget(&self, kind: &str, id: &str) -> Option<UsageLimit> {
        let kind: &'static str = match kind {
            "api_key" => "api_key",
            "workspace" => "workspace",
            "provider" | "virtual_key" => "provider",
            "integration" => "integration",
            _ => return None,
        };
        self.budgets.get(&(kind, id.to_owned())).copied()
    }

    pub fn config(&self, slug_or_id: &str) -> Option<&Arc<ConfigEntry>> {
        self.configs.get(slug_or_id)
    }

    /// `(@slug/model, provider kind)` for every model the workspace's providers may call: the
    /// allow-list where there is one, else the models the bundled price table knows for that
    /// provider kind. Sorted, for stable pickers.
    pub fn catalog_models(&self, workspace_id: Option<&str>) -> Vec<(String, String)> {
        let Some(ws) = workspace_id.or(self.default_workspace()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ((w, slug), entry) in &self.providers {
            if w != ws {
                continue;
            }
            let kind = entry.upstream.spec.slug;
            match entry
                .upstream
                .account
                .as_ref()
                .and_then(|a| a.allowed_models.as_ref())
            {
                Some(allowed) => {
                    out.extend(
                        allowed
                            .iter()
                            .map(|m| (format!("@{slug}/{m}"), kind.to_owned())),
                    );
                }
                None => out.extend(
                    portcullis_pricing::PriceTable::bundled()
                        .iter()
                        .filter(|m| &*m.provider == kind && m.mode.as_deref() == Some("chat"))
                        .map(|m| (format!("@{slug}/{}", m.model), kind.to_owned())),
                ),
            }
        }
        out.sort();
        out
    }
}

/// The last usage reset of each budget, by limiter scope (`(kind, id)`).
struct Resets<'a>(HashMap<(&'a str, &'a str), i64>);

impl<'a> Resets<'a> {
    fn of(data: &'a CatalogData) -> Resets<'a> {
        Resets(
            data.usage_resets
                .iter()
                .map(|r| ((r.scope_kind.as_str(), r.scope_id.as_str()), r.reset_at))
                .collect(),
        )
    }

    fn get(&self, kind: &str, id: &str) -> Option<i64> {
        self.0.get(&(kind, id)).copied()
    }

    /// `limit` counting from its scope's last reset.
    fn apply(&self, limit: Option<UsageLimit>, kind: &str, id: &str) -> Option<UsageLimit> {
        limit.map(|u| u.with_reset(self.get(kind, id)))
    }
}

fn principal(k: &ApiKey) -> Principal {
    Principal {
        key_id: k.id.clone(),
        name: k.name.clone(),
        key_type: k.key_type,
        workspace_id: k.workspace_id.clone(),
        scopes: k.scopes.iter().cloned().collect(),
        defaults: k.defaults.clone(),
        usage_limits: k.usage_limits,
        rate_limits: k.rate_limits.clone(),
        expires_at: k.expires_at,
    }
}

fn config_entry(c: &Config) -> ConfigEntry {
    ConfigEntry {
        slug: c.slug.clone(),
        workspace_id: c.workspace_id.clone(),
        config: Arc::new(c.config.clone()),
    }
}

/// Portkey's integration `configurations` and virtual-key `model_config` (camelCase) → the
/// adapter options the gateway's providers read.
fn options_from(src: &Map<String, Value>, sealer: &Sealer, out: &mut Map<String, Value>) {
    for (k, v) in src {
        let key = match k.as_str() {
            "azure_resource_name" | "resourceName" => "resource_name",
            "azure_api_version" | "apiVersion" => "api_version",
            "deploymentName" | "azure_deployment_name" => "deployment_id",
            "azure_auth_mode" | "azureAuthMode" => "azure_auth_mode",
            "openai_organization" | "openaiOrganization" => "openai_organization",
            "openai_project" | "openaiProject" => "openai_project",
            "deploymentConfig" => {
                out.insert("azure_deployment_config".into(), camel_deployments(v));
                continue;
            }
            other => other,
        };
        // Sensitive values are sealed by the admin API (`v1.<nonce>.<ciphertext>`); open them
        // for the adapter. A value that only looks sealed is kept as given.
        let value = match v.as_str().filter(|s| s.starts_with("v1.")) {
            Some(sealed) => sealer
                .open(sealed)
                .map(Value::String)
                .unwrap_or_else(|_| v.clone()),
            None => v.clone(),
        };
        out.insert(key.to_owned(), value);
    }
}

/// Virtual keys spell Azure deployments `{apiVersion, deploymentName, alias, is_default}`.
fn camel_deployments(v: &Value) -> Value {
    let Some(list) = v.as_array() else {
        return Value::Null;
    };
    Value::Array(
        list.iter()
            .filter_map(Value::as_object)
            .map(|d| {
                let mut m = Map::new();
                if let Some(x) = d.get("apiVersion") {
                    m.insert("azure_api_version".into(), x.clone());
                }
                if let Some(x) = d.get("deploymentName") {
                    m.insert("azure_deployment_name".into(), x.clone());
                }
                for k in ["alias", "is_default"] {
                    if let Some(x) = d.get(k) {
                        m.insert(k.into(), x.clone());
                    }
                }
                Value::Object(m)
            })
            .collect(),
    )
}

fn provider_entry(
    p: &Provider,
    integrations: &HashMap<&str, &Integration>,
    data: &CatalogData,
    sealer: &Sealer,
    resets: &Resets<'_>,
) -> Result<ProviderEntry, String> {
    let integration = match &p.integration_id {
        Some(id) => Some(
            *integrations
                .get(id.as_str())
                .ok_or_else(|| format!("its integration {id} is missing or archived"))?,
        ),
        None => None,
    };
    let kind = integration
        .map(|i| i.ai_provider_id.as_str())
        .or(p.ai_provider_id.as_deref())
        .ok_or("it names no provider kind")?;
    let spec = registry::find(kind).ok_or_else(|| format!("provider kind {kind} is unknown"))?;
    let mut up = Upstream::new(spec);
    let sealed_key = p
        .key_sealed
        .as_deref()
        .or(integration.and_then(|i| i.key_sealed.as_deref()));
    if let Some(sealed) = sealed_key {
        let key = sealer
            .open(sealed)
            .map_err(|e| format!("its credential cannot be decrypted ({e})"))?;
        up.api_key = Some(Secret::new(key));
    }
    if let Some(i) = integration {
        options_from(&i.configurations, sealer, &mut up.options);
    }
    options_from(&p.model_config, sealer, &mut up.options);
    if let Some(host) = up
        .options
        .remove("custom_host")
        .and_then(|v| v.as_str().map(str::to_owned))
    {
        up.custom_host = Some(host.trim_end_matches('/').to_owned());
    }
    let grant = integration.and_then(|i| {
        data.grants.iter().find(|g| {
            (g.integration_id == i.id || g.integration_id == i.slug)
                && g.workspace_id == p.workspace_id
        })
    });
    let allowed_models = integration.filter(|i| !i.allow_all_models).map(|i| {
        i.models
            .iter()
            .filter(|m| m.enabled)
            .map(|m| m.slug.clone())
            .collect::<HashSet<_>>()
    });
    up.account = Some(Arc::new(Account {
        provider_id: p.id.clone(),
        provider_slug: p.slug.clone(),
        integration_id: integration.map(|i| i.id.clone()),
        integration_slug: integration.map(|i| i.slug.clone()),
        workspace_id: p.workspace_id.clone(),
        allowed_models,
    }));
    Ok(ProviderEntry {
        upstream: up,
        limits: AccountLimits {
            provider_usage: resets.apply(p.usage_limits, "provider", &p.id),
            provider_rate: p.rate_limits.clone(),
            grant_usage: integration.and_then(|i| {
                let scope = format!("{}:{}", i.id, p.workspace_id);
                resets.apply(grant.and_then(|g| g.usage_limits), "integration", &scope)
            }),
            grant_rate: grant.map(|g| g.rate_limits.clone()).unwrap_or_default(),
        },
        expires_at: p.expires_at,
    })
}

/// The current snapshot, replaced atomically when the catalog changes.
pub struct SnapshotHolder {
    current: ArcSwap<Snapshot>,
    /// The catalog version of the newest snapshot stored, for [`SnapshotHolder::wait_for`].
    applied: tokio::sync::watch::Sender<i64>,
}

impl SnapshotHolder {
    pub fn new(s: Snapshot) -> SnapshotHolder {
        let (applied, _) = tokio::sync::watch::channel(s.version);
        SnapshotHolder {
            current: ArcSwap::from_pointee(s),
            applied,
        }
    }

    /// The snapshot for one request (a reference-count increment, no lock).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    pub fn store(&self, s: Snapshot) {
        let version = s.version;
        self.current.store(Arc::new(s));
        self.applied.send_modify(|v| *v = version);
    }

    /// Waits until a snapshot of at least `version` is stored, or `within` passes; true when
    /// it is.
    pub async fn wait_for(&self, version: i64, within: std::time::Duration) -> bool {
        let mut rx = self.applied.subscribe();
        matches!(
            tokio::time::timeout(within, rx.wait_for(|v| *v >= version)).await,
            Ok(Ok(_))
        )
    }
}

impl Default for SnapshotHolder {
    fn default() -> Self {
        SnapshotHolder::new(Snapshot::default())
    }
}
