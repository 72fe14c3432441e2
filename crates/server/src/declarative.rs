//! The declarative catalog: workspaces, providers, gateway keys and configs described in the
//! gateway settings YAML (`catalog:`), so a deployment can be kept in git.
//!
//! ```yaml
//! catalog:
//!   workspaces:
//!     - {slug: search, name: Search Team, rate_limits: [{unit: rpm, value: 600}]}
//!   providers:
//!     - {workspace: search, slug: openai-prod, provider: openai, api_key_env: OPENAI_API_KEY,
//!        models: [gpt-4o, gpt-4o-mini]}
//!   keys:
//!     - {name: ci-bot, workspace: search, key_env: CI_BOT_KEY, scopes: [completions.write]}
//!   configs:
//!     - slug: pc-prod-fallback
//!       workspace: search
//!       config: {strategy: {mode: fallback}, targets: [{provider: "@openai-prod"}]}
//! ```
//!
//! Secrets are only ever named, never written: `api_key_env`, `configurations_env` and `key_env`
//! give environment variables whose values are read at apply time (a key's value comes from the
//! environment, so it stays the same across restarts and replicas).
//!
//! [`apply`] is an idempotent upsert: workspaces by slug, providers by workspace and slug,
//! configs by slug, keys by workspace and name among the keys the file created
//! (`creation_mode: "file"`). Applying the same file again writes nothing (no audit events);
//! a changed value updates its entity; nothing is ever deleted (removal is explicit, through the
//! admin API or the CLI); a key revoked by an operator stays revoked. Everything is validated
//! before the first write, and every error names its YAML path
//! (`catalog.providers[1].provider: unknown provider "opnai"`).
//!
//! For each entry the file is authoritative for what it manages: limits, defaults, scopes,
//! models and provider options left out mean none (or the documented default); only `name`,
//! `description` and `note`, when left out, keep their current value.
//!
//! The CLI (`portcullis keys|workspaces|providers|configs create`) runs the same code in
//! [`Mode::Cli`]: create only, errors naming flags instead of YAML paths.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use portcullis_admin::mask::{is_sensitive, mask_secret};
use portcullis_admin::scopes;
use portcullis_config::{BuildCtx, HostPolicy, PortkeyHeaders, build_plan};
use portcullis_control::apikey;
use portcullis_control::crypto::Sealer;
use portcullis_control::model::{
    Actor, ApiKey, CatalogData, Config, Defaults, Integration, IntegrationModel, KeyType, Millis,
    Provider, Status, Workspace,
};
use portcullis_control::repo::{ListQuery, RepoError, Repository};
use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::governance::{Snapshot, WorkspaceCatalog};
use crate::settings::Settings;

/// The scopes a workspace service key gets when none are given (Portkey's documented example):
/// call models, read the workspace's logs.
pub const DEFAULT_WORKSPACE_KEY_SCOPES: &[&str] = &["completions.write", "logs.view"];

/// Every scope an organisation (admin) key may hold.
pub fn admin_scopes() -> Vec<String> {
    scopes::all()
        .into_iter()
        .filter(|s| scopes::allowed_for(KeyType::OrganisationService, s))
        .collect()
}

/// The actor the file's changes are recorded as in the audit log.
pub fn file_actor() -> Actor {
    Actor {
        id: "file".into(),
        name: "declarative catalog".into(),
    }
}

/// The actor of `portcullis` CLI commands.
pub fn cli_actor() -> Actor {
    Actor {
        id: "cli".into(),
        name: "portcullis CLI".into(),
    }
}

// ------------------------------------------------------------------------------------------
// The file's shape
// ------------------------------------------------------------------------------------------

/// The `catalog:` section of the gateway settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default)]
    pub workspaces: Vec<WorkspaceSpec>,
    #[serde(default)]
    pub providers: Vec<ProviderSpec>,
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    #[serde(default)]
    pub configs: Vec<ConfigSpec>,
}

impl Catalog {
    pub fn is_empty(&self) -> bool {
        self.workspaces.is_empty()
            && self.providers.is_empty()
            && self.keys.is_empty()
            && self.configs.is_empty()
    }
}

/// A workspace, found by `slug` (`default` is the organisation's default workspace).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSpec {
    pub slug: String,
    /// Defaults to the slug when the workspace is created.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSpec>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimitSpec>,
    #[serde(default)]
    pub defaults: Option<DefaultsSpec>,
}

/// A workspace's AI provider (`@slug`), drawing on an integration of that workspace that holds
/// the credentials (sealed with the master key).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// The workspace's slug or id.
    pub workspace: String,
    pub slug: String,
    /// The provider kind (`openai`, `anthropic`, `azure-openai`, …).
    pub provider: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The environment variable holding the provider's API key (none for keyless providers).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub custom_host: Option<String>,
    /// Only these models may be called; left out, every model.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Provider options that are not secret (`openai_organization`, `azure_resource_name`, …).
    #[serde(default)]
    pub configurations: Map<String, Value>,
    /// Secret provider options: option name → environment variable (sealed when stored).
    #[serde(default)]
    pub configurations_env: BTreeMap<String, String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSpec>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimitSpec>,
}

/// A gateway API key whose value comes from the environment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    /// A workspace service key of this workspace (slug or id)…
    #[serde(default)]
    pub workspace: Option<String>,
    /// …or, `true`, an organisation admin key.
    #[serde(default)]
    pub admin: bool,
    /// The environment variable holding the key (at least 32 visible characters).
    #[serde(default)]
    pub key_env: Option<String>,
    /// The key itself, for the CLI's generated keys (never read from a file).
    #[serde(skip)]
    pub key_value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Left out: [`DEFAULT_WORKSPACE_KEY_SCOPES`], or every organisation scope for admin keys.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSpec>,
    #[serde(default)]
    pub usage_limits: Option<UsageLimitSpec>,
    #[serde(default)]
    pub defaults: Option<DefaultsSpec>,
    #[serde(default)]
    pub alert_emails: Vec<String>,
}

/// A saved config (`x-portkey-config: <slug>`), validated as the gateway validates configs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSpec {
    pub slug: String,
    /// Defaults to the slug when the config is created.
    #[serde(default)]
    pub name: Option<String>,
    /// The workspace (slug or id); left out, an organisation-wide config.
    #[serde(default)]
    pub workspace: Option<String>,
    pub config: Value,
}

/// `{type: requests|tokens, unit: rps|rpm|rph|rpd, value: N}`; `type` defaults to `requests`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    #[serde(rename = "type", default)]
    pub kind: Option<RateKind>,
    pub unit: RateUnit,
    pub value: u64,
}

/// `{type: cost|tokens, credit_limit: N, alert_threshold: N, periodic_reset: daily|weekly|monthly}`;
/// `type` defaults to `cost` (USD).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageLimitSpec {
    #[serde(rename = "type", default)]
    pub kind: Option<UsageKind>,
    pub credit_limit: f64,
    #[serde(default)]
    pub alert_threshold: Option<f64>,
    #[serde(default)]
    pub periodic_reset: Option<PeriodicReset>,
}

/// Defaults applied to every request of a key or workspace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// A saved config (slug or id) used when the request sends none.
    #[serde(default)]
    pub config_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub allow_config_override: Option<bool>,
    #[serde(default)]
    pub user_rate_limits: Vec<RateLimitSpec>,
    #[serde(default)]
    pub user_usage_limits: Option<UsageLimitSpec>,
}

// ------------------------------------------------------------------------------------------
// Options and results
// ------------------------------------------------------------------------------------------

/// Reads an environment variable.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Upsert (a file) or create only (the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Upsert; keys are marked `creation_mode: "file"`; errors name YAML paths.
    File,
    /// Create only (an existing workspace or provider slug is an error); keys are marked
    /// `creation_mode: "cli"`; errors name the command's flags.
    Cli,
}

/// How an apply runs.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Recorded in the audit log.
    pub actor: Actor,
    /// Which private hosts a `custom_host` may name (the settings' `trusted_custom_hosts`).
    pub hosts: HostPolicy,
    /// Where `*_env` values come from.
    pub env: EnvLookup,
    pub mode: Mode,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            actor: file_actor(),
            hosts: HostPolicy::default(),
            env: Arc::new(|name| std::env::var(name).ok()),
            mode: Mode::File,
        }
    }
}

impl fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("actor", &self.actor)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// One entry of the catalog and what applying it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `workspace`, `provider`, `key`, `config`.
    pub kind: &'static str,
    /// `search`, `search/openai-prod`, `search/ci-bot`, `pc-prod-fallback`.
    pub name: String,
    /// The entity's id (the provider's for providers, the config's for configs).
    pub id: String,
    pub change: Change,
}

/// What an apply did, entry by entry, in the file's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub entries: Vec<Applied>,
}

impl ApplySummary {
    fn with(&self, change: Change) -> impl Iterator<Item = &Applied> {
        self.entries.iter().filter(move |e| e.change == change)
    }

    pub fn created(&self) -> usize {
        self.with(Change::Created).count()
    }

    pub fn updated(&self) -> usize {
        self.with(Change::Updated).count()
    }

    pub fn unchanged(&self) -> usize {
        self.with(Change::Unchanged).count()
    }

    /// Whether anything was written.
    pub fn changed(&self) -> bool {
        self.created() + self.updated() > 0
    }
}

impl fmt::Display for ApplySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |c: Change| {
            self.with(c)
                .map(|e| format!("{} {}", e.kind, e.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "{} created", self.created())?;
        if self.created() > 0 {
            write!(f, " ({})", list(Change::Created))?;
        }
        write!(f, ", {} updated", self.updated())?;
        if self.updated() > 0 {
            write!(f, " ({})", list(Change::Updated))?;
        }
        write!(f, ", {} unchanged", self.unchanged())
    }
}

// ------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------

/// Applies `catalog` to the store: validates everything, then creates or updates what differs.
/// Secrets come from the process environment; `custom_host` follows Portkey's default trust list
/// (use [`apply_settings`] to honour the settings' `trusted_custom_hosts`).
///
/// Errors list every problem found, one per line, each naming its YAML path; nothing is written
/// unless everything is valid.
pub async fn apply(
    repo: &dyn Repository,
    sealer: &Sealer,
    catalog: &Catalog,
) -> Result<ApplySummary, String> {
    apply_with(repo, sealer, catalog, &ApplyOptions::default()).await
}

/// What startup calls once the default workspace exists: applies the settings' `catalog:`
/// section (if any) with the settings' `trusted_custom_hosts`, secrets from the environment.
///
/// ```ignore
/// // in startup::start, after ensure_default_workspace / bootstrap_admin_key:
/// if let Some(summary) = crate::declarative::apply_settings(repo.as_ref(), &sealer, &settings).await? {
///     tracing::info!("catalog applied: {summary}");
/// }
/// ```
pub async fn apply_settings(
    repo: &dyn Repository,
    sealer: &Sealer,
    settings: &Settings,
) -> Result<Option<ApplySummary>, String> {
    let Some(catalog) = &settings.catalog else {
        return Ok(None);
    };
    let opts = ApplyOptions {
        hosts: HostPolicy::with_trusted(&settings.trusted_custom_hosts)?,
        ..ApplyOptions::default()
    };
    let first = apply_detailed(repo, sealer, catalog, &opts).await;
    // Replicas starting together apply the same file at once: a write that lost the race fails
    // on a unique slug, and applying again finds the winner's rows already as the file says.
    let outcome = match first {
        Err(ApplyError::Store(_)) => apply_detailed(repo, sealer, catalog, &opts).await,
        other => other,
    };
    outcome
        .map(Some)
        .map_err(|e| format!("the settings' catalog section cannot be applied:\n{e}"))
}

/// [`apply`] with explicit options (actor, host policy, environment, mode).
pub async fn apply_with(
    repo: &dyn Repository,
    sealer: &Sealer,
    catalog: &Catalog,
    opts: &ApplyOptions,
) -> Result<ApplySummary, String> {
    apply_detailed(repo, sealer, catalog, opts)
        .await
        .map_err(|e| e.to_string())
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The catalog is invalid (one problem per line, each naming its path); nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The store failed; the message says what was already written.
    #[error("{0}")]
    Store(String),
}

/// [`apply_with`], telling invalid input from a failing store.
pub async fn apply_detailed(
    repo: &dyn Repository,
    sealer: &Sealer,
    catalog: &Catalog,
    opts: &ApplyOptions,
) -> Result<ApplySummary, ApplyError> {
    let data = repo
        .load_catalog()
        .await
        .map_err(|e| ApplyError::Store(e.to_string()))?;
    let planned = plan(data, sealer, catalog, opts).map_err(ApplyError::Invalid)?;
    let mut done: Vec<String> = Vec::new();
    for op in planned.ops {
        let label = op.label();
        if let Err(e) = op.run(repo, &opts.actor).await {
            let written = if done.is_empty() {
                String::new()
            } else {
                format!(
                    " (already written: {}; applying again finishes the rest)",
                    done.join(", ")
                )
            };
            return Err(ApplyError::Store(format!("{label}: {e}{written}")));
        }
        done.push(label);
    }
    Ok(ApplySummary {
        entries: planned.applied,
    })
}

/// Checks a catalog without a store: every static rule, and configs against the providers the
/// file defines. Environment variables are not read; the ones the catalog names are returned
/// (so a caller can report the missing ones).
pub fn check(catalog: &Catalog, hosts: &HostPolicy) -> Result<Vec<String>, String> {
    let names: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let seen = names.clone();
    let opts = ApplyOptions {
        hosts: hosts.clone(),
        env: Arc::new(move |name| {
            if let Ok(mut n) = seen.lock() {
                n.push(name.to_owned());
            }
            // A stand-in value per variable, strong enough to pass every check.
            let tag: String = name.chars().filter(char::is_ascii_graphic).collect();
            Some(format!("pcl_check_placeholder_0123456789abcdef_{tag}"))
        }),
        ..ApplyOptions::default()
    };
    let at = 0;
    let data = CatalogData {
        workspaces: vec![Workspace {
            id: "default-workspace".into(),
            slug: "default".into(),
            name: "Default".into(),
            description: None,
            defaults: None,
            usage_limits: None,
            rate_limits: Vec::new(),
            is_default: true,
            status: Status::Active,
            created_at: at,
            updated_at: at,
        }],
        ..CatalogData::default()
    };
    plan(data, &Sealer::from_key(&[0u8; 32]), catalog, &opts)?;
    let mut out = names.lock().map(|n| n.clone()).unwrap_or_default();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The organisation's default workspace (slug `default`), created if the store has none yet
/// (the same row `serve` creates at its first start).
pub async fn ensure_default_workspace(repo: &dyn Repository, actor: &Actor) -> Result<(), String> {
    let page = repo
        .list_workspaces(&ListQuery::default())
        .await
        .map_err(|e| e.to_string())?;
    if page.items.iter().any(|w| w.is_default) {
        return Ok(());
    }
    let now = now();
    let w = Workspace {
        id: uuid::Uuid::new_v4().to_string(),
        slug: "default".into(),
        name: "Default".into(),
        description: Some("Created at first start".into()),
        defaults: None,
        usage_limits: None,
        rate_limits: Vec::new(),
        is_default: true,
        status: Status::Active,
        created_at: now,
        updated_at: now,
    };
    match repo.create_workspace(w, actor).await {
        Ok(_) => Ok(()),
        // Another replica starting at the same moment created it first.
        Err(RepoError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks a gateway config the way the admin API does: against the snapshot's providers and
/// saved configs as `workspace_id` sees them. Errors are Portkey's, each naming its path.
pub fn check_config(
    snapshot: &Snapshot,
    hosts: &HostPolicy,
    config: &Value,
    workspace_id: Option<&str>,
) -> Result<(), Vec<String>> {
    let catalog = WorkspaceCatalog {
        snapshot,
        workspace_id,
    };
    let ctx = BuildCtx {
        hosts,
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
}

/// A new config slug, as the admin API makes them: `pc-<first 6 of the name>-<6 hex>`.
pub fn new_config_slug(name: &str) -> String {
    prefixed_slug("pc", name)
}

/// A new workspace slug, as the admin API makes them: `ws-<first 6 of the name>-<6 hex>`.
pub fn new_workspace_slug(name: &str) -> String {
    prefixed_slug("ws", name)
}

fn prefixed_slug(prefix: &str, name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.truncate(6);
    let s = s.trim_end_matches('-');
    let hex: String = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    if s.is_empty() {
        format!("{prefix}-{hex}")
    } else {
        format!("{prefix}-{s}-{hex}")
    }
}

/// A client-given slug: letters, digits, `-` and `_`, 1 to 100 characters.
pub fn check_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() || slug.len() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if !slug
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(format!(
            "may contain only letters, digits, '-' and '_' (got {slug:?})"
        ));
    }
    Ok(())
}

fn now() -> Millis {
    crate::pipeline::unix_millis()
}

// ------------------------------------------------------------------------------------------
// Planning: everything checked, every write decided, before the first write
// ------------------------------------------------------------------------------------------

enum Op {
    CreateWorkspace(Box<Workspace>),
    UpdateWorkspace(Box<Workspace>),
    CreateIntegration(Box<Integration>),
    UpdateIntegration(Box<Integration>),
    CreateProvider(Box<Provider>),
    UpdateProvider(Box<Provider>),
    CreateConfig(Box<Config>),
    UpdateConfig(Box<Config>),
    CreateKey(Box<ApiKey>),
    UpdateKey(Box<ApiKey>),
}

impl Op {
    fn label(&self) -> String {
        match self {
            Op::CreateWorkspace(w) => format!("creating workspace {}", w.slug),
            Op::UpdateWorkspace(w) => format!("updating workspace {}", w.slug),
            Op::CreateIntegration(i) => format!("creating integration {}", i.slug),
            Op::UpdateIntegration(i) => format!("updating integration {}", i.slug),
            Op::CreateProvider(p) => format!("creating provider {}", p.slug),
            Op::UpdateProvider(p) => format!("updating provider {}", p.slug),
            Op::CreateConfig(c) => format!("creating config {}", c.slug),
            Op::UpdateConfig(c) => format!("updating config {}", c.slug),
            Op::CreateKey(k) => format!("creating key {}", k.name),
            Op::UpdateKey(k) => format!("updating key {}", k.name),
        }
    }

    async fn run(self, repo: &dyn Repository, actor: &Actor) -> Result<(), String> {
        let r = match self {
            Op::CreateWorkspace(w) => repo.create_workspace(*w, actor).await.map(drop),
            Op::UpdateWorkspace(w) => repo.update_workspace(*w, actor).await,
            Op::CreateIntegration(i) => repo.create_integration(*i, actor).await.map(drop),
            Op::UpdateIntegration(i) => repo.update_integration(*i, actor).await,
            Op::CreateProvider(p) => repo.create_provider(*p, actor).await.map(drop),
            Op::UpdateProvider(p) => repo.update_provider(*p, actor).await,
            Op::CreateConfig(c) => repo.create_config(*c, actor).await.map(drop),
            Op::UpdateConfig(c) => repo.update_config(*c, actor).await,
            Op::CreateKey(k) => repo.create_api_key(*k, actor).await.map(drop),
            Op::UpdateKey(k) => repo.update_api_key(*k, actor).await,
        };
        r.map_err(|e| e.to_string())
    }
}

struct Planned {
    ops: Vec<Op>,
    applied: Vec<Applied>,
}

/// Names fields in errors: `catalog.keys[0].scopes` in a file, `--scopes` on the CLI.
#[derive(Clone)]
struct Site {
    mode: Mode,
    /// `catalog.keys[0]`.
    base: String,
}

impl Site {
    fn at(&self, field: &str) -> String {
        match self.mode {
            Mode::File if field.is_empty() => self.base.clone(),
            Mode::File => format!("{}.{field}", self.base),
            Mode::Cli => cli_flag(field),
        }
    }
}

/// The CLI flag that sets a field.
fn cli_flag(field: &str) -> String {
    let bare: String = {
        // `rate_limits[0].value` → `rate_limits.value`
        let mut out = String::new();
        let mut depth = 0;
        for c in field.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                c if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let flag = match bare.as_str() {
        "" => return "arguments".into(),
        "defaults.config_id" => "--default-config",
        f if f.starts_with("defaults.user_") => "--user-limit",
        f => match f.split('.').next().unwrap_or(f) {
            "rate_limits" => "--rate-limit",
            "usage_limits" => "--budget",
            "config" => "--file",
            "key_env" | "key_value" => "--key",
            other => return format!("--{}", other.replace('_', "-")),
        },
    };
    flag.to_owned()
}

struct Planner<'a> {
    data: CatalogData,
    sealer: &'a Sealer,
    opts: &'a ApplyOptions,
    now: Millis,
    errors: Vec<String>,
    ops: Vec<Op>,
    applied: Vec<Applied>,
    /// `(field, config reference, workspace id)` of every `defaults.config_id`, checked once
    /// every config is planned.
    config_refs: Vec<(String, String, Option<String>)>,
    /// `(field, config, workspace id)`, validated once every provider is planned.
    config_checks: Vec<(String, Value, Option<String>)>,
}

fn plan(
    data: CatalogData,
    sealer: &Sealer,
    catalog: &Catalog,
    opts: &ApplyOptions,
) -> Result<Planned, String> {
    let mut p = Planner {
        data,
        sealer,
        opts,
        now: now(),
        errors: Vec::new(),
        ops: Vec::new(),
        applied: Vec::new(),
        config_refs: Vec::new(),
        config_checks: Vec::new(),
    };
    let site = |kind: &str, i: usize| Site {
        mode: opts.mode,
        base: format!("catalog.{kind}[{i}]"),
    };
    let mut seen: HashSet<String> = HashSet::new();
    for (i, w) in catalog.workspaces.iter().enumerate() {
        let s = site("workspaces", i);
        if !seen.insert(w.slug.clone()) {
            p.err(
                &s,
                "slug",
                format!("workspace {:?} is listed twice", w.slug),
            );
            continue;
        }
        p.workspace(&s, w);
    }
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, spec) in catalog.providers.iter().enumerate() {
        let s = site("providers", i);
        let ws = p.resolve_workspace(&s, "workspace", &spec.workspace);
        if let Some(ws) = &ws
            && !seen.insert((ws.id.clone(), spec.slug.clone()))
        {
            p.err(
                &s,
                "slug",
                format!(
                    "provider {:?} is listed twice for workspace {}",
                    spec.slug, ws.slug
                ),
            );
            continue;
        }
        p.provider(&s, spec, ws);
    }
    let mut seen: HashSet<String> = HashSet::new();
    for (i, c) in catalog.configs.iter().enumerate() {
        let s = site("configs", i);
        if !seen.insert(c.slug.clone()) {
            p.err(&s, "slug", format!("config {:?} is listed twice", c.slug));
            continue;
        }
        p.config(&s, c);
    }
    let mut names: HashSet<(Option<String>, String)> = HashSet::new();
    let mut hashes: HashSet<String> = HashSet::new();
    for (i, k) in catalog.keys.iter().enumerate() {
        let s = site("keys", i);
        p.key(&s, k, &mut names, &mut hashes);
    }
    p.check_config_refs();
    p.check_configs();
    if !p.errors.is_empty() {
        return Err(p.errors.join("\n"));
    }
    Ok(Planned {
        ops: p.ops,
        applied: p.applied,
    })
}

impl Planner<'_> {
    fn err(&mut self, site: &Site, field: &str, message: impl fmt::Display) {
        self.errors.push(format!("{}: {message}", site.at(field)));
    }

    fn record(&mut self, kind: &'static str, name: String, id: String, change: Change) {
        self.applied.push(Applied {
            kind,
            name,
            id,
            change,
        });
    }

    /// A workspace by slug or id, as planned so far.
    fn find_workspace(&self, r: &str) -> Option<Workspace> {
        self.data
            .workspaces
            .iter()
            .find(|w| w.slug == r)
            .or_else(|| self.data.workspaces.iter().find(|w| w.id == r))
            .cloned()
    }

    fn resolve_workspace(&mut self, site: &Site, field: &str, r: &str) -> Option<Workspace> {
        if r.trim().is_empty() {
            self.err(site, field, "is required (a workspace slug or id)");
            return None;
        }
        let found = self.find_workspace(r);
        if found.is_none() {
            let hint = match self.opts.mode {
                Mode::File => "not in catalog.workspaces nor in the store",
                Mode::Cli => "create it with `portcullis workspaces create`",
            };
            self.err(site, field, format!("unknown workspace {r:?} ({hint})"));
        }
        found
    }

    /// An environment variable's value; `None` (and an error) when unset or empty.
    fn env(&mut self, site: &Site, field: &str, var: &str) -> Option<String> {
        if var.trim().is_empty() {
            self.err(site, field, "names no environment variable");
            return None;
        }
        match (self.opts.env)(var) {
            Some(v) if !v.trim().is_empty() => Some(v),
            Some(_) => {
                self.err(site, field, format!("environment variable {var} is empty"));
                None
            }
            None => {
                self.err(
                    site,
                    field,
                    format!("environment variable {var} is not set"),
                );
                None
            }
        }
    }

    fn rates(&mut self, site: &Site, field: &str, specs: &[RateLimitSpec]) -> Vec<RateLimit> {
        let mut out = Vec::new();
        for (i, r) in specs.iter().enumerate() {
            let l = RateLimit {
                kind: r.kind.unwrap_or(RateKind::Requests),
                unit: r.unit,
                value: r.value,
            };
            match l.validate() {
                Ok(()) => out.push(l),
                Err(_) => self.err(site, &format!("{field}[{i}].value"), "is too large"),
            }
        }
        out
    }

    fn usage(
        &mut self,
        site: &Site,
        field: &str,
        spec: &Option<UsageLimitSpec>,
    ) -> Option<UsageLimit> {
        let u = spec.as_ref()?;
        let l = UsageLimit {
            kind: u.kind.unwrap_or(UsageKind::Cost),
            credit_limit: u.credit_limit,
            alert_threshold: u.alert_threshold,
            periodic_reset: u.periodic_reset.unwrap_or_default(),
            reset_at: None,
        };
        if !(l.credit_limit.is_finite() && l.credit_limit > 0.0) {
            self.err(
                site,
                &format!("{field}.credit_limit"),
                "must be a number above 0",
            );
            return None;
        }
        if let Some(a) = l.alert_threshold
            && !(a.is_finite() && a > 0.0 && a <= l.credit_limit)
        {
            self.err(
                site,
                &format!("{field}.alert_threshold"),
                "must be above 0 and at most credit_limit",
            );
            return None;
        }
        match l.validate() {
            Ok(()) => Some(l),
            Err(m) => {
                self.err(site, field, m);
                None
            }
        }
    }

    fn defaults(
        &mut self,
        site: &Site,
        spec: &Option<DefaultsSpec>,
        workspace_id: Option<&str>,
    ) -> Option<Defaults> {
        let d = spec.as_ref()?;
        if let Some(c) = d.config_id.as_deref().filter(|c| !c.trim().is_empty()) {
            self.config_refs.push((
                site.at("defaults.config_id"),
                c.trim().to_owned(),
                workspace_id.map(str::to_owned),
            ));
        }
        let user_rate_limits = self.rates(site, "defaults.user_rate_limits", &d.user_rate_limits);
        let user_usage_limits =
            self.usage(site, "defaults.user_usage_limits", &d.user_usage_limits);
        Some(Defaults {
            config_id: d
                .config_id
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            metadata: d.metadata.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect()
            }),
            allow_config_override: d.allow_config_override,
            user_rate_limits: (!user_rate_limits.is_empty()).then_some(user_rate_limits),
            user_usage_limits,
        })
    }

    fn workspace(&mut self, site: &Site, spec: &WorkspaceSpec) {
        if let Err(e) = check_slug(&spec.slug) {
            self.err(site, "slug", e);
            return;
        }
        let existing = self
            .data
            .workspaces
            .iter()
            .position(|w| w.slug == spec.slug);
        if existing.is_some() && self.opts.mode == Mode::Cli {
            self.err(
                site,
                "slug",
                format!("a workspace {:?} already exists", spec.slug),
            );
            return;
        }
        let name = spec.name.as_deref().map(str::trim);
        if name.is_some_and(str::is_empty) {
            self.err(site, "name", "must not be empty");
            return;
        }
        let rate_limits = self.rates(site, "rate_limits", &spec.rate_limits);
        let usage_limits = self.usage(site, "usage_limits", &spec.usage_limits);
        let id = existing
            .map(|i| self.data.workspaces[i].id.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let defaults = self.defaults(site, &spec.defaults, Some(&id));
        let description = spec
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        match existing {
            Some(i) => {
                let old = self.data.workspaces[i].clone();
                let mut w = old.clone();
                if let Some(n) = name {
                    w.name = n.to_owned();
                }
                if description.is_some() {
                    w.description = description;
                }
                w.rate_limits = rate_limits;
                w.usage_limits = usage_limits;
                w.defaults = defaults;
                let change = if w == old {
                    Change::Unchanged
                } else {
                    w.updated_at = self.now;
                    self.ops.push(Op::UpdateWorkspace(Box::new(w.clone())));
                    self.data.workspaces[i] = w;
                    Change::Updated
                };
                self.record("workspace", spec.slug.clone(), id, change);
            }
            None => {
                let w = Workspace {
                    id: id.clone(),
                    slug: spec.slug.clone(),
                    name: name.unwrap_or(&spec.slug).to_owned(),
                    description,
                    defaults,
                    usage_limits,
                    rate_limits,
                    is_default: false,
                    status: Status::Active,
                    created_at: self.now,
                    updated_at: self.now,
                };
                self.ops.push(Op::CreateWorkspace(Box::new(w.clone())));
                self.data.workspaces.push(w);
                self.record("workspace", spec.slug.clone(), id, Change::Created);
            }
        }
    }

    fn provider(&mut self, site: &Site, spec: &ProviderSpec, ws: Option<Workspace>) {
        let errors_before = self.errors.len();
        if let Err(e) = check_slug(&spec.slug) {
            self.err(site, "slug", e);
        }
        if portcullis_providers::registry::find(&spec.provider).is_none() {
            self.err(
                site,
                "provider",
                format!(
                    "unknown provider {:?} (not a provider slug this gateway supports)",
                    spec.provider
                ),
            );
        }
        let key = match &spec.api_key_env {
            Some(var) => self
                .env(site, "api_key_env", var)
                .map(|v| v.trim().to_owned()),
            None => None,
        };
        // Provider options: plain ones as given, secret ones from the environment.
        let mut plain = Map::new();
        for (k, v) in &spec.configurations {
            let field = format!("configurations.{k}");
            if k == "custom_host" {
                self.err(site, &field, "use the custom_host field");
            } else if is_sensitive(k) {
                self.err(
                    site,
                    &field,
                    "looks like a secret: name its environment variable in configurations_env instead",
                );
            } else {
                plain.insert(k.clone(), v.clone());
            }
        }
        if let Some(h) = spec.custom_host.as_deref() {
            match self.opts.hosts.check(h.trim()) {
                Ok(url) => {
                    plain.insert("custom_host".into(), Value::String(url));
                }
                Err(r) => self.err(site, "custom_host", r.reason),
            }
        }
        let mut secret_options: Vec<(String, String)> = Vec::new();
        for (k, var) in &spec.configurations_env {
            if k == "custom_host" || spec.configurations.contains_key(k) {
                self.err(
                    site,
                    &format!("configurations_env.{k}"),
                    "is also given elsewhere",
                );
            } else if let Some(v) = self.env(site, &format!("configurations_env.{k}"), var) {
                secret_options.push((k.clone(), v.trim().to_owned()));
            }
        }
        let models = match &spec.models {
            None => None,
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for (i, m) in list.iter().enumerate() {
                    let m = m.trim();
                    if m.is_empty() {
                        self.err(site, &format!("models[{i}]"), "must not be empty");
                    } else if !out.iter().any(|o| o == m) {
                        out.push(m.to_owned());
                    }
                }
                Some(out)
            }
        };
        let rate_limits = self.rates(site, "rate_limits", &spec.rate_limits);
        let usage_limits = self.usage(site, "usage_limits", &spec.usage_limits);
        let Some(ws) = ws else { return };
        if self.errors.len() > errors_before {
            return;
        }
        let name_given = spec
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let label = format!("{}/{}", ws.slug, spec.slug);

        // The provider and the integration it draws on, if they exist.
        let existing = self
            .data
            .providers
            .iter()
            .position(|p| p.workspace_id == ws.id && p.slug == spec.slug);
        let mut old_integration: Option<usize> = None;
        if let Some(pi) = existing {
            if self.opts.mode == Mode::Cli {
                self.err(
                    site,
                    "slug",
                    format!(
                        "a provider {:?} already exists in workspace {}",
                        spec.slug, ws.slug
                    ),
                );
                return;
            }
            let p = &self.data.providers[pi];
            let Some(iid) = p.integration_id.clone() else {
                self.err(
                    site,
                    "slug",
                    format!(
                        "provider {:?} of workspace {} is a virtual key with its own credentials; \
                         this file cannot manage it (rename one of them, or delete the virtual key)",
                        spec.slug, ws.slug
                    ),
                );
                return;
            };
            let found = self
                .data
                .integrations
                .iter()
                .position(|i| i.id == iid || i.slug == iid);
            match found {
                Some(ii) if self.data.integrations[ii].workspace_id.as_deref() == Some(&ws.id) => {
                    old_integration = Some(ii);
                }
                Some(ii) => {
                    let slug = self.data.integrations[ii].slug.clone();
                    self.err(
                        site,
                        "slug",
                        format!(
                            "provider {:?} of workspace {} draws on the organisation integration \
                             {slug}, which this file does not manage (rename one of them)",
                            spec.slug, ws.slug
                        ),
                    );
                    return;
                }
                None => {}
            }
        }

        // The integration: this workspace's credentials for this provider.
        let old_i = old_integration.map(|i| self.data.integrations[i].clone());
        let mut i = match &old_i {
            Some(i) => i.clone(),
            None => {
                let candidates = [spec.slug.clone(), format!("{}-{}", ws.slug, spec.slug)];
                let Some(slug) = candidates
                    .into_iter()
                    .find(|c| !self.data.integrations.iter().any(|i| &i.slug == c))
                else {
                    self.err(
                        site,
                        "slug",
                        format!(
                            "integrations {:?} and \"{}-{}\" both exist already; choose another provider slug",
                            spec.slug, ws.slug, spec.slug
                        ),
                    );
                    return;
                };
                Integration {
                    id: uuid::Uuid::new_v4().to_string(),
                    slug,
                    name: String::new(),
                    description: None,
                    ai_provider_id: String::new(),
                    key_sealed: None,
                    key_masked: None,
                    configurations: Map::new(),
                    workspace_id: Some(ws.id.clone()),
                    allow_all_models: true,
                    models: Vec::new(),
                    global_workspace_access: false,
                    status: Status::Active,
                    created_at: self.now,
                    updated_at: self.now,
                }
            }
        };
        i.name = name_given
            .map(str::to_owned)
            .or_else(|| old_i.as_ref().map(|o| o.name.clone()))
            .unwrap_or_else(|| spec.slug.clone());
        i.ai_provider_id = spec.provider.clone();
        match &key {
            Some(k) => {
                let same = i
                    .key_sealed
                    .as_deref()
                    .and_then(|s| self.sealer.open(s).ok())
                    .is_some_and(|old| &old == k);
                if !same {
                    i.key_sealed = Some(self.sealer.seal(k));
                    i.key_masked = Some(mask_secret(k));
                }
            }
            None => (i.key_sealed, i.key_masked) = (None, None),
        }
        let mut conf = plain;
        for (k, v) in secret_options {
            let kept = i
                .configurations
                .get(&k)
                .and_then(Value::as_str)
                .filter(|s| self.sealer.open(s).ok().as_deref() == Some(v.as_str()))
                .map(str::to_owned);
            let sealed = kept.unwrap_or_else(|| self.sealer.seal(&v));
            conf.insert(k, Value::String(sealed));
        }
        i.configurations = conf;
        match models {
            None => i.allow_all_models = true,
            Some(list) => {
                let current: Vec<&str> = i
                    .models
                    .iter()
                    .filter(|m| m.enabled)
                    .map(|m| m.slug.as_str())
                    .collect();
                let same = !i.allow_all_models
                    && current.len() == i.models.len()
                    && current == list.iter().map(String::as_str).collect::<Vec<_>>();
                if !same {
                    i.allow_all_models = false;
                    i.models = list
                        .into_iter()
                        .map(|slug| IntegrationModel {
                            slug,
                            enabled: true,
                            is_custom: false,
                            is_finetune: false,
                            base_model_slug: None,
                            pricing_config: None,
                        })
                        .collect();
                }
            }
        }

        // The provider itself.
        let old_p = existing.map(|pi| self.data.providers[pi].clone());
        let mut p = old_p.clone().unwrap_or_else(|| Provider {
            id: uuid::Uuid::new_v4().to_string(),
            slug: spec.slug.clone(),
            name: String::new(),
            workspace_id: ws.id.clone(),
            integration_id: None,
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
            created_at: self.now,
            updated_at: self.now,
        });
        p.name = i.name.clone();
        p.integration_id = Some(i.id.clone());
        p.rate_limits = rate_limits;
        p.usage_limits = usage_limits;
        if let Some(n) = spec
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            p.note = Some(n.to_owned());
        }

        let mut change = Change::Unchanged;
        match (old_integration, old_i) {
            (Some(ii), Some(old)) => {
                if i != old {
                    i.updated_at = self.now;
                    self.ops.push(Op::UpdateIntegration(Box::new(i.clone())));
                    self.data.integrations[ii] = i;
                    change = Change::Updated;
                }
            }
            _ => {
                self.ops.push(Op::CreateIntegration(Box::new(i.clone())));
                self.data.integrations.push(i);
                change = Change::Created;
            }
        }
        match (existing, old_p) {
            (Some(pi), Some(old)) => {
                if p != old {
                    p.updated_at = self.now;
                    self.ops.push(Op::UpdateProvider(Box::new(p.clone())));
                    self.data.providers[pi] = p.clone();
                    change = Change::Updated;
                } else if change != Change::Unchanged {
                    change = Change::Updated;
                }
            }
            _ => {
                self.ops.push(Op::CreateProvider(Box::new(p.clone())));
                self.data.providers.push(p.clone());
                change = Change::Created;
            }
        }
        self.record("provider", label, p.id, change);
    }

    fn config(&mut self, site: &Site, spec: &ConfigSpec) {
        let errors_before = self.errors.len();
        if let Err(e) = check_slug(&spec.slug) {
            self.err(site, "slug", e);
        }
        let ws = match spec.workspace.as_deref() {
            Some(r) => match self.resolve_workspace(site, "workspace", r) {
                Some(w) => Some(w),
                None => return,
            },
            None => None,
        };
        if !spec.config.is_object() {
            self.err(
                site,
                "config",
                "must be an object (a Portkey config: strategy, targets, provider, …)",
            );
        }
        let name = spec.name.as_deref().map(str::trim);
        if name.is_some_and(str::is_empty) {
            self.err(site, "name", "must not be empty");
        }
        if self.errors.len() > errors_before {
            return;
        }
        let ws_id = ws.as_ref().map(|w| w.id.clone());
        self.config_checks
            .push((site.at("config"), spec.config.clone(), ws_id.clone()));
        let existing = self.data.configs.iter().position(|c| c.slug == spec.slug);
        match existing {
            Some(_) if self.opts.mode == Mode::Cli => {
                self.err(
                    site,
                    "slug",
                    format!("a config {:?} already exists", spec.slug),
                );
            }
            Some(ci) => {
                let old = self.data.configs[ci].clone();
                if old.workspace_id != ws_id {
                    self.err(
                        site,
                        "workspace",
                        format!(
                            "config {} belongs to another workspace; a config cannot move (give it another slug)",
                            spec.slug
                        ),
                    );
                    return;
                }
                let mut c = old.clone();
                if let Some(n) = name {
                    c.name = n.to_owned();
                }
                if c.config != spec.config {
                    c.config = spec.config.clone();
                    c.version_id = uuid::Uuid::new_v4().to_string();
                }
                let change = if c == old {
                    Change::Unchanged
                } else {
                    c.updated_at = self.now;
                    self.ops.push(Op::UpdateConfig(Box::new(c.clone())));
                    self.data.configs[ci] = c.clone();
                    Change::Updated
                };
                self.record("config", spec.slug.clone(), c.id, change);
            }
            None => {
                let c = Config {
                    id: uuid::Uuid::new_v4().to_string(),
                    slug: spec.slug.clone(),
                    name: name.unwrap_or(&spec.slug).to_owned(),
                    workspace_id: ws_id,
                    is_default: false,
                    status: Status::Active,
                    version_id: uuid::Uuid::new_v4().to_string(),
                    config: spec.config.clone(),
                    created_at: self.now,
                    updated_at: self.now,
                };
                self.ops.push(Op::CreateConfig(Box::new(c.clone())));
                self.data.configs.push(c.clone());
                self.record("config", spec.slug.clone(), c.id, Change::Created);
            }
        }
    }

    fn key(
        &mut self,
        site: &Site,
        spec: &KeySpec,
        names: &mut HashSet<(Option<String>, String)>,
        hashes: &mut HashSet<String>,
    ) {
        let errors_before = self.errors.len();
        let name = spec.name.trim().to_owned();
        if name.is_empty() {
            self.err(site, "name", "must not be empty");
        }
        let (key_type, ws) = match (spec.admin, spec.workspace.as_deref()) {
            (true, Some(_)) => {
                self.err(
                    site,
                    "admin",
                    "an admin (organisation) key belongs to no workspace: drop workspace or admin",
                );
                return;
            }
            (true, None) => (KeyType::OrganisationService, None),
            (false, Some(r)) => match self.resolve_workspace(site, "workspace", r) {
                Some(w) => (KeyType::WorkspaceService, Some(w)),
                None => return,
            },
            (false, None) => {
                self.err(
                    site,
                    "workspace",
                    "is required: the key's workspace, or admin: true for an organisation admin key",
                );
                return;
            }
        };
        let ws_id = ws.as_ref().map(|w| w.id.clone());
        let secret = match (&spec.key_value, spec.key_env.as_deref()) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(var)) => self.env(site, "key_env", var),
            (None, None) => {
                self.err(
                    site,
                    "key_env",
                    "is required: the environment variable holding the key's value",
                );
                None
            }
        };
        if let Some(s) = &secret
            && !apikey::strong_enough(s)
        {
            let what = spec
                .key_env
                .as_deref()
                .map_or("the key".to_owned(), |v| format!("the value of {v}"));
            self.err(
                site,
                "key_env",
                format!(
                    "{what} must be at least 32 visible characters (e.g. `openssl rand -base64 32`)"
                ),
            );
        }
        let scopes: Vec<String> = match &spec.scopes {
            None if key_type.is_organisation() => admin_scopes(),
            None => DEFAULT_WORKSPACE_KEY_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Some(list) => {
                let mut out: Vec<String> = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    let s = s.trim();
                    if scopes::holder(s).is_none() {
                        self.err(
                            site,
                            &format!("scopes[{i}]"),
                            format!("unknown scope {s:?}"),
                        );
                    } else if !scopes::allowed_for(key_type, s) {
                        self.err(
                            site,
                            &format!("scopes[{i}]"),
                            match key_type {
                                KeyType::OrganisationService => {
                                    format!("an organisation-service key cannot hold {s:?}")
                                }
                                t => format!("a {} key cannot hold {s:?}", t.as_str()),
                            },
                        );
                    } else if !out.iter().any(|o| o == s) {
                        out.push(s.to_owned());
                    }
                }
                out
            }
        };
        for (i, e) in spec.alert_emails.iter().enumerate() {
            if !e.contains('@') || e.contains(char::is_whitespace) {
                self.err(
                    site,
                    &format!("alert_emails[{i}]"),
                    format!("{e:?} is not an email address"),
                );
            }
        }
        let rate_limits = self.rates(site, "rate_limits", &spec.rate_limits);
        let usage_limits = self.usage(site, "usage_limits", &spec.usage_limits);
        let defaults = self
            .defaults(site, &spec.defaults, ws_id.as_deref())
            .unwrap_or_default();
        if self.errors.len() > errors_before {
            return;
        }
        let Some(secret) = secret else { return };
        let stored = apikey::from_secret(&secret);
        let hash = stored.hash.to_hex();
        if !hashes.insert(hash.clone()) {
            self.err(
                site,
                "key_env",
                "the same key value is given to another key",
            );
            return;
        }
        let file = self.opts.mode == Mode::File;
        if file && !names.insert((ws_id.clone(), name.clone())) {
            self.err(
                site,
                "name",
                format!("key {name:?} is listed twice for the same workspace"),
            );
            return;
        }
        let existing = if file {
            self.data.api_keys.iter().position(|k| {
                k.creation_mode == "file"
                    && k.key_type == key_type
                    && k.workspace_id == ws_id
                    && k.name == name
            })
        } else {
            None
        };
        let id = existing.map(|i| self.data.api_keys[i].id.clone());
        if let Some(other) = self
            .data
            .api_keys
            .iter()
            .find(|k| k.key_hash == hash && Some(&k.id) != id.as_ref())
        {
            self.err(
                site,
                "key_env",
                format!(
                    "this key value is already registered as key {} ({:?})",
                    other.id, other.name
                ),
            );
            return;
        }
        let label = match &ws {
            Some(w) => format!("{}/{name}", w.slug),
            None => format!("admin/{name}"),
        };
        let description = spec
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        match existing {
            Some(ki) => {
                let old = self.data.api_keys[ki].clone();
                let mut k = old.clone();
                if description.is_some() {
                    k.description = description;
                }
                k.scopes = scopes;
                k.rate_limits = rate_limits;
                k.usage_limits = usage_limits;
                k.defaults = defaults;
                k.alert_emails = spec.alert_emails.clone();
                k.key_hash = hash;
                k.key_visible = stored.visible;
                let change = if k == old {
                    Change::Unchanged
                } else {
                    k.updated_at = self.now;
                    self.ops.push(Op::UpdateKey(Box::new(k.clone())));
                    self.data.api_keys[ki] = k.clone();
                    Change::Updated
                };
                self.record("key", label, k.id, change);
            }
            None => {
                let k = ApiKey {
                    id: uuid::Uuid::new_v4().to_string(),
                    name,
                    description,
                    key_type,
                    workspace_id: ws_id,
                    user_id: None,
                    scopes,
                    defaults,
                    usage_limits,
                    rate_limits,
                    alert_emails: spec.alert_emails.clone(),
                    expires_at: None,
                    key_hash: hash,
                    key_visible: stored.visible,
                    status: Status::Active,
                    creation_mode: if file { "file" } else { "cli" }.into(),
                    created_at: self.now,
                    updated_at: self.now,
                };
                self.ops.push(Op::CreateKey(Box::new(k.clone())));
                self.data.api_keys.push(k.clone());
                self.record("key", label, k.id, Change::Created);
            }
        }
    }

    /// Every `defaults.config_id` names a config of its workspace (or an organisation one).
    fn check_config_refs(&mut self) {
        for (field, r, ws) in std::mem::take(&mut self.config_refs) {
            let found = self.data.configs.iter().find(|c| c.slug == r || c.id == r);
            match found {
                Some(c)
                    if c.workspace_id.is_none()
                        || ws.is_none()
                        || c.workspace_id.as_deref() == ws.as_deref() => {}
                Some(_) => self.errors.push(format!(
                    "{field}: config {r:?} belongs to another workspace"
                )),
                None => self.errors.push(format!(
                    "{field}: no config {r:?} (in the file or the store)"
                )),
            }
        }
    }

    /// Every config validates against the catalog as it will be (the file's providers included).
    fn check_configs(&mut self) {
        let checks = std::mem::take(&mut self.config_checks);
        if checks.is_empty() {
            return;
        }
        let snapshot = Snapshot::build(&self.data, self.sealer);
        for (field, config, ws) in checks {
            if let Err(errors) = check_config(&snapshot, &self.opts.hosts, &config, ws.as_deref()) {
                for e in errors {
                    self.errors.push(format!("{field}: invalid config: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_flags_name_fields() {
        assert_eq!(cli_flag("scopes[1]"), "--scopes");
        assert_eq!(cli_flag("rate_limits[0].value"), "--rate-limit");
        assert_eq!(cli_flag("usage_limits.credit_limit"), "--budget");
        assert_eq!(cli_flag("defaults.config_id"), "--default-config");
        assert_eq!(
            cli_flag("defaults.user_rate_limits[0].value"),
            "--user-limit"
        );
        assert_eq!(cli_flag("api_key_env"), "--api-key-env");
        assert_eq!(cli_flag("custom_host"), "--custom-host");
        assert_eq!(cli_flag("config"), "--file");
    }

    #[test]
    fn generated_slugs() {
        let s = new_config_slug("prod fallback");
        assert!(
            s.starts_with("pc-prod-f-") && s.len() == "pc-prod-f-".len() + 6,
            "{s}"
        );
        assert!(new_workspace_slug("!!").starts_with("ws-"));
        assert!(check_slug("openai-prod_2").is_ok());
        assert!(check_slug("a b").is_err());
        assert!(check_slug("").is_err());
    }

    #[test]
    fn check_reports_static_errors_with_paths() {
        let catalog: Catalog = serde_yaml_ng::from_str(
            r#"
workspaces: [{slug: search}]
providers:
  - {workspace: search, slug: openai-prod, provider: openai, api_key_env: K}
  - {workspace: search, slug: typo, provider: opnai}
  - {workspace: nowhere, slug: x, provider: openai}
keys:
  - {name: bot, workspace: search, key_env: BOT, scopes: [completions.write, audit_logs.list]}
configs:
  - {slug: pc-a, workspace: search, config: {provider: "@openai-prod"}}
  - {slug: pc-b, workspace: search, config: {provider: "@missing"}}
"#,
        )
        .unwrap();
        let e = check(&catalog, &HostPolicy::default()).unwrap_err();
        assert!(
            e.contains(r#"catalog.providers[1].provider: unknown provider "opnai""#),
            "{e}"
        );
        assert!(
            e.contains(r#"catalog.providers[2].workspace: unknown workspace "nowhere""#),
            "{e}"
        );
        assert!(e.contains("catalog.keys[0].scopes[1]"), "{e}");
        assert!(
            e.contains("catalog.configs[1].config: invalid config"),
            "{e}"
        );
        assert!(!e.contains("catalog.configs[0]"), "{e}");
        let ok: Catalog = serde_yaml_ng::from_str(
            "providers: [{workspace: default, slug: o, provider: openai, api_key_env: K}]\n",
        )
        .unwrap();
        assert_eq!(check(&ok, &HostPolicy::default()).unwrap(), vec!["K"]);
    }
}
